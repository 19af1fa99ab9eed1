"""Batched Newton, Hessian classification and deduplication: the package's one numeric core.

:func:`polish_and_classify` runs batched Newton steps of one of three kinds
from many points at once, on the device of the function (no host round
trip per iteration), then classifies every end point from its Hessian
spectrum: critical or not, Morse index (negative eigenvalues) and nullity
(zero eigenvalues), with tolerances taken from the point's scale
``||H||_2 (1 + ||x||)`` and float64 rounding noise. :func:`classes_of`
keeps one point per distinct critical point and index (modulo a symmetry
group when one is given), in a deterministic order.

``opts`` is any object with the attributes ``newton_steps``, ``max_step``,
``grad_tol``, ``rel_tol``, ``dedup_tol``, ``box``, ``exact_limit`` and
``progress`` (:class:`lossbounds.topology.options.MergeOptions`, or
:class:`NewtonOptions` here); their meaning is documented there.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from lossbounds.landscape.surface import LossSurface, batched_hessians, value_grad
from lossbounds.landscape.symmetry import dedup_modulo_group

__all__ = [
    "NewtonOptions",
    "torch_threads",
    "Target",
    "cap_rows",
    "clamp_box",
    "Polished",
    "polish_and_classify",
    "morse_counts",
    "canonical_order",
    "dedup_points",
    "classes_of",
    "chao1",
    "saturation_curve",
    "orbit_weights",
    "rejections",
    "warn_if_empty",
    "value_grad",
]

_F64 = torch.float64
_EPS = float(np.finfo(np.float64).eps)
_MODES = ("any", "min", "saddle")
_SADDLE_SLACK = 1.5  # eigenvector following keeps steps whose gradient grows by <= 50 %


@dataclass(frozen=True)
class NewtonOptions:
    """The options :func:`polish_and_classify` and :func:`classes_of` read (defaults of MergeOptions).

    See :class:`lossbounds.topology.options.MergeOptions` for their meaning.
    """

    newton_steps: int = 40
    max_step: float = 0.5
    grad_tol: float = 1e-10
    rel_tol: float = 1e-8
    dedup_tol: float = 1e-5
    box: float | None = None
    exact_limit: int = 512
    progress: bool = False


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Pin torch's intra-op threads to ``n`` inside the block (None: leave them); restore after.

    The one place where the package sets torch threads.
    """
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Target:
    """The function on tensors, the LossSurface behind it (or None) and its device."""

    def __init__(self, f):
        if isinstance(f, LossSurface):
            self.fn, self.surface, self.device = f.losses, f, f.device
        elif callable(f):
            self.fn, self.surface, self.device = f, None, torch.device("cpu")
        else:
            raise ValueError(
                f"f must be a LossSurface or a callable on (K, d) float64 tensors, got {type(f)!r}"
            )

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Values (K,) at the rows of x (on the target's device)."""
        return self.fn(x)

    def check_starts(self, starts, group) -> torch.Tensor:
        """Return the starts as a float64 (S, d) tensor on the device; probe ``f`` once.

        Raises
        ------
        ValueError
            For starts that are not a finite (S, d) array, a ``d`` that the
            group or ``f`` refuses, or an ``f`` whose output is not a finite
            (S,) tensor with a ``grad_fn``.
        """
        try:
            X = np.asarray(starts, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"starts must be a numeric array of shape (S, d), got {starts!r}"
            ) from None
        if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(f"starts must have shape (S, d) with S, d >= 1, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("starts must be finite (no NaN or inf)")
        if group is not None and X.shape[1] != group.layout.n_params:
            raise ValueError(
                f"starts have d = {X.shape[1]} columns but the group acts on "
                f"N = {group.layout.n_params} parameters"
            )
        x = torch.tensor(X, dtype=_F64, device=self.device, requires_grad=True)
        try:
            with torch.enable_grad():
                v = self.fn(x)
        except (RuntimeError, ValueError, IndexError, TypeError) as err:
            raise ValueError(
                f"f failed on starts of shape {X.shape} (d mismatch?): {err}"
            ) from None
        if not isinstance(v, torch.Tensor) or tuple(v.shape) != (X.shape[0],):
            shape = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
            raise ValueError(
                f"f must map a (K, d) tensor to a (K,) tensor, got {shape} for K = {len(X)}"
            )
        if v.grad_fn is None:
            raise ValueError(
                "f is not differentiable: its output has no grad_fn (use torch operations)"
            )
        if not torch.isfinite(v).all():
            raise ValueError("f must be finite at every start")
        return x.detach()


def cap_rows(step: torch.Tensor, max_len) -> torch.Tensor:
    """Shorten every row (last axis) of ``step`` to length at most ``max_len``."""
    n = step.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    return step * torch.clamp(
        torch.as_tensor(max_len, dtype=step.dtype, device=step.device) / n, max=1.0
    )


def clamp_box(X: torch.Tensor, box) -> torch.Tensor:
    """Clamp X to ``[-box, box]^d`` (no-op for ``box=None``)."""
    return X if box is None else X.clamp(-box, box)


def _newton_step(lam, V, g, mode: str, reg, max_step: float) -> torch.Tensor:
    """One regularised Newton step per row, in the Hessian eigenbasis.

    ``"any"``: Levenberg-Marquardt on the residual ``grad f`` (Jacobian H),
    ``-lam_i c_i / (lam_i^2 + r^2)``, a descent direction of ``||grad f||``
    towards critical points of any index. ``"min"``: saddle-free Newton
    ``-c_i / (|lam_i| + r)``. ``"saddle"``: the same but uphill along the
    lowest mode (eigenvector following to index 1). ``r = reg * ||H||_2``;
    flat directions get bounded steps.
    """
    scale = lam.abs().amax(dim=1, keepdim=True)
    r = (reg[:, None] * scale).clamp_min(1e-300)
    comp = (V.transpose(1, 2) @ g[..., None])[..., 0]
    if mode == "any":
        coef = -lam * comp / (lam * lam + r * r)
    else:
        coef = -comp / (lam.abs() + r)
        if mode == "saddle":
            coef[:, 0] = -coef[:, 0]  # uphill along the lowest mode
    return cap_rows((V @ coef[..., None])[..., 0], max_step)


def _improves(v, gnorm, vn, gn, mode: str) -> torch.Tensor:
    """Whether new points (values vn, gradients gn) improve on old ones (v, gnorm)."""
    ok = torch.isfinite(vn) & torch.isfinite(gn).all(dim=1)
    shorter = gn.norm(dim=1) < gnorm
    if mode == "saddle":  # eigenvector following: the gradient may grow out of a wrong-index region
        return ok & (gn.norm(dim=1) < _SADDLE_SLACK * gnorm)
    if mode != "min":
        return ok & shorter
    flat = vn <= v + 64 * _EPS * (1.0 + v.abs())
    return ok & ((vn < v) | (flat & shorter))


def _tolerances(lam, gnorm, X, opts: NewtonOptions):
    """Gradient tolerance and zero-eigenvalue tolerance per row (see lossbounds.topology.options.MergeOptions)."""
    floor = 64.0 * X.shape[1] * _EPS
    scale = (
        lam.abs().amax(dim=1)
        if lam.numel()
        else torch.zeros(X.shape[0], dtype=_F64, device=X.device)
    )
    length = 1.0 + X.norm(dim=1)
    gtol = max(opts.grad_tol, floor) * scale * length
    ztol = max(opts.rel_tol, floor) * scale + gnorm / length
    return gtol, ztol


def morse_counts(lam, ztol):
    """Morse index (eigenvalues below ``-ztol``) and nullity (``|lambda| <= ztol``) per row.

    The package's one classification rule. ``lam`` (K, d) and ``ztol`` (K,)
    are torch tensors or numpy arrays; returns two integer arrays (K,) of the same kind.
    """
    return (lam < -ztol[:, None]).sum(1), (abs(lam) <= ztol[:, None]).sum(1)


@dataclass
class Polished:
    """End points of :func:`polish_and_classify` (host arrays, one row per input point).

    Attributes
    ----------
    points : numpy.ndarray, shape (K, d)
    values : numpy.ndarray, shape (K,)
    grad_norms : numpy.ndarray, shape (K,)
    eigenvalues : numpy.ndarray, shape (K, d)
        Hessian spectrum, ascending.
    critical : numpy.ndarray of bool, shape (K,)
        ``||grad f||`` within the gradient tolerance (and everything finite).
    index : numpy.ndarray of int, shape (K,)
        Eigenvalues below minus the zero tolerance (Morse index).
    nullity : numpy.ndarray of int, shape (K,)
        Eigenvalues within the zero tolerance.
    """

    points: np.ndarray
    values: np.ndarray
    grad_norms: np.ndarray
    eigenvalues: np.ndarray
    critical: np.ndarray
    index: np.ndarray
    nullity: np.ndarray

    def subset(self, keep) -> Polished:
        """Return the rows ``keep`` (indices or mask)."""
        return Polished(*(a[keep] for a in self.__dict__.values()))


def _newton_loop(fn, X, opts: NewtonOptions, mode: str, desc: str):
    """Batched Newton iterations; returns points, values and gradients (tensors on X's device).

    Per Hessian up to four regularisations ``reg, 10 reg, 100 reg, 1000
    reg`` are tried; after a success ``reg`` is the successful one / 10
    (down to 1e-12), after four failures it is multiplied by 1e4 (the point
    stops above 1e6). Points stop when their gradient is within tolerance.
    """
    # updated in place below: a gradient may come back as an expanded tensor (a linear f)
    v, g = (t.clone() for t in value_grad(fn, X))
    reg = torch.full((X.shape[0],), 1e-3, dtype=_F64, device=X.device)
    for _ in tqdm(range(opts.newton_steps), disable=not opts.progress, desc=desc):
        act = torch.nonzero(torch.isfinite(v) & (reg < 1e6)).flatten()
        if act.numel() == 0:
            break
        lam, V = torch.linalg.eigh(batched_hessians(fn, X[act]))
        gtol, _ = _tolerances(lam, g[act].norm(dim=1), X[act], opts)
        busy = g[act].norm(dim=1) > gtol
        act, lam, V = act[busy], lam[busy], V[busy]
        if act.numel() == 0:
            break
        todo = torch.ones(act.numel(), dtype=torch.bool, device=X.device)
        for factor in (1.0, 10.0, 100.0, 1000.0):
            sub = torch.nonzero(todo).flatten()
            if sub.numel() == 0:
                break
            pts, r = act[sub], reg[act[sub]] * factor
            xn = clamp_box(
                X[pts] + _newton_step(lam[sub], V[sub], g[pts], mode, r, opts.max_step), opts.box
            )
            vn, gn = value_grad(fn, xn)
            ok = _improves(v[pts], g[pts].norm(dim=1), vn, gn, mode)
            idx = pts[ok]
            X[idx], v[idx], g[idx] = xn[ok], vn[ok], gn[ok]
            reg[idx] = torch.clamp(r[ok] * 0.1, min=1e-12)
            todo[sub[ok]] = False
        reg[act[todo]] *= 1e4
    return X, v, g


def polish_and_classify(
    fn, X: torch.Tensor, opts: NewtonOptions, mode: str = "any", desc: str = "newton"
) -> Polished:
    """Batched Newton from the rows of X, then Hessian classification of the end points.

    Parameters
    ----------
    fn : callable
        Batched float64 function (K, d) -> (K,), twice differentiable.
    X : torch.Tensor, shape (K, d)
        Start points on ``fn``'s device (not modified).
    opts : MergeOptions
        ``newton_steps``, ``max_step``, ``grad_tol``, ``rel_tol``, ``box``, ``progress``.
    mode : {"any", "min", "saddle"}
        Kind of Newton step (see ``_newton_step``).
    desc : str
        Progress bar label.

    Returns
    -------
    Polished
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    d = X.shape[1]
    if X.shape[0] == 0:
        e = np.empty(0)
        return Polished(
            np.empty((0, d)), e, e, np.empty((0, d)), e.astype(bool), e.astype(int), e.astype(int)
        )
    X, v, g = _newton_loop(fn, clamp_box(X.detach().clone(), opts.box), opts, mode, desc)
    lam = torch.linalg.eigvalsh(batched_hessians(fn, X))
    return _classified(X, v, g.norm(dim=1), lam, opts)


def _classified(X, v, gnorm, lam, opts) -> Polished:
    """Polished end points from points, values, gradient norms and (part of) the ascending spectra.

    The package's one tolerance rule and one classification rule; ``lam`` (K, m)
    is the whole spectrum (dense) or its lowest and highest eigenvalues (Krylov).
    """
    gtol, ztol = _tolerances(lam, gnorm, X, opts)
    finite = torch.isfinite(v) & torch.isfinite(gnorm) & torch.isfinite(lam).all(dim=1)
    critical = finite & (gnorm <= gtol)
    index, nullity = morse_counts(lam, ztol)
    out = (X, v, gnorm, lam, critical, index, nullity)
    return Polished(*(t.detach().cpu().numpy() for t in out))


def canonical_order(points: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Order rows by value, ties (within 1e-9 relative) broken by coordinates: deterministic."""
    if len(values) == 0:
        return np.empty(0, dtype=int)
    scale = 1e-9 * (1.0 + np.abs(values))
    key_v = np.round(values / scale.max())
    keys = [np.round(points[:, j], 9) for j in range(points.shape[1] - 1, -1, -1)]
    return np.lexsort((*keys, key_v))


def dedup_points(P: np.ndarray, values: np.ndarray, group, opts: NewtonOptions):
    """One representative per distinct point, greedy in :func:`canonical_order`.

    Two points are one when their distance (modulo ``group``) is at most
    ``dedup_tol * (1 + ||x||)``.

    Returns
    -------
    representatives : numpy.ndarray of int, shape (R,)
        In visiting order (ascending value).
    assignment : numpy.ndarray of int, shape (K,)
        Class (into ``representatives``) of every point.
    """
    order = canonical_order(P, values)
    tol = opts.dedup_tol * (1.0 + np.linalg.norm(P, axis=1)) if len(P) else np.empty(0)
    if group is not None:
        return dedup_modulo_group(
            P,
            group,
            tol=float(tol.max(initial=opts.dedup_tol)),
            order=order,
            exact_limit=opts.exact_limit,
        )
    assign = np.full(len(P), -1)
    reps: list[int] = []
    tree = cKDTree(P) if len(P) else None
    for i in order:
        if assign[i] >= 0:
            continue
        near = np.asarray(tree.query_ball_point(P[i], tol[i]), dtype=int)
        assign[near[assign[near] < 0]] = len(reps)
        reps.append(int(i))
    return np.array(reps, dtype=int), assign


def chao1(hits) -> float:
    """Bias-corrected Chao1 estimate of the number of classes from how often each was seen.

    ``k_obs + f1 (f1 - 1) / (2 (f2 + 1))`` (Chao 1987, bias-corrected form;
    finite for every sample), with f1, f2 the numbers of classes hit once
    and twice. It is the package's only Chao1 (census, merge tree, critical
    points and the sweep's ``chao1`` column).

    Parameters
    ----------
    hits : array_like of int, shape (k,)
        Times each observed class was hit (entries of 0 are ignored).

    Returns
    -------
    float
    """
    h = np.asarray(hits)
    if h.ndim != 1 or (h.size and (h.min() < 0 or not np.issubdtype(h.dtype, np.integer))):
        raise ValueError(f"hits must be a 1-D array of non-negative integers, got {hits!r}")
    h = h[h > 0]
    f1, f2 = int(np.sum(h == 1)), int(np.sum(h == 2))
    return float(h.size + f1 * (f1 - 1) / (2.0 * (f2 + 1)))


def saturation_curve(assign: np.ndarray) -> np.ndarray:
    """Distinct classes among the first s + 1 entries of ``assign`` (-1 ignored), shape (S,)."""
    assign = np.asarray(assign)
    first = np.zeros(len(assign), dtype=int)
    valid = np.flatnonzero(assign >= 0)
    if valid.size:
        _, pos = np.unique(assign[valid], return_index=True)
        first[valid[pos]] = 1
    return np.cumsum(first)


def orbit_weights(
    points: np.ndarray, nullity: np.ndarray, group, opts: NewtonOptions
) -> np.ndarray:
    """Points of the full space per class: ``|G| / |stabiliser|`` (1 without a group).

    :meth:`SymmetryGroup.orbit_size` with ``max_order = exact_limit``: the
    orbit is enumerated when ``|G| <= exact_limit``, otherwise the stabiliser is
    searched layer by layer. NaN for a degenerate class (nullity > 0: its
    setwise stabiliser is not defined), for a tied group (identity skips)
    with ``|G| > exact_limit``, and (with a warning) for a class whose
    stabiliser exceeds the search's cap.
    """
    if group is None:
        return np.where(nullity > 0, np.nan, 1.0)
    w = np.full(len(points), np.nan)
    if group.tied and group.order > opts.exact_limit:
        return w
    for i in np.flatnonzero(nullity == 0):
        tol = opts.dedup_tol * (1.0 + np.linalg.norm(points[i]))
        try:
            w[i] = group.orbit_size(points[i], tol=tol, max_order=opts.exact_limit)
        except ValueError as err:  # only the stabiliser search's cap reaches here
            warnings.warn(f"orbit size of class {i} left NaN: {err}", stacklevel=2)
    return w


def rejections(pol: Polished) -> dict:
    """Count the rows of ``pol`` that are not critical, by reason (see :class:`CriticalPoints`)."""
    finite = np.isfinite(pol.values) & np.isfinite(pol.grad_norms)
    flat = finite & ~pol.critical & (np.abs(pol.eigenvalues).max(axis=1, initial=0.0) == 0.0)
    return {
        "not_converged": int(np.sum(finite & ~pol.critical & ~flat)),
        "non_finite": int(np.sum(~finite)),
        "flat_hessian": int(np.sum(flat)),
    }


def warn_if_empty(n_found: int, rejected: dict, what: str) -> None:
    """Warn (never a silent empty result) when nothing was accepted, naming the counted reasons."""
    if n_found == 0:
        reasons = ", ".join(f"{k}: {v}" for k, v in rejected.items() if v) or "no start"
        warnings.warn(f"no {what} was accepted; rejected starts by reason: {reasons}", stacklevel=3)


def classes_of(pol: Polished, group, opts: NewtonOptions, keep: np.ndarray):
    """Deduplicate the rows ``keep`` of ``pol`` separately per Morse index.

    Returns the representatives (rows of ``pol``, canonical order over all
    classes) and the class of every row of ``pol`` (-1 outside ``keep``).
    """
    assign = np.full(len(pol.values), -1)
    reps = []
    for k in np.unique(pol.index[keep]):
        rows = keep[pol.index[keep] == k]
        r, a = dedup_points(pol.points[rows], pol.values[rows], group, opts)
        assign[rows] = a + len(reps)
        reps.extend(rows[r].tolist())
    reps = np.asarray(reps, dtype=int)
    order = canonical_order(pol.points[reps], pol.values[reps])
    rank = np.empty(len(order), dtype=int)
    rank[order] = np.arange(len(order))
    assign[assign >= 0] = rank[assign[assign >= 0]]
    return reps[order], assign
