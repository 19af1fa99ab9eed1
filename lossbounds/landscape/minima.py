"""Strict minima of small teacher-student problems, and the margin of L on spheres around them.

The symmetry lower bound ``b0(S_c) >= |G|`` needs a strict local minimiser
whose orbit has |G| distinct points (notebooks 03 and 09; docs/symmetry.md,
section 7). :func:`minimum_from_teacher` and :func:`certified_lm_fit` find
candidate minima and report what the proposition's hypotheses need;
:func:`sphere_minimum` checks step 3 of its proof numerically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares, minimize

from lossbounds._checks import check_int, check_positive
from lossbounds.landscape.data import make_teacher_student
from lossbounds.landscape.layout import ParamLayout
from lossbounds.landscape.network import forward_numpy
from lossbounds.landscape.optimize import find_minima
from lossbounds.landscape.surface import LossSurface
from lossbounds.landscape.symmetry import SymmetryGroup

__all__ = ["FittedMinimum", "minimum_from_teacher", "certified_lm_fit", "sphere_minimum"]


@dataclass(frozen=True)
class FittedMinimum:
    """An end point of a fit, with what the symmetry lower bound needs to know about it.

    Attributes
    ----------
    arch : Architecture
    surface : LossSurface
        The float64 loss of the fitted problem.
    theta : numpy.ndarray, shape (N,)
        The end point.
    loss : float
        ``surface(theta)``.
    grad_norm : float
        Euclidean norm of the gradient at ``theta``.
    eigenvalues : numpy.ndarray, shape (N,)
        Hessian eigenvalues at ``theta``, ascending.
    label : str
        Classification of the end point (``"strict_min"``, ...), or ``""``.
    data : Dataset or None
        The teacher-student data (with the teacher's ``theta``), when made by
        :func:`~lossbounds.landscape.data.make_teacher_student`.
    certificate : LowerBoundCertificate or None
        The proposition's hypotheses checked at ``theta`` (:func:`certified_lm_fit`).
    """

    arch: object
    surface: LossSurface
    theta: np.ndarray
    loss: float
    grad_norm: float
    eigenvalues: np.ndarray
    label: str = ""
    data: object = None
    certificate: object = None

    def is_strict(self, grad_tol: float = 1e-10, eig_rtol: float = 1e-6) -> bool:
        """Return True at a strict minimum: critical, with a positive definite Hessian.

        Critical: gradient norm < ``grad_tol``; positive definite with margin:
        smallest eigenvalue > ``eig_rtol`` times the largest.
        """
        ev = self.eigenvalues
        return bool(self.grad_norm < grad_tol and ev[0] > eig_rtol * ev[-1])


def minimum_from_teacher(arch, seed: int, noise: float = 1e-2) -> FittedMinimum:
    """Fit teacher-student data starting at the teacher, polish in float64, classify.

    Data: ``make_teacher_student(arch, arch.n_samples, noise, seed)``; fit:
    :func:`~lossbounds.landscape.optimize.find_minima` from ``data.theta``
    (L-BFGS, trust region, Newton).

    Parameters
    ----------
    arch : Architecture
        Concrete sizes.
    seed : int
        Seed of the data (and the teacher).
    noise : float
        Standard deviation of the target noise.

    Returns
    -------
    FittedMinimum
        With ``data``; ``certificate`` None.
    """
    data = make_teacher_student(arch, arch.n_samples, noise=noise, seed=seed)
    surface = LossSurface(arch, data.X, data.y)
    res = find_minima(surface, data.theta[None])
    return FittedMinimum(
        arch, surface, res.points[0], float(res.losses[0]), float(res.grad_norms[0]),
        res.eigenvalues[0], str(res.labels[0]), data=data,
    )  # fmt: skip


def certified_lm_fit(
    arch, seed: int, noise: float = 1e-2, tol: float = 1e-3, grad_tol=1e-10, eig_rtol=1e-6
) -> FittedMinimum:
    """Levenberg-Marquardt from a random start on teacher-student data, then the certificate.

    With ``rng = numpy.random.default_rng(seed)``: inputs uniform in [-2, 2]
    (one input), a standard normal teacher, targets ``f_teacher(x) + noise *
    N(0, 1)``, a standard normal start; scipy's ``least_squares(method="lm")``
    to 1e-15 tolerances; then
    :meth:`SymmetryGroup.lower_bound_certificate` with orbit distance ``tol``.

    Parameters
    ----------
    arch : Architecture
        One input (``n_inputs = 1``), concrete sizes, MSE loss.
    seed : int
    noise : float
    tol, grad_tol, eig_rtol : float
        Passed to the certificate.

    Returns
    -------
    FittedMinimum
        With ``certificate``; ``data`` None.

    Raises
    ------
    ValueError
        If ``arch.n_inputs`` is not 1.
    """
    if arch.n_inputs != 1:
        raise ValueError(f"arch.n_inputs must be 1, got {arch.n_inputs}")
    n_params = ParamLayout(arch).n_params
    rng = np.random.default_rng(check_int("seed", seed, 0))
    x = rng.uniform(-2, 2, size=(arch.n_samples, 1))
    teacher = rng.normal(size=n_params)
    y = forward_numpy(arch, teacher, x) + noise * rng.normal(size=arch.n_samples)
    surf = LossSurface(arch, x, y)
    res = least_squares(
        surf.residuals, rng.normal(size=n_params), jac=lambda t: surf.residual_jacobians(t)[1],
        method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15,
    )  # fmt: skip
    g, ev = surf.gradient(res.x), np.linalg.eigvalsh(surf.hessian(res.x))
    cert = SymmetryGroup(arch).lower_bound_certificate(
        res.x, g, ev, arch.n_samples, tol=tol, grad_tol=grad_tol, eig_rtol=eig_rtol
    )
    return FittedMinimum(
        arch, surf, res.x, float(surf(res.x)), float(np.linalg.norm(g)), ev, certificate=cert
    )


def _on_sphere(u, surface, center, r):
    """Return L(center + r u/|u|) and its gradient in u (through the projection onto the sphere)."""
    nu = np.linalg.norm(u)
    value, g_theta = surface.value_and_grad(center + r * u / nu)
    uh = u / nu
    return value, r / nu * (g_theta - uh * (uh @ g_theta))


def sphere_minimum(surface, center, r: float, n_samples: int, rng, directions=None, n_refine=5):
    """Estimate min L over the sphere |theta - center| = r: sampled, then refined by BFGS.

    Random directions (``n_samples`` standard normal vectors from ``rng``,
    normalised) plus the rows of ``directions`` (unit vectors, e.g. the
    Hessian's eigenvectors and their negatives) are evaluated; the
    ``n_refine`` lowest are refined by BFGS on the sphere. A sampled minimum
    can only over-estimate the true one.

    Parameters
    ----------
    surface : LossSurface
    center : numpy.ndarray, shape (N,)
    r : float
        Radius (> 0).
    n_samples : int
        Random directions (>= 1).
    rng : numpy.random.Generator
    directions : array_like, shape (k, N), optional
        Extra unit directions.
    n_refine : int
        Points refined (>= 0).

    Returns
    -------
    float
        The smallest value found.
    """
    r = check_positive("r", r)
    center = np.asarray(center, dtype=np.float64)
    z = rng.normal(size=(check_int("n_samples", n_samples, 1), center.size))
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    if directions is not None:
        z = np.vstack([z, np.asarray(directions, dtype=np.float64)])
    vals = surface(center + r * z)
    best = vals.min()
    for i in np.argsort(vals)[: check_int("n_refine", n_refine, 0)]:
        res = minimize(
            _on_sphere, z[i], args=(surface, center, r), jac=True, method="BFGS",
            options={"gtol": 1e-14},
        )  # fmt: skip
        best = min(best, res.fun)
    return float(best)
