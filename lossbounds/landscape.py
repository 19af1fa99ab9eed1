"""Fast loss landscapes of small networks: batched evaluation, slices, samples, minima.

Everything is built on :class:`LossSurface`, which evaluates the training loss
at K parameter vectors at once with the batched forward pass of
:class:`lossbounds.models.Network` (batched matrix products into reused
buffers), in chunks of ``chunk_size`` vectors so that memory is bounded by the
chunk, never by K. Streams of points (iterators of chunks, or a function that
produces chunk ``[start, stop)``) are evaluated without ever holding all the
points.

The loss
--------
For outputs ``f_theta(x_k)`` of the network and targets ``y_k``::

    mse:  L = (1/m) sum_k (f_theta(x_k) - y_k)^2
    bce:  L = (1/m) sum_k [softplus(z_k) - y_k z_k]      (z_k the logit; sigmoid output only)
          = -(1/m) sum_k [y_k log sigmoid(z_k) + (1 - y_k) log(1 - sigmoid(z_k))]
    + l2 * ||theta||^2                                   (all parameters, biases included)

Contents
--------
- :class:`LossSurface`: values (float32 or float64), gradient, Hessian.
- :func:`random_direction`, :func:`line`, :func:`plane`: 1-D and 2-D slices
  with random or filter-normalised directions (Li et al. 2018).
- :func:`sample_points`, :func:`iter_sample_points`, :func:`sample_loss`:
  scrambled Sobol or uniform samples in a box or a ball.
- :func:`minimize`, :func:`classify_hessian`, :func:`dedup_modulo_group`:
  minimisation from many starts, Hessian classification, deduplication
  modulo the symmetry group.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from lossbounds._checks import check_int, check_nonnegative
from lossbounds.data import check_data
from lossbounds.network import Network
from lossbounds.symmetry import SymmetryGroup

__all__ = [
    "LossSurface",
    "random_direction",
    "line",
    "plane",
    "PlaneSlice",
    "sample_points",
    "iter_sample_points",
    "sample_loss",
    "sample_hessian_shaped",
    "classify_hessian",
    "CLASSES",
    "MinimaResult",
    "minimize",
    "dedup_modulo_group",
]

_DTYPES = {torch.float32: "float32", torch.float64: "float64"}
_LOSSES = ("mse", "bce")

#: Labels of :func:`classify_hessian` (plus ``"not_critical"`` from :func:`minimize`).
CLASSES = ("strict_min", "degenerate", "saddle", "max")


def _is_transformed(t: torch.Tensor) -> bool:
    """True inside torch.func transforms (vmap, grad, jacfwd), where out= buffers fail."""
    try:
        return bool(torch._C._functorch.is_functorch_wrapped_tensor(t))
    except AttributeError:  # pragma: no cover - older torch: no functorch wrappers
        return False


def _check_chunk_size(chunk_size) -> int:
    return check_int("chunk_size", chunk_size, 1)


class LossSurface:
    """The training loss of an architecture on a dataset, as a function of flat theta.

    Parameters
    ----------
    arch : lossbounds.formats.Architecture
        Network and loss (``arch.loss`` in {"mse", "bce"}; "bce" needs
        ``arch.output == "sigmoid"``). ``arch.n_samples`` is informational:
        the data fix m.
    X : array, shape (m, n)
        Inputs, finite, ``n == arch.n_inputs``.
    y : array, shape (m,)
        Targets, finite (in [0, 1] for "bce").
    l2 : float or None
        Coefficient lambda of ``lambda * ||theta||^2``. None means 0 when
        ``arch.l2`` is False; when ``arch.l2`` is True it must be given (> 0).
    dtype : torch.float32 or torch.float64
        Precision of :meth:`__call__` (gradients and Hessians are always float64).
        float32 is about 3x faster (benchmark network, one thread); use float64
        for comparisons.
    chunk_size : int
        Default number of parameter vectors evaluated at once. Memory is
        about ``3 * chunk_size * m * width * 8`` bytes. Small chunks keep the
        work buffers in cache: on the benchmark network (m = 256, h = 10,
        single thread) 64-1024 is fastest and 4096 about 2x slower
        (``benchmarks/bench_landscape.py``).

    Attributes
    ----------
    n_params : int
        N.
    network : lossbounds.models.Network
        The batched network.
    """

    def __init__(
        self, arch, X, y, l2: float | None = None, dtype=torch.float64, chunk_size: int = 128
    ):
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        check_data(X, y)
        if X.shape[1] != arch.n_inputs:
            raise ValueError(
                f"X must have arch.n_inputs = {arch.n_inputs} columns, got {X.shape[1]}"
            )
        if arch.loss not in _LOSSES:
            raise ValueError(f"arch.loss must be one of {_LOSSES}, got {arch.loss!r}")
        if arch.loss == "bce":
            if arch.output != "sigmoid":
                raise ValueError("arch.loss='bce' needs arch.output='sigmoid' (probabilities)")
            if y.min() < 0 or y.max() > 1:
                raise ValueError("y must lie in [0, 1] for arch.loss='bce'")
        if l2 is None:
            if getattr(arch, "l2", False):
                raise ValueError("arch.l2 is True: pass the coefficient l2 > 0 explicitly")
            l2 = 0.0
        l2 = check_nonnegative("l2", l2)
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        self.arch = arch
        self.l2 = l2
        self.dtype = dtype
        self.chunk_size = _check_chunk_size(chunk_size)
        self.network = Network(arch)
        self.layout = self.network.layout
        self.n_params = self.layout.n_params
        self.X_np, self.y_np = X, y
        # Built eagerly: a tensor first created inside a torch.func transform would
        # be captured at that transform's level and break later calls.
        self._data = {
            dt: (torch.as_tensor(X, dtype=dt), torch.as_tensor(y, dtype=dt)) for dt in _DTYPES
        }

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

        No chunking: this is the building block of :meth:`__call__`, the
        batched gradient in :func:`minimize`, and the Hessian.
        """
        X, y = self._tensors(thetas.dtype)
        # No autograd needed: the network reuses its buffers and in-place kernels.
        fast = not (torch.is_grad_enabled() and thetas.requires_grad) and not _is_transformed(
            thetas
        )
        if self.arch.loss == "bce":
            z = self.network._forward(thetas, X, logits=True, fast=fast)
            # softplus(z) - y z = -[y log s(z) + (1-y) log(1-s(z))], stable for large |z|
            per = torch.logaddexp(z, torch.zeros_like(z)) - y * z
        else:
            out = self.network._forward(thetas, X, logits=False, fast=fast)
            per = out.sub_(y).square_() if fast else (out - y) ** 2
        loss = per.mean(dim=1)
        if self.l2:
            loss = loss + self.l2 * (thetas * thetas).sum(dim=1)
        return loss

    def _as_points(self, thetas, dtype) -> torch.Tensor:
        t = torch.as_tensor(thetas, dtype=dtype)
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
            Points per batch (default ``self.chunk_size``).
        progress : bool
            Show a tqdm progress bar over chunks.
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
        starts = range(0, K, chunk_size)
        with torch.no_grad():
            for s in tqdm(starts, disable=not progress, desc="loss", unit="chunk"):
                out[s : s + chunk_size] = self.losses(t[s : s + chunk_size]).numpy()
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
        return float(val.detach()), g.numpy()

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
        return vals.detach().numpy(), g.numpy()

    def hessian(self, theta) -> np.ndarray:
        """Hessian of shape (N, N) at one point, float64, symmetrised.

        Double backward: the gradient with ``create_graph=True``, then all N
        rows at once with ``is_grads_batched`` (faster here than
        ``torch.func.hessian``, whose vmapped forward-over-reverse pass is slow
        on a busy CPU).
        """
        t = self._as_points(theta, torch.float64)
        if t.ndim != 1:
            raise ValueError(f"theta must be one point of shape (N,), got {tuple(t.shape)}")
        t = t.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(self._single(t), t, create_graph=True)
        eye = torch.eye(t.shape[0], dtype=t.dtype)
        (H,) = torch.autograd.grad(g, t, eye, is_grads_batched=True)
        H = H.numpy()
        return 0.5 * (H + H.T)


# ---------------------------------------------------------------------------
# directions and slices
# ---------------------------------------------------------------------------
_NORMALIZATIONS = ("filter", "unit", "none")
_BIAS = ("zero", "theta", "random")


def random_direction(
    layout, theta, rng, normalization: str = "filter", bias: str = "zero"
) -> np.ndarray:
    """A random direction in parameter space, optionally filter-normalised.

    Parameters
    ----------
    layout : lossbounds.models.ParamLayout or LossSurface
        Where the weight rows ("filters") and biases are.
    theta : array, shape (N,)
        The point the slice goes through.
    rng : numpy.random.Generator or int
        Generator or seed; entries start as N(0, 1).
    normalization : {"filter", "unit", "none"}
        ``"filter"`` (Li et al. 2018): each row of every weight matrix (one
        hidden unit's incoming weights, a projection row, the output weights
        v) is rescaled to the norm of the same row of ``theta`` (rows of theta
        that are zero give zero rows). ``"unit"``: the whole vector has norm 1.
        ``"none"``: raw Gaussian.
    bias : {"zero", "theta", "random"}
        Bias entries (``b_l``, ``c``) with ``"filter"`` normalisation: zero
        (Li et al.'s default), equal to theta's biases (their alternative),
        or left Gaussian. Ignored for the other normalisations.

    Returns
    -------
    numpy.ndarray, shape (N,), float64
    """
    layout = getattr(layout, "layout", layout)
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape != (layout.n_params,):
        raise ValueError(
            f"theta must have shape (N,) with N = {layout.n_params}, got shape {theta.shape}"
        )
    if normalization not in _NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {_NORMALIZATIONS}, got {normalization!r}")
    if bias not in _BIAS:
        raise ValueError(f"bias must be one of {_BIAS}, got {bias!r}")
    rng = np.random.default_rng(rng)
    d = rng.standard_normal(layout.n_params)
    if normalization == "unit":
        return d / np.linalg.norm(d)
    if normalization == "none":
        return d
    for start, stop, rows in layout.weight_rows():
        dr = d[start:stop].reshape(rows, -1)
        tr = theta[start:stop].reshape(rows, -1)
        dn = np.linalg.norm(dr, axis=1, keepdims=True)
        tn = np.linalg.norm(tr, axis=1, keepdims=True)
        d[start:stop] = (dr * np.where(dn > 0, tn / np.where(dn > 0, dn, 1.0), 0.0)).ravel()
    mask = layout.bias_mask()
    if bias == "zero":
        d[mask] = 0.0
    elif bias == "theta":
        d[mask] = theta[mask]
    return d


def _span(span, name: str) -> tuple[float, float]:
    try:
        lo, hi = (float(s) for s in span)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high), got {span!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"{name} must be finite with low < high, got {span!r}")
    return lo, hi


def _res(res, name: str) -> int:
    return check_int(name, res, 2)


def line(
    surface: LossSurface,
    theta,
    direction=None,
    span=(-1.0, 1.0),
    res: int = 101,
    seed: int = 0,
    normalization: str = "filter",
    bias: str = "zero",
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Loss along the line ``theta + alpha * d``.

    Parameters
    ----------
    surface : LossSurface
    theta : array, shape (N,)
    direction : array of shape (N,), optional
        Used as given; otherwise drawn by :func:`random_direction` with
        ``seed``, ``normalization`` and ``bias``.
    span : (float, float)
        Range of alpha.
    res : int
        Number of grid points (>= 2).

    Returns
    -------
    alphas : numpy.ndarray, shape (res,)
    values : numpy.ndarray, shape (res,)
    direction : numpy.ndarray, shape (N,)
    """
    theta = _point(surface, theta)
    lo, hi = _span(span, "span")
    res = _res(res, "res")
    d = (
        random_direction(surface.layout, theta, seed, normalization, bias)
        if direction is None
        else _point(surface, direction, "direction")
    )
    alphas = np.linspace(lo, hi, res)
    values = surface(theta[None, :] + alphas[:, None] * d[None, :], progress=progress)
    return alphas, values, d


@dataclass(frozen=True)
class PlaneSlice:
    """A 2-D slice: ``values[i, j] = L(theta + alphas[i] * d1 + betas[j] * d2)``.

    (Use ``values.T`` with ``plt.contourf(alphas, betas, ...)``.)
    """

    alphas: np.ndarray
    betas: np.ndarray
    values: np.ndarray
    theta: np.ndarray
    d1: np.ndarray
    d2: np.ndarray


def _point(surface, theta, name: str = "theta") -> np.ndarray:
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape != (surface.n_params,):
        raise ValueError(
            f"{name} must have shape (N,) with N = {surface.n_params}, got shape {theta.shape}"
        )
    if not np.all(np.isfinite(theta)):
        raise ValueError(f"{name} must be finite")
    return theta


def plane(
    surface: LossSurface,
    theta,
    directions=None,
    span=(-1.0, 1.0),
    res=51,
    seed: int = 0,
    normalization: str = "filter",
    bias: str = "zero",
    orthogonalize: bool = False,
    chunk_size: int | None = None,
    progress: bool = False,
) -> PlaneSlice:
    """Loss on the grid ``theta + a * d1 + b * d2``.

    Parameters
    ----------
    surface : LossSurface
    theta : array, shape (N,)
    directions : pair of arrays (N,), optional
        (d1, d2) used as given; otherwise two independent draws of
        :func:`random_direction` (seeds ``seed`` and ``seed + 1``).
    span : (lo, hi) or ((a_lo, a_hi), (b_lo, b_hi))
        Ranges of a and b.
    res : int or (int, int)
        Grid points along a and b.
    orthogonalize : bool
        Make d2 orthogonal to d1 (Gram-Schmidt, keeping d2's norm). Random
        directions in high dimension are nearly orthogonal anyway.
    chunk_size, progress
        Passed to the surface; the grid is generated row by row, never held
        as a (res_a * res_b, N) array.

    Returns
    -------
    PlaneSlice
        ``values`` has shape (res_a, res_b).
    """
    theta = _point(surface, theta)
    if np.ndim(span[0]) == 0:
        (alo, ahi) = (blo, bhi) = _span(span, "span")
    else:
        alo, ahi = _span(span[0], "span[0]")
        blo, bhi = _span(span[1], "span[1]")
    ra, rb = (res, res) if np.ndim(res) == 0 else tuple(res)
    ra, rb = _res(ra, "res"), _res(rb, "res")
    if directions is None:
        d1 = random_direction(surface.layout, theta, seed, normalization, bias)
        d2 = random_direction(surface.layout, theta, seed + 1, normalization, bias)
    else:
        if len(directions) != 2:
            raise ValueError("directions must be a pair (d1, d2)")
        d1 = _point(surface, directions[0], "directions[0]")
        d2 = _point(surface, directions[1], "directions[1]")
    if orthogonalize:
        n2 = np.linalg.norm(d2)
        d2 = d2 - (d2 @ d1) / (d1 @ d1) * d1
        d2 *= n2 / np.linalg.norm(d2)
    alphas = np.linspace(alo, ahi, ra)
    betas = np.linspace(blo, bhi, rb)
    base = theta[None, :] + betas[:, None] * d2[None, :]  # (rb, N)
    # One grid row (fixed alpha) per chunk of the stream.
    rows = (base + a * d1[None, :] for a in alphas)
    values = surface.stream(rows, n_points=ra * rb, chunk_size=chunk_size, progress=progress)
    return PlaneSlice(alphas, betas, values.reshape(ra, rb), theta, d1, d2)


# ---------------------------------------------------------------------------
# samples
# ---------------------------------------------------------------------------
_REGIONS = ("box", "ball")
_METHODS = ("sobol", "uniform")


def _region_args(dim, region, low, high, radius, center, method):
    dim = check_int("dim", dim, 1)
    if region not in _REGIONS:
        raise ValueError(f"region must be one of {_REGIONS}, got {region!r}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    center = np.zeros(dim) if center is None else np.asarray(center, dtype=np.float64)
    if center.shape != (dim,):
        raise ValueError(f"center must have shape ({dim},), got {center.shape}")
    if region == "box":
        low = np.broadcast_to(np.asarray(low, dtype=np.float64), (dim,))
        high = np.broadcast_to(np.asarray(high, dtype=np.float64), (dim,))
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(low < high)):
            raise ValueError("low and high must be finite with low < high in every coordinate")
    elif not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a finite number > 0, got {radius!r}")
    return int(dim), center, low, high


def iter_sample_points(
    n_points: int,
    dim: int,
    region: str = "box",
    low=-1.0,
    high=1.0,
    radius: float = 1.0,
    center=None,
    method: str = "sobol",
    seed: int = 0,
    chunk_size: int = 8192,
):
    """Yield samples in chunks of at most ``chunk_size`` rows, shape (k, dim), float64.

    Parameters
    ----------
    n_points : int
        Total number of points (>= 0).
    dim : int
        Dimension (N for parameter space).
    region : {"box", "ball"}
        ``"box"``: ``center + [low, high]^dim`` (low/high scalars or (dim,)
        arrays). ``"ball"``: the Euclidean ball of ``radius`` around
        ``center``, uniform in volume: direction from normally distributed
        coordinates, radius ``R u^(1/dim)`` (with Sobol, the normal
        coordinates are inverse-CDF transforms of Sobol coordinates and u is one
        more Sobol coordinate).
    method : {"sobol", "uniform"}
        Scrambled Sobol (``scipy.stats.qmc.Sobol(scramble=True, seed=seed)``,
        drawn sequentially so chunks continue one sequence) or i.i.d. uniform.
    seed : int
        Seed of the Sobol scrambling or of ``numpy.random.default_rng``.
    """
    from scipy.stats import norm, qmc

    dim, center, low, high = _region_args(dim, region, low, high, radius, center, method)
    chunk_size = _check_chunk_size(chunk_size)
    n_points = check_int("n_points", n_points, 0)
    d_raw = dim if region == "box" else dim + 1
    if method == "sobol":
        sampler = qmc.Sobol(d=d_raw, scramble=True, seed=seed)

        def draw(k):
            with warnings.catch_warnings():
                # balance warning for non-powers of 2: the sequence is still valid
                warnings.simplefilter("ignore", UserWarning)
                return sampler.random(k)
    else:
        rng = np.random.default_rng(seed)

        def draw(k):
            return rng.random((k, d_raw))

    done = 0
    while done < n_points:
        k = min(chunk_size, n_points - done)
        u = draw(k)
        if region == "box":
            pts = center + low + u * (high - low)
        else:
            g = norm.ppf(np.clip(u[:, :dim], 1e-15, 1 - 1e-15))
            g /= np.linalg.norm(g, axis=1, keepdims=True)
            pts = center + radius * g * u[:, dim : dim + 1] ** (1.0 / dim)
        done += k
        yield pts


def sample_points(n_points: int, dim: int, **kwargs) -> np.ndarray:
    """All samples of :func:`iter_sample_points` at once, shape (n_points, dim)."""
    chunks = list(iter_sample_points(n_points, dim, **kwargs))
    return np.concatenate(chunks) if chunks else np.empty((0, dim))


def sample_hessian_shaped(
    theta, hessian, n_points: int, seed: int = 0, scales=(1e-8, 1e-1)
) -> np.ndarray:
    """Samples around a strict minimum, shaped by its Hessian.

    Points ``theta + V diag(lambda)^{-1/2} sqrt(2 e) u`` with ``u`` uniform in
    the unit ball (scrambled Sobol) and ``e`` log-uniform in ``scales``, where
    ``hessian = V diag(lambda) V^T``: the quadratic model of ``L - L(theta)``,
    ``(p - theta)^T H (p - theta) / 2``, equals ``e |u|^2 <= e``. The cloud
    therefore resolves the basin at every loss increment between the scales,
    whatever the conditioning of the Hessian.

    Parameters
    ----------
    theta : array_like, shape (N,)
        The minimum.
    hessian : array_like, shape (N, N)
        Symmetric positive definite Hessian at ``theta``.
    n_points : int
        Number of samples (>= 1).
    seed : int
        Seed of the Sobol points and of the increments.
    scales : (float, float)
        Smallest and largest loss increment of the quadratic model, ``0 < lo <= hi``.

    Returns
    -------
    numpy.ndarray, shape (n_points, N), float64
    """
    theta = np.asarray(theta, dtype=np.float64)
    hess = np.asarray(hessian, dtype=np.float64)
    if theta.ndim != 1 or hess.shape != (theta.size, theta.size):
        raise ValueError(
            f"hessian must have shape (N, N) = {(theta.size, theta.size)} for theta of shape "
            f"(N,), got theta {theta.shape} and hessian {hess.shape}"
        )
    n_points = check_int("n_points", n_points, 1)
    lo, hi = (float(v) for v in scales)
    if not (0 < lo <= hi < np.inf):
        raise ValueError(f"scales must satisfy 0 < lo <= hi < inf, got {scales!r}")
    lam, V = np.linalg.eigh(hess)
    if lam[0] <= 0:
        raise ValueError(
            f"hessian must be positive definite (a strict minimum), smallest eigenvalue {lam[0]:.3e}"
        )
    u = sample_points(n_points, theta.size, region="ball", radius=1.0, seed=seed)
    e = np.exp(np.random.default_rng(seed).uniform(np.log(lo), np.log(hi), n_points))
    return theta + (u * np.sqrt(2.0 * e)[:, None] / np.sqrt(lam)[None, :]) @ V.T


def sample_loss(
    surface: LossSurface,
    n_points: int,
    return_points: bool = True,
    progress: bool = False,
    chunk_size: int | None = None,
    dtype=torch.float32,
    **region,
):
    """Loss at ``n_points`` samples of parameter space, streamed.

    Parameters
    ----------
    surface : LossSurface
    n_points : int
    return_points : bool
        Keep and return the points (memory n_points * N * 8 bytes); with False
        only the values are kept, so 10^7 samples need only 10^7 floats.
    progress : bool
        tqdm bar.
    chunk_size : int, optional
        Evaluation batch size.
    dtype : torch.float32 or torch.float64
        Evaluation precision; float32 by default (2-3x faster, relative error
        ~1e-7, plenty for sublevel-set statistics). Use float64 to compare.
    **region
        ``region``, ``low``, ``high``, ``radius``, ``center``, ``method``,
        ``seed`` of :func:`iter_sample_points`.

    Returns
    -------
    (points (n_points, N), values (n_points,)) or values
    """
    chunks = iter_sample_points(n_points, surface.n_params, **region)
    if not return_points:
        return surface.stream(
            chunks, n_points=n_points, chunk_size=chunk_size, progress=progress, dtype=dtype
        )
    kept = []

    def keep(it):
        for c in it:
            kept.append(c)
            yield c

    values = surface.stream(
        keep(chunks), n_points=n_points, chunk_size=chunk_size, progress=progress, dtype=dtype
    )
    points = np.concatenate(kept) if kept else np.empty((0, surface.n_params))
    return points, values


# ---------------------------------------------------------------------------
# critical points
# ---------------------------------------------------------------------------
def classify_hessian(eigenvalues, rel_tol: float = 1e-6, abs_tol: float = 1e-12) -> str:
    """Classify a critical point from its Hessian eigenvalues.

    An eigenvalue counts as zero when ``|lambda| <= tau`` with
    ``tau = max(abs_tol, rel_tol * max_i |lambda_i|)`` (relative to the
    largest curvature, since the scale of a loss is arbitrary).

    Returns
    -------
    str
        ``"saddle"`` if some eigenvalue is > tau and another < -tau;
        otherwise ``"degenerate"`` if some is zero; otherwise
        ``"strict_min"`` (all > tau) or ``"max"`` (all < -tau).
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if lam.ndim != 1 or lam.size == 0 or not np.all(np.isfinite(lam)):
        raise ValueError("eigenvalues must be a non-empty finite 1-D array")
    if not (rel_tol >= 0 and abs_tol >= 0):
        raise ValueError(f"rel_tol and abs_tol must be >= 0, got {rel_tol!r}, {abs_tol!r}")
    tau = max(abs_tol, rel_tol * float(np.max(np.abs(lam))))
    pos, neg = lam > tau, lam < -tau
    if pos.any() and neg.any():
        return "saddle"
    if not (pos | neg).all():
        return "degenerate"
    return "strict_min" if pos.all() else "max"


@dataclass
class MinimaResult:
    """End points of :func:`minimize`, one row per start.

    Attributes
    ----------
    points : numpy.ndarray, shape (K, N)
    losses : numpy.ndarray, shape (K,)
    grad_norms : numpy.ndarray, shape (K,)
        Euclidean norm of the gradient at the end point.
    eigenvalues : numpy.ndarray, shape (K, N)
        Hessian spectrum (ascending) at the end point.
    labels : numpy.ndarray of str, shape (K,)
        :func:`classify_hessian` label, or ``"not_critical"`` when the
        gradient norm exceeds ``grad_tol``.
    """

    points: np.ndarray
    losses: np.ndarray
    grad_norms: np.ndarray
    eigenvalues: np.ndarray
    labels: np.ndarray

    def counts(self) -> dict:
        """Number of end points per label."""
        keys, n = np.unique(self.labels, return_counts=True)
        return {str(k): int(c) for k, c in zip(keys, n, strict=True)}


def minimize(
    surface: LossSurface,
    starts,
    method: str = "lbfgs",
    gd_steps: int = 0,
    lr: float = 0.05,
    max_iter: int = 500,
    trust_iter: int = 100,
    newton_steps: int = 8,
    newton_max_step: float = 0.5,
    grad_tol: float = 1e-6,
    rel_tol: float = 1e-6,
    abs_tol: float = 1e-12,
    progress: bool = False,
) -> MinimaResult:
    """Minimise the loss from many starts (float64) and classify the end points.

    Stages: (1) ``gd_steps`` steps of batched Adam on all starts at once (one
    backward pass per step for the whole batch; cheap way to leave the
    starting region); (2) per start, ``scipy.optimize.minimize`` with
    L-BFGS-B (``method="lbfgs"``) or nothing (``method="gd"``, stage 1 only),
    then up to ``trust_iter`` iterations of scipy's ``trust-exact`` (exact
    Hessian, float64) per start; (3) up to ``newton_steps`` Newton steps ``theta - H^+ g`` for grad = 0
    (pseudo-inverse over eigenvalues above 1e-12 of the largest), each kept
    only if it is shorter than ``newton_max_step`` and lowers the gradient
    norm: this polishes the nearby critical point, whatever its kind, to
    machine precision, so that the classification is not blurred by an
    unfinished descent; (4) Hessian
    spectrum and :func:`classify_hessian` with ``rel_tol``/``abs_tol``, or
    ``"not_critical"`` when ``||grad|| > grad_tol``.

    Parameters
    ----------
    surface : LossSurface
    starts : array, shape (K, N) or (N,)
    method : {"lbfgs", "gd"}
    gd_steps : int
        Batched Adam steps (>= 0; must be > 0 for ``method="gd"``).
    lr : float
        Adam learning rate.
    max_iter : int
        L-BFGS iteration limit per start.
    trust_iter : int
        Trust-region Newton iteration limit per start (0 to skip).
    newton_steps : int
        Newton polishing steps (0 to skip).
    newton_max_step : float
        Longest accepted Newton step (Euclidean).
    grad_tol, rel_tol, abs_tol : float
        Criticality and Hessian tolerances.
    progress : bool
        tqdm bars.

    Returns
    -------
    MinimaResult
    """
    from scipy.optimize import minimize as sp_minimize

    if method not in ("lbfgs", "gd"):
        raise ValueError(f"method must be 'lbfgs' or 'gd', got {method!r}")
    if method == "gd" and gd_steps < 1:
        raise ValueError("gd_steps must be >= 1 with method='gd'")
    X = np.atleast_2d(np.asarray(starts, dtype=np.float64))
    if X.shape[1] != surface.n_params or X.shape[0] == 0:
        raise ValueError(
            f"starts must have shape (K, N) with K >= 1 and N = {surface.n_params}, "
            f"got shape {np.shape(starts)}"
        )
    X = X.copy()
    if gd_steps > 0:
        t = torch.tensor(X, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([t], lr=lr)
        for _ in tqdm(range(gd_steps), disable=not progress, desc="adam"):
            opt.zero_grad()
            surface.losses(t).sum().backward()
            opt.step()
        X = t.detach().numpy().copy()
    if method == "lbfgs":
        for k in tqdm(range(X.shape[0]), disable=not progress, desc="l-bfgs"):
            res = sp_minimize(
                surface.value_and_grad,
                X[k],
                jac=True,
                method="L-BFGS-B",
                options={"maxiter": max_iter, "gtol": 1e-14, "ftol": 1e-16},
            )
            X[k] = res.x
    if trust_iter > 0:
        # Exact-Hessian trust region: quadratic convergence in the ill-conditioned
        # valleys where L-BFGS stalls (small nets have condition numbers ~1e6).
        for k in tqdm(range(X.shape[0]), disable=not progress, desc="trust-exact"):
            res = sp_minimize(
                surface.value_and_grad,
                X[k],
                jac=True,
                hess=surface.hessian,
                method="trust-exact",
                options={"maxiter": trust_iter, "gtol": 1e-13},
            )
            X[k] = res.x
    K, N = X.shape
    losses = np.empty(K)
    gnorms = np.empty(K)
    eig = np.empty((K, N))
    labels = []
    for k in tqdm(range(K), disable=not progress, desc="hessian"):
        theta = X[k]
        val, g = surface.value_and_grad(theta)
        lam, V = np.linalg.eigh(surface.hessian(theta))
        for _ in range(newton_steps):
            # Newton step for grad = 0 (pseudo-inverse: flat directions are not moved).
            keep = np.abs(lam) > 1e-12 * np.max(np.abs(lam))
            step = V[:, keep] @ ((V[:, keep].T @ g) / lam[keep])
            if not np.isfinite(step).all() or np.linalg.norm(step) > newton_max_step:
                break
            cand = theta - step
            cval, cg = surface.value_and_grad(cand)
            if not (np.isfinite(cval) and np.linalg.norm(cg) < np.linalg.norm(g)):
                break
            theta, val, g = cand, cval, cg
            lam, V = np.linalg.eigh(surface.hessian(theta))
        X[k], losses[k], gnorms[k], eig[k] = theta, val, np.linalg.norm(g), lam
        labels.append(
            "not_critical" if gnorms[k] > grad_tol else classify_hessian(lam, rel_tol, abs_tol)
        )
    return MinimaResult(X, losses, gnorms, eig, np.array(labels))


def dedup_modulo_group(
    points, group: SymmetryGroup, tol: float = 1e-5, order=None, exact_limit: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster points that coincide modulo the symmetry group.

    Greedy: points are visited in ``order`` (e.g. ascending loss; default
    the given order); a point joins the first representative whose distance
    modulo G is <= ``tol``, otherwise it becomes a new representative.
    The distance compares canonical representatives
    (:meth:`SymmetryGroup.canonical`); when ``|G| <= exact_limit`` a pair
    that is not within ``tol`` that way is re-checked with the exact
    orbit distance (robust near bias ties, where canonical forms jump).

    Parameters
    ----------
    points : array, shape (K, N)
    group : lossbounds.models.SymmetryGroup
    tol : float
        Euclidean distance tolerance (> 0).
    order : array of int, optional
        Visiting order.
    exact_limit : int
        Largest group for the exact check.

    Returns
    -------
    representatives : numpy.ndarray of int, shape (R,)
        Indices of one point per class.
    assignment : numpy.ndarray of int, shape (K,)
        Class index (into ``representatives``) of every point.
    """
    P = np.atleast_2d(np.asarray(points, dtype=np.float64))
    if P.shape[1] != group.layout.n_params:
        raise ValueError(
            f"points must have shape (K, N) with N = {group.layout.n_params}, got {P.shape}"
        )
    if not (tol > 0 and math.isfinite(tol)):
        raise ValueError(f"tol must be a finite number > 0, got {tol!r}")
    K = P.shape[0]
    order = np.arange(K) if order is None else np.asarray(order)
    canon = np.stack([group.canonical(p) for p in P]) if K else P
    reps: list[int] = []
    orbits: list[np.ndarray] = []  # orbit of each representative, for the exact check
    exact = group.order <= exact_limit
    assign = np.full(K, -1)
    for i in order:
        found = -1
        for r, j in enumerate(reps):
            if np.linalg.norm(canon[i] - canon[j]) <= tol or (
                exact and np.min(np.linalg.norm(orbits[r] - P[i], axis=1)) <= tol
            ):
                found = r
                break
        if found < 0:
            reps.append(int(i))
            if exact:
                orbits.append(group.orbit(P[i], max_order=exact_limit))
            found = len(reps) - 1
        assign[i] = found
    return np.array(reps, dtype=int), assign


# ---------------------------------------------------------------------------
# curvature of a 2-D slice (notebook 07: when does an l2 term make it convex?)
# ---------------------------------------------------------------------------
__all__ += ["plane_hessians", "l2_convexity_threshold"]


def plane_hessians(
    surface: LossSurface, slice_: PlaneSlice, chunk_size: int | None = None, progress: bool = False
) -> np.ndarray:
    """Exact Hessians of the slice function at every grid point of a plane.

    The slice function is g(a, b) = L(theta + a d1 + b d2) (with the surface's
    own l2 term, if any); its Hessian is D^T H_L D with D = [d1 d2]. It is
    computed in float64 by double backward through the batched loss, for a
    chunk of grid points at a time (the losses of different points are
    independent, so the gradient of their sum gives every point's gradient).

    Parameters
    ----------
    surface : LossSurface
    slice_ : PlaneSlice
        The grid (``alphas``, ``betas``), the point ``theta`` and ``d1``, ``d2``.
    chunk_size : int, optional
        Grid points per batch (default ``surface.chunk_size``).
    progress : bool
        tqdm bar over chunks.

    Returns
    -------
    numpy.ndarray, shape (res_a, res_b, 2, 2), float64
        ``out[i, j]`` is the Hessian of g at ``(alphas[i], betas[j])``.
    """
    theta = _point(surface, slice_.theta)
    D = torch.as_tensor(
        np.stack([_point(surface, slice_.d1, "d1"), _point(surface, slice_.d2, "d2")]),
        dtype=torch.float64,
    )  # (2, N)
    chunk_size = _check_chunk_size(surface.chunk_size if chunk_size is None else chunk_size)
    A, B = np.meshgrid(slice_.alphas, slice_.betas, indexing="ij")
    coords = np.stack([A.ravel(), B.ravel()], axis=1)  # (res_a * res_b, 2)
    base = torch.as_tensor(theta, dtype=torch.float64)
    out = np.empty((coords.shape[0], 2, 2))
    for s in tqdm(range(0, coords.shape[0], chunk_size), disable=not progress, desc="hessians"):
        ab = torch.tensor(coords[s : s + chunk_size], dtype=torch.float64, requires_grad=True)
        vals = surface.losses(base[None, :] + ab @ D)
        (g,) = torch.autograd.grad(vals.sum(), ab, create_graph=True)  # (k, 2)
        rows = [torch.autograd.grad(g[:, i].sum(), ab, retain_graph=i == 0)[0] for i in range(2)]
        out[s : s + chunk_size] = torch.stack(rows, dim=1).detach().numpy()
    out = 0.5 * (out + out.transpose(0, 2, 1))
    return out.reshape(A.shape[0], A.shape[1], 2, 2)


def l2_convexity_threshold(hessians, d1, d2) -> float:
    """Smallest lambda >= 0 that makes a sampled slice function convex once l2 is added.

    On the plane theta + a d1 + b d2 the term lambda ||theta||^2 adds the
    constant matrix 2 lambda M, M = D^T D (the Gram matrix of d1, d2), to every
    Hessian of the slice function. ``hessians + 2 lambda M`` is positive
    semi-definite at a point iff ``2 lambda >= -mu_min``, mu_min the smallest
    generalised eigenvalue of (H, M); the threshold is the largest such bound
    over the points (0 if every Hessian is already PSD). Above it the
    *sampled* Hessians are all positive definite; convexity of the slice
    between grid points is then plausible, not proved.

    Parameters
    ----------
    hessians : array_like, shape (..., 2, 2)
        Hessians of the slice function without l2 (e.g. :func:`plane_hessians`
        of a surface with ``l2=0``).
    d1, d2 : array_like, shape (N,)
        The plane's directions (linearly independent). The l2 term is
        lambda ||theta||^2, as in :class:`LossSurface`.

    Returns
    -------
    float
    """
    H = np.asarray(hessians, dtype=np.float64)
    if H.ndim < 2 or H.shape[-2:] != (2, 2) or not np.all(np.isfinite(H)):
        raise ValueError(f"hessians must be a finite array of shape (..., 2, 2), got {H.shape}")
    d1 = np.asarray(d1, dtype=np.float64)
    d2 = np.asarray(d2, dtype=np.float64)
    if d1.ndim != 1 or d1.shape != d2.shape:
        raise ValueError(
            f"d1 and d2 must be vectors of equal shape (N,), got {d1.shape} and {d2.shape}"
        )
    M = np.array([[d1 @ d1, d1 @ d2], [d1 @ d2, d2 @ d2]])
    if np.linalg.eigvalsh(M)[0] <= 1e-12 * np.trace(M):
        raise ValueError("d1 and d2 must be linearly independent")
    # generalised eigenvalues of (H, M) = eigenvalues of C^-1 H C^-T, M = C C^T
    Ci = np.linalg.inv(np.linalg.cholesky(M))
    mu = np.linalg.eigvalsh(Ci @ H.reshape(-1, 2, 2) @ Ci.T)[:, 0]
    return float(max(0.0, -mu.min() / 2.0))
