"""Matrix-free eigenvector following to index-1 saddles, for large d.

The dense saddle search of :func:`~lossbounds.landscape.newton.polish_and_classify`
(``mode="saddle"``) forms the Hessian of every point at every step (d
backward passes) and diagonalises it (O(d^3)); at d ~ 10^3 that is about a
second per step. :func:`krylov_saddles` does the same eigenvector following
without ever forming a Hessian, in the spirit of the hybrid eigenvector
following of Munro and Wales (Phys. Rev. B 59, 3969, 1999):

- the lowest Hessian eigenpair (lambda_1, u) by Lanczos on Hessian-vector
  products (:func:`~lossbounds.landscape.hvp.lowest_eigenpairs`), warm-started
  from the previous point's eigenvector;
- an uphill step along u, the 1-D Newton step ``(u.g) / (|lambda_1| + r)`` of
  the dense rule;
- a truncated Newton step in the orthogonal complement of u: conjugate
  gradients (Steihaug: stopped at the trust radius ``max_step`` or on
  negative curvature, which it follows downhill) on ``(P H P + r) s = -P g``,
  ``P = I - u u^T``, to a relative residual ``min(0.1, sqrt(gradient /
  scale))`` (superlinear near the saddle);
- the step (capped at ``max_step``) is kept when the gradient grows by at
  most 50 %, with the dense loop's regularisation schedule ``r = reg
  ||H||_2`` (``reg`` x 10 on each refusal, up to four tries).

The end points are classified with the package's one tolerance rule
(``_tolerances``: gradient and zero band relative to ``||H||_2`` and ``1 +
||x||``) and one classification rule (:func:`~lossbounds.landscape.newton.morse_counts`)
applied to the lowest eigenvalue (Lanczos, warm-started), the lowest
eigenvalue of the operator deflated of its eigenvector (a second run from a
fresh start vector, so a second copy of a repeated lowest eigenvalue is not
missed) and the highest (to relative accuracy 1e-3: it only sets the scale
``||H||_2``). Index 1 is certified when the lowest is below
``-ztol`` and the second is not; an index above 1 is a lower bound, and the
nullity counts the zero eigenvalues among the two lowest only.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from lossbounds.landscape.hvp import hvp, lowest_eigenpairs
from lossbounds.landscape.newton import (
    Polished,
    Target,
    _classified,
    _improves,
    _tolerances,
    cap_rows,
    clamp_box,
)
from lossbounds.landscape.surface import value_grad

__all__ = ["krylov_saddles", "lowest_modes"]

_F64 = torch.float64
_LANCZOS_TOL = 1e-10  # eigsh's relative accuracy (the package's Lanczos default)
_SCALE_TOL = 1e-3  # the highest eigenvalue only sets the scale ||H||_2 of the tolerances


def _point_hvp(fn, x: torch.Tensor):
    """Return v -> H(x) v for the batched ``fn`` at one point x (d,)."""
    return hvp(lambda t: fn(t[None])[0], x.detach())


def _to_boundary(s, p, radius: float) -> torch.Tensor:
    """Return s + tau p with tau >= 0 and ||s + tau p|| = radius (||s|| <= radius)."""
    a, b, c = p.dot(p), 2.0 * s.dot(p), s.dot(s) - radius * radius
    tau = (-b + torch.sqrt(torch.clamp(b * b - 4.0 * a * c, min=0.0))) / (2.0 * a)
    return s + tau * p


def _steihaug(A, b: torch.Tensor, radius: float, rtol: float, maxiter: int) -> torch.Tensor:
    """Solve A s = b inside ||s|| <= radius by truncated conjugate gradients (Steihaug 1983).

    Stops at the boundary (a step longer than ``radius``, or a direction of
    non-positive curvature, followed to the boundary), at a residual
    ``<= rtol ||b||``, or after ``maxiter`` products.
    """
    s = torch.zeros_like(b)
    r, p = b.clone(), b.clone()
    rr, stop = r.dot(r), (rtol * b.norm()) ** 2
    for _ in range(maxiter):
        if rr <= stop:
            break
        Ap = A(p)
        pAp = p.dot(Ap)
        if pAp <= 0:
            return _to_boundary(s, p, radius)
        alpha = rr / pAp
        if (s + alpha * p).norm() >= radius:
            return _to_boundary(s, p, radius)
        s = s + alpha * p
        r = r - alpha * Ap
        rr, rr_old = r.dot(r), rr
        p = r + (rr / rr_old) * p
    return s


def _ef_step(apply, u, lam1: float, g, r: float, rtol: float, max_step: float) -> torch.Tensor:
    """One eigenvector-following step: uphill along u, truncated Newton in u's complement."""
    c = u.dot(g)
    up = (c / (abs(lam1) + r)) * u

    def project(w):
        return w - u.dot(w) * u

    def A(w):
        return project(apply(project(w))) + r * w

    down = _steihaug(A, -project(g), max_step, rtol, maxiter=min(g.numel(), 500))
    return cap_rows(up + down, max_step)


class _Point:
    """The state of one point of the search: position, value, gradient, lowest pair, scale."""

    def __init__(self, fn, x: torch.Tensor, u=None, highest=None):
        self.x = x
        v, g = value_grad(fn, x[None])
        self.v, self.g = v[0], g[0]
        self.apply = _point_hvp(fn, x)
        vals, vecs, self.highest = lowest_eigenpairs(
            self.apply, x.numel(), v0=u, highest=highest, tol=_LANCZOS_TOL, highest_tol=_SCALE_TOL
        )
        self.lam1 = float(vals[0])
        self.u = torch.as_tensor(vecs[:, 0], dtype=_F64, device=x.device)

    def spectrum(self) -> torch.Tensor:
        """Return the eigenvalues known, (1, 2): the lowest and the highest."""
        return torch.tensor([[self.lam1, self.highest]], dtype=_F64, device=self.x.device)


def _follow(fn, x: torch.Tensor, opts, steps: int) -> _Point:
    """Eigenvector following from x for at most ``steps`` iterations; returns the end point."""
    pt, reg = _Point(fn, x), 1e-3
    for _ in range(steps):
        gnorm = pt.g.norm()
        gtol, _ = _tolerances(pt.spectrum(), gnorm[None], pt.x[None], opts)
        if not torch.isfinite(pt.v) or gnorm <= gtol[0] or reg >= 1e6:
            break
        scale = max(abs(pt.lam1), abs(pt.highest), 1e-300)
        rel = float(gnorm) / (scale * (1.0 + float(pt.x.norm())))
        rtol = min(0.1, rel**0.5)
        for factor in (1.0, 10.0, 100.0, 1000.0):
            r = reg * factor
            step = _ef_step(pt.apply, pt.u, pt.lam1, pt.g, r * scale, rtol, opts.max_step)
            xn = clamp_box(pt.x + step, opts.box)
            vn, gn = value_grad(fn, xn[None])
            if bool(_improves(pt.v[None], gnorm[None], vn, gn, "saddle")[0]):
                u = pt.u.cpu().numpy()
                pt, reg = _Point(fn, xn, u=u, highest=pt.highest), max(r * 0.1, 1e-12)
                break
        else:
            reg *= 1e4
    return pt


def _classify(pt: _Point) -> torch.Tensor:
    """Spectrum (1, 3) of an end point: the two lowest eigenvalues and the highest (see the module).

    The lowest pair again (warm start) with a fresh highest eigenvalue, then the
    lowest eigenvalue of H + s u u^T (s = 2 max |lambda| + 1) from a fresh start vector.
    """
    d, dev = pt.x.numel(), pt.x.device
    u0 = pt.u.cpu().numpy()
    low, U, high = lowest_eigenpairs(pt.apply, d, v0=u0, tol=_LANCZOS_TOL, highest_tol=_SCALE_TOL)
    if d == 1:
        return torch.tensor([[low[0], high, high]], dtype=_F64, device=dev)
    shift = 2.0 * max(abs(low[0]), abs(high)) + 1.0
    u = torch.as_tensor(U[:, 0], dtype=_F64, device=dev)

    def deflated(w):
        w = torch.as_tensor(w, dtype=_F64, device=dev)
        return pt.apply(w) + shift * u.dot(w) * u

    top = max(high, low[0] + shift)
    second = lowest_eigenpairs(deflated, d, highest=top, tol=_LANCZOS_TOL, seed=1)[0]
    lam = np.sort(np.concatenate([low, second]))
    return torch.tensor([[lam[0], lam[1], high]], dtype=_F64, device=dev)


def krylov_saddles(fn, X: torch.Tensor, opts, desc: str = "saddles (Krylov)") -> Polished:
    """Matrix-free eigenvector following to index-1 saddles from the rows of X (see the module).

    Parameters
    ----------
    fn : callable or LossSurface
        Batched float64 function (K, d) -> (K,), twice differentiable, that works
        under ``torch.func`` transforms (every LossSurface does).
    X : torch.Tensor, shape (K, d)
        Start points on ``fn``'s device (not modified).
    opts : MergeOptions
        ``newton_steps`` (iterations per point), ``max_step``, ``grad_tol``, ``rel_tol``,
        ``box``, ``progress``.
    desc : str
        Progress bar label.

    Returns
    -------
    Polished
        As :func:`~lossbounds.landscape.newton.polish_and_classify`, except that
        ``eigenvalues`` has shape (K, 3): the two lowest eigenvalues and the highest
        (ascending); ``index`` is exact up to 1 and a lower bound above, ``nullity``
        counts the zero eigenvalues among the two lowest.
    """
    fn = fn if isinstance(fn, Target) else Target(fn)
    K, d = X.shape
    if K == 0:
        e = np.empty(0)
        return Polished(
            np.empty((0, d)), e, e, np.empty((0, 3)), e.astype(bool), e.astype(int), e.astype(int)
        )
    ends = []
    X = clamp_box(X.detach().clone().to(_F64), opts.box)
    for i in tqdm(range(K), disable=not opts.progress, desc=desc):
        ends.append(_follow(fn, X[i], opts, opts.newton_steps))
    P = torch.stack([pt.x for pt in ends])
    v = torch.stack([pt.v for pt in ends])
    gnorm = torch.stack([pt.g.norm() for pt in ends])
    lam = torch.cat([_classify(pt) for pt in ends])
    return _classified(P, v, gnorm, lam, opts)


def lowest_modes(fn, X: torch.Tensor) -> torch.Tensor:
    """Return unit eigenvectors (K, d) of the lowest Hessian eigenvalue at the rows of X (Lanczos).

    Matrix-free (Hessian-vector products); each vector's sign is arbitrary.
    ``fn`` as in :func:`krylov_saddles`; the result is on X's device.
    """
    fn = fn if isinstance(fn, Target) else Target(fn)
    K, d = X.shape
    out = torch.zeros(K, d, dtype=_F64, device=X.device)
    for i in range(K):
        vecs = lowest_eigenpairs(_point_hvp(fn, X[i]), d, tol=_LANCZOS_TOL, highest_tol=_SCALE_TOL)[
            1
        ]
        out[i] = torch.as_tensor(vecs[:, 0], dtype=_F64, device=X.device)
    return out
