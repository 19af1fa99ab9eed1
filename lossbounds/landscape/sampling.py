"""Points of parameter space: scrambled Sobol or uniform samples, and the loss at them.

Points are generated on the host (float64 numpy); :func:`sample_loss`
evaluates them on the surface's ``device`` (see :class:`lossbounds.landscape.surface.LossSurface`).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from lossbounds._checks import check_int
from lossbounds.landscape.surface import LossSurface

__all__ = ["iter_sample_points", "sample_points", "sample_loss", "sample_hessian_shaped"]

_REGIONS = ("box", "ball")
_METHODS = ("sobol", "uniform")
_GENERATION_BLOCK = 8192  # smallest block of points generated at once by sample_loss


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
    chunk_size = check_int("chunk_size", chunk_size, 1)
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
    """Draw samples around a strict minimum, shaped by its Hessian.

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

    The points are generated on the host in blocks of at least 8192 (and at
    least one evaluation chunk, so a GPU gets full chunks) and evaluated on
    ``surface.device``; the values (and points) are returned on the host.

    Parameters
    ----------
    surface : LossSurface
        The loss; its ``device`` runs the evaluation.
    n_points : int
    return_points : bool
        Keep and return the points (memory n_points * N * 8 bytes); with False
        only the values are kept, so 10^7 samples need only 10^7 floats.
    progress : bool
        tqdm bar.
    chunk_size : int, optional
        Evaluation batch size.
    dtype : torch.float32 or torch.float64
        Evaluation precision; float32 by default (relative error ~1e-7).
        Use float64 to compare values.
    **region
        ``region``, ``low``, ``high``, ``radius``, ``center``, ``method``,
        ``seed`` of :func:`iter_sample_points`.

    Returns
    -------
    (points (n_points, N), values (n_points,)) or values
    """
    if chunk_size is not None:
        chunk_size = check_int("chunk_size", chunk_size, 1)
    block = max(_GENERATION_BLOCK, surface.chunk_size if chunk_size is None else chunk_size)
    chunks = iter_sample_points(n_points, surface.n_params, chunk_size=block, **region)
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
