"""Basin census: many seeded starts, batched least squares, distinct minima modulo G.

A *basin census* estimates how many distinct local minima a small network's
loss has: minimise from K random starts, keep the end points that are
critical with a positive definite Hessian (strict minima), and count them
modulo the hidden-unit symmetry group G (two minima related by a permutation
or sign flip of hidden units are one minimum). The count is a lower estimate
of the number of orbits of strict minima reachable from the start
distribution; it depends on K.

Speed
-----
:func:`minimize_lm` runs Levenberg-Marquardt on all K starts at once: the
residuals r(theta) = f_theta(x_k) - y_k of the K networks come from one
batched forward pass (:class:`lossbounds.models.Network`), their Jacobians
(K, m, N) from one batched backward pass, and the damped Gauss-Newton steps
from one batched linear solve, followed by damped Newton steps with batched
exact Hessians. On the 13-parameter network of notebook 05 (16 starts) it
is about 3 times faster than per-start L-BFGS + trust-region Newton
(:func:`lossbounds.landscape.minimize`) and finds the same minima
(``benchmarks/bench_census.py``). In our runs without a regulariser both ended mostly at
points that are not critical or degenerate: the best minima of these small
sigmoidal nets lie at infinity (saturated units), so censuses use a loss
with a small l2 term, which leaves the bounds unchanged. The
end points are then polished and classified per point by
:func:`lossbounds.landscape.minimize` (Newton steps, exact Hessian) and
deduplicated by :func:`lossbounds.landscape.dedup_modulo_group`.

Only mean-squared-error losses (linear or sigmoid output, optional l2 term)
are least-squares problems; BCE is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from lossbounds._checks import check_int, check_nonnegative
from lossbounds.landscape import LossSurface, MinimaResult, dedup_modulo_group, minimize
from lossbounds.symmetry import SymmetryGroup

__all__ = ["minimize_lm", "CensusResult", "basin_census"]


def _residuals(surface: LossSurface, thetas: torch.Tensor) -> torch.Tensor:
    """Residuals (K, m [+ N]) whose mean square over the first m columns plus the
    l2 part gives the loss: L = (1/m) * ||r||^2."""
    X = torch.as_tensor(surface.X_np, dtype=torch.float64)
    y = torch.as_tensor(surface.y_np, dtype=torch.float64)
    r = surface.network.forward(thetas, X) - y
    if surface.l2:
        # (1/m) ||r||^2 + l2 ||theta||^2 = (1/m) ||[r, sqrt(m l2) theta]||^2
        r = torch.cat([r, np.sqrt(surface.m * surface.l2) * thetas], dim=1)
    return r


def _jacobian(surface: LossSurface, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Residuals (K, R) and their Jacobians (K, R, N) at K points.

    Reverse mode, all R residual columns in one batched backward pass: the
    K networks are independent, so d r[:, j].sum() / d theta stacks the K
    rows J[k, j, :].
    """
    t = theta.clone().requires_grad_(True)
    r = _residuals(surface, t)
    K, R = r.shape
    grads = torch.eye(R, dtype=torch.float64)[:, None, :].expand(R, K, R)
    (J,) = torch.autograd.grad(r, t, grads, is_grads_batched=True)  # (R, K, N)
    return r.detach(), J.transpose(0, 1)


def _gradients_hessians(surface: LossSurface, theta: torch.Tensor):
    """Losses (K,), gradients (K, N) and exact Hessians (K, N, N) at K points.

    Double backward: the K gradients with ``create_graph=True`` (one pass,
    the K losses are independent), then the N Hessian rows of all K points
    in one batched pass.
    """
    t = theta.clone().requires_grad_(True)
    loss = surface.losses(t)
    (g,) = torch.autograd.grad(loss.sum(), t, create_graph=True)
    K, N = t.shape
    rows = torch.eye(N, dtype=torch.float64)[:, None, :].expand(N, K, N)
    (H,) = torch.autograd.grad(g, t, rows, is_grads_batched=True)  # (N, K, N)
    H = H.transpose(0, 1)
    return loss.detach(), g.detach(), 0.5 * (H + H.transpose(1, 2)).detach()


def minimize_lm(
    surface: LossSurface,
    starts,
    max_iter: int = 50,
    newton_iter: int = 60,
    mu0: float = 1e-2,
    grad_tol: float = 1e-12,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Batched Levenberg-Marquardt, then damped Newton, from many starts (float64, MSE).

    Stage 1 (``max_iter`` iterations), Levenberg-Marquardt: each start k
    keeps its own damping mu_k; a step solves
    ``(J^T J + mu_k * (diag(J^T J) + 1e-12)) delta = -J^T r`` (Marquardt
    scaling) and is accepted when the loss decreases (then mu_k /= 3),
    otherwise rejected (mu_k *= 4). Robust far from a minimum, but only
    linearly convergent when the residuals at the minimum are not small
    (Gauss-Newton ignores the second-order part of the Hessian).

    Stage 2 (``newton_iter`` iterations), damped Newton with the exact
    Hessian: ``(H + nu_k I) delta = -grad`` with ``nu_k`` raised until the
    matrix is positive definite (Cholesky) and the loss decreases; quadratic
    convergence near a strict minimum.

    Starts whose gradient norm is below ``grad_tol`` stop moving.

    Parameters
    ----------
    surface : lossbounds.landscape.LossSurface
        With ``arch.loss == "mse"``.
    starts : array, shape (K, N)
        Starting points.
    max_iter : int
        Levenberg-Marquardt iterations (>= 1).
    newton_iter : int
        Damped Newton iterations (>= 0).
    mu0 : float
        Initial damping (> 0).
    grad_tol : float
        Gradient norm below which a start is frozen (>= 0).
    progress : bool
        tqdm bar over iterations.

    Returns
    -------
    points : numpy.ndarray, shape (K, N)
        End points.
    losses : numpy.ndarray, shape (K,)
        Loss at the end points.

    Raises
    ------
    ValueError
        For a BCE loss, bad ``starts`` shape or bad numeric options.
    """
    if surface.arch.loss != "mse":
        raise ValueError(
            f"surface.arch.loss must be 'mse' (a least-squares problem), got {surface.arch.loss!r}"
        )
    max_iter = check_int("max_iter", max_iter, 1)
    newton_iter = check_int("newton_iter", newton_iter, 0)
    if not (np.isfinite(mu0) and mu0 > 0):
        raise ValueError(f"mu0 must be a finite number > 0, got {mu0!r}")
    grad_tol = check_nonnegative("grad_tol", grad_tol)
    P = np.atleast_2d(np.asarray(starts, dtype=np.float64))
    if P.ndim != 2 or P.shape[1] != surface.n_params or P.shape[0] == 0:
        raise ValueError(
            f"starts must have shape (K, N) with K >= 1 and N = {surface.n_params}, "
            f"got shape {np.shape(starts)}"
        )
    theta = torch.tensor(P, dtype=torch.float64)
    K = theta.shape[0]
    mu = torch.full((K,), float(mu0), dtype=torch.float64)

    def value(t):
        with torch.no_grad():
            r = _residuals(surface, t)
        return (r * r).sum(dim=1) / surface.m

    loss = value(theta)
    for _ in tqdm(range(max_iter), disable=not progress, desc="levenberg-marquardt"):
        r, J = _jacobian(surface, theta)  # (K, R), (K, R, N)
        JtJ = J.transpose(1, 2) @ J
        g = (J.transpose(1, 2) @ r[:, :, None])[:, :, 0]  # half the gradient times m
        active = (2.0 / surface.m) * g.norm(dim=1) > grad_tol
        if not bool(active.any()):
            break
        damp = torch.diagonal(JtJ, dim1=1, dim2=2) + 1e-12
        A = JtJ + mu[:, None, None] * torch.diag_embed(damp)
        step = torch.linalg.solve(A, -g[:, :, None])[:, :, 0]
        step = torch.where(torch.isfinite(step), step, torch.zeros_like(step))
        cand = theta + step
        new_loss = value(cand)
        accept = active & torch.isfinite(new_loss) & (new_loss < loss)
        theta = torch.where(accept[:, None], cand, theta)
        loss = torch.where(accept, new_loss, loss)
        mu = torch.where(accept, mu / 3.0, torch.where(active, mu * 4.0, mu)).clamp(1e-15, 1e15)
    nu = torch.full((K,), 1e-3, dtype=torch.float64)
    for _ in tqdm(range(newton_iter), disable=not progress, desc="damped newton"):
        loss, g, H = _gradients_hessians(surface, theta)
        active = g.norm(dim=1) > grad_tol
        if not bool(active.any()):
            break
        scale = torch.linalg.matrix_norm(H, ord=2).clamp_min(1e-12)
        A = H + (nu * scale)[:, None, None] * torch.eye(H.shape[1], dtype=torch.float64)
        L, info = torch.linalg.cholesky_ex(A)
        pd = info == 0
        step = torch.cholesky_solve(
            -g[:, :, None],
            torch.where(pd[:, None, None], L, torch.eye(H.shape[1], dtype=torch.float64)),
        )[:, :, 0]
        step = torch.where(pd[:, None] & torch.isfinite(step), step, torch.zeros_like(step))
        new_loss = value(theta + step)
        accept = active & pd & torch.isfinite(new_loss) & (new_loss <= loss)
        theta = torch.where(accept[:, None], theta + step, theta)
        nu = torch.where(accept, nu / 10.0, torch.where(active, nu * 10.0, nu)).clamp(1e-16, 1e8)
    return theta.numpy(), value(theta).numpy()


@dataclass
class CensusResult:
    """Outcome of :func:`basin_census`.

    Attributes
    ----------
    minima : lossbounds.landscape.MinimaResult
        All K end points, polished and classified.
    strict : numpy.ndarray of int, shape (S,)
        Indices (into the K end points) of the strict minima.
    representatives : numpy.ndarray of int, shape (R,)
        Indices (into the K end points) of one strict minimum per class
        modulo G, in ascending loss.
    assignment : numpy.ndarray of int, shape (S,)
        Class (into ``representatives``) of each strict minimum.
    group_order : int
        |G|.
    """

    minima: MinimaResult
    strict: np.ndarray
    representatives: np.ndarray
    assignment: np.ndarray
    group_order: int

    @property
    def n_distinct(self) -> int:
        """Number of distinct strict minima modulo G."""
        return int(len(self.representatives))

    @property
    def distinct_losses(self) -> np.ndarray:
        """Loss of each distinct strict minimum, ascending, shape (R,)."""
        return self.minima.losses[self.representatives]

    @property
    def hits(self) -> np.ndarray:
        """How many starts ended in each distinct minimum, shape (R,)."""
        return np.bincount(self.assignment, minlength=self.n_distinct)

    def best(self) -> np.ndarray:
        """The distinct strict minimum of lowest loss, shape (N,).

        Raises
        ------
        ValueError
            If no start ended at a strict minimum.
        """
        if self.n_distinct == 0:
            raise ValueError("no strict minimum was found; use more starts or iterations")
        return self.minima.points[self.representatives[0]]


def basin_census(
    surface: LossSurface,
    starts,
    group: SymmetryGroup | None = None,
    lm_iter: int = 50,
    newton_iter: int = 60,
    newton_steps: int = 2,
    grad_tol: float = 1e-8,
    rel_tol: float = 1e-9,
    dedup_tol: float = 1e-4,
    progress: bool = False,
) -> CensusResult:
    """Distinct strict local minima modulo the symmetry group, from many starts.

    Steps: :func:`minimize_lm` on all starts (batched); then
    :func:`lossbounds.landscape.minimize` with no further descent
    (``max_iter=0``, ``trust_iter=0``) to polish with ``newton_steps`` Newton
    steps and classify each end point by its Hessian; the points labelled
    ``"strict_min"`` (gradient norm <= ``grad_tol``, all Hessian eigenvalues
    above ``rel_tol`` times the largest) are deduplicated modulo G with
    :func:`lossbounds.landscape.dedup_modulo_group` (distance ``dedup_tol``),
    visiting them by ascending loss.

    Parameters
    ----------
    surface : lossbounds.landscape.LossSurface
        MSE loss.
    starts : array, shape (K, N)
    group : lossbounds.models.SymmetryGroup, optional
        Default ``SymmetryGroup(surface.arch, l2=surface.l2)`` (l2-aware).
    lm_iter, newton_iter : int
        Iterations of the two stages of :func:`minimize_lm`.
    newton_steps : int
        Newton polishing steps of :func:`lossbounds.landscape.minimize`.
    grad_tol, rel_tol : float
        Criticality and Hessian tolerances of the classification.
    dedup_tol : float
        Euclidean tolerance of the deduplication (> 0).
    progress : bool
        tqdm bars.

    Returns
    -------
    CensusResult
    """
    group = SymmetryGroup(surface.arch, l2=surface.l2) if group is None else group
    points, _ = minimize_lm(
        surface, starts, max_iter=lm_iter, newton_iter=newton_iter, progress=progress
    )
    res = minimize(
        surface,
        points,
        method="lbfgs",
        max_iter=0,
        trust_iter=0,
        newton_steps=newton_steps,
        grad_tol=grad_tol,
        rel_tol=rel_tol,
        progress=progress,
    )
    strict = np.flatnonzero(res.labels == "strict_min")
    if strict.size:
        order = np.argsort(res.losses[strict], kind="stable")
        # visited by ascending loss, so representatives come out in ascending loss
        reps, assign = dedup_modulo_group(res.points[strict], group, tol=dedup_tol, order=order)
        reps = strict[reps]
    else:
        reps, assign = np.empty(0, dtype=int), np.empty(0, dtype=int)
    return CensusResult(res, strict, reps, assign, int(group.order))
