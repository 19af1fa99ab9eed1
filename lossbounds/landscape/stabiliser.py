"""Exact stabiliser order of a point under the hidden-unit symmetry group, without enumerating G.

|Stab(theta)| = #{g in G : ||g(theta) - theta|| <= tol}; the orbit then has
|G| / |Stab(theta)| points. The search builds g layer by layer (docs/symmetry.md,
"Stabiliser without enumeration"): with the layers after l left at the identity,
the layer-l block of g(theta) (rows of W_l, b_l and P_l) is final, and its row j
depends only on the prefix (layers < l) and on (perm_l[j], flip_l[j]). Two calls of
:meth:`SymmetryGroup.apply` per prefix give every candidate row; a choice whose row
already differs from theta's row j by more than ``tol`` cannot belong to the
stabiliser (a row is part of the vector), so pruning with ``tol`` is exact. Each
surviving element is accepted by the full ``apply`` test. The action is
:meth:`SymmetryGroup.apply` only: no second copy of the symmetry rule.
"""

from __future__ import annotations

import math

import numpy as np

from lossbounds._checks import check_int

__all__ = ["stabiliser_order", "unit_classes"]


def stabiliser_order(
    group, theta, tol: float = 1e-6, max_order: int = 100_000, max_elements: int = 100_000
) -> int:
    """Count the elements g of ``group`` with ``||g(theta) - theta|| <= tol``.

    Untied groups (no identity skips) are searched layer by layer (module
    docstring); the cost is two ``apply`` calls per explored partial element
    plus one per complete candidate, i.e. about ``2 H + 1`` calls at a generic
    point, whatever |G|. Tied groups (identity skips share one permutation over
    all layers) are enumerated when ``|G| <= max_order``.

    Parameters
    ----------
    group : lossbounds.landscape.symmetry.SymmetryGroup
    theta : array, shape (N,)
        One parameter vector.
    tol : float
        Euclidean distance below which g fixes theta (finite, > 0).
    max_order : int
        Largest tied group enumerated.
    max_elements : int
        Largest number of (partial or complete) elements the search explores;
        a point that needs more (e.g. 7 units alike in their incoming rows but
        not their outgoing ones: 7! candidates, each refused at the last layer)
        is refused rather than searched for long. Dead and twin units are
        counted apart (:func:`unit_classes`) and never cost search.

    Returns
    -------
    int
        Between 1 (generic theta) and |G|.

    Raises
    ------
    ValueError
        If ``theta`` is not one vector of length N, ``tol`` is not finite and
        > 0, the group is tied with ``|G| > max_order``, or the search explores
        more than ``max_elements`` elements.
    """
    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim != 1:
        raise ValueError(f"theta must be one vector of shape (N,), got shape {theta.shape}")
    group.layout.check(theta)
    if not (tol > 0 and math.isfinite(tol)):
        raise ValueError(f"tol must be a finite number > 0, got {tol!r}")
    max_elements = check_int("max_elements", max_elements, 1)
    if group.tied:
        if group.order > check_int("max_order", max_order, 1):
            raise ValueError(
                f"group order {group.order} exceeds max_order={max_order} and the group is "
                "tied (identity skips share one permutation over all layers): the layer-by-layer "
                "search does not apply, and enumeration is refused"
            )
        return sum(
            int(np.linalg.norm(group.apply(theta, g) - theta) <= tol) for g in group.elements()
        )
    dead, twins = unit_classes(group, theta, tol)
    search = _Search(group, theta, tol, max_elements, dead, twins)
    factor = 1
    for d, c, flips in zip(dead, twins, group._flip_mask, strict=True):
        k = int(d.sum())
        factor *= math.factorial(k) * (2**k if flips else 1)
        factor *= math.prod(math.factorial(int(n)) for n in np.bincount(c[c >= 0]))
    return factor * search.count([], [])


def _signatures(group, theta) -> list:
    """Per hidden layer, one row per unit: its incoming rows, then its outgoing columns."""
    p = group.layout.unflatten(theta)
    out = []
    for layer in range(1, group.H + 1):
        nxt = (
            [p["v"].reshape(-1, group.widths[-1])]
            if layer == group.H
            else [p[k] for k in (f"W{layer + 1}", f"P{layer + 1}") if k in p]
        )
        out.append(np.concatenate([_block(group, theta, layer), *(o.T for o in nxt)], axis=1))
    return out


def unit_classes(group, theta, tol: float) -> tuple[list, list]:
    """Dead units and twin classes of every hidden layer, counted apart from the search.

    A unit is *dead* when its incoming rows and outgoing columns are all within
    ``tol / (2 sqrt(k))`` of 0 (k: hidden units in all); two live units are *twins* when
    those rows and columns agree within that threshold (classes: connected components).
    Every signed permutation of dead units fixes theta (zero rows and columns stay zero; a
    flip's offset into the next bias is a zero weight times a constant), and a stabiliser
    element maps dead units to dead units: that part is ``k! 2^k`` per layer (``k!`` without
    flips). Permuting twins fixes theta, so each stabiliser element has ``prod |C|!`` images
    under those permutations, exactly one of which takes the twins of every class in
    increasing order: the search counts only those (docs/symmetry.md).

    Returns
    -------
    dead : list of bool arrays (h_l,)
    twins : list of int arrays (h_l,)
        Class label per unit (-1: no twin, or dead).
    """
    sigs = _signatures(group, theta)
    limit = tol / (2.0 * math.sqrt(sum(len(s) for s in sigs)))
    dead, twins = [], []
    for sig in sigs:
        d = np.linalg.norm(sig, axis=1) <= limit
        close = (np.linalg.norm(sig[:, None] - sig[None], axis=-1) <= limit) & ~d[:, None] & ~d
        label = np.full(len(sig), -1)
        for i in range(len(sig)):  # connected components of the closeness relation
            if label[i] < 0 and close[i].sum() > 1:
                members, todo = {i}, [i]
                while todo:
                    new = set(np.flatnonzero(close[todo.pop()])) - members
                    members |= new
                    todo.extend(new)
                label[sorted(members)] = i
        dead.append(d)
        twins.append(label)
    return dead, twins


class _Search:
    """Depth-first search over the per-layer choices compatible with theta's rows."""

    def __init__(self, group, theta, tol, max_elements, dead, twins):
        self.group, self.theta, self.tol, self.cap = group, theta, tol, max_elements
        self.dead = dead  # per layer: dead units stay in place, unflipped (counted apart)
        self.twins = twins  # per layer: twin classes, taken in increasing order (counted apart)
        self.targets = [_block(group, theta, layer) for layer in range(1, group.H + 1)]
        self.explored = 0

    def _element(self, perms, flips, flip_next: bool):
        """Return the prefix, then the next layer unpermuted with all flips ``flip_next``."""
        g = self.group
        rest = range(len(perms), g.H)
        ps = [*perms, *(np.arange(g.widths[k]) for k in rest)]
        fs = [*flips, *(np.full(g.widths[k], flip_next and k == len(perms)) for k in rest)]
        return g.element(ps, fs)

    def count(self, perms: list, flips: list) -> int:
        """Stabiliser elements extending the prefix (``perms``, ``flips``: one row per layer)."""
        self.explored += 1
        if self.explored > self.cap:
            raise ValueError(
                f"stabiliser search explored more than max_elements={self.cap} elements "
                "(a very degenerate point); raise max_elements or treat the point as degenerate"
            )
        g, layer = self.group, len(perms) + 1
        if layer > g.H:
            image = g.apply(self.theta, self._element(perms, flips, False))
            return int(np.linalg.norm(image - self.theta) <= self.tol)
        choices = (False, True) if g._flip_mask[layer - 1] else (False,)
        rows = [
            _block(g, g.apply(self.theta, self._element(perms, flips, f)), layer) for f in choices
        ]
        target, dead = self.targets[layer - 1], self.dead[layer - 1]
        # ok[j, i, k]: new unit j may be old unit i with flip choices[k]
        ok = np.stack(
            [np.linalg.norm(target[:, None, :] - r[None, :, :], axis=-1) <= self.tol for r in rows],
            axis=-1,
        )
        ok[dead, :, :] = False
        ok[:, dead, :] = False
        ok[np.flatnonzero(dead), np.flatnonzero(dead), 0] = True
        total = 0
        for perm, flip in _matchings(ok, choices, self.twins[layer - 1]):
            total += self.count([*perms, perm], [*flips, flip])
        return total


def _block(group, vec, layer: int) -> np.ndarray:
    """Rows of layer ``layer`` of a flat vector: [W_l | b_l | P_l], shape (h_l, k)."""
    p = group.layout.unflatten(vec)
    parts = [p[f"W{layer}"]]
    if p.get(f"b{layer}") is not None:
        parts.append(p[f"b{layer}"][:, None])
    if p.get(f"P{layer}") is not None:
        parts.append(p[f"P{layer}"])
    return np.concatenate(parts, axis=1)


def _matchings(ok: np.ndarray, choices, twins: np.ndarray):
    """Yield (perm, flip) rows: perm a permutation with ``ok[j, perm[j], k]`` for flip choices[k].

    Old units of one twin class (``twins``: label per unit, -1 none) are used in increasing order.
    """
    h = ok.shape[0]
    perm, flip, used = np.zeros(h, dtype=np.int64), np.zeros(h, dtype=bool), np.zeros(h, bool)

    def allowed(i) -> bool:  # the lower members of i's twin class are already placed
        return twins[i] < 0 or bool(np.all(used[:i][twins[:i] == twins[i]]))

    def extend(j):
        if j == h:
            yield perm.copy(), flip.copy()
            return
        for i in np.flatnonzero(ok[j].any(axis=-1) & ~used):
            if not allowed(i):
                continue
            used[i] = True
            for k in np.flatnonzero(ok[j, i]):
                perm[j], flip[j] = i, choices[k]
                yield from extend(j + 1)
            used[i] = False

    yield from extend(0)
