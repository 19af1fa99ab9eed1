"""Critical points of every index from many starts, counted by index, modulo G and in full space.

:func:`critical_points` calls the numeric core
(:func:`lossbounds.landscape.newton.polish_and_classify`) directly from
the starts: Newton on ``grad f = 0`` (Levenberg-Marquardt on the residual
``grad f``, whose Jacobian is the Hessian), which converges to critical
points of any index; no descent comes first, since descending sends every
start to a minimum. :func:`~lossbounds.topology.connectivity.merge_tree`
and :func:`~lossbounds.landscape.optimize.basin_census` descend first and
call the same core.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lossbounds.landscape.newton import (
    Target,
    chao1,
    classes_of,
    orbit_weights,
    polish_and_classify,
    rejections,
    saturation_curve,
    torch_threads,
    warn_if_empty,
)
from lossbounds.topology.options import parse_options

__all__ = ["CriticalPoints", "critical_points", "chao1"]


@dataclass
class CriticalPoints:
    """Distinct critical points found by :func:`critical_points` (one row per class modulo G).

    Attributes
    ----------
    points : numpy.ndarray, shape (K, d)
        One representative per distinct critical point (canonical order:
        ascending value, ties by coordinates).
    values : numpy.ndarray, shape (K,)
    index : numpy.ndarray of int, shape (K,)
        Morse index (negative Hessian eigenvalues).
    nullity : numpy.ndarray of int, shape (K,)
        Zero Hessian eigenvalues (0 for a non-degenerate point).
    hits : numpy.ndarray of int, shape (K,)
        Starts that converged to each point.
    eigenvalues : numpy.ndarray, shape (K, d)
        Hessian spectra, ascending.
    orbit_size : numpy.ndarray, shape (K,)
        Points of the full space in the class, ``|G| / |stabiliser|`` (1
        without a group); NaN for degenerate classes (nullity > 0) and for
        tied groups (identity skips) larger than ``exact_limit``.
    start_point : numpy.ndarray of int, shape (S,)
        Class reached from every start, -1 when Newton did not converge.
    rejected : dict
        Starts that gave no critical point, by reason: ``"not_converged"``
        (gradient above tolerance), ``"non_finite"``, ``"flat_hessian"``
        (zero Hessian at the end point: a linear ``f`` has no critical point).
    group_order : int
        |G| (1 without a group).
    """

    points: np.ndarray
    values: np.ndarray
    index: np.ndarray
    nullity: np.ndarray
    hits: np.ndarray
    eigenvalues: np.ndarray
    orbit_size: np.ndarray
    start_point: np.ndarray
    rejected: dict
    group_order: int

    @property
    def dim(self) -> int:
        """Ambient dimension d."""
        return int(self.points.shape[1])

    def counts(self, full: bool = False) -> np.ndarray:
        """Critical points per Morse index 0..d, shape (d + 1,).

        ``full=False``: classes modulo G (ints as floats). ``full=True``: points
        of the full space (sum of ``orbit_size``), NaN for an index with a
        degenerate class or an unenumerated group (see ``orbit_size``).
        """
        w = self.orbit_size if full else np.ones(len(self.index))
        out = np.zeros(self.dim + 1)
        np.add.at(out, self.index, w)
        return out

    def assignment(self, index: int) -> np.ndarray:
        """Class reached from every start when it has this Morse index, else -1, shape (S,)."""
        sp = self.start_point
        if not self.index.size:  # no class found: no start reached one
            return np.full(len(sp), -1)
        ok = sp >= 0
        sel = np.where(ok, self.index[np.where(ok, sp, 0)] == index, False)
        return np.where(sel, sp, -1)

    def saturation(self, index: int) -> np.ndarray:
        """Distinct points of this index among the first s + 1 starts, shape (S,)."""
        return saturation_curve(self.assignment(index))

    def chao1(self, index: int) -> float:
        """Bias-corrected Chao1 (:func:`chao1`) of the points of this index reachable from such starts."""
        return chao1(self.hits[self.index == index])

    @property
    def euler_characteristic(self) -> float:
        """``sum_k (-1)^k c_k`` over full-space counts (NaN when a count is undefined).

        For a Morse function on R^d that is proper and bounded below (sublevel
        sets compact, eventually a ball) with every critical point found, it is 1.
        """
        c = self.counts(full=True)
        return float(np.sum(c * (-1.0) ** np.arange(len(c))))

    def morse_inequalities(self, betti=None) -> dict:
        """Check the weak and strong Morse inequalities and the Euler characteristic.

        They hold for the full-space counts ``c_k`` of a proper Morse function
        bounded below whose critical points were all found, with ``b_k`` the
        Betti numbers of the whole space (default R^d: ``b = (1, 0, ..., 0)``).
        A failure flags missed critical points (or a function they do not apply to).

        Returns
        -------
        dict
            ``"applies"`` (no degenerate class and every count defined),
            ``"weak"`` (bool per k: ``c_k >= b_k``), ``"strong"`` (bool per k:
            ``sum_{i<=k} (-1)^(k-i) (c_i - b_i) >= 0``), ``"euler"`` (bool:
            ``sum (-1)^k c_k == sum (-1)^k b_k``).
        """
        c = self.counts(full=True)
        b = np.zeros(len(c))
        b[0] = 1.0
        if betti is not None:
            bb = np.asarray(betti, dtype=np.float64)
            b[: min(len(bb), len(b))] = bb[: len(b)]
        sign = (-1.0) ** np.arange(len(c))
        strong = [
            bool(np.sum((c[: k + 1] - b[: k + 1]) * sign[: k + 1] * sign[k]) >= 0)
            for k in range(len(c))
        ]
        return {
            "applies": bool(np.isfinite(c).all() and (self.nullity == 0).all()),
            "weak": [bool(x) for x in c >= b],
            "strong": strong,
            "euler": bool(np.sum(c * sign) == np.sum(b * sign)),
        }


def critical_points(f, starts, group=None, **options) -> CriticalPoints:
    """Distinct critical points of every index reached by batched Newton from ``starts``.

    Newton on ``grad f = 0`` (:func:`polish_and_classify` in ``"any"`` mode,
    no descent), Hessian classification (index, nullity) and deduplication
    per index (modulo ``group``), with tolerances relative to the scale
    of each point and float64 noise (:class:`MergeOptions`).

    Parameters
    ----------
    f : LossSurface or callable
        A batched float64 function (K, d) -> (K,), twice differentiable with
        torch operations (a :class:`LossSurface` evaluates on its device).
    starts : array_like, shape (S, d)
        Finite starting points.
    group : lossbounds.landscape.symmetry.SymmetryGroup, optional
        Count classes modulo this group (``d`` must be its number of parameters).
    **options
        Fields of :class:`MergeOptions` (this function uses ``newton_steps``,
        ``max_step``, ``grad_tol``, ``rel_tol``, ``dedup_tol``, ``box``,
        ``exact_limit``, ``threads`` and ``progress``).

    Returns
    -------
    CriticalPoints
        Empty (with a warning naming the counted reasons) when no start converged.

    Raises
    ------
    ValueError
        For bad starts, ``f``, group dimension or options.
    """
    opts = parse_options(options)
    fn = Target(f)
    X = fn.check_starts(starts, group)
    with torch_threads(opts.threads):
        pol = polish_and_classify(fn, X, opts, "any", "critical points")
    keep = np.flatnonzero(pol.critical)
    reps, assign = classes_of(pol, group, opts, keep)
    rejected = rejections(pol)
    warn_if_empty(len(reps), rejected, "critical point")
    sub = pol.subset(reps)
    return CriticalPoints(
        sub.points,
        sub.values,
        sub.index,
        sub.nullity,
        np.bincount(assign[assign >= 0], minlength=len(reps)),
        sub.eigenvalues,
        orbit_weights(sub.points, sub.nullity, group, opts),
        assign,
        rejected,
        1 if group is None else int(group.order),
    )
