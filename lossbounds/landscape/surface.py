"""The training loss of a small network as a function of its flat parameter vector.

For outputs ``f_theta(x_k)`` of the network and targets ``y_k``::

    mse:  L = (1/(m C)) sum_k ||f_theta(x_k) - y_k||^2  (C outputs; torch's mse_loss)
    bce:  L = (1/m) sum_k [softplus(z_k) - y_k z_k]      (z_k the logit; sigmoid output only)
    cross_entropy: L = (1/m) sum_k [log sum_c exp z_kc - z_k,y_k]   (C >= 2 logits,
                                                          class indices y_k; torch's cross_entropy)
    + l2 * ||theta||^2                                   (all parameters, biases included)

:class:`LossSurface` evaluates L at K points at once with the batched forward
pass of :class:`lossbounds.landscape.network.Network`, in chunks (memory bounded by the
chunk, never by K), and gives gradients, Hessians and, for MSE, residuals
and their Jacobians. The data, the network's buffers and every evaluation live
on the surface's ``device`` (see :mod:`lossbounds.landscape.devices`); points go in and
results come out as host arrays. :meth:`LossSurface.from_module` does the same
for a user's ``torch.nn.Module`` (through :class:`lossbounds.landscape.modules.ModuleNetwork`),
with theta in the order of ``parameters_to_vector(model.parameters())``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch.nn.utils import parameters_to_vector
from tqdm.auto import tqdm

from lossbounds._checks import check_int, check_nonnegative
from lossbounds.landscape.data import check_data
from lossbounds.landscape.devices import default_chunk_size, evaluate_chunked, resolve_device
from lossbounds.landscape.layout import ParamLayout
from lossbounds.landscape.modules import ModuleNetwork
from lossbounds.landscape.modules import from_module as _arch_of_module
from lossbounds.landscape.network import Network, sample_losses
from lossbounds.landscape.symmetry import SymmetryGroup
from lossbounds.theory.architecture import LOSSES

__all__ = ["LossSurface", "value_grad", "batched_hessians", "module_loss"]

_DTYPES = {torch.float32: "float32", torch.float64: "float64"}


def value_grad(fn, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Values (K,) and gradients (K, d) of a batched ``fn`` at the rows of X, one call.

    The rows are independent, so the gradient of the sum is the stack of
    the K gradients. Tensors stay on X's device.
    """
    x = X.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        v = fn(x)
        (g,) = torch.autograd.grad(v.sum(), x, allow_unused=True)
    return v.detach(), torch.zeros_like(x) if g is None else g


def batched_hessians(fn, X: torch.Tensor, max_entries: int = 2**22) -> torch.Tensor:
    """Symmetrised Hessians (K, d, d) of a batched ``fn`` at the rows of X (double backward).

    The project's one Hessian: the K gradients in one backward pass, then
    the d Hessian rows of a chunk of points in one batched pass (chunks of
    at most ``max_entries`` entries bound the memory). An ``fn`` whose
    gradient does not depend on x (affine) gives zero Hessians; non-finite
    entries become 0. The result is on X's device, in X's dtype.
    """
    K, d = X.shape
    out = torch.zeros(K, d, d, dtype=X.dtype, device=X.device)
    eye = torch.eye(d, dtype=X.dtype, device=X.device)
    chunk = max(1, max_entries // max(1, d * d))
    for s in range(0, K, chunk):
        x = X[s : s + chunk].detach().clone().requires_grad_(True)
        k = x.shape[0]
        with torch.enable_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # vmap fallback notices
            (g,) = torch.autograd.grad(fn(x).sum(), x, create_graph=True, allow_unused=True)
            if g is None or not g.requires_grad:  # f affine: zero Hessian
                continue
            (H,) = torch.autograd.grad(
                g, x, eye[:, None, :].expand(d, k, d), is_grads_batched=True, allow_unused=True
            )
        if H is not None:
            out[s : s + k] = H.transpose(0, 1)
    out = torch.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
    return 0.5 * (out + out.transpose(1, 2))


def _is_transformed(t: torch.Tensor) -> bool:
    """Tell whether ``t`` is inside a torch.func transform, where out= buffers fail."""
    try:
        return bool(torch._C._functorch.is_functorch_wrapped_tensor(t))
    except AttributeError:  # pragma: no cover - older torch: no functorch wrappers
        return False


def _check_chunk_size(chunk_size) -> int:
    return check_int("chunk_size", chunk_size, 1)


def _check_xy(X, y, loss: str, name: str, n_outputs: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Finite float64 data (m, n) and targets, checked for the loss (``name`` its key).

    Targets: (m,) floats for one output ((m, C) for C > 1 with "mse"), in [0, 1]
    for "bce"; class indices 0..C-1 (int64, shape (m,)) for "cross_entropy".
    """
    X = np.asarray(X, dtype=np.float64)
    if loss == "cross_entropy":
        y = np.asarray(y)
        check_data(X, y)
        if y.size and not (np.all(y == np.round(y)) and y.min() >= 0 and y.max() < n_outputs):
            raise ValueError(
                f"y must hold class indices 0..{n_outputs - 1} for {name}='cross_entropy', "
                f"got values in [{y.min()}, {y.max()}]"
            )
        return X, y.astype(np.int64)
    y = np.asarray(y, dtype=np.float64)
    check_data(X, y, n_outputs)
    if loss == "bce" and (y.min() < 0 or y.max() > 1):
        raise ValueError(f"y must lie in [0, 1] for {name}='bce'")
    return X, y


def _module_outputs(model, X: np.ndarray) -> int:
    """C: the number of outputs per row of ``model`` on the first row of ``X`` (own parameters).

    An output of shape (1, C) with C > 1 gives C; (1,) or (1, 1) give 1.
    """
    p = next(model.parameters(), None)
    dtype, device = (torch.float64, "cpu") if p is None else (p.dtype, p.device)
    try:
        with torch.no_grad():
            out = model(torch.as_tensor(X[:1], dtype=dtype, device=device))
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        raise ValueError(f"model failed on X of shape {X.shape}: {err}") from None
    return int(out.shape[1]) if out.ndim == 2 and out.shape[1] > 1 else 1


def _param_layout(arch, module_layout) -> ParamLayout:
    """Return the ParamLayout of a described module, checked to be its parameter order."""
    layout = ParamLayout(arch)
    blocks = [(b.start, b.stop) for b in layout.blocks.values()]
    params = [(a, a + n) for a, n in zip(module_layout.starts, module_layout.sizes, strict=True)]
    if blocks != params:  # pragma: no cover - from_module only describes ParamLayout order
        raise ValueError(f"module parameters {params} are not in ParamLayout order {blocks}")
    return layout


def _widest(layout) -> int:
    """Widest layer of a layout (ParamLayout widths; else the longest first axis)."""
    widths = getattr(layout, "widths", None)
    return int(max(widths)) if widths else max(s[0] for s in layout.shapes)


class LossSurface:
    """The training loss of an architecture on a dataset, as a function of flat theta.

    Parameters
    ----------
    arch : lossbounds.theory.architecture.Architecture
        Network and loss (``arch.loss`` in {"mse", "bce", "cross_entropy"};
        "bce" needs ``arch.output == "sigmoid"``). ``arch.n_samples`` is informational:
        the data fix m.
    X : array, shape (m, n)
        Inputs, finite, ``n == arch.n_inputs``.
    y : array, shape (m,) or (m, C)
        Targets, finite (in [0, 1] for "bce"); (m, C) for C = ``arch.n_outputs``
        > 1 with "mse"; class indices 0..C-1, shape (m,), for "cross_entropy".
    l2 : float or None
        Coefficient lambda of ``lambda * ||theta||^2``. None means 0 when
        ``arch.l2`` is False; when ``arch.l2`` is True it must be given (> 0).
    dtype : torch.float32 or torch.float64
        Precision of :meth:`__call__` (gradients and Hessians are always float64).
    chunk_size : int, optional
        Default number of parameter vectors evaluated at once (>= 1). Memory is
        about ``3 * chunk_size * m * width * 8`` bytes. Default:
        :func:`lossbounds.landscape.devices.default_chunk_size` for the device (64-1024
        on a CPU, tens of thousands on a GPU). Running out of GPU memory halves
        the chunk and retries (with a warning) down to 1, then raises
        :class:`lossbounds.landscape.devices.DeviceMemoryError` naming ``chunk_size``.
    device : str or torch.device
        Where the data, the network's buffers and the evaluation live:
        "cpu" (default), "cuda", "cuda:N", "auto" (CUDA when available), or a
        ``torch.device``. Inputs and results stay numpy arrays on the host.

    Attributes
    ----------
    arch : Architecture or None
        The architecture; None for a surface of a module the package cannot
        describe (see :meth:`from_module`), where the methods that need it
        (:meth:`symmetry_group`) raise ``ValueError``.
    loss : {"mse", "bce", "cross_entropy"}
        The loss.
    n_params : int
        N.
    n_outputs : int
        C.
    network : lossbounds.landscape.network.Network or lossbounds.landscape.modules.ModuleNetwork
        The batched network.
    layout : lossbounds.landscape.layout.ParamLayout or lossbounds.landscape.modules.ModuleLayout
        Where the weights and biases are in theta (a ``ModuleLayout`` only
        when ``arch`` is None).
    device : torch.device
        The resolved device.

    Raises
    ------
    ValueError
        For bad data, loss, l2, dtype or chunk_size, or an unknown or
        unavailable ``device`` (the message names the accepted values).
    """

    def __init__(
        self,
        arch,
        X,
        y,
        l2: float | None = None,
        dtype=torch.float64,
        chunk_size: int | None = None,
        device="cpu",
    ):
        if arch.loss not in LOSSES:
            raise ValueError(f"arch.loss must be one of {LOSSES}, got {arch.loss!r}")
        X, y = _check_xy(X, y, arch.loss, "arch.loss", getattr(arch, "n_outputs", 1))
        if X.shape[1] != arch.n_inputs:
            raise ValueError(
                f"X must have arch.n_inputs = {arch.n_inputs} columns, got {X.shape[1]}"
            )
        if arch.loss == "bce" and arch.output != "sigmoid":
            raise ValueError("arch.loss='bce' needs arch.output='sigmoid' (probabilities)")
        if l2 is None:
            if getattr(arch, "l2", False):
                raise ValueError("arch.l2 is True: pass the coefficient l2 > 0 explicitly")
            l2 = 0.0
        network = Network(arch)
        self._setup(arch, network, network.layout, arch.loss, (X, y), l2, dtype)
        self._set_device(device, chunk_size)

    def _setup(self, arch, network, layout, loss, data, l2, dtype) -> None:
        """Attributes shared by both constructors (checked data ``(X, y)`` as float64)."""
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        self.arch = arch
        self.loss = loss
        self.l2 = check_nonnegative("l2", l2)
        self.dtype = dtype
        self.network = network
        self.layout = layout
        self.n_params = layout.n_params
        self.X_np, self.y_np = data
        self.n_outputs = int(getattr(network, "n_outputs", 1))
        self._no_arch = ""

    def _set_device(self, device, chunk_size) -> None:
        """Set the device, the chunk size (default for the device) and the data tensors on it."""
        self.device = dev = resolve_device(device)
        if chunk_size is None:
            chunk_size = default_chunk_size(dev, self.n_params, self.m, _widest(self.layout))
        self.chunk_size = _check_chunk_size(chunk_size)
        # Built eagerly: a tensor first created inside a torch.func transform would
        # be captured at that transform's level and break later calls.
        X, y = self.X_np, self.y_np
        if self.loss == "cross_entropy":  # one-hot rows: the loss is logsumexp - <z, y>
            y = np.eye(self.n_outputs)[y]
        self._data = {
            dt: (torch.as_tensor(X, dtype=dt, device=dev), torch.as_tensor(y, dtype=dt, device=dev))
            for dt in _DTYPES
        }

    @classmethod
    def from_module(
        cls, model, X, y, loss: str = "mse", l2: float = 0.0, dtype=torch.float64,
        chunk_size: int | None = None, device="cpu",
    ) -> LossSurface:  # fmt: skip
        """Build the loss surface of a user's ``torch.nn.Module`` on a dataset.

        The loss of the module as a function of its flat parameter vector, in
        the order of ``torch.nn.utils.parameters_to_vector(model.parameters())``,
        evaluated through :class:`lossbounds.landscape.modules.ModuleNetwork`
        (``torch.func.functional_call`` under ``vmap``: the module's own
        forward code). Values, gradients, Hessians, residuals, slices and
        sampling work for any module whose output for inputs (m, n) has m
        entries. When :func:`lossbounds.landscape.modules.from_module` describes the
        module, ``arch`` is its Architecture (formats, bounds, the symmetry
        group and :func:`lossbounds.landscape.optimize.basin_census` with the default
        group work, and ``layout`` is its ParamLayout); otherwise ``arch`` is
        None and ``layout`` a :class:`~lossbounds.landscape.modules.ModuleLayout`
        (weights: parameters of 2+ dimensions; biases: 1-D ``*.bias``).

        Parameters
        ----------
        model : torch.nn.Module
            The network (not modified; its parameter values are not used
            except to check once that it runs on ``X``). Its train/eval mode
            and buffers are used as they are (buffers must be on ``device``).
        X : array, shape (m, n)
            Inputs, finite.
        y : array, shape (m,) or (m, C)
            Targets, finite (in [0, 1] for "bce"); (m, C) for "mse" with a
            module of C > 1 outputs (C = ``out_features`` of its last
            ``nn.Linear``); class indices 0..C-1 for "cross_entropy".
        loss : {"mse", "bce", "cross_entropy"}
            "bce" needs a module ending with ``nn.Sigmoid`` (the loss is taken
            on the output before it, as for the built-in surfaces);
            "cross_entropy" takes the module's C outputs as logits (torch's
            ``cross_entropy``, mean reduction).
        l2 : float
            Coefficient lambda >= 0 of ``lambda * ||theta||^2``.
        dtype : torch.float32 or torch.float64
            Precision of :meth:`__call__`.
        chunk_size : int, optional
            Default number of parameter vectors evaluated at once (>= 1);
            default as for the built-in surfaces.
        device : str or torch.device
            As for the built-in surfaces.

        Returns
        -------
        LossSurface

        Raises
        ------
        ValueError
            For a bad ``loss``, data, ``l2``, ``dtype``, ``chunk_size`` or
            ``device``; for "bce" without a final ``nn.Sigmoid``; when the
            module fails on ``X`` or does not return one scalar per row (with
            torch's message).
        """
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        if not isinstance(model, torch.nn.Module):
            raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        n_outputs = _module_outputs(model, np.asarray(X, dtype=np.float64))
        X, y = _check_xy(X, y, loss, "loss", n_outputs)
        network = ModuleNetwork(model, n_outputs=n_outputs)
        if loss == "bce" and network.output != "sigmoid":
            raise ValueError("loss='bce' needs a module ending with nn.Sigmoid (probabilities)")
        l2 = check_nonnegative("l2", l2)
        try:
            arch, reason = _arch_of_module(model, X.shape[0], loss=loss, l2=l2 > 0), ""
        except ValueError as err:
            arch, reason = None, str(err)
        layout = network.layout if arch is None else _param_layout(arch, network.layout)
        self = cls.__new__(cls)
        self._setup(arch, network, layout, loss, (X, y), l2, dtype)
        self._no_arch = reason
        self._set_device(device, chunk_size)
        self._probe(model)
        return self

    def _probe(self, model) -> None:
        """Evaluate the module's own parameters once: a clear error if it fails on X."""
        theta = parameters_to_vector(model.parameters()).detach()
        try:
            with torch.no_grad():
                self.losses(theta[None].to(device=self.device, dtype=self.dtype))
        except (RuntimeError, ValueError, TypeError, IndexError) as err:
            raise ValueError(f"model failed on X of shape {self.X_np.shape}: {err}") from None

    def symmetry_group(self):
        """Return the hidden-unit symmetry group of the architecture, l2-aware.

        Returns
        -------
        lossbounds.landscape.symmetry.SymmetryGroup
            ``SymmetryGroup(self.arch, l2=self.l2)``.

        Raises
        ------
        ValueError
            If the surface has no architecture (a module the package cannot
            describe), or from ``SymmetryGroup`` (e.g. unequal widths).
        """
        if self.arch is None:
            raise ValueError(
                "this surface has no Architecture, so no symmetry group: "
                f"{self._no_arch or 'arch is None'}"
            )
        return SymmetryGroup(self.arch, l2=self.l2)

    @property
    def m(self) -> int:
        """Number of samples."""
        return self.X_np.shape[0]

    def _tensors(self, dtype):
        if dtype not in self._data:
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        return self._data[dtype]

    # ----------------------------------------------------------- core loss
    def losses(self, thetas: torch.Tensor) -> torch.Tensor:
        """Differentiable losses of a (K, N) tensor, shape (K,), in the tensor's dtype.

        No chunking: the building block of every other evaluation. ``thetas``
        must lie on ``self.device`` (the result does too).
        """
        X, y = self._tensors(thetas.dtype)
        # No autograd needed: the network reuses its buffers and in-place kernels.
        fast = not (torch.is_grad_enabled() and thetas.requires_grad) and not _is_transformed(
            thetas
        )
        out = self.network._forward(thetas, X, logits=self.loss != "mse", fast=fast)
        loss = sample_losses(out, y, self.loss, inplace=fast).mean(dim=1)
        if self.l2:
            loss = loss + self.l2 * (thetas * thetas).sum(dim=1)
        return loss

    def _as_points(self, thetas, dtype) -> torch.Tensor:
        """``thetas`` as a (N,) or (K, N) tensor of ``dtype`` on the surface's device."""
        t = torch.as_tensor(thetas, dtype=dtype, device=self.device)
        if t.ndim not in (1, 2) or t.shape[-1] != self.n_params:
            raise ValueError(
                f"thetas must have shape (N,) or (K, N) with N = {self.n_params}, "
                f"got shape {tuple(t.shape)}"
            )
        return t

    # -------------------------------------------------------- evaluation
    def __call__(self, thetas, chunk_size: int | None = None, progress: bool = False, dtype=None):
        """Loss values at one or many points.

        Parameters
        ----------
        thetas : array or tensor of shape (N,) or (K, N), or an iterable of (k_i, N) chunks
            Points. An iterable (e.g. a generator) is streamed chunk by chunk
            (see :meth:`stream`).
        chunk_size : int, optional
            Points per batch (default ``self.chunk_size``); halved on running
            out of GPU memory (see :func:`lossbounds.landscape.devices.evaluate_chunked`).
        progress : bool
            Show a tqdm progress bar over points.
        dtype : torch dtype, optional
            Overrides the surface's dtype for this call.

        Returns
        -------
        float for one point, numpy.ndarray of shape (K,) otherwise (float64 or float32).
        """
        if not isinstance(thetas, (np.ndarray, torch.Tensor, list, tuple)):
            return self.stream(thetas, progress=progress, dtype=dtype)
        dtype = self.dtype if dtype is None else dtype
        chunk_size = _check_chunk_size(self.chunk_size if chunk_size is None else chunk_size)
        t = self._as_points(thetas, dtype)
        if t.ndim == 1:
            with torch.no_grad():
                return float(self.losses(t[None])[0])
        K = t.shape[0]
        out = np.empty(K, dtype=np.float64 if dtype == torch.float64 else np.float32)
        chunks = evaluate_chunked(
            lambda a, b: self.losses(t[a:b]).cpu().numpy(), K, chunk_size, device=self.device
        )
        with torch.no_grad(), tqdm(total=K, disable=not progress, desc="loss", unit="pt") as bar:
            for s, stop, values in chunks:
                out[s:stop] = values
                bar.update(stop - s)
        return out

    def stream(
        self,
        points: Iterable | Callable,
        n_points: int | None = None,
        chunk_size: int | None = None,
        progress: bool = False,
        dtype=None,
        reduce: Callable | None = None,
    ):
        """Evaluate a stream of points without holding them all.

        Parameters
        ----------
        points : iterable of arrays (k_i, N), or callable ``(start, stop) -> array (stop - start, N)``
            The chunks (any sizes; each is split into ``chunk_size`` batches),
            or a function producing chunk ``[start, stop)``, in which case
            ``n_points`` is required.
        n_points : int, optional
            Total number of points (required for a callable; used for the
            progress bar otherwise).
        chunk_size : int, optional
            Batch size (default ``self.chunk_size``).
        progress : bool
            tqdm progress bar over points.
        dtype : torch dtype, optional
            Overrides the surface's dtype.
        reduce : callable, optional
            ``reduce(chunk_points, chunk_values)`` is called per chunk and the
            values are not kept (then memory is constant in the number of
            points); the method returns None.

        Returns
        -------
        numpy.ndarray of shape (total,) or None (with ``reduce``).
        """
        chunk_size = _check_chunk_size(self.chunk_size if chunk_size is None else chunk_size)
        if callable(points) and not isinstance(points, Iterable):
            if n_points is None or n_points < 0:
                raise ValueError("n_points must be given (>= 0) when points is a function")
            fn = points
            points = (fn(s, min(s + chunk_size, n_points)) for s in range(0, n_points, chunk_size))
        kept = []
        with tqdm(total=n_points, disable=not progress, desc="loss", unit="pt") as bar:
            for chunk in points:
                if getattr(chunk, "ndim", np.ndim(chunk)) == 1:
                    chunk = chunk[None, :]
                vals = self(chunk, chunk_size=chunk_size, dtype=dtype)
                if reduce is not None:
                    reduce(chunk, vals)
                else:
                    kept.append(vals)
                bar.update(len(vals))
        if reduce is not None:
            return None
        if not kept:
            return np.empty(0)
        return np.concatenate(kept)

    # ------------------------------------------------------- derivatives
    def _single(self, theta: torch.Tensor) -> torch.Tensor:
        return self.losses(theta[None])[0]

    def value_and_grad(self, theta) -> tuple[float, np.ndarray]:
        """Loss and gradient (N,) at one point, float64."""
        t = self._as_points(theta, torch.float64)
        if t.ndim != 1:
            raise ValueError(f"theta must be one point of shape (N,), got {tuple(t.shape)}")
        t = t.clone().requires_grad_(True)
        val = self._single(t)
        (g,) = torch.autograd.grad(val, t)
        return float(val.detach()), g.cpu().numpy()

    def gradient(self, theta) -> np.ndarray:
        """Gradient of shape (N,) at one point, float64."""
        return self.value_and_grad(theta)[1]

    def gradients(self, thetas) -> tuple[np.ndarray, np.ndarray]:
        """Losses (K,) and gradients (K, N) at K points, float64, in one backward pass.

        The losses of different rows are independent, so the gradient of
        their sum w.r.t. the (K, N) tensor is the stack of the K gradients.
        """
        t = self._as_points(thetas, torch.float64)
        t = torch.atleast_2d(t).clone().requires_grad_(True)
        vals = self.losses(t)
        (g,) = torch.autograd.grad(vals.sum(), t)
        return vals.detach().cpu().numpy(), g.cpu().numpy()

    def hessian(self, theta) -> np.ndarray:
        """Hessian of shape (N, N) at one point, float64, symmetrised (:func:`batched_hessians`)."""
        t = self._as_points(theta, torch.float64)
        if t.ndim != 1:
            raise ValueError(f"theta must be one point of shape (N,), got {tuple(t.shape)}")
        return batched_hessians(self.losses, t[None])[0].cpu().numpy()

    def hessians(self, thetas) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Losses (K,), gradients (K, N) and symmetrised Hessians (K, N, N) at K points, float64.

        :func:`value_grad` and :func:`batched_hessians` on the surface's device.
        """
        t = torch.atleast_2d(self._as_points(thetas, torch.float64))
        loss, g = value_grad(self.losses, t)
        H = batched_hessians(self.losses, t)
        return tuple(a.detach().cpu().numpy() for a in (loss, g, H))

    # ------------------------------------------------------ least squares
    def _check_mse(self) -> None:
        if self.loss != "mse":
            raise ValueError(
                f"the surface's loss must be 'mse' (a least-squares problem), got {self.loss!r}"
            )

    def _residuals_t(self, thetas: torch.Tensor) -> torch.Tensor:
        X, y = self._tensors(torch.float64)
        r = self.network.forward(thetas, X) - y
        if r.ndim == 3:  # C outputs: loss = ||r||^2 / (m C) = ||r / sqrt(C)||^2 / m
            r = r.reshape(r.shape[0], -1) / float(np.sqrt(self.n_outputs))
        if self.l2:
            # (1/m) ||r||^2 + l2 ||theta||^2 = (1/m) ||[r, sqrt(m l2) theta]||^2
            r = torch.cat([r, float(np.sqrt(self.m * self.l2)) * thetas], dim=1)
        return r

    def residuals(self, thetas) -> np.ndarray:
        """Residuals r with ``loss = ||r||^2 / m``, float64 (MSE losses only).

        Parameters
        ----------
        thetas : array, shape (N,) or (K, N)

        Returns
        -------
        numpy.ndarray, shape (R,) or (K, R)
            ``R = m`` (outputs minus targets; ``m C`` entries divided by sqrt(C)
            for C outputs), plus N columns ``sqrt(m l2) theta`` when the surface
            has an l2 term.

        Raises
        ------
        ValueError
            If the loss is not "mse" or ``thetas`` has the wrong shape.
        """
        self._check_mse()
        t = self._as_points(thetas, torch.float64)
        with torch.no_grad():
            r = self._residuals_t(torch.atleast_2d(t)).cpu().numpy()
        return r[0] if t.ndim == 1 else r

    def residual_jacobians_t(self, thetas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Residuals (K, R) and Jacobians (K, R, N) of a (K, N) float64 tensor on the device.

        The tensor form of :meth:`residual_jacobians` (no host copies), for
        batched least-squares loops.
        """
        self._check_mse()
        t = thetas.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            r = self._residuals_t(t)
            K, R = r.shape
            grads = torch.eye(R, dtype=torch.float64, device=self.device)[:, None, :].expand(
                R, K, R
            )
            (J,) = torch.autograd.grad(r, t, grads, is_grads_batched=True)  # (R, K, N)
        return r.detach(), J.transpose(0, 1)

    def residual_jacobians(self, thetas) -> tuple[np.ndarray, np.ndarray]:
        """Residuals and their Jacobians at one or K points, float64 (MSE losses only).

        Parameters
        ----------
        thetas : array, shape (N,) or (K, N)

        Returns
        -------
        residuals : numpy.ndarray, shape (R,) or (K, R)
            As :meth:`residuals`.
        jacobians : numpy.ndarray, shape (R, N) or (K, R, N)
            ``jacobians[k, j, i] = d residuals[k, j] / d theta[k, i]`` (one
            batched backward pass over the R columns).
        """
        self._check_mse()
        t0 = self._as_points(thetas, torch.float64)
        r, J = self.residual_jacobians_t(torch.atleast_2d(t0))
        r, J = r.cpu().numpy(), J.cpu().numpy()
        return (r[0], J[0]) if t0.ndim == 1 else (r, J)


def module_loss(model: torch.nn.Module, X, y, loss: str = "mse", l2: float = 0.0, device=None):
    """Return the training loss of a module as a batched function of flat parameters.

    The loss of :meth:`lossbounds.landscape.surface.LossSurface.from_module`
    (one implementation): ``mse`` (1/(m C)) sum_k ||f(x_k) - y_k||^2; ``bce``
    (1/m) sum_k [softplus(z_k) - y_k z_k] with z_k the output before the final
    sigmoid; ``cross_entropy`` (1/m) sum_k [logsumexp(z_k) - z_k,y_k] on the C
    logits; plus ``l2 * ||theta||^2``.

    Parameters
    ----------
    model : torch.nn.Module
        See :class:`ModuleNetwork`; "bce" needs a final ``nn.Sigmoid``.
    X : array, shape (m, n)
        Inputs, finite.
    y : array, shape (m,) or (m, C)
        Targets, as for ``LossSurface.from_module``.
    loss : {"mse", "bce", "cross_entropy"}
        Loss.
    l2 : float
        Coefficient lambda >= 0.
    device : torch.device or str, optional
        Where the data tensors live (that of the ``thetas`` passed in and of
        the module's buffers); default CPU.

    Returns
    -------
    callable
        ``thetas (K, N) -> (K,)`` tensor, in the dtype of ``thetas``
        (float32 or float64), differentiable (autograd and torch.func).

    Raises
    ------
    ValueError
        As ``LossSurface.from_module``.
    """
    surface = LossSurface.from_module(
        model, X, y, loss=loss, l2=l2, device="cpu" if device is None else device
    )
    return surface.losses
