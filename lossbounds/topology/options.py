"""Options of the critical-point and merge-tree measurements (one dataclass for both)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from lossbounds._checks import check_choice, check_int, check_positive

__all__ = ["MergeOptions", "parse_options"]

# smallest accepted value of the integer options (the others are >= 0)
_INT_MIN = {
    "lm_steps": 1,
    "n_neighbors": 1,
    "max_rounds": 1,
    "n_images": 3,
    "neb_steps": 1,
    "threads": 1,
    "krylov_dim": 1,
}


@dataclass(frozen=True)
class MergeOptions:
    """Options of :func:`~lossbounds.topology.critical.critical_points` and :func:`~lossbounds.topology.connectivity.merge_tree`.

    Pass them as keyword arguments. Tolerances are relative: the scale of a
    point is ``||H||_2`` (largest Hessian curvature) and ``1 + ||x||``, so
    the same defaults hold for any units of ``f`` and ``x``; each is floored
    at ``64 d`` machine epsilons of that scale (float64 rounding noise).

    Attributes
    ----------
    descent : {"auto", "gd", "lm"}
        First stage of :func:`~lossbounds.topology.connectivity.merge_tree` from every start (and from both sides
        of every saddle): ``"gd"`` batched gradient descent; ``"lm"`` batched
        Levenberg-Marquardt (a LossSurface with the MSE loss; ``box`` is not
        applied during it); ``"auto"`` picks ``"lm"`` when it applies.
        :func:`~lossbounds.topology.critical.critical_points` never descends.
    lm_steps : int
        Levenberg-Marquardt iterations (>= 1).
    descent_steps : int
        Largest number of batched gradient-descent iterations (>= 0).
    descent_step : float
        Initial step size of gradient descent (> 0).
    descent_tol : float
        Gradient norm below which gradient descent hands over to Newton (> 0).
    newton_steps : int
        Largest number of Newton iterations, for every kind of point (>= 0).
    max_step : float
        Longest step of any descent or Newton iteration (Euclidean, > 0).
    grad_tol : float
        A point is critical when ``||grad f|| <= grad_tol * ||H||_2 * (1 + ||x||)``
        (> 0; floored at the rounding noise ``64 d eps`` times the same scale).
    rel_tol : float
        A Hessian eigenvalue is zero when ``|lambda| <= rel_tol * ||H||_2 +
        ||grad f|| / (1 + ||x||)`` (> 0, floored at ``64 d eps``); the gradient
        term absorbs the curvature that a residual gradient gives flat modes.
    dedup_tol : float
        Two critical points of the same index are one when their distance
        (modulo the group) is at most ``dedup_tol * (1 + ||x||)`` (> 0).
    n_neighbors : int
        Nearest minima paired with each minimum in the first round (>= 1).
    max_rounds : int
        Rounds of pairing (>= 1); see :func:`~lossbounds.topology.connectivity.merge_tree` for the stopping rule.
    n_images : int
        Movable images per band (>= 3).
    neb_steps : int
        Largest number of band iterations (>= 1).
    neb_tol : float
        A band stops when every image's force is below this (> 0).
    spring : float
        Spring constant of the band (> 0).
    neb_dt : float
        Initial FIRE time step (> 0; the largest is ten times it).
    climb_after : int
        Iterations before the highest image starts climbing (>= 0).
    push : float
        Distance from a saddle along its negative mode where the descents to
        the minima it joins start (> 0).
    saddle_steps : int
        Per-band cap of eigenvector-following iterations of the saddle
        refinement (>= 0).
    saddle_budget : int
        Total eigenvector-following iterations (summed over bands) of one call (>= 0).
    krylov_dim : int
        Dimension d above which the saddle refinement is matrix-free
        (:func:`~lossbounds.landscape.krylov.krylov_saddles`: Lanczos and
        conjugate gradients on Hessian-vector products, no dense Hessian);
        at d <= ``krylov_dim`` it runs the dense eigenvector following
        (>= 1; the default 400 keeps every sweep cell dense).
    check_bands : int
        Bands of the merge tree re-run with twice the images (>= 0).
    box : float or None
        When given, every point is clamped to ``[-box, box]^d`` (> 0).
    exact_limit : int
        Largest group order for which distances modulo the group are exact
        orbit distances and stabilisers are counted (>= 0).
    threads : int or None
        torch intra-op threads during the call, restored afterwards (>= 1;
        None keeps torch's setting). Results do not depend on it.
    progress : bool
        tqdm progress bars.
    """

    descent: str = "auto"
    lm_steps: int = 100
    descent_steps: int = 2000
    descent_step: float = 0.05
    descent_tol: float = 1e-3
    newton_steps: int = 40
    max_step: float = 0.5
    grad_tol: float = 1e-10
    rel_tol: float = 1e-8
    dedup_tol: float = 1e-5
    n_neighbors: int = 4
    max_rounds: int = 3
    n_images: int = 12
    neb_steps: int = 400
    neb_tol: float = 1e-3
    spring: float = 1.0
    neb_dt: float = 0.1
    climb_after: int = 30
    push: float = 1e-2
    saddle_steps: int = 60
    saddle_budget: int = 200_000
    krylov_dim: int = 400
    check_bands: int = 8
    box: float | None = None
    exact_limit: int = 512
    threads: int | None = 1
    progress: bool = False

    def __post_init__(self):
        """Check every option and raise ValueError naming the bad one."""
        check_choice("descent", self.descent, ("auto", "gd", "lm"))
        if not isinstance(self.progress, bool):  # check_choice would take 1 for True
            raise ValueError(f"progress must be True or False, got {self.progress!r}")
        for fld in fields(self):
            value = getattr(self, fld.name)
            if fld.name in ("descent", "progress") or (
                value is None and fld.name in ("box", "threads")
            ):
                continue
            if fld.type.startswith("int"):
                check_int(fld.name, value, _INT_MIN.get(fld.name, 0))
            else:
                check_positive(fld.name, value)


def parse_options(options: dict) -> MergeOptions:
    """Build :class:`MergeOptions` from keyword arguments; unknown names raise ValueError."""
    names = {f.name for f in fields(MergeOptions)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise ValueError(f"unknown option(s) {unknown}; accepted options: {sorted(names)}")
    return MergeOptions(**options)
