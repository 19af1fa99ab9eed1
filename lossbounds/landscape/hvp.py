"""Hessian-vector products and the extreme Hessian eigenvalues, for large N.

A dense Hessian costs N backward passes and O(N^2) memory, and its full
eigendecomposition O(N^3): at N >= 10^3 parameters that dominates every
Newton step of a measurement. Here the Hessian is never formed:

- :func:`hvp` / :func:`surface_hvp` return v -> H(theta) v, computed by
  ``torch.func`` as the vector-Jacobian product of the gradient
  (``vjp(grad(f), theta)``, reverse-over-reverse; H is symmetric): the
  gradient's graph is built once per point and each product is one backward
  pass through it (about the cost of a gradient), float64. ``mode="jvp"``
  uses forward-over-reverse ``jvp(grad(f), (theta,), (v,))`` instead, which
  re-runs the forward pass for every product;
- :func:`hessian_operator` wraps it as a ``scipy.sparse.linalg.LinearOperator``
  (also for K vectors at once through ``vmap``);
- :func:`extreme_eigenvalues` runs Lanczos (``scipy.sparse.linalg.eigsh``,
  implicitly restarted, seeded start vector) for the ``k`` lowest and highest
  eigenvalues;
- :func:`classify_point` turns them into (index, nullity) with a stated
  tolerance, and says when ``k`` eigenvalues were too few to settle them.

Tolerances: eigsh stops when every Ritz pair has residual below ``tol``
times the Ritz value's magnitude (ARPACK's criterion; ``tol = 1e-10`` by
default); the lower end is computed on H + sigma I, sigma = ``|largest
eigenvalue|``, so that zero modes (at sigma there) meet that test, with an
absolute accuracy of about ``tol * sigma``. Eigenvalues are counted as zero within ``zero_tol = rtol *
max |lambda|`` (``rtol = 1e-7`` by default, far above the ~1e-13 relative
rounding of a float64 HVP, far below the curvature of the softmax-free
directions of the networks measured here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh
from torch.func import grad, jvp, vjp

from lossbounds._checks import check_int

__all__ = [
    "hvp",
    "surface_hvp",
    "hessian_operator",
    "extreme_eigenvalues",
    "lowest_eigenpairs",
    "PointClass",
    "classify_point",
]


def hvp(f: Callable, theta, mode: str = "vjp") -> Callable:
    """Return v -> H(theta) v for a scalar function ``f`` of a 1-D tensor (float64).

    Parameters
    ----------
    f : callable
        ``f(t)`` for a tensor ``t`` of shape (N,) returns a scalar tensor; it
        must work under ``torch.func`` transforms.
    theta : array_like, shape (N,)
        The point (float64; on the device ``f`` expects when a tensor).
    mode : {"vjp", "jvp"}
        ``vjp(grad(f), theta)`` once, then one backward pass per product
        (default), or ``jvp(grad(f), (theta,), (v,))`` per product.

    Returns
    -------
    callable
        ``v`` (array or tensor, shape (N,)) -> tensor (N,).

    Raises
    ------
    ValueError
        If ``theta`` is not one vector or ``mode`` is unknown.
    """
    t = torch.as_tensor(theta, dtype=torch.float64)
    if t.ndim != 1:
        raise ValueError(f"theta must be one vector of shape (N,), got shape {tuple(t.shape)}")
    if mode not in ("vjp", "jvp"):
        raise ValueError(f"mode must be 'vjp' or 'jvp', got {mode!r}")
    g = grad(f)
    if mode == "vjp":
        _, pullback = vjp(g, t)

        def apply(v):
            return pullback(torch.as_tensor(v, dtype=t.dtype, device=t.device))[0]

        return apply

    def apply_jvp(v):
        v = torch.as_tensor(v, dtype=t.dtype, device=t.device)
        return jvp(g, (t,), (v,))[1]

    return apply_jvp


def surface_hvp(surface, theta, mode: str = "vjp") -> Callable:
    """:func:`hvp` of a :class:`~lossbounds.landscape.surface.LossSurface` at ``theta``.

    The loss (l2 term included) in float64 on the surface's device.
    """
    t = torch.as_tensor(np.asarray(theta, dtype=np.float64), device=surface.device)
    surface.layout.check(t)
    return hvp(lambda x: surface.losses(x[None])[0], t, mode=mode)


def hessian_operator(apply: Callable, n: int) -> LinearOperator:
    """Wrap v -> H v as a symmetric ``LinearOperator`` of shape (N, N), float64, on the host.

    Parameters
    ----------
    apply : callable
        v -> H v (from :func:`hvp` or :func:`surface_hvp`).
    n : int
        N.
    """
    n = check_int("n", n, 1)

    def matvec(v):
        out = apply(np.ascontiguousarray(np.ravel(v), dtype=np.float64))
        return out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else np.asarray(out)

    def matmat(V):
        return np.column_stack([matvec(V[:, j]) for j in range(V.shape[1])])

    return LinearOperator((n, n), matvec=matvec, rmatvec=matvec, matmat=matmat, dtype=np.float64)


def _ncv(k: int) -> int:
    """Lanczos basis size max(4 k, 40) (ARPACK's default 2 k + 1 restarts often)."""
    return max(4 * k, 40)


def _dense(n: int, k: int) -> bool:
    """Whether N is small enough that N products and a dense eigensolver are cheaper."""
    return n < 2 * _ncv(k)


def extreme_eigenvalues(apply: Callable, n: int, k: int = 6, tol: float = 1e-10, seed: int = 0,
                        maxiter: int | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Compute the ``k`` lowest and ``k`` highest eigenvalues of a symmetric operator (Lanczos).

    Parameters
    ----------
    apply : callable
        v -> H v.
    n : int
        N. For N < 2 max(4 k, 40) (twice the Lanczos basis) the operator is
        formed densely (N products), ``numpy.linalg.eigvalsh`` is used and
        both results hold all N eigenvalues.
    k : int
        Eigenvalues at each end (>= 1).
    tol : float
        eigsh's relative accuracy (> 0).
    seed : int
        Seed of the start vector (normal), so runs repeat.
    maxiter : int, optional
        eigsh's iteration limit (default 20 N, scipy's default 10 N doubled).

    Returns
    -------
    lowest, highest : numpy.ndarray, shape (k,) each (N in the dense case), ascending

    Raises
    ------
    ValueError
        For bad ``n``, ``k`` or ``tol``.
    scipy.sparse.linalg.ArpackNoConvergence
        When Lanczos does not converge within ``maxiter``.
    """
    n, k = check_int("n", n, 1), check_int("k", k, 1)
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite number > 0, got {tol!r}")
    op = hessian_operator(apply, n)
    if _dense(n, k):
        ev = np.linalg.eigvalsh(op.matmat(np.eye(n)))
        return ev, ev
    v0 = np.random.default_rng(seed).standard_normal(n)
    maxiter = 20 * n if maxiter is None else check_int("maxiter", maxiter, 1)
    opts = dict(v0=v0, tol=tol, maxiter=maxiter, ncv=_ncv(k), return_eigenvectors=False)
    high = np.sort(eigsh(op, k=k, which="LA", **opts))
    shift = _shift(high)
    shifted = LinearOperator((n, n), matvec=lambda v: op.matvec(v) + shift * v, dtype=np.float64)
    low = np.sort(eigsh(shifted, k=k, which="SA", **opts)) - shift
    return low, high


def _shift(high) -> float:
    """Return sigma = max(|largest eigenvalue|, tiny): the lower end is computed on H + sigma I.

    ARPACK's stopping test is relative to the eigenvalue, so an eigenvalue at 0
    (a zero mode) never meets it; shifted by sigma it does, with an absolute
    accuracy of about ``tol * sigma``. Lanczos is shift-invariant otherwise.
    """
    return float(max(abs(high[-1]), np.finfo(float).tiny))


def lowest_eigenpairs(apply: Callable, n: int, k: int = 1, v0=None, highest: float | None = None,
                      tol: float = 1e-10, seed: int = 0,
                      highest_tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray, float]:  # fmt: skip
    """Compute the ``k`` lowest eigenpairs and the highest eigenvalue of a symmetric operator (Lanczos).

    The lowest pairs are computed on H + sigma I (sigma as in :func:`extreme_eigenvalues`),
    started from ``v0`` (a warm start: the previous eigenvector of a nearby point).

    Parameters
    ----------
    apply : callable
        v -> H v.
    n : int
        N; for N < 2 max(4 k, 40) the operator is formed densely (N products) and ``eigh`` is used.
    k : int
        Lowest pairs (>= 1).
    v0 : array_like, shape (N,), optional
        Start vector of the lowest pairs (default: seeded normal).
    highest : float, optional
        The highest eigenvalue when known (skips its Lanczos run).
    tol, seed : float, int
        eigsh's relative accuracy and the seed of the default start vectors.
    highest_tol : float
        eigsh's relative accuracy of the highest eigenvalue (a scale: a loose
        accuracy is cheap where the top of the spectrum is clustered).

    Returns
    -------
    values : numpy.ndarray, shape (k,), ascending
    vectors : numpy.ndarray, shape (N, k), orthonormal columns
    highest : float

    Raises
    ------
    ValueError
        For bad ``n`` or ``k``.
    scipy.sparse.linalg.ArpackNoConvergence
        When Lanczos does not converge within 20 N iterations.
    """
    n, k = check_int("n", n, 1), check_int("k", k, 1)
    op = hessian_operator(apply, n)
    if _dense(n, k):
        vals, vecs = np.linalg.eigh(op.matmat(np.eye(n)))
        return vals[:k], vecs[:, :k], float(vals[-1])
    start = np.random.default_rng(seed).standard_normal(n)
    if highest is None:
        opts = dict(
            v0=start, tol=highest_tol, maxiter=20 * n, ncv=_ncv(1), return_eigenvectors=False
        )
        highest = float(np.max(eigsh(op, k=1, which="LA", **opts)))
    v0 = start if v0 is None else np.asarray(v0, dtype=np.float64).ravel()
    vals, vecs = _lowest_pairs(op.matvec, n, k, v0, tol, 20 * n, _shift([highest]))
    order = np.argsort(vals)
    return vals[order], vecs[:, order], float(highest)


@dataclass(frozen=True)
class PointClass:
    """(index, nullity) of a point from its Hessian's non-positive eigenvalues.

    Attributes
    ----------
    index, nullity : int
        Eigenvalues below ``-zero_tol`` and within ``zero_tol``; exact when
        ``complete``, lower bounds otherwise.
    complete : bool
        True when a deflation round found no further eigenvalue <= ``zero_tol``
        (or all N were computed densely).
    kind : str
        "minimum" (index 0, nullity 0), "degenerate minimum" (index 0,
        nullity > 0: a PSD Hessian with zero modes; second order cannot tell
        a flat valley from a degenerate saddle), "saddle" (index > 0), or
        "undetermined" (index 0 but not ``complete``).
    lowest : numpy.ndarray
        The eigenvalues <= ``zero_tol`` found (ascending), then the smallest
        one above the band when it was computed.
    highest : float
        The largest eigenvalue.
    zero_tol : float
        ``rtol * max |eigenvalue|``.
    rounds : int
        Lanczos runs on the deflated operator.
    """

    index: int
    nullity: int
    complete: bool
    kind: str
    lowest: np.ndarray
    highest: float
    zero_tol: float
    rounds: int


def _lowest_pairs(apply_np, n, k, v0, tol, maxiter, shift):
    """Return the k lowest eigenpairs of ``apply_np`` (symmetric), computed on ``apply_np + shift``."""
    if _dense(n, k):
        vals, vecs = np.linalg.eigh(np.column_stack([apply_np(e) for e in np.eye(n)]))
        return vals, vecs

    def shifted(v):
        return apply_np(v) + shift * v

    op = LinearOperator((n, n), matvec=shifted, rmatvec=shifted, dtype=np.float64)
    vals, vecs = eigsh(op, k=k, which="SA", v0=v0, tol=tol, maxiter=maxiter, ncv=_ncv(k))
    return vals - shift, vecs


def classify_point(apply: Callable, n: int, k: int = 10, rtol: float = 1e-7, tol: float = 1e-10,
                   seed: int = 0, max_rounds: int = 20) -> PointClass:  # fmt: skip
    """Classify a (critical) point by its Hessian's non-positive eigenvalues, with deflation.

    Single-vector Lanczos sees one vector of each eigenspace in exact
    arithmetic, so it can miss copies of a repeated eigenvalue (the
    ``h_K + 1`` softmax zero modes are exactly repeated). Each round therefore
    computes the ``k`` lowest eigenpairs of the deflated operator
    H + s U U^T (U: the eigenvectors found so far, s = 2 max |lambda| + 1, which
    moves them above the spectrum); the rounds stop when one finds no
    eigenvalue <= ``zero_tol`` (then none is left: a generic start vector has
    a component in every remaining eigenspace).

    Parameters
    ----------
    apply : callable
        v -> H v at the point (:func:`surface_hvp`).
    n : int
        N.
    k : int
        Eigenpairs per round (>= 1).
    rtol : float
        Zero band relative to the largest |eigenvalue| (>= 0).
    tol, seed : float, int
        eigsh's relative accuracy and the seed of the start vectors.
    max_rounds : int
        Largest number of rounds (>= 1); reaching it leaves ``complete`` False.

    Returns
    -------
    PointClass

    Raises
    ------
    ValueError
        For bad ``n``, ``k``, ``rtol``, ``tol`` or ``max_rounds``.
    """
    n, k = check_int("n", n, 1), check_int("k", k, 1)
    max_rounds = check_int("max_rounds", max_rounds, 1)
    if not (np.isfinite(rtol) and rtol >= 0):
        raise ValueError(f"rtol must be a finite number >= 0, got {rtol!r}")
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite number > 0, got {tol!r}")
    base = hessian_operator(apply, n).matvec
    rng = np.random.default_rng(seed)
    low, high = extreme_eigenvalues(apply, n, k=1, tol=tol, seed=seed)
    scale = float(max(abs(low[0]), abs(high[-1])))
    zero_tol, shift = rtol * scale, 2.0 * scale + 1.0
    U = np.zeros((n, 0))
    found, above, rounds, complete = [], [], 0, False
    while rounds < max_rounds and U.shape[1] < n:
        rounds += 1
        kk = min(k, n - U.shape[1])

        def deflated(v, U=U):
            return base(v) + shift * (U @ (U.T @ v))

        vals, vecs = _lowest_pairs(deflated, n, kk, rng.standard_normal(n), tol, 20 * n, scale)
        inside = vals <= zero_tol
        above = list(vals[~inside][:1])
        if not inside.any():
            complete = True
            break
        found.extend(vals[inside])
        U = np.linalg.qr(np.column_stack([U, vecs[:, inside]]))[0]
    complete = complete or U.shape[1] >= n or _dense(n, k)
    found = np.sort(np.array(found))
    index = int(np.sum(found < -zero_tol))
    nullity = int(np.sum(np.abs(found) <= zero_tol))
    if index > 0:
        kind = "saddle"
    elif not complete:
        kind = "undetermined"
    else:
        kind = "minimum" if nullity == 0 else "degenerate minimum"
    lowest = np.concatenate([found, above])
    return PointClass(index, nullity, complete, kind, lowest, float(high[-1]), zero_tol, rounds)
