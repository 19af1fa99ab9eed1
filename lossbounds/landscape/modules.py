"""A user's ``torch.nn.Module``: its architecture, and its loss as a batched function.

:func:`describe_module` / :func:`from_module` read a network of supported pieces into an
:class:`~lossbounds.theory.architecture.Architecture`; :func:`to_module` builds the
``nn.Sequential`` of an architecture; :class:`ModuleNetwork` (and :func:`lossbounds.landscape.surface.module_loss`) evaluate
*any* module at K flat parameter vectors at once (``torch.func``: the module's own forward).
The flat vector is ``parameters_to_vector(model.parameters())``. Supported pieces, the parameter
order and torch's softplus shortcut: docs/modules.md.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap

from lossbounds._checks import check_int, check_nonnegative, check_positive
from lossbounds.theory.activations import get_activation
from lossbounds.theory.architecture import SKIPS, Architecture

__all__ = [
    "Activation",
    "Residual",
    "ModuleDescription",
    "describe_module",
    "from_module",
    "to_module",
    "ModuleLayout",
    "ModuleNetwork",
    "module_objective",
    "train_module",
]

_SKIPS = tuple(s for s in SKIPS if s is not None)
_DTYPES = (torch.float32, torch.float64)

#: Smallest ``nn.Softplus.threshold`` accepted (torch's default).
SOFTPLUS_MIN_THRESHOLD = 20.0

# Threshold of the softplus modules built by to_module: log(1 + e^-threshold)
# is below half a unit in the last place of t at t = threshold in that dtype.
_SOFTPLUS_THRESHOLD = {torch.float64: 40.0, torch.float32: 20.0}

# torch activation modules that are not Pfaffian -> key of the catalogue's reasons.
_NOT_PFAFFIAN_MODULES = {
    nn.ReLU: "relu",
    nn.LeakyReLU: "leaky_relu",
    nn.PReLU: "leaky_relu",
    nn.RReLU: "leaky_relu",
    nn.ReLU6: "relu6",
    nn.ELU: "elu",
    nn.SELU: "selu",
    nn.CELU: "celu",
    nn.Hardtanh: "hardtanh",
    nn.Hardsigmoid: "hardsigmoid",
    nn.Hardswish: "hardswish",
    nn.Hardshrink: "step",
    nn.Softsign: "abs",
}

SUPPORTED = (
    "nn.Sequential, nn.Linear (with or without bias), nn.Identity, nn.Sigmoid, nn.Tanh, "
    "nn.Softplus(beta=1, threshold>=20), nn.SiLU, nn.GELU(approximate='none'), "
    "lossbounds.landscape.modules.Activation, lossbounds.landscape.modules.Residual"
)


class Activation(nn.Module):
    """A catalogue activation as a module (for those torch has no module of).

    Parameters
    ----------
    name : str
        A name from :func:`lossbounds.theory.activations.list_activations` (aliases
        accepted; stored canonical).

    Raises
    ------
    ValueError
        For a name that is not in the catalogue (with the catalogue's reason).
    """

    def __init__(self, name: str):
        super().__init__()
        self.name = get_activation(name).name

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """sigma(t), elementwise, same shape."""
        return get_activation(self.name).torch_fn(t)

    def extra_repr(self) -> str:
        """Name the activation in the module's repr."""
        return repr(self.name)


class Residual(nn.Module):
    """A hidden layer with a skip: ``u -> act(linear(u)) + skip(u)``.

    ``skip(u) = u`` (``"identity"``) or ``projection(u)``, a bias-free
    ``nn.Linear(width, width)`` (``"projection"``): the equation of layers
    2..K in :mod:`lossbounds.landscape.network`. Parameters are registered in the
    package's order: ``linear.weight`` (W_l), ``linear.bias`` (b_l), then
    ``projection.weight`` (P_l).

    Parameters
    ----------
    width : int
        h, the width of the layer and of its input (>= 1).
    activation : nn.Module
        The activation module (e.g. ``nn.Tanh()``).
    skip : {"identity", "projection"}
        Kind of skip.
    dtype, device : optional
        Passed to the ``nn.Linear`` layers.
    """

    def __init__(self, width: int, activation: nn.Module, skip: str = "identity", dtype=None,
                 device=None):  # fmt: skip
        super().__init__()
        width = check_int("width", width, 1)
        if skip not in _SKIPS:
            raise ValueError(f"skip must be one of {_SKIPS}, got {skip!r}")
        if not isinstance(activation, nn.Module):
            raise ValueError(f"activation must be an nn.Module, got {type(activation).__name__}")
        self.skip = skip
        self.linear = nn.Linear(width, width, dtype=dtype, device=device)
        self.activation = activation
        self.projection = (
            nn.Linear(width, width, bias=False, dtype=dtype, device=device)
            if skip == "projection"
            else None
        )

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """Layer output, same shape as ``u`` (..., width)."""
        out = self.activation(self.linear(u))
        return out + (u if self.projection is None else self.projection(u))

    def extra_repr(self) -> str:
        """Name the skip kind in the module's repr."""
        return f"skip={self.skip!r}"


@dataclass(frozen=True)
class ModuleDescription:
    """What :func:`describe_module` reads off a supported network.

    Attributes
    ----------
    n_inputs : int
        n, the input dimension.
    widths : tuple of int
        (h_1, ..., h_K), the hidden widths in order.
    activation : str
        Catalogue name of the hidden activation.
    output : {"linear", "sigmoid"}
        Output unit.
    skip : {None, "identity", "projection"}
        Skip connections of hidden layers 2..K.
    n_outputs : int
        C, ``out_features`` of the last ``nn.Linear``.
    bias : bool or tuple of bool
        Whether the weight layers have biases: one bool when all agree,
        else one per weight layer (K hidden, then the output).
    """

    n_inputs: int
    widths: tuple
    activation: str
    output: str
    skip: str | None
    n_outputs: int = 1
    bias: bool | tuple = True

    @property
    def hidden_layers(self) -> int:
        """K, the number of hidden layers."""
        return len(self.widths)

    @property
    def equal_widths(self) -> bool:
        """True when every hidden layer has the same width."""
        return len(set(self.widths)) == 1


# ---------------------------------------------------------------------------
# reading a module
# ---------------------------------------------------------------------------
def _leaves(module: nn.Module, path: str):
    """(path, module) of the pieces of nested ``nn.Sequential`` containers, in order."""
    if isinstance(module, nn.Sequential):
        for name, child in module.named_children():
            yield from _leaves(child, f"{path}[{name}]")
    elif not isinstance(module, nn.Identity):
        yield path, module


def _not_pfaffian_reason(key: str) -> str:
    """Return the catalogue's reason why activation ``key`` is refused."""
    try:
        get_activation(key)
    except ValueError as exc:
        return str(exc)
    raise AssertionError(f"{key} is in the catalogue")  # pragma: no cover


def _refusal(path: str, module: nn.Module) -> ValueError:
    """Build the ValueError for an unsupported piece, naming it and why."""
    where = f"module {path} ({module!r})"
    kind = type(module)
    if kind in _NOT_PFAFFIAN_MODULES:
        reason = _not_pfaffian_reason(_NOT_PFAFFIAN_MODULES[kind])
    elif isinstance(module, nn.modules.batchnorm._BatchNorm):
        reason = (
            "batch normalisation divides by statistics of the current batch in training "
            "(and updates running statistics on every call), so the output is not a fixed "
            "function of the parameters; fold it into the neighbouring nn.Linear first"
        )
    elif isinstance(module, nn.modules.dropout._DropoutNd | nn.AlphaDropout):
        reason = "dropout is random, so the loss is not a function of the parameters"
    elif list(module.children()):
        reason = (
            "a custom container's forward is arbitrary code that cannot be read; build the "
            f"network as an nn.Sequential of: {SUPPORTED}"
        )
    else:
        reason = f"not supported; supported modules: {SUPPORTED}"
    return ValueError(f"{where}: {reason}")


def _activation_name(path: str, module: nn.Module) -> str | None:
    """Catalogue name of an activation module, None for other modules; refuses bad settings."""
    simple = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.SiLU: "swish"}
    if type(module) in simple:
        return simple[type(module)]
    if isinstance(module, Activation):
        return module.name
    if isinstance(module, nn.GELU):
        if module.approximate != "none":
            raise ValueError(
                f"module {path} ({module!r}): the tanh approximation of GELU is another "
                "function than the exact t*Phi(t) of the catalogue; use nn.GELU() "
                "(approximate='none')"
            )
        return "gelu"
    if isinstance(module, nn.Softplus):
        if module.beta != 1:
            raise ValueError(
                f"module {path} ({module!r}): softplus with beta={module.beta} is not the "
                "catalogue's log(1 + e^t); use beta=1 (scale the weights instead)"
            )
        if module.threshold < SOFTPLUS_MIN_THRESHOLD:
            jump = math.log1p(math.exp(-module.threshold))
            raise ValueError(
                f"module {path} ({module!r}): threshold={module.threshold} makes torch return t "
                f"for t > threshold, a jump of log(1 + e^-threshold) = {jump:.2g} away from "
                f"softplus; use threshold >= {SOFTPLUS_MIN_THRESHOLD:g}"
            )
        return "softplus"
    return None


def _linear(path: str, lin: nn.Linear, fan_in: int | None) -> int:
    """Check one ``nn.Linear`` (fan-in); return its fan-out."""
    if fan_in is not None and lin.in_features != fan_in:
        raise ValueError(
            f"module {path} ({lin!r}): in_features={lin.in_features} does not match the "
            f"previous layer's width {fan_in}"
        )
    return lin.out_features


def _tokens(model: nn.Module) -> list:
    """Classify the pieces: ("linear" | "residual" | "act", path, module, act name)."""
    out = []
    for path, module in _leaves(model, "model"):
        if isinstance(module, nn.Linear):
            out.append(("linear", path, module, None))
        elif isinstance(module, Residual):
            name = _activation_name(f"{path}.activation", module.activation)
            if name is None:
                raise _refusal(f"{path}.activation", module.activation)
            out.append(("residual", path, module, name))
        else:
            name = _activation_name(path, module)
            if name is None:
                raise _refusal(path, module)
            out.append(("act", path, module, name))
    return out


def _split_output(tokens: list) -> tuple[list, str]:
    """Remove a final sigmoid from the tokens (then the output must be scalar)."""
    output = "linear"
    if len(tokens) >= 2 and tokens[-1][3] == "sigmoid" and tokens[-2][0] == "linear":
        output, tokens = "sigmoid", tokens[:-1]
    if not tokens or tokens[-1][0] != "linear":
        last = f"{tokens[-1][1]} ({tokens[-1][2]!r})" if tokens else "nothing"
        raise ValueError(
            "the network must end with nn.Linear(h, C), optionally followed by nn.Sigmoid "
            f"when C = 1 (output 'linear' or 'sigmoid'); it ends with {last}"
        )
    _, path, lin, _ = tokens[-1]
    if output == "sigmoid" and lin.out_features != 1:
        raise ValueError(
            f"module {path} ({lin!r}): a final nn.Sigmoid needs a scalar output "
            f"(out_features=1), got out_features={lin.out_features}"
        )
    return tokens, output


def _hidden_layers(body: list) -> list[tuple]:
    """Group the body into hidden layers: (path, width, activation, skip, has bias) each."""
    layers, i, fan_in = [], 0, None  # (path, width, activation, skip, bias)
    while i < len(body):
        kind, path, module, name = body[i]
        if kind == "residual":
            if not layers:
                raise ValueError(
                    f"module {path}: a Residual block cannot be the first hidden layer "
                    "(skips join consecutive hidden layers, never the input)"
                )
            fan_in = _linear(f"{path}.linear", module.linear, fan_in)
            layers.append((path, fan_in, name, module.skip, module.linear.bias is not None))
            i += 1
            continue
        if kind != "linear" or i + 1 >= len(body) or body[i + 1][0] != "act":
            what = "an activation" if kind == "act" else "nn.Linear without an activation after it"
            raise ValueError(
                f"module {path} ({module!r}): expected nn.Linear followed by one activation, "
                f"got {what} here"
            )
        fan_in = _linear(path, module, fan_in)
        layers.append((path, fan_in, body[i + 1][3], None, module.bias is not None))
        i += 2
    return layers


def describe_module(model: nn.Module) -> ModuleDescription:
    """Read the architecture of a network built from supported pieces.

    Parameters
    ----------
    model : torch.nn.Module
        An ``nn.Sequential`` of the pieces listed in the module docstring.

    Returns
    -------
    ModuleDescription

    Raises
    ------
    ValueError
        Naming the offending piece and why: a non-analytic activation
        (``nn.ReLU`` and friends: not analytic, hence not Pfaffian), batch
        normalisation (not a fixed function of the parameters in training),
        dropout (random), an unknown module (with the list of supported ones),
        mixed activations or skips, a final sigmoid after C > 1 outputs.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    tokens, output = _split_output(_tokens(model))
    body, (_, out_path, out_lin, _) = tokens[:-1], tokens[-1]
    layers = _hidden_layers(body)
    if not layers:
        raise ValueError("the network needs at least one hidden layer (nn.Linear + activation)")
    _linear(out_path, out_lin, layers[-1][1])
    acts = sorted({layer[2] for layer in layers})
    if len(acts) > 1:
        raise ValueError(
            f"mixed activations {acts}: the package's networks use one activation in every "
            "hidden layer"
        )
    skips = {layer[3] for layer in layers[1:]}
    if len(skips) > 1:
        raise ValueError(
            f"mixed skips {sorted(str(s) for s in skips)} in hidden layers 2..K: use Residual "
            "blocks of one kind for every hidden layer after the first, or none"
        )
    biases = (*(layer[4] for layer in layers), out_lin.bias is not None)
    return ModuleDescription(
        n_inputs=int(body[0][2].in_features),
        widths=tuple(int(layer[1]) for layer in layers),
        activation=acts[0],
        output=output,
        skip=skips.pop() if skips else None,
        n_outputs=int(out_lin.out_features),
        bias=biases[0] if len(set(biases)) == 1 else biases,
    )


def from_module(model: nn.Module, n_samples: int, loss: str = "mse", l2: bool = False):
    """Return the :class:`~lossbounds.theory.architecture.Architecture` of a supported network.

    Parameters
    ----------
    model : torch.nn.Module
        See :func:`describe_module`.
    n_samples : int
        m, the number of training samples (>= 1).
    loss : {"mse", "bce", "cross_entropy"}
        Training loss ("bce" needs a final ``nn.Sigmoid``, "cross_entropy"
        C >= 2 outputs, the logits).
    l2 : bool
        Whether the loss has an l2 term.

    Returns
    -------
    Architecture
        With ``n_outputs`` = C and ``bias`` read off the layers; its
        ``loss_format(...).n_params`` counts every torch parameter (51 for
        ``Linear(4, 6), Tanh(), Linear(6, 3)``).

    Raises
    ------
    ValueError
        As :func:`describe_module`; for invalid ``n_samples``, ``loss`` or
        ``l2`` (from ``Architecture``).
    """
    d = describe_module(model)
    return Architecture(
        n_inputs=d.n_inputs, widths=d.widths, n_samples=n_samples, activation=d.activation,
        output=d.output, loss=loss, l2=l2, skip=d.skip, n_outputs=d.n_outputs, bias=d.bias,
    )  # fmt: skip


# ---------------------------------------------------------------------------
# building a module
# ---------------------------------------------------------------------------
def _activation_module(name: str, dtype) -> nn.Module:
    """Return the torch module of a catalogue activation (a standard one where torch has it)."""
    if name == "softplus":
        return nn.Softplus(beta=1.0, threshold=_SOFTPLUS_THRESHOLD.get(dtype, 40.0))
    standard = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "swish": nn.SiLU, "gelu": nn.GELU}
    return standard[name]() if name in standard else Activation(name)


def to_module(arch, dtype=torch.float64, theta=None) -> nn.Sequential:
    """Build the network of an architecture as an ``nn.Sequential`` of standard modules.

    Parameters
    ----------
    arch : lossbounds.theory.architecture.Architecture
        A concrete architecture (integer sizes).
    dtype : torch.dtype
        Dtype of the parameters.
    theta : array of shape (N,), optional
        Flat parameters (layout of :class:`lossbounds.landscape.layout.ParamLayout`) to
        load; otherwise torch's default initialisation.

    Returns
    -------
    torch.nn.Sequential
        ``Linear(n, h_1), act, [Linear(h_{l-1}, h_l), act | Residual] for
        l = 2..K, Linear(h_K, C) [, Sigmoid]`` (biases as ``arch.layer_bias``),
        outputs of shape (m, C) for inputs (m, n);
        ``parameters_to_vector(model.parameters())`` is in ParamLayout order.

    Raises
    ------
    ValueError
        For a symbolic architecture or a ``theta`` of the wrong length.
    """
    if getattr(arch, "is_symbolic", True):
        raise ValueError("arch must be a concrete Architecture (integer sizes)")
    hs = [int(arch.n_inputs), *(int(w) for w in arch.widths)]
    bias = [arch.layer_bias(layer) for layer in range(1, len(hs) + 1)]
    layers = [
        nn.Linear(hs[0], hs[1], bias=bias[0], dtype=dtype),
        _activation_module(arch.activation, dtype),
    ]
    for layer, (fan_in, h) in enumerate(zip(hs[1:-1], hs[2:], strict=True), start=2):
        act = _activation_module(arch.activation, dtype)
        if arch.skip is None:
            layers += [nn.Linear(fan_in, h, bias=bias[layer - 1], dtype=dtype), act]
        else:  # skips have equal widths (Architecture checks); Residual layers have biases
            if not bias[layer - 1]:
                raise ValueError(f"to_module: a Residual layer {layer} without bias is not built")
            layers.append(Residual(h, act, skip=arch.skip, dtype=dtype))
    layers.append(nn.Linear(hs[-1], arch.n_outputs, bias=bias[-1], dtype=dtype))
    if arch.output == "sigmoid":
        layers.append(nn.Sigmoid())
    model = nn.Sequential(*layers)
    if theta is not None:
        layout = ModuleLayout(model)
        vec = layout.check(torch.as_tensor(theta, dtype=dtype))
        if vec.ndim != 1:
            raise ValueError(f"theta must have shape (N,), got {tuple(vec.shape)}")
        with torch.no_grad():
            nn.utils.vector_to_parameters(vec, model.parameters())
    return model


# ---------------------------------------------------------------------------
# a module as a batched function of its flat parameters
# ---------------------------------------------------------------------------
class ModuleLayout:
    """Layout of ``parameters_to_vector(model.parameters())``: names, shapes, offsets.

    Duck-types :class:`lossbounds.landscape.layout.ParamLayout` where the landscape code
    needs it (``n_params``, ``check``, ``weight_rows``, ``bias_mask``).

    Parameters
    ----------
    model : torch.nn.Module
        Any module with at least one parameter.

    Attributes
    ----------
    names : tuple of str
        Parameter names (``model.named_parameters()`` order, shared ones once).
    shapes : tuple of tuple
        Their shapes.
    starts : tuple of int
        Offsets in the flat vector.
    n_params : int
        N.
    """

    def __init__(self, model: nn.Module):
        named = list(model.named_parameters())
        if not named:
            raise ValueError("model has no parameters")
        self.names = tuple(name for name, _ in named)
        self.shapes = tuple(tuple(p.shape) for _, p in named)
        self.sizes = tuple(p.numel() for _, p in named)
        self.starts = tuple(int(s) for s in np.cumsum((0,) + self.sizes[:-1]))
        self.n_params = int(sum(self.sizes))

    def __repr__(self) -> str:
        """Show the parameter names and shapes."""
        parts = ", ".join(f"{n}{list(s)}" for n, s in zip(self.names, self.shapes, strict=True))
        return f"ModuleLayout(N={self.n_params}: {parts})"

    def check(self, theta, name: str = "theta"):
        """Return ``theta``; raise ``ValueError`` unless its last axis has length N."""
        if tuple(theta.shape[-1:]) != (self.n_params,):
            raise ValueError(
                f"{name} must have shape (N,) or (K, N) with N = {self.n_params} parameters "
                f"of this module, got shape {tuple(theta.shape)}"
            )
        return theta

    def unflatten(self, theta: torch.Tensor) -> dict:
        """``name -> view of theta`` with the parameter's shape (theta of shape (N,))."""
        parts = self.check(theta).split(self.sizes, dim=-1)
        return {
            name: part.reshape(*theta.shape[:-1], *shape)
            for name, shape, part in zip(self.names, self.shapes, parts, strict=True)
        }

    def weight_rows(self) -> list[tuple[int, int, int]]:
        """Return the "filters" of Li et al.: (start, stop, n_rows) of every 2+-dim parameter.

        One row per entry of the first axis (an output unit of ``nn.Linear``).
        """
        return [
            (start, start + size, shape[0])
            for start, size, shape in zip(self.starts, self.sizes, self.shapes, strict=True)
            if len(shape) >= 2
        ]

    def bias_mask(self) -> np.ndarray:
        """Boolean mask (N,), True on 1-D parameters whose name ends with ``bias``."""
        mask = np.zeros(self.n_params, dtype=bool)
        for name, start, size, shape in zip(
            self.names, self.starts, self.sizes, self.shapes, strict=True
        ):
            if len(shape) == 1 and name.rsplit(".", 1)[-1] == "bias":
                mask[start : start + size] = True
        return mask


def _without_final_sigmoid(module: nn.Module) -> nn.Module | None:
    """Return the module minus a final ``nn.Sigmoid`` (same parameter names), or None."""
    if not isinstance(module, nn.Sequential) or len(module) == 0:
        return None
    items = list(module._modules.items())
    key, last = items[-1]
    if type(last) is nn.Sigmoid:
        return nn.Sequential(OrderedDict(items[:-1]))
    inner = _without_final_sigmoid(last)
    if inner is None:
        return None
    return nn.Sequential(OrderedDict(items[:-1] + [(key, inner)]))


class ModuleNetwork:
    """A module's outputs at K flat parameter vectors: ``forward(thetas, X) -> (K, m)``.

    The module's forward runs through ``torch.func.functional_call`` under
    ``torch.func.vmap`` over the K vectors: any module whose output for
    inputs (m, n) has m entries ((m,) or (m, 1)) works, in its current
    train/eval mode and with its own buffers. Duck-types
    :class:`lossbounds.landscape.network.Network` (``n_params``, ``layout``,
    ``_forward``, ``forward``).

    Parameters
    ----------
    model : torch.nn.Module
        The module (not modified; its parameter values are not used).
    n_outputs : int
        C: the module returns one scalar per input row (C = 1, outputs
        (K, m)) or C values per row (outputs (K, m, C)).

    Attributes
    ----------
    layout : ModuleLayout
        Flat order of ``parameters_to_vector(model.parameters())``.
    n_params : int
        N.
    output : {"linear", "sigmoid"}
        "sigmoid" when the module is an ``nn.Sequential`` ending with
        ``nn.Sigmoid`` (then ``logits=True`` evaluates the rest).
    """

    def __init__(self, model: nn.Module, n_outputs: int = 1):
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.n_outputs = check_int("n_outputs", n_outputs, 1)
        self.model = model
        self.layout = ModuleLayout(model)
        self.n_params = self.layout.n_params
        self._logit_model = _without_final_sigmoid(model)
        self.output = "linear" if self._logit_model is None else "sigmoid"

    def _forward(self, thetas, X, logits: bool = False, fast: bool = False) -> torch.Tensor:
        """Compute outputs (K, m) of thetas (K, N) on X (m, n); ``fast`` is ignored."""
        module = self._logit_model if (logits and self._logit_model is not None) else self.model
        m, C = X.shape[0], self.n_outputs
        shape = (m,) if C == 1 else (m, C)

        def one(theta):
            out = functional_call(module, self.layout.unflatten(theta), (X,))
            if out.numel() != m * C:
                raise ValueError(
                    f"the module must return {C} value(s) per input row: shape (m, {C}) "
                    f"with m = {m}, got shape {tuple(out.shape)}"
                )
            return out.reshape(shape)

        if thetas.ndim != 2:
            raise ValueError(f"thetas must have shape (K, N), got {tuple(thetas.shape)}")
        return vmap(one)(self.layout.check(thetas, "thetas"))

    def forward(self, thetas: torch.Tensor, X: torch.Tensor, logits: bool = False) -> torch.Tensor:
        """Compute the outputs of K networks on m inputs.

        Parameters
        ----------
        thetas : torch.Tensor, shape (K, N)
            Flat parameter vectors (differentiable).
        X : torch.Tensor, shape (m, n)
            Inputs, same dtype and device as ``thetas``.
        logits : bool
            For a module ending with ``nn.Sigmoid``, the output before it.

        Returns
        -------
        torch.Tensor, shape (K, m)
        """
        return self._forward(thetas, X, logits=logits)

    __call__ = forward


def module_objective(model: nn.Module, X, y, l2: float = 0.0) -> torch.Tensor:
    """Return the module's own training objective: MSE of its outputs plus ``l2 * ||theta||^2``.

    Computed with the module's ``forward`` and its parameters (not through
    :func:`lossbounds.landscape.surface.module_loss`), so it is an independent reference for it.

    Parameters
    ----------
    model : torch.nn.Module
        Scalar output, shape (m, 1).
    X : array_like, shape (m, n)
    y : array_like, shape (m,)
        In the module's dtype (float64 for exact comparisons).
    l2 : float
        Coefficient lambda >= 0.

    Returns
    -------
    torch.Tensor
        A differentiable scalar.
    """
    l2 = check_nonnegative("l2", l2)
    mse = nn.functional.mse_loss(model(torch.as_tensor(X))[:, 0], torch.as_tensor(y))
    return mse + l2 * sum((p**2).sum() for p in model.parameters())


def train_module(model: nn.Module, X, y, steps: int, lr: float = 0.02, l2: float = 0.0):
    """Train a module in place by Adam on :func:`module_objective`, an ordinary torch loop.

    Parameters
    ----------
    model : torch.nn.Module
    X, y : array_like
        As :func:`module_objective` takes them.
    steps : int
        Adam steps (>= 0).
    lr : float
        Learning rate (> 0).
    l2 : float
        Coefficient of ``||theta||^2`` (>= 0).

    Returns
    -------
    torch.nn.Module
        ``model``, trained.
    """
    steps = check_int("steps", steps, 0)
    opt = torch.optim.Adam(model.parameters(), lr=check_positive("lr", lr))
    for _ in range(steps):
        opt.zero_grad()
        module_objective(model, X, y, l2).backward()
        opt.step()
    return model
