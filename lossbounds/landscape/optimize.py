"""Critical points of a loss surface: descent, Newton polishing, Hessian classification.

:func:`find_minima` descends from many starts (batched Adam, per-start
L-BFGS-B and exact-Hessian trust region) and :func:`polish` refines and
classifies given points; :func:`minimize_lm` is a batched
Levenberg-Marquardt + damped Newton descent for MSE losses. A *basin census*
(:func:`basin_census`) counts the distinct strict minima reached from many
starts modulo the hidden-unit symmetry group: a lower estimate of the
number of orbits of strict minima reachable from the start distribution.

Every loss, gradient, Hessian and Jacobian is evaluated on the surface's
``device`` (``LossSurface(..., device="cuda")`` runs them on a GPU); the
per-start scipy minimisers and the batched linear solves of
:func:`minimize_lm` run on the host. Results are host arrays.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from lossbounds._checks import check_int, check_nonnegative, check_positive
from lossbounds.landscape.newton import (
    NewtonOptions,
    dedup_points,
    morse_counts,
    polish_and_classify,
)
from lossbounds.landscape.surface import LossSurface
from lossbounds.landscape.symmetry import SymmetryGroup

__all__ = [
    "classify_hessian",
    "CLASSES",
    "MinimaResult",
    "Polishing",
    "DEFAULT_POLISHING",
    "CENSUS_POLISHING",
    "polish",
    "find_minima",
    "minimize_lm",
    "lm_descent",
    "CensusResult",
    "basin_census",
]

#: Labels of :func:`classify_hessian` (plus ``"not_critical"`` from :func:`polish`).
CLASSES = ("strict_min", "degenerate", "saddle", "max")


def _check_points(surface: LossSurface, points, name: str = "starts") -> np.ndarray:
    P = np.atleast_2d(np.asarray(points, dtype=np.float64))
    if P.ndim != 2 or P.shape[1] != surface.n_params or P.shape[0] == 0:
        raise ValueError(
            f"{name} must have shape (K, N) with K >= 1 and N = {surface.n_params}, "
            f"got shape {np.shape(points)}"
        )
    return P.copy()


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
    tau = np.array([max(abs_tol, rel_tol * float(np.max(np.abs(lam))))])
    index, nullity = (int(c[0]) for c in morse_counts(lam[None], tau))
    if 0 < index < lam.size - nullity:
        return "saddle"
    if nullity:
        return "degenerate"
    return "strict_min" if index == 0 else "max"


@dataclass
class MinimaResult:
    """End points of :func:`find_minima` or :func:`polish`, one row per point.

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
        """Count the end points per label."""
        keys, n = np.unique(self.labels, return_counts=True)
        return {str(k): int(c) for k, c in zip(keys, n, strict=True)}


def polish(
    surface: LossSurface,
    points,
    newton_steps: int = 8,
    newton_max_step: float = 0.5,
    grad_tol: float = 1e-6,
    rel_tol: float = 1e-6,
    abs_tol: float = 1e-12,
    progress: bool = False,
) -> MinimaResult:
    """Polish points to the nearby critical point by Newton steps and classify them (float64).

    Up to ``newton_steps`` batched Newton steps for grad = 0 on all points
    at once (:func:`lossbounds.landscape.newton.polish_and_classify`, mode
    ``"any"``: Levenberg-damped, each step shorter than ``newton_max_step``
    and lowering the gradient norm); then the Hessian spectrum and :func:`classify_hessian`
    with ``rel_tol``/``abs_tol``, or ``"not_critical"`` when
    ``||grad|| > grad_tol``. No descent: saddles stay saddles.

    Parameters
    ----------
    surface : LossSurface
    points : array, shape (K, N) or (N,)
    newton_steps : int
        Newton steps per point (>= 0; 0 only classifies).
    newton_max_step : float
        Longest accepted Newton step (Euclidean).
    grad_tol, rel_tol, abs_tol : float
        Criticality and Hessian tolerances.
    progress : bool
        tqdm bar.

    Returns
    -------
    MinimaResult
    """
    X = _check_points(surface, points, "points")
    opts = NewtonOptions(
        newton_steps=check_int("newton_steps", newton_steps, 0),
        max_step=newton_max_step,
        grad_tol=_relative_grad_tol(grad_tol),
        rel_tol=rel_tol,
        progress=progress,
    )
    t = torch.as_tensor(X, dtype=torch.float64, device=surface.device)
    pol = polish_and_classify(surface.losses, t, opts, "any", "hessian")
    labels = [
        "not_critical" if g > grad_tol else classify_hessian(lam, rel_tol, abs_tol)
        for g, lam in zip(pol.grad_norms, pol.eigenvalues, strict=True)
    ]
    return MinimaResult(pol.points, pol.values, pol.grad_norms, pol.eigenvalues, np.array(labels))


def _relative_grad_tol(grad_tol: float) -> float:
    """Return the core's gradient tolerance for :func:`polish`: its rounding floor.

    Polish's absolute ``grad_tol`` decides the label, so Newton runs to the floor.
    """
    check_nonnegative("grad_tol", grad_tol)
    return 1e-300


def _adam(surface: LossSurface, X: np.ndarray, steps: int, lr: float, progress: bool):
    """Run ``steps`` steps of batched Adam on all rows of X at once."""
    t = torch.tensor(X, dtype=torch.float64, device=surface.device, requires_grad=True)
    opt = torch.optim.Adam([t], lr=lr)
    for _ in tqdm(range(steps), disable=not progress, desc="adam"):
        opt.zero_grad()
        surface.losses(t).sum().backward()
        opt.step()
    return t.detach().cpu().numpy().copy()


def _scipy_descent(surface: LossSurface, X: np.ndarray, method: str, options: dict, progress):
    """Per-row ``scipy.optimize.minimize`` with ``method`` ("L-BFGS-B" or "trust-exact")."""
    from scipy.optimize import minimize

    hess = surface.hessian if method == "trust-exact" else None
    for k in tqdm(range(X.shape[0]), disable=not progress, desc=method.lower()):
        res = minimize(
            surface.value_and_grad, X[k], jac=True, hess=hess, method=method, options=options
        )
        X[k] = res.x
    return X


@dataclass(frozen=True)
class Polishing:
    """The final :func:`polish` stage of :func:`find_minima` and :func:`basin_census`.

    The fields are the keyword arguments of :func:`polish` (which validates
    them); the defaults are those of :func:`polish` and :func:`find_minima`.

    Attributes
    ----------
    newton_steps : int
        Newton steps per point (>= 0).
    newton_max_step : float
        Longest Newton step kept (> 0).
    grad_tol : float
        Gradient norm up to which a point is critical.
    rel_tol, abs_tol : float
        Eigenvalue tolerances of :func:`classify_hessian`.
    """

    newton_steps: int = 8
    newton_max_step: float = 0.5
    grad_tol: float = 1e-6
    rel_tol: float = 1e-6
    abs_tol: float = 1e-12


#: The polishing of :func:`find_minima`: the defaults of :func:`polish`.
DEFAULT_POLISHING = Polishing()

#: The polishing of :func:`basin_census`: two Newton steps and strict tolerances.
CENSUS_POLISHING = Polishing(newton_steps=2, grad_tol=1e-8, rel_tol=1e-9)


def find_minima(
    surface: LossSurface,
    starts,
    method: str = "lbfgs",
    gd_steps: int = 0,
    lr: float = 0.05,
    max_iter: int = 500,
    trust_iter: int = 100,
    polishing: Polishing = DEFAULT_POLISHING,
    progress: bool = False,
) -> MinimaResult:
    """Minimise the loss from many starts (float64) and classify the end points.

    Stages: (1) ``gd_steps`` steps of batched Adam on all starts at once;
    (2) per start, ``scipy.optimize.minimize`` with L-BFGS-B
    (``method="lbfgs"``; ``method="gd"`` skips it), then up to
    ``trust_iter`` iterations of scipy's ``trust-exact`` (exact Hessian);
    (3) :func:`polish` (Newton steps and Hessian classification).

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
    polishing : Polishing
        Keyword arguments of the final :func:`polish` (default :data:`DEFAULT_POLISHING`).
    progress : bool
        tqdm bars.

    Returns
    -------
    MinimaResult
    """
    if method not in ("lbfgs", "gd"):
        raise ValueError(f"method must be 'lbfgs' or 'gd', got {method!r}")
    if method == "gd" and gd_steps < 1:
        raise ValueError("gd_steps must be >= 1 with method='gd'")
    X = _check_points(surface, starts)
    if gd_steps > 0:
        X = _adam(surface, X, gd_steps, lr, progress)
    if method == "lbfgs":
        opts = {"maxiter": max_iter, "gtol": 1e-14, "ftol": 1e-16}
        X = _scipy_descent(surface, X, "L-BFGS-B", opts, progress)
    if trust_iter > 0:
        # exact-Hessian trust region: quadratic convergence in ill-conditioned valleys
        opts = {"maxiter": trust_iter, "gtol": 1e-13}
        X = _scipy_descent(surface, X, "trust-exact", opts, progress)
    return polish(surface, X, **asdict(polishing), progress=progress)


def _lm_value(surface: LossSurface, theta: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        r = surface._residuals_t(theta)
    return (r * r).sum(dim=1) / surface.m


def _levenberg_marquardt(surface, theta, mu0: float, max_iter: int, grad_tol: float, progress):
    """Stage 1 of :func:`minimize_lm` on a (K, N) tensor on the surface's device."""
    mu = torch.full((theta.shape[0],), float(mu0), dtype=torch.float64, device=theta.device)
    loss = _lm_value(surface, theta)
    for _ in tqdm(range(max_iter), disable=not progress, desc="levenberg-marquardt"):
        r, J = surface.residual_jacobians_t(theta)
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
        new_loss = _lm_value(surface, cand)
        accept = active & torch.isfinite(new_loss) & (new_loss < loss)
        theta = torch.where(accept[:, None], cand, theta)
        loss = torch.where(accept, new_loss, loss)
        mu = torch.where(accept, mu / 3.0, torch.where(active, mu * 4.0, mu)).clamp(1e-15, 1e15)
    return theta


def lm_descent(
    surface: LossSurface, theta: torch.Tensor, max_iter: int, newton_iter: int = 0, progress=False
):
    """Batched Levenberg-Marquardt, then saddle-free Newton, on a (K, N) tensor (no host copies).

    The tensor form of :func:`minimize_lm` (stage 2 is the numeric core's
    ``"min"`` Newton, :func:`lossbounds.landscape.newton.polish_and_classify`).
    Returns the end points, a tensor on the surface's device.
    """
    theta = _levenberg_marquardt(surface, theta.to(surface.device), 1e-2, max_iter, 1e-12, progress)
    if newton_iter > 0:
        opts = NewtonOptions(newton_steps=newton_iter, progress=progress)
        theta = torch.as_tensor(
            polish_and_classify(surface.losses, theta, opts, "min", "newton").points,
            device=surface.device,
        )
    return theta


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
    scaling) and is accepted when the loss decreases (then ``mu_k /= 3``),
    otherwise rejected (``mu_k *= 4``).

    Stage 2 (``newton_iter`` iterations), the numeric core's saddle-free
    Newton (:func:`lossbounds.landscape.newton.polish_and_classify`, mode
    ``"min"``): Levenberg-damped steps along ``-g_i / (|lambda_i| + r)`` in the
    Hessian eigenbasis, kept when the loss does not increase.

    Starts whose gradient norm is below ``grad_tol`` stop moving.

    Parameters
    ----------
    surface : LossSurface
        With ``surface.loss == "mse"``.
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
    if surface.loss != "mse":
        raise ValueError(
            f"surface.loss must be 'mse' (a least-squares problem), got {surface.loss!r}"
        )
    max_iter = check_int("max_iter", max_iter, 1)
    newton_iter = check_int("newton_iter", newton_iter, 0)
    if not (np.isfinite(mu0) and mu0 > 0):
        raise ValueError(f"mu0 must be a finite number > 0, got {mu0!r}")
    grad_tol = check_nonnegative("grad_tol", grad_tol)
    theta = torch.as_tensor(_check_points(surface, starts), device=surface.device)
    theta = _levenberg_marquardt(surface, theta, mu0, max_iter, grad_tol, progress)
    if newton_iter > 0:
        opts = NewtonOptions(newton_steps=newton_iter, grad_tol=1e-300, progress=progress)
        theta = torch.as_tensor(
            polish_and_classify(surface.losses, theta, opts, "min", "newton").points,
            device=surface.device,
        )
    return theta.cpu().numpy(), _lm_value(surface, theta).cpu().numpy()


@dataclass
class CensusResult:
    """Outcome of :func:`basin_census`.

    Attributes
    ----------
    minima : MinimaResult
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
        """Return the distinct strict minimum of lowest loss, shape (N,).

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
    polishing: Polishing = CENSUS_POLISHING,
    dedup_tol: float = 1e-4,
    progress: bool = False,
) -> CensusResult:
    """Distinct strict local minima modulo the symmetry group, from many starts.

    Steps: :func:`minimize_lm` on all starts (batched); :func:`polish` with
    ``polishing`` classifies each end point by its Hessian; the points
    labelled ``"strict_min"`` (gradient norm <= ``polishing.grad_tol``, all
    Hessian eigenvalues above ``polishing.rel_tol`` times the largest) are deduplicated
    modulo G by the measurement core's
    :func:`~lossbounds.landscape.newton.dedup_points` (distance modulo G at
    most ``dedup_tol * (1 + ||x||)``), visiting them by ascending loss.

    Parameters
    ----------
    surface : LossSurface
        MSE loss.
    starts : array, shape (K, N)
    group : lossbounds.landscape.symmetry.SymmetryGroup, optional
        Default :meth:`LossSurface.symmetry_group` (``SymmetryGroup(surface.arch,
        l2=surface.l2)``, l2-aware; a ``ValueError`` for a surface without an
        architecture, see :meth:`LossSurface.from_module`).
    lm_iter, newton_iter : int
        Iterations of the two stages of :func:`minimize_lm`.
    polishing : Polishing
        Newton steps and classification tolerances of :func:`polish` (default
        :data:`CENSUS_POLISHING`: 2 steps, ``grad_tol=1e-8``, ``rel_tol=1e-9``).
    dedup_tol : float
        Relative tolerance of the deduplication (> 0; times ``1 + ||x||``).
    progress : bool
        tqdm bars.

    Returns
    -------
    CensusResult
    """
    group = surface.symmetry_group() if group is None else group
    points, _ = minimize_lm(
        surface, starts, max_iter=lm_iter, newton_iter=newton_iter, progress=progress
    )
    res = polish(surface, points, **asdict(polishing), progress=progress)
    strict = np.flatnonzero(res.labels == "strict_min")
    check_positive("dedup_tol", dedup_tol)
    # the measurement core's deduplication: ascending loss, modulo G, tolerance relative to |x|
    reps, assign = dedup_points(
        res.points[strict], res.losses[strict], group, NewtonOptions(dedup_tol=dedup_tol)
    )
    reps = strict[reps]
    return CensusResult(res, strict, reps, assign, int(group.order))
