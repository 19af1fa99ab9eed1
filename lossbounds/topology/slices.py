"""1-D and 2-D slices of a loss surface, their curvature and their persistence.

Directions are random, optionally filter-normalised (Li et al. 2018).
Directions and grids are built on the host; the losses and Hessians are
evaluated on the surface's ``device`` (see :class:`lossbounds.landscape.surface.LossSurface`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from lossbounds._checks import check_int, check_nonnegative
from lossbounds.landscape.surface import LossSurface
from lossbounds.topology.diagrams import betti_curve, count_long_bars, total_persistence
from lossbounds.topology.persistence import grid_persistence

__all__ = [
    "random_direction",
    "line",
    "plane",
    "PlaneSlice",
    "plane_hessians",
    "l2_convexity_threshold",
    "slice_persistence",
]

_NORMALIZATIONS = ("filter", "unit", "none")
_BIAS = ("zero", "theta", "random")


def random_direction(
    layout, theta, rng, normalization: str = "filter", bias: str = "zero"
) -> np.ndarray:
    """Draw a random direction in parameter space, optionally filter-normalised.

    Parameters
    ----------
    layout : lossbounds.landscape.layout.ParamLayout or LossSurface
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


def plane_hessians(
    surface: LossSurface, slice_: PlaneSlice, chunk_size: int | None = None, progress: bool = False
) -> np.ndarray:
    """Exact Hessians of the slice function at every grid point of a plane.

    The slice function is g(a, b) = L(theta + a d1 + b d2) (with the surface's
    own l2 term, if any); its Hessian is D^T H_L D with D = [d1 d2], computed
    in float64 by double backward, a chunk of grid points at a time.

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
    dev = surface.device
    D = torch.as_tensor(
        np.stack([_point(surface, slice_.d1, "d1"), _point(surface, slice_.d2, "d2")]),
        dtype=torch.float64,
        device=dev,
    )  # (2, N)
    chunk_size = check_int(
        "chunk_size", surface.chunk_size if chunk_size is None else chunk_size, 1
    )
    A, B = np.meshgrid(slice_.alphas, slice_.betas, indexing="ij")
    coords = np.stack([A.ravel(), B.ravel()], axis=1)  # (res_a * res_b, 2)
    base = torch.as_tensor(theta, dtype=torch.float64, device=dev)
    out = np.empty((coords.shape[0], 2, 2))
    for s in tqdm(range(0, coords.shape[0], chunk_size), disable=not progress, desc="hessians"):
        ab = torch.tensor(
            coords[s : s + chunk_size], dtype=torch.float64, device=dev, requires_grad=True
        )
        vals = surface.losses(base[None, :] + ab @ D)
        (g,) = torch.autograd.grad(vals.sum(), ab, create_graph=True)  # (k, 2)
        rows = [torch.autograd.grad(g[:, i].sum(), ab, retain_graph=i == 0)[0] for i in range(2)]
        out[s : s + chunk_size] = torch.stack(rows, dim=1).detach().cpu().numpy()
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


def slice_persistence(
    surface: LossSurface,
    theta,
    n_slices: int,
    res: int = 101,
    span: float = 2.0,
    seed: int = 0,
    long_fraction: float = 0.05,
    maxdim: int = 1,
) -> list[dict]:
    """Compute persistent homology of sublevel sets on random 2-D slices through a point.

    Slice j is :func:`plane` through ``theta`` with filter-normalised
    directions of seeds ``seed + 2 j`` and ``seed + 2 j + 1``, on a
    ``res x res`` grid over ``[-span, span]^2``; its values are filtered by
    :func:`lossbounds.topology.persistence.grid_persistence`.

    Parameters
    ----------
    surface : LossSurface
    theta : array, shape (N,)
        The point the slices go through (e.g. a minimum).
    n_slices : int
        Number of slices (>= 1).
    res : int
        Grid points per axis (>= 2; odd puts ``theta`` on the grid centre).
    span : float
        Half-width of the coordinate range (> 0).
    seed : int
        Seed of the first direction.
    long_fraction : float
        A bar is long when its persistence exceeds ``long_fraction * (med - lo)`` (>= 0).
    maxdim : int
        Highest homology dimension.

    Returns
    -------
    list of dict, one per slice, with keys
        ``slice`` (:class:`PlaneSlice`), ``dgm`` (diagrams, one (k, 2) array
        per dimension), ``lo`` and ``med`` (minimum and median of the grid
        values), ``long`` and ``total`` (per-dimension long-bar counts and total
        finite persistence, shape (maxdim + 1,)), ``peak`` (largest sum of
        Betti numbers over the birth levels, int).
    """
    n_slices = check_int("n_slices", n_slices, 1)
    long_fraction = check_nonnegative("long_fraction", long_fraction)
    if not (np.isfinite(span) and span > 0):
        raise ValueError(f"span must be a finite number > 0, got {span!r}")
    out = []
    for j in range(n_slices):
        sl = plane(surface, theta, span=(-span, span), res=res, seed=seed + 2 * j)
        dg = grid_persistence(sl.values, maxdim=maxdim)
        lo, med = sl.values.min(), np.median(sl.values)
        levels = np.unique(np.concatenate([d[:, 0] for d in dg]))
        out.append(
            dict(
                slice=sl,
                dgm=dg,
                lo=lo,
                med=med,
                long=count_long_bars(dg, long_fraction * (med - lo)),
                total=total_persistence(dg),
                peak=int(betti_curve(dg, levels).sum(axis=1).max()),
            )
        )
    return out
