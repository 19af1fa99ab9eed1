"""Description of a feed-forward network, its training set size and its loss.

:class:`Architecture` holds the sizes (python ints or positive-integer sympy
symbols) and the choices (activation, output unit, loss, l2 term, skips) that
determine the Pfaffian format of the loss (:mod:`lossbounds.theory.formats`).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import sympy as sp

from lossbounds._checks import check_nonnegative
from lossbounds.theory.activations import (
    DEFAULT_CHAIN,
    PfaffianActivation,
    get_activation,
    list_chains,
)

__all__ = [
    "OUTPUTS",
    "LOSSES",
    "SKIPS",
    "Architecture",
    "width_for_params",
    "equal_units_family",
    "equal_params_family",
]

#: Accepted output layers: linear, or a sigmoid unit (for binary cross-entropy).
OUTPUTS = ("linear", "sigmoid")
#: Accepted losses: mean squared error, binary cross-entropy, softmax cross-entropy.
LOSSES = ("mse", "bce", "cross_entropy")
#: Accepted skips: none, identity skips (equal widths), projection skips.
SKIPS = (None, "identity", "projection")


def _size(name: str, value):
    """Validate one size: a positive int, or a sympy expression that is a positive integer."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a positive integer, got the boolean {value}")
    if isinstance(value, sp.Basic):
        if value.is_Integer:
            value = int(value)
        elif value.is_integer and value.is_positive:
            return value
        elif isinstance(value, sp.Symbol):
            raise ValueError(
                f"{name}: the symbol {value} must be declared a positive integer, e.g. "
                f"sympy.Symbol({str(value)!r}, positive=True, integer=True)"
            )
        else:
            raise ValueError(f"{name} must be a positive integer, got {value}")
    if isinstance(value, numbers.Integral):
        value = int(value)
        if value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value}")
        return value
    raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _is_concrete(value) -> bool:
    return isinstance(value, int)


def _n_outputs(value) -> int:
    """Validate ``n_outputs``: a concrete int >= 1 (the head's polynomials are built per output)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"n_outputs must be a concrete integer >= 1, got {value!r}")
    return int(value)


def _bias(value, hidden_layers):
    """Normalise ``bias``: one bool for every layer, or a tuple of K + 1 bools (output last).

    A tuple whose entries are all equal is stored as that bool.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise ValueError(
            f"bias must be True, False or a sequence of hidden_layers + 1 bools, got {value!r}"
        )
    out = tuple(value)
    if not all(isinstance(b, (bool, np.bool_)) for b in out):
        raise ValueError(f"bias entries must be True or False, got {out!r}")
    out = tuple(bool(b) for b in out)
    if not _is_concrete(hidden_layers) or len(out) != hidden_layers + 1:
        raise ValueError(
            f"bias as a sequence needs one entry per weight layer (hidden_layers + 1 = "
            f"{hidden_layers} + 1, output last), got {len(out)} entries"
        )
    return out[0] if len(set(out)) == 1 else out


def _widths(widths, width, hidden_layers) -> tuple:
    """Resolve the per-layer widths from ``widths`` or ``width`` and ``hidden_layers``.

    Returns ``(widths, hidden_layers)``: one width per hidden layer, or
    ``(h,)`` when ``hidden_layers`` is symbolic.
    """
    if widths is None:
        if width is None or hidden_layers is None:
            raise ValueError(
                "give width and hidden_layers (equal widths), or widths (one per hidden layer)"
            )
        h, K = _size("width", width), _size("hidden_layers", hidden_layers)
        return ((h,) * K if _is_concrete(K) else (h,)), K
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__len__") or len(widths) == 0:
        raise ValueError(
            f"widths must be a non-empty sequence of positive integers, got {widths!r}"
        )
    out = tuple(_size(f"widths[{i}]", w) for i, w in enumerate(widths))
    if len(set(out)) > 1 and not all(_is_concrete(w) for w in out):
        raise ValueError(
            f"symbolic widths must be equal (use width= and hidden_layers=), got {out}"
        )
    K = len(out)
    if hidden_layers is not None:
        K = _size("hidden_layers", hidden_layers)
        if _is_concrete(K) and K != len(out) or not _is_concrete(K) and len(out) != 1:
            raise ValueError(f"hidden_layers={K} disagrees with widths={out}; give one of them")
    if width is not None and set(out) != {_size("width", width)}:
        raise ValueError(f"width={width} disagrees with widths={out}; give one of them")
    return out, K


@dataclass(frozen=True, init=False)
class Architecture:
    """A feed-forward network, its training set size and its loss.

    The hidden widths are given either as ``width`` and ``hidden_layers``
    (every hidden layer of width h) or as ``widths`` (h_1, ..., h_K); both
    forms of the same network are equal (and hash alike).

    Parameters
    ----------
    n_inputs, n_samples : int or sympy expression
        n and m: a positive int, or a sympy symbol (expression) declared
        positive and integer.
    width, hidden_layers : int or sympy expression, optional
        h and K = L - 1 for equal widths (each a positive int or sympy
        expression as above).
    activation : str
        A name from :func:`lossbounds.theory.activations.list_activations` (stored in
        canonical lower case).
    output : {"linear", "sigmoid"}
        Output unit.
    loss : {"mse", "bce", "cross_entropy"}
        Training loss; BCE needs the sigmoid output, cross-entropy a linear
        output (the logits) with ``n_outputs >= 2``.
    l2 : bool
        Add lambda * ||theta||^2.
    skip : {None, "identity", "projection"}
        Skip connections between consecutive hidden layers (needs K >= 2 and
        equal widths).
    chain : str
        Which Pfaffian chain of the activation the format is computed on: one
        of :func:`lossbounds.theory.activations.list_chains` (``"default"``, the
        catalogue chain; ``"value"`` for swish and GELU). The network, its loss
        and its symmetries are the same for every chain; only the format
        (hence the bounds) changes, and every chain gives a valid one. An
        alternative chain's activation object passed as ``activation`` sets it.
    widths : sequence of int, keyword-only, optional
        (h_1, ..., h_K), the width of each hidden layer, instead of ``width``
        and ``hidden_layers`` (which may still be given if they agree).
        Unequal widths must be concrete ints.
    n_outputs : int, keyword-only
        C >= 1, the number of outputs (a concrete int): C > 1 needs
        ``output="linear"``; with ``loss="mse"`` the loss is the mean over the
        m C entries (``torch.nn.functional.mse_loss``), with
        ``loss="cross_entropy"`` (C >= 2) the mean over samples of
        log sum_c exp(z_c) - z_y (``torch.nn.functional.cross_entropy`` on the
        logits z, class-index targets y).
    bias : bool or sequence of bool, keyword-only
        Whether the weight layers have bias vectors: one bool for all, or
        hidden_layers + 1 bools (the output layer last; concrete depth only).
        A sequence of equal entries is stored as that bool.

    Attributes
    ----------
    widths : tuple
        One width per hidden layer; for a symbolic ``hidden_layers`` the one
        width ``(h,)`` that every layer shares.
    width
        The common width h (property); ``ValueError`` for unequal widths.

    Raises
    ------
    ValueError
        Naming the offending argument.
    """

    n_inputs: object
    hidden_layers: object
    n_samples: object
    activation: str
    output: str
    loss: str
    l2: bool
    skip: str | None
    chain: str
    widths: tuple
    n_outputs: int
    bias: object

    def __init__(
        self,
        n_inputs,
        width=None,
        hidden_layers=None,
        n_samples=None,
        activation: str = "sigmoid",
        output: str = "linear",
        loss: str = "mse",
        l2: bool = False,
        skip: str | None = None,
        chain: str = DEFAULT_CHAIN,
        *,
        widths=None,
        n_outputs: int = 1,
        bias=True,
    ):
        if n_samples is None:
            raise ValueError("n_samples (the number of training samples m) is required")
        widths, hidden_layers = _widths(widths, width, hidden_layers)
        values = {
            "n_inputs": _size("n_inputs", n_inputs),
            "hidden_layers": hidden_layers,
            "n_samples": _size("n_samples", n_samples),
            "activation": activation,
            "output": output,
            "loss": loss,
            "l2": l2,
            "skip": skip,
            "chain": chain,
            "widths": widths,
            "n_outputs": _n_outputs(n_outputs),
            "bias": _bias(bias, hidden_layers),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)
        self.__post_init__()

    def __post_init__(self):
        """Validate the fields and normalise the activation and its chain."""
        act = get_activation(self.activation)
        if get_activation(act.name, chain=act.chain_name) is not act:
            raise ValueError(
                f"activation {act.name!r} is not in the catalogue; choose one of "
                "lossbounds.theory.activations.list_activations()"
            )
        object.__setattr__(self, "activation", act.name)
        chains = list_chains(act.name)
        if not isinstance(self.chain, str) or self.chain not in chains:
            raise ValueError(
                f"chain must be one of {', '.join(map(repr, chains))} for activation "
                f"{act.name!r}, got {self.chain!r}"
            )
        if act.chain_name != DEFAULT_CHAIN:  # an alternative chain's object names its chain
            object.__setattr__(self, "chain", act.chain_name)
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, got {self.output!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        self._check_outputs()
        if self.loss == "bce" and self.output != "sigmoid":
            raise ValueError(
                f"loss='bce' needs output='sigmoid' (BCE compares probabilities), "
                f"got output={self.output!r}"
            )
        if not isinstance(self.l2, bool):
            raise ValueError(f"l2 must be True or False, got {self.l2!r}")
        if self.skip not in SKIPS:
            allowed = ", ".join(str(s) for s in SKIPS)
            raise ValueError(f"skip must be one of {allowed}, got {self.skip!r}")
        if self.skip is not None and _is_concrete(self.hidden_layers) and self.hidden_layers < 2:
            raise ValueError(
                f"skip={self.skip!r} joins consecutive hidden layers (of equal width h), "
                f"so it needs hidden_layers >= 2, got {self.hidden_layers}"
            )
        if self.skip is not None and not self.equal_widths:
            raise ValueError(
                f"skip={self.skip!r} joins consecutive hidden layers, so it needs equal "
                f"widths, got widths={self.widths}"
            )

    def _check_outputs(self) -> None:
        """Validate n_outputs against the output unit and the loss."""
        if self.loss == "cross_entropy" and (self.output != "linear" or self.n_outputs < 2):
            raise ValueError(
                "loss='cross_entropy' takes the logits of C >= 2 classes (the softmax belongs "
                "to the loss, as in torch.nn.functional.cross_entropy): it needs "
                f"output='linear' and n_outputs >= 2, got output={self.output!r}, "
                f"n_outputs={self.n_outputs}"
            )
        if self.n_outputs > 1 and self.output != "linear":
            raise ValueError(
                f"n_outputs={self.n_outputs} needs output='linear' (the sigmoid output is "
                f"scalar), got output={self.output!r}"
            )

    @classmethod
    def from_flat(cls, flat) -> Architecture:
        """Build an architecture from a flat record (a sweep cell, a table row, CLI arguments).

        Parameters
        ----------
        flat : mapping
            ``inputs``, ``samples`` and either ``width`` (with optional
            ``hidden_layers``, default 1) or ``widths``; optional
            ``activation``, ``output``, ``loss``, ``skip`` (None or
            ``"none"``: no skip), ``chain``, ``classes`` (C, default 1),
            ``bias`` (default True), and ``l2``: a bool, or a
            coefficient (a number >= 0) whose term is on when it is > 0. Other
            keys (a cell's dataset, seed, outputs, ...) are ignored.

        Returns
        -------
        Architecture

        Raises
        ------
        ValueError
            Naming the offending key (the constructor's argument names:
            ``n_inputs``, ``n_samples``, ``width``, ...).
        """
        for key in ("inputs", "samples"):
            if key not in flat:
                raise ValueError(f"from_flat: the record has no {key!r}")
        l2 = flat.get("l2", False)
        if not isinstance(l2, bool):
            l2 = check_nonnegative("l2", l2) > 0
        skip = flat.get("skip")
        sizes = (
            {"widths": flat["widths"]}
            if flat.get("widths") is not None
            else {"width": flat.get("width"), "hidden_layers": flat.get("hidden_layers", 1)}
        )
        return cls(
            n_inputs=flat["inputs"],
            **sizes,
            n_samples=flat["samples"],
            activation=flat.get("activation", "sigmoid"),
            output=flat.get("output", "linear"),
            loss=flat.get("loss", "mse"),
            l2=l2,
            skip=None if skip == "none" else skip,
            chain=flat.get("chain", DEFAULT_CHAIN),
            n_outputs=flat.get("classes", 1),
            bias=flat.get("bias", True),
        )

    def __repr__(self) -> str:
        """Show the sizes as given (width and depth, or per-layer widths)."""
        if self.equal_widths:
            sizes = f"width={self.widths[0]!r}, hidden_layers={self.hidden_layers!r}"
        else:
            sizes = f"widths={self.widths!r}"
        options = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in ("activation", "output", "loss", "l2", "skip", "chain")
        )
        extra = "".join(
            f", {name}={getattr(self, name)!r}"
            for name, default in (("n_outputs", 1), ("bias", True))
            if getattr(self, name) != default
        )
        return (
            f"Architecture(n_inputs={self.n_inputs!r}, {sizes}, n_samples={self.n_samples!r}, "
            f"{options}{extra})"
        )

    def layer_bias(self, layer: int) -> bool:
        """Whether weight layer ``layer`` (1..K hidden, K + 1 the output) has a bias vector."""
        if isinstance(self.bias, bool):
            return self.bias
        return self.bias[layer - 1]

    @property
    def equal_widths(self) -> bool:
        """True when every hidden layer has the same width."""
        return len(set(self.widths)) == 1

    @property
    def width(self):
        """The width h shared by every hidden layer.

        Raises
        ------
        ValueError
            For unequal widths (use ``widths``).
        """
        if not self.equal_widths:
            raise ValueError(
                f"this architecture has unequal hidden widths, widths={self.widths}: "
                "a single width is not defined here (use widths)"
            )
        return self.widths[0]

    @property
    def n_weight_layers(self):
        """L = hidden_layers + 1."""
        return self.hidden_layers + 1

    @property
    def pfaffian_activation(self) -> PfaffianActivation:
        """The :class:`~lossbounds.theory.activations.PfaffianActivation` of the hidden units, on ``chain``."""
        return get_activation(self.activation, chain=self.chain)

    @property
    def is_symbolic(self) -> bool:
        """True when a size is a sympy expression."""
        sizes = (self.n_inputs, *self.widths, self.hidden_layers, self.n_samples)
        return not all(_is_concrete(s) for s in sizes)


# ---------------------------------------------------------------------------
# matched deep and shallow networks
# ---------------------------------------------------------------------------
def width_for_params(n_inputs: int, hidden_layers: int, target: int) -> int:
    """Return the width h whose parameter count N is closest to ``target``.

    N = h(n+1) + (K-1) h(h+1) + h + 1 (no skips) for h = 1..target; ties go
    to the smaller width.

    Parameters
    ----------
    n_inputs, hidden_layers, target : int
        n >= 1, K >= 1 and the parameter budget (>= 1).

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If an argument is not a positive integer.

    Notes
    -----
    O(target) time and memory.
    """
    import numpy as np

    n = _size("n_inputs", n_inputs)
    k = _size("hidden_layers", hidden_layers)
    target = _size("target", target)
    widths = np.arange(1, target + 1)
    counts = widths * (n + 1) + (k - 1) * widths * (widths + 1) + widths + 1
    return int(widths[np.argmin(np.abs(counts - target))])


def equal_units_family(n_inputs, total_units: int, n_samples, **options) -> list[Architecture]:
    """Networks with ``total_units`` = h K hidden units, one per divisor K of it.

    Parameters
    ----------
    n_inputs, n_samples : int
        n and m, shared by all the networks.
    total_units : int
        H; the family holds K = every divisor of H (increasing), h = H / K.
    **options
        Further :class:`Architecture` fields (activation, output, loss, l2, skip).

    Returns
    -------
    list of Architecture
        Shallowest first.
    """
    total = _size("total_units", total_units)
    depths = [k for k in range(1, total + 1) if total % k == 0]
    return [Architecture(n_inputs, total // k, k, n_samples, **options) for k in depths]


def equal_params_family(n_inputs, depths, target: int, n_samples, **options) -> list[Architecture]:
    """Networks of the given depths whose parameter counts are closest to ``target``.

    Parameters
    ----------
    n_inputs, n_samples : int
        n and m, shared by all the networks.
    depths : sequence of int
        Numbers of hidden layers K, in the order of the result.
    target : int
        Parameter budget; each width is :func:`width_for_params` (no skips).
    **options
        Further :class:`Architecture` fields (activation, output, loss, l2).

    Returns
    -------
    list of Architecture
    """
    return [
        Architecture(n_inputs, width_for_params(n_inputs, k, target), k, n_samples, **options)
        for k in depths
    ]
