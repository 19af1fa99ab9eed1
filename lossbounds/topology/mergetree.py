"""The result of :func:`~lossbounds.topology.connectivity.merge_tree`: minima, bands, tree, diagram."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from lossbounds.landscape.newton import chao1
from lossbounds.topology.persistence import elder_rule

__all__ = ["Saddles", "MergeTree", "elder_tree"]


def _sorted_bars(bars) -> np.ndarray:
    dgm = np.asarray(bars, dtype=np.float64).reshape(-1, 2)
    dgm = dgm[dgm[:, 1] > dgm[:, 0]]
    return np.ascontiguousarray(dgm[np.lexsort((dgm[:, 1], dgm[:, 0]))])


def elder_tree(values: np.ndarray, edges: np.ndarray, levels: np.ndarray):
    """Kruskal over edges in order of level (ties by edge index) with the elder rule.

    Returns the diagram (r, 2), the merges as (node_a, node_b, level, edge)
    tuples (nodes 0..n-1 are the minima, node n + i is merge i), and the
    tree nodes of the components that never merge.
    """
    n = len(values)
    order = np.lexsort((np.arange(len(levels)), levels))
    ends = np.asarray(edges, dtype=int).reshape(-1, 2)[order]
    joins, roots = elder_rule(values.tolist(), ends[:, 0].tolist(), ends[:, 1].tolist())
    node = list(range(n))
    bars, merges = [], []
    for pos, ra, rb in joins:
        e = int(order[pos])
        bars.append((values[rb], levels[e]))
        merges.append((node[ra], node[rb], float(levels[e]), e))
        node[ra] = n + len(merges) - 1
    bars.extend((values[r], np.inf) for r in roots)
    return _sorted_bars(bars), merges, [node[r] for r in roots]


@dataclass
class Saddles:
    """One row per band (a path between a candidate pair of minima).

    Attributes
    ----------
    points : numpy.ndarray, shape (E, d)
        Refined saddle (or the band's highest image when refinement failed).
    values : numpy.ndarray, shape (E,)
        ``f`` at ``points``.
    pairs : numpy.ndarray of int, shape (E, 2)
        The minima (indices into ``MergeTree.minima``) the band joined.
    ends : numpy.ndarray of int, shape (E, 2)
        The minima reached by descending from both sides of a refined saddle
        (-1 when the saddle was not refined or a side ended elsewhere).
    index : numpy.ndarray of int, shape (E,)
        Number of negative Hessian eigenvalues at ``points``.
    refined : numpy.ndarray of bool, shape (E,)
        Newton refinement reached an index-1 saddle (gradient <= ``grad_tol``).
    band_max : numpy.ndarray, shape (E,)
        Highest value among the band's images.
    fallback : numpy.ndarray of bool, shape (E,)
        The band's ends were joined at ``band_max`` (refinement failed, or the
        saddle joins other minima than the band's ends).
    converged : numpy.ndarray of bool, shape (E,)
        The band's forces fell below ``neb_tol``.
    distinct : numpy.ndarray of int, shape (E,)
        Class of the refined saddle among the distinct index-1 saddles
        (modulo the group), -1 if not refined.
    """

    points: np.ndarray
    values: np.ndarray
    pairs: np.ndarray
    ends: np.ndarray
    index: np.ndarray
    refined: np.ndarray
    band_max: np.ndarray
    fallback: np.ndarray
    converged: np.ndarray
    distinct: np.ndarray

    @classmethod
    def concat(cls, parts: list[Saddles], d: int) -> Saddles:
        """Join the rows of several ``Saddles`` (points of dimension ``d``)."""
        if not parts:
            empty = np.empty(0)
            return cls(
                np.empty((0, d)),
                empty,
                np.empty((0, 2), int),
                np.empty((0, 2), int),
                empty.astype(int),
                empty.astype(bool),
                empty,
                empty.astype(bool),
                empty.astype(bool),
                empty.astype(int),
            )
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    @property
    def levels(self) -> np.ndarray:
        """Merge level of every band: saddle value if refined, else band maximum, shape (E,)."""
        return np.where(self.refined, self.values, self.band_max)


@dataclass
class MergeTree:
    """Merge tree of the sublevel sets of ``f`` over the basins found by :func:`merge_tree`.

    With a symmetry group the minima are classes modulo the group (stored as
    canonical representatives) and the tree is that of the quotient: a
    path from ``m_i`` to any ``g m_j`` joins classes i and j.

    Attributes
    ----------
    minima : numpy.ndarray, shape (k, d)
        Distinct minima (positive semi-definite Hessian), ascending value
        among those found from the starts, then those found below saddles.
        Degenerate minima (``nullity > 0``) of equal value joined by a band
        whose barrier is within its resolution are one component (one row).
    minima_values : numpy.ndarray, shape (k,)
    hits : numpy.ndarray of int, shape (k,)
        Starts that descended to each minimum (0 for minima found only by
        descending from a saddle).
    start_minimum : numpy.ndarray of int, shape (S,)
        Minimum reached from every start, -1 when the end point was not a minimum.
    saddles : Saddles
        One row per band.
    edges : numpy.ndarray of int, shape (e, 2)
        Graph of the merge tree computation (pairs of minima).
    edge_levels : numpy.ndarray, shape (e,)
    rejected : dict
        End points of the starts that are not minima, counted by reason:
        ``"saddle"`` (a negative eigenvalue), ``"not_converged"`` (gradient
        above tolerance), ``"non_finite"``, ``"flat_hessian"`` (zero Hessian).
    saturation : numpy.ndarray of int, shape (S,)
        Distinct minima among the first s + 1 starts (in start order).
    image_check : dict
        Barrier convergence against the number of images: ``"bands"``,
        ``"levels"``, ``"levels_2x"``, ``"band_max"``, ``"band_max_2x"``,
        ``"max_change"`` (NaN when no band was checked).
    n_neighbors : int
        Neighbours per minimum in the last round.
    rounds : int
        Pairing rounds run.
    nullity : numpy.ndarray of int, shape (k,)
        Zero Hessian eigenvalues at each minimum (0: strict minimum).
    edge_refined : numpy.ndarray of bool, shape (e,)
        The edge's level is a refined index-1 saddle whose two descents end
        at the minima it joins (False: a band maximum, an upper bound).
    converged : bool
        The rounds rule held: every merge is a refined saddle and a last
        round with twice the neighbours changed nothing.
    """

    minima: np.ndarray
    minima_values: np.ndarray
    hits: np.ndarray
    start_minimum: np.ndarray
    saddles: Saddles
    edges: np.ndarray
    edge_levels: np.ndarray
    rejected: dict
    saturation: np.ndarray
    image_check: dict
    n_neighbors: int
    rounds: int
    nullity: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    edge_refined: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    converged: bool = False

    def merges(self):
        """Return the tree: its diagram, merges and root nodes.

        Returns
        -------
        diagram : numpy.ndarray, shape (r, 2)
            The H0 diagram.
        merges : list of tuple
            ``(node_a, node_b, level, edge)`` per merge; nodes ``0..k-1`` are the
            minima, node ``k + i`` is merge i; ``edge`` indexes ``edges``.
        roots : list of int
            Tree nodes of the components that never merge.
        """
        return elder_tree(self.minima_values, self.edges, self.edge_levels)

    @property
    def refined(self) -> np.ndarray:
        """One bool per finite bar of :meth:`diagram` (same order): its death is a verified saddle.

        True where the merge level is a refined index-1 saddle whose two
        descents end at the minima it joins; False where it is a band
        maximum (an upper bound of the merge level).
        """
        _, merges, _ = self.merges()
        birth = list(self.minima_values)  # lowest minimum under every tree node
        rows = []
        for a, b, level, e in merges:
            born = max(birth[a], birth[b])  # the younger component dies
            birth.append(min(birth[a], birth[b]))
            if level > born:
                rows.append((born, level, bool(self.edge_refined[e])))
        if not rows:
            return np.empty(0, dtype=bool)
        arr = np.array([(r[0], r[1]) for r in rows])
        order = np.lexsort((arr[:, 1], arr[:, 0]))
        return np.array([rows[i][2] for i in order], dtype=bool)

    @property
    def refined_fraction(self) -> float:
        """Fraction of finite bars whose death is a verified saddle (NaN without finite bars)."""
        r = self.refined
        return float(r.mean()) if r.size else float("nan")

    @property
    def chao1(self) -> float:
        """Bias-corrected Chao1 estimate of the number of minima reachable from such starts."""
        return chao1(self.hits[self.hits > 0])

    def diagram(self) -> np.ndarray:
        """H0 diagram (r, 2), float64: rows (birth, death), sorted by birth then death.

        Births are minima values, deaths merge levels (elder rule); zero-length
        bars are dropped. There is one infinite bar per connected component of
        the graph of edges.
        """
        return self.merges()[0]

    def betti0(self, c):
        """b0 of the sublevel set at level(s) ``c``: bars with ``birth <= c < death``.

        Parameters
        ----------
        c : float or array_like
            Finite level(s).

        Returns
        -------
        int, or numpy.ndarray of int with the shape of ``c``.
        """
        return _count_alive(self.diagram(), c, "c")

    def n_persistent(self, t, scale: float = 1.0):
        """Count the H0 bars with persistence ``>= t * scale`` (infinite bars always count).

        Parameters
        ----------
        t : float or array_like
            Threshold(s) >= 0, e.g. swept over a grid.
        scale : float
            Unit of persistence (e.g. ``var(y)`` for a network's loss), > 0.

        Returns
        -------
        int, or numpy.ndarray of int with the shape of ``t``.
        """
        lv = _levels(t, "t")
        if (lv < 0).any() or not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"t must be >= 0 and scale a finite number > 0, got {t!r}, {scale!r}")
        dgm = self.diagram()
        pers = dgm[:, 1] - dgm[:, 0]
        out = (pers[None, :] >= scale * lv.reshape(-1, 1)).sum(axis=1)
        return int(out[0]) if lv.ndim == 0 else out.reshape(lv.shape)

    @property
    def n_saddles(self) -> int:
        """Number of distinct refined index-1 saddles (modulo the group)."""
        return int(np.unique(self.saddles.distinct[self.saddles.refined]).size)

    def n_minima_below(self, c):
        """Count the minima with value <= c (float or array -> int or array)."""
        lv = _levels(c, "c")
        out = (self.minima_values[None, :] <= lv.reshape(-1, 1)).sum(axis=1)
        return int(out[0]) if lv.ndim == 0 else out.reshape(lv.shape)

    def n_saddles_below(self, c):
        """Count the distinct refined index-1 saddles with value <= c (modulo the group)."""
        lv = _levels(c, "c")
        s = self.saddles
        _, first = np.unique(s.distinct[s.refined], return_index=True)
        vals = s.values[s.refined][first]
        out = (vals[None, :] <= lv.reshape(-1, 1)).sum(axis=1)
        return int(out[0]) if lv.ndim == 0 else out.reshape(lv.shape)

    def morse_lower(self, c):
        """Weak Morse lower bound #minima(c) - #index-1 saddles(c) of b0(c), from what was found.

        It is a true lower bound of b0 only when every index-1 saddle below c
        was found; a value above :meth:`betti0` flags saddles that were missed.
        """
        return self.n_minima_below(c) - self.n_saddles_below(c)


def _levels(c, name: str) -> np.ndarray:
    try:
        lv = np.asarray(c, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number or array of numbers, got {c!r}") from None
    if not np.isfinite(lv).all():
        raise ValueError(f"{name} must be finite, got {c!r}")
    return lv


def _count_alive(dgm: np.ndarray, c, name: str):
    lv = _levels(c, name)
    alive = (dgm[None, :, 0] <= lv.reshape(-1, 1)) & (lv.reshape(-1, 1) < dgm[None, :, 1])
    out = alive.sum(axis=1)
    return int(out[0]) if lv.ndim == 0 else out.reshape(lv.shape)
