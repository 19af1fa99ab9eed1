"""Merge trees of a function on R^d: minima joined by minimum-energy paths.

The H0 persistence diagram of the sublevel filtration ``{f <= c}`` of a
function on R^d is decided by its minima and by the index-1 saddles that
join their basins (elder rule). :func:`merge_tree` measures it for the
basins it finds, in any dimension (Wales' disconnectivity graphs; Draxler
et al. 2018 for networks):

1. **Minima.** All starts are descended at once (batched
   Levenberg-Marquardt for an MSE LossSurface, otherwise batched gradient
   descent), then polished and classified by the measurement core
   (:func:`~lossbounds.topology.critical.polish_and_classify`, saddle-free
   Newton): a minimum has a positive semi-definite Hessian, its zero modes
   counted (``nullity``). They are deduplicated (modulo a symmetry group
   when given). Degenerate minima of equal value are joined by
   connectivity: a band between near neighbours whose barrier is within
   its resolution (``neb_tol`` times the image spacing) of their value makes
   them one component.
2. **Paths.** Every minimum is paired with its ``n_neighbors`` nearest minima
   (modulo the group) plus a Euclidean minimum spanning tree; each pair is
   joined by a climbing-image nudged elastic band
   (:func:`~lossbounds.topology.neb.run_bands`).
3. **Saddles.** Each climbing image is refined by eigenvector following
   (``saddle_steps`` iterations per band at most, ``saddle_budget`` in all;
   dense Hessians up to d = ``krylov_dim``, Lanczos and conjugate gradients
   on Hessian-vector products above) to an index-1 saddle, whose two sides are descended to the minima it
   joins. A refined saddle joining the band's ends gives a verified merge
   level; otherwise the band maximum joins them (an upper bound, flagged).
4. **Tree.** Kruskal's union-find with the elder rule. Rounds double the
   neighbours and stop only when every merge is a verified saddle and one
   more round changed nothing (``MergeTree.converged``), or at ``max_rounds``.

Everything runs in float64 on the device of ``f`` (a LossSurface's
``device``); results are host arrays. Ordering and tie-breaking are
deterministic, so results do not depend on the BLAS kernel or thread count
beyond rounding of the reported values.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import cdist
from tqdm.auto import tqdm

from lossbounds._checks import check_int
from lossbounds.landscape.krylov import krylov_saddles, lowest_modes
from lossbounds.landscape.newton import (
    Polished,
    Target,
    cap_rows,
    chao1,
    clamp_box,
    classes_of,
    polish_and_classify,
    rejections,
    saturation_curve,
    torch_threads,
    value_grad,
    warn_if_empty,
)
from lossbounds.topology.mergetree import MergeTree, Saddles, elder_tree
from lossbounds.topology.neb import run_bands
from lossbounds.topology.options import MergeOptions, parse_options
from lossbounds.topology.persistence import elder_rule

__all__ = ["MergeOptions", "Saddles", "MergeTree", "merge_tree", "chao1"]

_F64 = torch.float64


def _descend(fn: Target, X: torch.Tensor, opts: MergeOptions, desc: str) -> torch.Tensor:
    """First stage of the descent: Levenberg-Marquardt or gradient descent (see ``descent``)."""
    lm_ok = fn.surface is not None and fn.surface.loss == "mse"
    if opts.descent == "lm" and not lm_ok:
        raise ValueError("descent='lm' needs f to be a LossSurface with the MSE loss")
    if (opts.descent == "lm" or (opts.descent == "auto" and lm_ok)) and X.shape[0]:
        from lossbounds.landscape.optimize import lm_descent

        return lm_descent(fn.surface, X, opts.lm_steps, progress=opts.progress)
    return _gradient_descent(fn, X, opts, desc)


def _gradient_descent(fn, X: torch.Tensor, opts: MergeOptions, desc: str) -> torch.Tensor:
    """Batched gradient descent, per-point step x1.2 on decrease and x0.5 otherwise.

    Points stop when their gradient norm is below ``descent_tol`` (or their
    step has shrunk below 1e-14). Returns the end points (K, d).
    """
    X = clamp_box(X.detach().clone(), opts.box)
    v, g = value_grad(fn, X)
    g = torch.nan_to_num(g)
    eta = torch.full((X.shape[0],), opts.descent_step, dtype=_F64, device=X.device)
    for _ in tqdm(range(opts.descent_steps), disable=not opts.progress, desc=desc):
        act = torch.nonzero((g.norm(dim=1) > opts.descent_tol) & (eta > 1e-14)).flatten()
        if act.numel() == 0:
            break
        xn = clamp_box(X[act] - cap_rows(eta[act, None] * g[act], opts.max_step), opts.box)
        vn, gn = value_grad(fn, xn)
        ok = torch.isfinite(vn) & torch.isfinite(gn).all(dim=1) & (vn < v[act])
        idx = act[ok]
        X[idx], v[idx], g[idx] = xn[ok], vn[ok], gn[ok]
        eta[idx] *= 1.2
        eta[act[~ok]] *= 0.5
    return X


def _minima_of(pol: Polished) -> np.ndarray:
    """Rows of ``pol`` that are minima: critical, no negative eigenvalue (zero modes allowed)."""
    return np.flatnonzero(pol.critical & (pol.index == 0))


class _Catalogue:
    """Known minima (canonical forms when a group is given) and matching against them."""

    def __init__(self, d: int, group, opts: MergeOptions):
        self.group, self.opts = group, opts
        self.points = np.empty((0, d))
        self.values = np.empty(0)
        self.nullity = np.empty(0, dtype=int)
        self._orbits: dict[int, np.ndarray] = {}
        self.exact = group is not None and group.order <= opts.exact_limit

    def canonical(self, P: np.ndarray) -> np.ndarray:
        if self.group is None or len(P) == 0:
            return np.asarray(P, dtype=np.float64)
        return np.stack([self.group.canonical(p) for p in P])

    def tol(self, p: np.ndarray) -> float:
        """Return the matching distance at p: ``dedup_tol * (1 + ||p||)``."""
        return self.opts.dedup_tol * (1.0 + float(np.linalg.norm(p)))

    def orbit(self, i: int) -> np.ndarray:
        if i not in self._orbits:
            self._orbits[i] = self.group.orbit(self.points[i], max_order=self.opts.exact_limit)
        return self._orbits[i]

    def add(self, P: np.ndarray, values: np.ndarray, nullity: np.ndarray) -> np.ndarray:
        """Append points (already distinct) and their nullities; return their indices."""
        start = len(self.values)
        self.points = np.concatenate([self.points, self.canonical(P)])
        self.values = np.concatenate([self.values, values])
        self.nullity = np.concatenate([self.nullity, nullity]).astype(int)
        return np.arange(start, len(self.values))

    def match(self, p: np.ndarray) -> int:
        """Index of the known minimum within ``dedup_tol`` of ``p`` modulo G, or -1."""
        if len(self.values) == 0:
            return -1
        dist = np.linalg.norm(self.points - self.canonical(p[None])[0], axis=1)
        best = int(np.argmin(dist))
        if dist[best] <= self.tol(p):
            return best
        if self.exact:  # canonical forms jump near bias ties: check nearby orbits exactly
            for i in np.argsort(dist)[:8]:
                if np.min(np.linalg.norm(self.orbit(int(i)) - p, axis=1)) <= self.tol(p):
                    return int(i)
        return -1

    def align(self, i: int, j: int) -> np.ndarray:
        """Return the image of minimum j nearest to minimum i (exact orbit for small groups)."""
        if not self.exact:
            return self.points[j]
        orb = self.orbit(j)
        return orb[np.argmin(np.linalg.norm(orb - self.points[i], axis=1))]


def _candidate_pairs(points: np.ndarray, k: int, dense_limit: int = 4000) -> np.ndarray:
    """Pairs (P, 2), i < j: each point with its k nearest, plus a spanning tree."""
    n = len(points)
    if n < 2:
        return np.empty((0, 2), dtype=int)
    if n > dense_limit:
        from scipy.spatial import cKDTree

        _, nb = cKDTree(points).query(points, k=min(k, n - 1) + 1)
        D = None
    else:
        D = cdist(points, points)
        nb = np.argsort(D, axis=1, kind="stable")[:, : min(k, n - 1) + 1]
    rows = np.repeat(np.arange(n), nb.shape[1])
    pairs = np.stack([rows, nb.ravel()], axis=1)
    if D is not None:
        tree = minimum_spanning_tree(np.maximum(D, 1e-300) * (1 - np.eye(n))).tocoo()
        pairs = np.concatenate([pairs, np.stack([tree.row, tree.col], axis=1)])
    pairs = np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1)
    return np.unique(pairs, axis=0)


def _flat_tol(values: np.ndarray, opts: MergeOptions) -> np.ndarray:
    """Value difference under which two minima have equal value: ``neb_tol^2 (1 + |f|)``."""
    return opts.neb_tol**2 * (1.0 + np.abs(values))


def _band_resolution(A: torch.Tensor, Z: torch.Tensor, opts: MergeOptions) -> np.ndarray:
    """Energy resolution of a relaxed band: ``neb_tol`` times its image spacing, per band.

    Images whose forces are below ``neb_tol`` sit within about that much
    work (force times distance) of the path they sample.
    """
    return opts.neb_tol * ((Z - A).norm(dim=1) / (opts.n_images + 1)).cpu().numpy()


def _flat_joined(fn, PA: np.ndarray, PZ: np.ndarray, vA, vZ, opts: MergeOptions) -> np.ndarray:
    """Whether a band from each row of PA to the same row of PZ has no barrier (bool per pair).

    The pairs are degenerate minima of equal value; a band whose maximum is
    within the larger of their equal-value tolerance and its resolution
    above their values joins them.
    """
    if len(PA) == 0:
        return np.zeros(0, dtype=bool)
    A = torch.as_tensor(PA, dtype=_F64, device=fn.device)
    Z = torch.as_tensor(PZ, dtype=_F64, device=fn.device)
    _, band_max, _ = run_bands(fn, A, Z, opts.n_images, opts, "flat bands")
    tol = np.minimum(_flat_tol(vA, opts), _flat_tol(vZ, opts))
    return band_max - np.maximum(vA, vZ) <= np.maximum(tol, _band_resolution(A, Z, opts))


def _flat_components(
    fn, P: np.ndarray, values: np.ndarray, nullity: np.ndarray, opts: MergeOptions
):
    """Component label per minimum: degenerate minima of equal value joined by a flat band.

    Only near neighbours (``n_neighbors`` nearest plus a spanning tree,
    among the degenerate minima of equal value) get a band, not every pair.
    Labels are the smallest index in each component.
    """
    label = np.arange(len(values))
    flat = np.flatnonzero(nullity > 0)
    if len(flat) < 2:
        return label
    pairs = flat[_candidate_pairs(P[flat], opts.n_neighbors)]
    tol = _flat_tol(values, opts)
    dv = np.abs(values[pairs[:, 0]] - values[pairs[:, 1]])
    pairs = pairs[dv <= np.minimum(tol[pairs[:, 0]], tol[pairs[:, 1]])]
    if len(pairs) == 0:
        return label
    a, z = pairs[:, 0], pairs[:, 1]
    joined = pairs[_flat_joined(fn, P[a], P[z], values[a], values[z], opts)]
    merges, _ = elder_rule(
        np.arange(len(values)).tolist(), joined[:, 0].tolist(), joined[:, 1].tolist()
    )
    parent = np.arange(len(values))
    for _, keep, drop in merges:
        parent[drop] = keep
    for i in range(len(values)):  # follow to the root (roots are the smallest indices)
        r = i
        while parent[r] != r:
            r = parent[r]
        label[i] = r
    return label


def _find_minima(fn: Target, X: torch.Tensor, group, opts: MergeOptions):
    """Descend all starts; return the catalogue, start -> minimum, hits and rejections."""
    pol = polish_and_classify(fn, _descend(fn, X, opts, "descent"), opts, "min", "newton")
    is_min = _minima_of(pol)
    rejected = {"saddle": int(np.sum(pol.critical & (pol.index > 0))), **rejections(pol)}
    cat = _Catalogue(X.shape[1], group, opts)
    reps, assign = classes_of(pol, group, opts, is_min)
    label = _flat_components(fn, pol.points[reps], pol.values[reps], pol.nullity[reps], opts)
    keep, comp = np.unique(label, return_inverse=True)  # labels ascend with the canonical order
    cat.add(pol.points[reps[keep]], pol.values[reps[keep]], pol.nullity[reps[keep]])
    start_min = np.where(assign >= 0, comp[np.maximum(assign, 0)], -1) if len(reps) else assign
    hits = np.bincount(start_min[start_min >= 0], minlength=len(cat.values))
    warn_if_empty(len(cat.values), rejected, "minimum")
    return cat, start_min, hits, rejected


def _saddle_ends(fn: Target, cat: _Catalogue, S: torch.Tensor, opts: MergeOptions, discover: bool):
    """Minima joined by each saddle S (E', d): descend from S +- push * (negative mode).

    The negative mode by ``eigh`` of the dense Hessian up to d = ``krylov_dim``, by Lanczos above.
    """
    if len(S) == 0:
        return np.empty((0, 2), dtype=int)
    from lossbounds.landscape.surface import batched_hessians

    if S.shape[1] > opts.krylov_dim:
        v0 = lowest_modes(fn, S)
    else:
        v0 = torch.linalg.eigh(batched_hessians(fn, S))[1][:, :, 0]
    X = torch.cat([S + opts.push * v0, S - opts.push * v0])
    pol = polish_and_classify(fn, _descend(fn, X, opts, "saddle ends"), opts, "min", "ends")
    ends = np.full(len(X), -1)
    rows = _minima_of(pol)
    ends[rows] = [cat.match(pol.points[i]) for i in rows]
    if discover:
        new = rows[ends[rows] < 0]
        ends[new] = _flat_match(fn, cat, pol.subset(new), opts)
        for i in new[ends[new] < 0]:
            ends[i] = cat.match(pol.points[i])  # an end added just before may be this one
            if ends[i] < 0:
                ends[i] = cat.add(*(a[i : i + 1] for a in (pol.points, pol.values, pol.nullity)))[0]
    return ends.reshape(2, -1).T


def _flat_match(fn: Target, cat: _Catalogue, pol: Polished, opts: MergeOptions) -> np.ndarray:
    """Known component joined to each new degenerate minimum by a flat band, or -1.

    A new end point on a manifold of minima is usually another point of a
    known component: each is banded to the nearest known degenerate minimum
    of equal value (modulo G), as in :func:`_flat_components`.
    """
    out = np.full(len(pol.values), -1)
    P = cat.canonical(pol.points)
    tol = _flat_tol(pol.values, opts)
    pick = []
    for r in np.flatnonzero(pol.nullity > 0):
        same = (cat.nullity > 0) & (np.abs(cat.values - pol.values[r]) <= tol[r])
        if same.any():
            cand = np.flatnonzero(same)
            pick.append((r, cand[np.argmin(np.linalg.norm(cat.points[cand] - P[r], axis=1))]))
    if pick:
        r, c = np.array(pick).T
        ok = _flat_joined(fn, P[r], cat.points[c], pol.values[r], cat.values[c], opts)
        out[r[ok]] = c[ok]
    return out


def _refine_saddles(fn: Target, top: torch.Tensor, opts: MergeOptions, budget: list):
    """Eigenvector following from the band maxima, capped per band and by the remaining budget.

    Dense (``polish_and_classify``) for d <= ``krylov_dim``, matrix-free
    (``krylov_saddles``) above.
    """
    steps = min(opts.saddle_steps, budget[0] // max(1, len(top)))
    budget[0] -= steps * len(top)
    capped = dataclasses.replace(opts, newton_steps=steps)
    if top.shape[1] > opts.krylov_dim:
        pol = krylov_saddles(fn, top, capped)
    else:
        pol = polish_and_classify(fn, top, capped, "saddle", "saddles")
    refined = pol.critical & (pol.index == 1)
    return pol, refined


def _run_pairs(
    fn: Target, cat: _Catalogue, pairs, n_images: int, opts: MergeOptions, budget, ends: bool
):
    """Bands, saddle refinement and (with ``ends``) the minima each saddle joins."""
    dev = fn.device
    A = torch.as_tensor(cat.points[pairs[:, 0]], dtype=_F64, device=dev)
    Z = torch.as_tensor(np.stack([cat.align(i, j) for i, j in pairs]), dtype=_F64, device=dev)
    top, band_max, conv = run_bands(fn, A, Z, n_images, opts, f"bands ({n_images} images)")
    pol, refined = _refine_saddles(fn, top, opts, budget)
    S = np.where(refined[:, None], pol.points, top.cpu().numpy())
    sval = np.where(refined, pol.values, band_max)
    joined = np.full((len(pairs), 2), -1)
    if ends:
        St = torch.as_tensor(S[refined], dtype=_F64, device=dev)
        joined[refined] = _saddle_ends(fn, cat, St, opts, discover=True)
    same = (np.sort(joined, axis=1) == np.sort(pairs, axis=1)).all(axis=1)
    fallback = ~(refined & same) & np.isfinite(band_max)
    E = len(pairs)
    return Saddles(
        S, sval, pairs, joined, pol.index, refined, band_max, fallback, conv, np.full(E, -1)
    )


def _edges(sad: Saddles):
    """Edges (e, 2), their levels (e,), the band of each (e,) and whether it is verified (e,)."""
    ok = sad.refined & (sad.ends >= 0).all(axis=1) & (sad.ends[:, 0] != sad.ends[:, 1])
    fb = sad.fallback
    edges = np.concatenate([sad.ends[ok], sad.pairs[fb]]).astype(int)
    # a band maximum can undershoot the saddle its climbing image sits at (the
    # images sample the path): the level of an unverified edge is the higher of the two
    levels = np.concatenate([sad.values[ok], np.maximum(sad.band_max, sad.values)[fb]])
    band = np.concatenate([np.flatnonzero(ok), np.flatnonzero(fb)])
    verified = np.concatenate([np.ones(ok.sum(), bool), np.zeros(fb.sum(), bool)])
    return edges.reshape(-1, 2), levels, band, verified


def _new_pairs(pairs: np.ndarray, done: np.ndarray) -> np.ndarray:
    if len(done) == 0 or len(pairs) == 0:
        return pairs
    seen = {tuple(p) for p in done.tolist()}
    keep = [tuple(p) not in seen for p in pairs.tolist()]
    return pairs[np.array(keep, dtype=bool)]


def _tree_state(cat: _Catalogue, sad: Saddles):
    """Diagram and whether every merge of the tree is a verified saddle."""
    edges, levels, _, verified = _edges(sad)
    dgm, merges, _ = elder_tree(cat.values, edges, levels)
    return dgm, all(verified[m[3]] for m in merges)


def _same_diagram(a: np.ndarray, b: np.ndarray) -> bool:
    """Diagrams equal up to float64 noise of their values (relative 1e-9)."""
    if a is None or a.shape != b.shape:
        return False
    fa, fb = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(fa, fb):
        return False
    return bool(np.allclose(a[fa], b[fb], rtol=1e-9, atol=1e-12))


def _connect(fn: Target, cat: _Catalogue, opts: MergeOptions):
    """Run rounds of bands; stop when every merge is verified and one more round changed nothing.

    Returns the saddles, the last number of neighbours, the rounds run and
    whether the rule held.
    """
    d = cat.points.shape[1]
    k, parts, prev, prev_ok = opts.n_neighbors, [], None, False
    done = np.empty((0, 2), dtype=int)
    budget, rounds, converged = [opts.saddle_budget], 0, False
    for rounds in range(1, opts.max_rounds + 1):
        pairs = _new_pairs(_candidate_pairs(cat.points, k), done)
        if len(pairs) == 0:  # nothing new to try: the tree is final
            converged = prev_ok or len(cat.values) < 2
            break
        parts.append(_run_pairs(fn, cat, pairs, opts.n_images, opts, budget, ends=True))
        done = np.concatenate([done, pairs])
        dgm, ok = _tree_state(cat, Saddles.concat(parts, d))
        if prev_ok and ok and _same_diagram(prev, dgm):
            converged = True
            break
        prev, prev_ok = dgm, ok
        if rounds < opts.max_rounds:
            k *= 2
    return Saddles.concat(parts, d), k, rounds, converged


def _image_check(fn, cat: _Catalogue, sad: Saddles, tree_bands, opts: MergeOptions, seed):
    """Re-run up to ``check_bands`` bands of the tree with twice the images."""
    tree_bands = np.unique(np.asarray(tree_bands, dtype=int))
    m = min(opts.check_bands, len(tree_bands))
    if m == 0:
        e = np.empty(0)
        return {
            "bands": e.astype(int),
            "levels": e,
            "levels_2x": e,
            "band_max": e,
            "band_max_2x": e,
            "max_change": float("nan"),
        }
    chosen = np.sort(np.random.default_rng(seed).choice(tree_bands, m, replace=False))
    redo = _run_pairs(
        fn, cat, sad.pairs[chosen], 2 * opts.n_images, opts, [opts.saddle_budget], ends=False
    )
    levels, levels_2x = sad.levels[chosen], redo.levels
    return {
        "bands": chosen,
        "levels": levels,
        "levels_2x": levels_2x,
        "band_max": sad.band_max[chosen],
        "band_max_2x": redo.band_max,
        "max_change": float(np.max(np.abs(levels_2x - levels))),
    }


def merge_tree(f, starts, group=None, seed: int = 0, **options) -> MergeTree:
    """Merge tree (H0 persistence of the sublevel sets) of ``f`` over the basins found.

    See the module docstring for the method.

    Parameters
    ----------
    f : LossSurface or callable
        A callable mapping a float64 tensor (K, d) to values (K,),
        differentiably (twice, for Hessians) with torch operations; for a
        :class:`~lossbounds.landscape.surface.LossSurface` its ``losses`` method is used.
    starts : array_like, shape (S, d)
        Finite starting points (e.g. a scrambled Sobol sample of a box).
    group : lossbounds.landscape.symmetry.SymmetryGroup, optional
        Work modulo this group (``d`` must be its number of parameters).
    seed : int
        Seed of the random choice of bands re-run for ``image_check``.
    **options
        Fields of :class:`MergeOptions`.

    Returns
    -------
    MergeTree
        With a warning naming the counted rejections when no minimum was accepted.

    Raises
    ------
    ValueError
        For starts that are not a finite (S, d) array, a ``d`` that ``f`` or
        ``group`` does not accept, an ``f`` whose output is not a finite
        (S,) tensor with a ``grad_fn``, or an unknown or invalid option.
    """
    opts = parse_options(options)
    seed = check_int("seed", seed, 0)
    fn = Target(f)
    X = fn.check_starts(starts, group)
    with torch_threads(opts.threads):
        return _merge_tree(fn, X, group, seed, opts)


def _merge_tree(fn: Target, X: torch.Tensor, group, seed: int, opts: MergeOptions) -> MergeTree:
    cat, start_min, hits, rejected = _find_minima(fn, X, group, opts)
    n_found = len(cat.values)
    sad, k, rounds, converged = _connect(fn, cat, opts)
    hits = np.concatenate([hits, np.zeros(len(cat.values) - n_found, dtype=int)])
    refined = np.flatnonzero(sad.refined)
    if refined.size:
        sad.distinct[refined] = classes_of(
            _as_polished(sad, refined), group, opts, np.arange(refined.size)
        )[1]
    edges, levels, band, verified = _edges(sad)
    _, merges, _ = elder_tree(cat.values, edges, levels)
    check = _image_check(fn, cat, sad, band[[m[3] for m in merges]], opts, seed)
    return MergeTree(
        cat.points,
        cat.values,
        hits,
        start_min,
        sad,
        edges,
        levels,
        rejected,
        saturation_curve(start_min),
        check,
        k,
        rounds,
        cat.nullity,
        verified,
        converged,
    )


def _as_polished(sad: Saddles, rows: np.ndarray) -> Polished:
    """Return the refined saddles ``rows`` as a Polished block (for deduplication)."""
    n, d = len(rows), sad.points.shape[1]
    one = np.ones(n, dtype=bool)
    return Polished(
        sad.points[rows],
        sad.values[rows],
        np.zeros(n),
        np.zeros((n, d)),
        one,
        np.ones(n, int),
        np.zeros(n, int),
    )
