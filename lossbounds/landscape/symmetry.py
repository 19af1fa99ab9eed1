"""Hidden-unit symmetry group of a network: its structure, its order, its action.

Torch-free: the group acts on flat numpy vectors (layout of :mod:`lossbounds.landscape.layout`)
and the orders are exact integers. An element permutes the units of each hidden layer and flips
some of them; the rest of the network compensates according to the activation's flip kind.
|G| bounds b0(S_c) from below only just above a strict minimum with a free orbit
(:func:`lower_bound_certificate` checks the hypotheses). The action, which elements are kept
(l2 term, skips, unequal widths, layers without bias; elements of unequal widths hold
one row per layer) and the derivations: docs/symmetry.md.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import numpy as np

from lossbounds._checks import check_int
from lossbounds.landscape.layout import ParamLayout
from lossbounds.theory.groups import (
    GroupStructure,
    group_structure,
    log2_symmetry_group_order,
    structures_of,
    symmetry_description,
    symmetry_group_order,
)

__all__ = [
    "GroupElement",
    "SymmetryGroup",
    "dedup_modulo_group",
    "LowerBoundCertificate",
    "lower_bound_certificate",
    "GroupStructure",
    "group_structure",
    "symmetry_group_order",
    "log2_symmetry_group_order",
    "symmetry_description",
]


@dataclass(frozen=True)
class GroupElement:
    """A symmetry: per hidden layer a permutation and a flip pattern.

    Attributes
    ----------
    perms : numpy.ndarray of int, shape (H, h), or list of H arrays (h_l,)
        ``perms[l-1][j]`` = old index of the unit that becomes unit j of layer l
        (a list of rows for unequal widths).
    flips : numpy.ndarray of bool, shape (H, h), or list of H arrays (h_l,)
        ``flips[l-1][j]`` = whether the new unit j of layer l is flipped.
    """

    perms: np.ndarray | list
    flips: np.ndarray | list

    def __post_init__(self):
        """Store perms as int64 and flips as bool arrays (lists of rows when ragged)."""
        object.__setattr__(self, "perms", _rows(self.perms, np.int64))
        object.__setattr__(self, "flips", _rows(self.flips, bool))


def _rows(x, dtype):
    """One (H, h) array, or a list of 1-D arrays when the rows have different lengths."""
    try:
        out = np.asarray(x, dtype=dtype)
    except ValueError:  # ragged rows
        return [np.asarray(r, dtype=dtype) for r in x]
    return out if out.ndim == 2 else [np.asarray(r, dtype=dtype) for r in x]


def _unit_keys(p: dict, layer: int) -> np.ndarray:
    """Scalar per unit of ``layer`` that an element permutes (and flips negate): b_l or W_l 1."""
    b = p.get(f"b{layer}")
    return b if b is not None else p[f"W{layer}"].sum(axis=-1)


class SymmetryGroup:
    """The hidden-unit symmetry group of an architecture acting on flat vectors.

    The elements kept are those of :func:`group_structure` (module docstring).

    Parameters
    ----------
    arch : lossbounds.theory.architecture.Architecture
        The architecture.
    l2 : float, optional
        Coefficient of an l2 term lambda*||theta||^2 in the loss. The term is
        active when ``l2 > 0`` or ``arch.l2`` is true. Permutations and odd or
        even flips preserve ||theta||, but a sigmoid flip moves the outgoing
        weight into the next bias and a shift-odd flip adds a row of W_l to
        P_l and moves biases: with an active l2 term those flips are dropped
        from the group (permutations only), as in :func:`symmetry_group_order`.

    Attributes
    ----------
    structure : GroupStructure
        The elements kept.
    order : int
        |G|, exact (``structure.order``).
    flip_kind : {"odd", "sigmoid", "even", "shift_odd", None}
        The flip symmetry the group uses (None when the activation has none,
        for sigmoid or shift-odd with an active l2 term, and for shift-odd
        without projection skips).
    flip_layers : tuple of int
        The hidden layers (1-based) whose units can flip.
    """

    def __init__(self, arch, l2: float | None = None):
        self.arch = arch
        self.layout = ParamLayout(arch)
        if l2 is not None and not (np.isfinite(l2) and l2 >= 0):
            raise ValueError(f"l2 must be a finite number >= 0 or None, got {l2!r}")
        self.regularised = bool(arch.l2) or bool(l2)
        self.structures = structures_of(arch, self.regularised)
        self.widths, self.H = self.layout.widths, self.layout.hidden_layers
        self.equal_widths = len(set(self.widths)) == 1
        self.structure = self.structures[0] if self.equal_widths else None
        self.h = self.widths[0] if self.equal_widths else None
        if self.equal_widths:
            self.flip_layers = self.structure.flip_layers
        else:  # one single-layer structure per hidden layer
            self.flip_layers = tuple(i for i, st in enumerate(self.structures, 1) if st.flip_layers)
        kinds = {st.flip for st in self.structures} - {None}
        self.flip_kind = kinds.pop() if kinds else None
        self.has_flips = self.flip_kind is not None
        # mask[l-1]: whether the units of hidden layer l can flip
        self._flip_mask = np.isin(np.arange(1, self.H + 1), self.flip_layers)
        self.tied = self.equal_widths and self.structure.tied
        self.tied_flips = self.equal_widths and self.structure.tied_flips
        self.order = math.prod(st.order for st in self.structures)

    def __repr__(self) -> str:
        """Show the order, the flip kind, the skip and the sizes."""
        sizes = f"h={self.h}" if self.equal_widths else f"widths={self.widths}"
        return (
            f"SymmetryGroup(order={self.order}, flip={self.flip_kind!r}, "
            f"skip={self.arch.skip!r}, {sizes}, H={self.H})"
        )

    def _pack(self, rows):
        """Rows (one per hidden layer) as an (H, h) array, or a list for unequal widths."""
        return np.stack(rows) if self.equal_widths else list(rows)

    # -------------------------------------------------------------- elements
    def identity(self) -> GroupElement:
        """Return the neutral element."""
        return GroupElement(
            self._pack([np.arange(h) for h in self.widths]),
            self._pack([np.zeros(h, dtype=bool) for h in self.widths]),
        )

    def element(self, perms, flips) -> GroupElement:
        """Build an element from one permutation row and one flip row per hidden layer."""
        return GroupElement(self._pack(perms), self._pack(flips))

    def check_element(self, g: GroupElement) -> None:
        """Raise ``ValueError`` unless ``g`` belongs to this group."""
        H, widths = self.H, self.widths
        for name, rows in (("perms", g.perms), ("flips", g.flips)):
            if len(rows) != H or any(
                np.ndim(r) != 1 or len(r) != h for r, h in zip(rows, widths, strict=False)
            ):
                raise ValueError(
                    f"element.{name} must have one row per hidden layer with the layer widths "
                    f"{widths} (shape (H, h) for equal widths)"
                )
        if any(sorted(p) != list(range(len(p))) for p in (list(r) for r in g.perms)):
            raise ValueError("element.perms rows must be permutations of 0..h_l-1")
        if any(np.any(f) for f, m in zip(g.flips, self._flip_mask, strict=True) if not m):
            raise ValueError(
                f"element.flips must be all False in hidden layers without flips: activation "
                f"{self.arch.activation!r} (skip={self.arch.skip!r}, bias={self.arch.bias!r}) "
                f"flips only layers {list(self.flip_layers)}"
            )
        if self.tied and not (g.perms == g.perms[0]).all():
            raise ValueError("element.perms must be equal in all layers with identity skips")
        if self.tied_flips and not (g.flips == g.flips[0]).all():
            raise ValueError(
                "element.flips must be equal in all layers with identity skips "
                f"and {self.flip_kind!r} flips"
            )

    def random_element(self, rng) -> GroupElement:
        """Draw a uniformly random element (``rng``: numpy Generator or seed)."""
        rng = np.random.default_rng(rng)
        H, widths = self.H, self.widths
        if self.tied:
            perms = np.tile(rng.permutation(self.h), (H, 1))
        else:
            perms = self._pack([rng.permutation(h) for h in widths])
        if self.tied_flips:
            flips = np.tile(rng.random(self.h) < 0.5, (H, 1))
        else:
            flips = self._pack(
                [(rng.random(h) < 0.5) & m for h, m in zip(widths, self._flip_mask, strict=True)]
            )
        return GroupElement(perms, flips)

    def elements(self):
        """Iterate over all |G| elements (only sensible for small groups)."""
        H = self.H

        def flips_of(h, m):
            if not m:
                return [np.zeros(h, dtype=bool)]
            return [np.array(f, dtype=bool) for f in itertools.product([False, True], repeat=h)]

        per_flips = [flips_of(h, m) for h, m in zip(self.widths, self._flip_mask, strict=True)]
        if not self.tied:
            per_layer = [
                [(np.array(p), f) for p in itertools.permutations(range(h)) for f in fl]
                for h, fl in zip(self.widths, per_flips, strict=True)
            ]
            for combo in itertools.product(*per_layer):
                yield GroupElement(
                    self._pack([c[0] for c in combo]), self._pack([c[1] for c in combo])
                )
            return
        flip_choices = (
            [np.tile(f, (H, 1)) for f in per_flips[0]]
            if self.tied_flips
            else [np.stack(c) for c in itertools.product(*per_flips)]
        )
        for p in itertools.permutations(range(self.h)):
            for f in flip_choices:
                yield GroupElement(np.tile(np.array(p), (H, 1)), f)

    # ---------------------------------------------------------------- action
    def apply(self, theta, g: GroupElement) -> np.ndarray:
        """Image of ``theta`` under ``g``.

        Parameters
        ----------
        theta : array, shape (N,) or (K, N)
            Flat parameters (converted to float64 numpy).
        g : GroupElement
            A member of the group (checked).

        Returns
        -------
        numpy.ndarray, same shape as ``theta``, float64
        """
        theta = np.asarray(theta, dtype=np.float64)
        self.layout.check(theta)
        self.check_element(g)
        arch = self.arch
        p = self.layout.unflatten(theta)
        q = {}
        lead = theta.shape[:-1]
        kappa = 1.0 if self.flip_kind == "sigmoid" else 0.0
        shift = self.flip_kind == "shift_odd"
        signs_move = self.flip_kind in ("odd", "sigmoid")
        # State of the stream feeding the current layer: u' = sgn * u[perm] + delta.
        n_in = self.layout.n_inputs
        prev_perm = np.arange(n_in)
        prev_sgn = np.ones(n_in)
        delta = np.zeros((*lead, n_in))
        for layer in range(1, self.H + 1):
            perm, f = g.perms[layer - 1], g.flips[layer - 1]
            s = np.where(f, -1.0, 1.0)
            # Pi W A^{-1}: rows by the new order, columns by the old stream map.
            Wu = p[f"W{layer}"][..., perm, :][..., :, prev_perm] * prev_sgn[None, :]
            Wn = s[:, None] * Wu  # W' = S Pi W A^{-1}
            q[f"W{layer}"] = Wn
            b = p.get(f"b{layer}")  # without b_l the structure keeps delta = 0 here
            if b is not None:
                b = b[..., perm]
                q[f"b{layer}"] = s * b - np.einsum("...ij,...j->...i", Wn, delta)
            sgn = s if signs_move else np.ones(len(perm))
            # own offset of the new units: +1 (sigmoid), -b (shift-odd: sigma(-a) = sigma(a) - a)
            offset = kappa * f - (f * b if shift and b is not None else 0.0)
            if arch.skip == "identity" and layer >= 2:
                new_delta = offset + delta
            elif arch.skip == "projection" and layer >= 2:
                P = p[f"P{layer}"]
                Pn = sgn[:, None] * P[..., perm, :][..., :, prev_perm] * prev_sgn[None, :]
                if shift:  # a flipped row of P_l gains the original row of W_l
                    Pn = Pn + f[:, None] * Wu
                q[f"P{layer}"] = Pn
                new_delta = offset + np.einsum("...ij,...j->...i", Pn, delta)
            else:
                new_delta = np.broadcast_to(offset, (*lead, len(perm))).astype(np.float64)
            prev_perm, prev_sgn, delta = perm, sgn, new_delta
        vn = p["v"][..., prev_perm] * prev_sgn  # (..., h_H) or (..., C, h_H): columns move
        q["v"] = vn
        if "c" in p:
            V = vn.reshape(*lead, self.layout.n_outputs, len(prev_perm))
            q["c"] = p["c"] - np.einsum("...ci,...i->...c", V, delta)
        return self.layout.flatten(q)

    def orbit(self, theta, max_order: int = 100_000) -> np.ndarray:
        """All images g(theta), shape (|G|, N) (with repetitions if theta is not generic).

        Raises
        ------
        ValueError
            If ``theta`` is not a single vector of length N or ``|G| > max_order``.
        """
        theta = np.asarray(theta, dtype=np.float64)
        if theta.ndim != 1:
            raise ValueError(f"theta must be one vector of shape (N,), got shape {theta.shape}")
        if self.order > max_order:
            raise ValueError(
                f"group order {self.order} exceeds max_order={max_order}; "
                "use random_element or canonical instead"
            )
        return np.stack([self.apply(theta, g) for g in self.elements()])

    def orbit_size(self, theta, tol: float = 1e-6, max_order: int = 100_000) -> int:
        """Count the distinct points of the orbit of ``theta``.

        ``|G| <= max_order``: greedy count; the orbit points are visited in
        :meth:`elements` order and each point not yet within ``tol``
        (Euclidean) of a visited point starts a new class, covering every
        point within ``tol`` of it. ``|G| > max_order``: ``|G| //``
        :meth:`stabiliser_order` (no enumeration; untied groups only). Both
        agree when the images of ``theta`` either coincide (distance <= tol)
        or lie farther than ``2 tol`` apart; a stabiliser order that does not
        divide |G| (a tolerance straddling near-coincident images) warns.

        Parameters
        ----------
        theta : array, shape (N,)
            One parameter vector.
        tol : float
            Distance below which two images count as one point (> 0).
        max_order : int
            Largest group enumerated (see :meth:`orbit`).

        Returns
        -------
        int
            Between 1 and |G| (|G| for a generic theta).

        Raises
        ------
        ValueError
            If ``tol`` is not a finite number > 0, or as :meth:`orbit` (small
            groups) or :meth:`stabiliser_order` (large groups: a tied group,
            or a stabiliser beyond the search's cap).
        """
        if not (tol > 0 and math.isfinite(tol)):
            raise ValueError(f"tol must be a finite number > 0, got {tol!r}")
        if self.order > max_order:
            stab = self.stabiliser_order(theta, tol=tol, max_order=max_order)
            if self.order % stab:
                warnings.warn(
                    f"stabiliser order {stab} does not divide |G| = {self.order}: images of "
                    f"theta lie near distance tol = {tol:g}; the orbit size is rounded down",
                    stacklevel=2,
                )
            return self.order // stab
        pts = self.orbit(theta, max_order=max_order)
        seen, count = np.zeros(len(pts), dtype=bool), 0
        for i in range(len(pts)):
            if not seen[i]:
                seen |= np.linalg.norm(pts[i] - pts, axis=-1) <= tol
                count += 1
        return count

    def stabiliser_order(
        self, theta, tol: float = 1e-6, max_order: int = 100_000, max_elements: int = 100_000
    ) -> int:
        """Count the elements g with ``||g(theta) - theta|| <= tol``, without enumerating G.

        Layer-by-layer search for untied groups, enumeration for tied ones
        up to ``max_order``; see
        :func:`lossbounds.landscape.stabiliser.stabiliser_order` (arguments,
        cost, errors).
        """
        from lossbounds.landscape.stabiliser import stabiliser_order

        return stabiliser_order(self, theta, tol, max_order, max_elements)

    def canonical(self, theta) -> np.ndarray:
        """Return a canonical representative of the orbit of ``theta`` (shape (N,)).

        Layer by layer in order l = 1..H (a flip of layer l can move the
        biases of later layers), or layer 1 for the tied residual stream: in a
        layer whose units can flip (:attr:`flip_layers`), sort the units by
        |bias| and flip those whose bias is negative; elsewhere sort them by
        bias. For generic theta (nonzero, pairwise distinct bias magnitudes)
        ``canonical(g(theta)) == canonical(theta)`` for every g up to
        rounding; near ties the choice is unstable, so deduplication compares
        with a distance tolerance (see :meth:`distance`).
        """
        theta = np.asarray(theta, dtype=np.float64)
        if theta.ndim != 1:
            raise ValueError(f"theta must be one vector of shape (N,), got shape {theta.shape}")
        self.layout.check(theta)
        H, h = self.H, self.h
        if self.tied:
            p = self.layout.unflatten(theta)
            b1 = _unit_keys(p, 1)
            perm = np.argsort(np.abs(b1) if self.has_flips else b1, kind="stable")
            flips = np.zeros((H, h), dtype=bool)
            if self.tied_flips:
                flips[:] = (b1 < 0)[perm]
            elif self.has_flips:  # even: each layer's flips are independent, stream unchanged
                for layer in range(1, H + 1):
                    flips[layer - 1] = (_unit_keys(p, layer) < 0)[perm]
            return self.apply(theta, GroupElement(np.tile(perm, (H, 1)), flips))
        for layer in range(1, H + 1):
            b = _unit_keys(self.layout.unflatten(theta), layer)
            flips = self._flip_mask[layer - 1]
            perm = np.argsort(np.abs(b) if flips else b, kind="stable")
            g = self.identity()
            g.perms[layer - 1] = perm
            if flips:
                g.flips[layer - 1] = (b < 0)[perm]
            theta = self.apply(theta, g)
        return theta

    def lower_bound_certificate(
        self, theta, gradient, hessian_eigenvalues, n_samples, *, tol: float = 1e-6, **tolerances
    ) -> LowerBoundCertificate:
        """:func:`lower_bound_certificate` at ``theta`` for this group.

        The orbit size is :meth:`orbit_size` of ``theta`` (distance ``tol``);
        ``gradient``, ``hessian_eigenvalues``, ``n_samples`` and
        ``tolerances`` (``grad_tol``, ``eig_rtol``) are passed on. Raises
        ``ValueError`` as :meth:`orbit_size` and :func:`lower_bound_certificate`.
        """
        size = self.orbit_size(theta, tol=tol)
        return lower_bound_certificate(
            gradient, hessian_eigenvalues, n_samples, size, self.order, **tolerances
        )

    def distance(self, theta_a, theta_b, max_order: int = 5_000) -> float:
        """Euclidean distance between the orbits of two vectors.

        Exact minimum over the orbit of ``theta_a`` when ``|G| <= max_order``,
        otherwise the distance between canonical representatives (an upper
        bound, equal for generic nearby points).
        """
        theta_b = np.asarray(theta_b, dtype=np.float64)
        if self.order <= max_order:
            return float(np.min(np.linalg.norm(self.orbit(theta_a) - theta_b, axis=1)))
        return float(np.linalg.norm(self.canonical(theta_a) - self.canonical(theta_b)))


def dedup_modulo_group(
    points, group: SymmetryGroup, tol: float = 1e-5, order=None, exact_limit: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster points that coincide modulo the symmetry group.

    Greedy: points are visited in ``order`` (e.g. ascending loss; default
    the given order); a point joins the first representative whose distance
    modulo G is <= ``tol``, otherwise it becomes a new representative.
    The distance compares canonical representatives
    (:meth:`SymmetryGroup.canonical`); when ``|G| <= exact_limit`` a pair
    that is not within ``tol`` that way is re-checked with the exact
    orbit distance (robust near bias ties, where canonical forms jump).

    Parameters
    ----------
    points : array, shape (K, N)
    group : SymmetryGroup
    tol : float
        Euclidean distance tolerance (> 0).
    order : array of int, optional
        Visiting order.
    exact_limit : int
        Largest group for the exact check.

    Returns
    -------
    representatives : numpy.ndarray of int, shape (R,)
        Indices of one point per class.
    assignment : numpy.ndarray of int, shape (K,)
        Class index (into ``representatives``) of every point.

    Raises
    ------
    ValueError
        If ``points`` is not (K, N) for the group's N, or ``tol`` is not > 0.
    """
    P = np.atleast_2d(np.asarray(points, dtype=np.float64))
    if P.shape[1] != group.layout.n_params:
        raise ValueError(
            f"points must have shape (K, N) with N = {group.layout.n_params}, got {P.shape}"
        )
    if not (tol > 0 and math.isfinite(tol)):
        raise ValueError(f"tol must be a finite number > 0, got {tol!r}")
    K = P.shape[0]
    order = np.arange(K) if order is None else np.asarray(order)
    canon = np.stack([group.canonical(p) for p in P]) if K else P
    reps: list[int] = []
    orbits: list[np.ndarray] = []  # orbit of each representative, for the exact check
    exact = group.order <= exact_limit
    assign = np.full(K, -1)
    for i in order:
        found = -1
        for r, j in enumerate(reps):
            if np.linalg.norm(canon[i] - canon[j]) <= tol or (
                exact and np.min(np.linalg.norm(orbits[r] - P[i], axis=1)) <= tol
            ):
                found = r
                break
        if found < 0:
            reps.append(int(i))
            if exact:
                orbits.append(group.orbit(P[i], max_order=exact_limit))
            found = len(reps) - 1
        assign[i] = found
    return np.array(reps, dtype=int), assign


@dataclass(frozen=True)
class LowerBoundCertificate:
    """Whether the hypotheses of the lower bound b0(S_c) >= |G| hold at a point.

    The proposition of docs/symmetry.md, section 7: if theta* is a strict local
    minimiser and its orbit has |G| distinct points, then every sublevel set
    S_c with c just above L(theta*) has at least |G| components.

    Attributes
    ----------
    holds : bool
        All hypotheses certified: b0(S_c) >= ``order`` for c in a window above L*.
    bound : int or None
        The lower bound on b0 established for that window: ``order`` when
        ``holds``; ``orbit_size`` when the minimum is certified strict but
        the orbit has fewer distinct points (non-trivial stabiliser); None
        when strictness is not certified.
    order, orbit_size : int
        |G| and the number of distinct orbit points.
    gradient_norm, min_eigenvalue, max_eigenvalue : float
        ||grad L(theta*)|| and the extreme Hessian eigenvalues.
    n_samples, n_params : int or None
        m and N (m None: the m >= N check was skipped).
    reasons : tuple of str
        One line per failed hypothesis (empty when ``holds``).
    """

    holds: bool
    bound: int | None
    order: int
    orbit_size: int
    gradient_norm: float
    min_eigenvalue: float
    max_eigenvalue: float
    n_samples: int | None
    n_params: int
    reasons: tuple[str, ...]


def lower_bound_certificate(
    gradient,
    hessian_eigenvalues,
    n_samples: int | None,
    orbit_size: int,
    order: int,
    *,
    grad_tol: float = 1e-8,
    eig_rtol: float = 1e-8,
) -> LowerBoundCertificate:
    """Certify the hypotheses of b0(S_c) >= |G| at a candidate minimum.

    Pure and torch-free: the caller computes the gradient and the Hessian's
    eigenvalues at theta* (float64) and the orbit size
    (:meth:`SymmetryGroup.orbit_size`). The hypotheses (docs/symmetry.md,
    section 7) are checked as:

    - critical point: ``||gradient|| <= grad_tol``;
    - strict minimum: the Hessian is positive definite with a margin,
      ``min eigenvalue > eig_rtol * max |eigenvalue|`` (sufficient at a
      critical point, not necessary);
    - ``m >= N``: with fewer samples than parameters an interpolating MSE
      minimum lies on a manifold of minima (not strict) and the Hessian has
      rank <= m there, so a positive smallest eigenvalue is rounding. Pass
      ``n_samples=None`` to skip this check where it does not apply (a loss
      whose minima need not interpolate, e.g. one with an l2 term);
    - free orbit: ``orbit_size == order``.

    Parameters
    ----------
    gradient : array, shape (N,)
        grad L(theta*).
    hessian_eigenvalues : array, shape (N,)
        Eigenvalues of the Hessian of L at theta* (any order).
    n_samples : int or None
        m, the number of training samples (None: skip the m >= N check).
    orbit_size : int
        Number of distinct points of the orbit G theta*, between 1 and ``order``.
    order : int
        |G|.
    grad_tol : float
        Largest gradient norm of a critical point (>= 0).
    eig_rtol : float
        Relative margin of positive definiteness (>= 0).

    Returns
    -------
    LowerBoundCertificate

    Raises
    ------
    ValueError
        If the arrays are not finite 1-D arrays of the same length N >= 1, a
        count is not an integer >= 1, ``orbit_size > order``, or a tolerance
        is negative or not finite.
    """
    g = np.asarray(gradient, dtype=np.float64)
    ev = np.asarray(hessian_eigenvalues, dtype=np.float64)
    if g.ndim != 1 or g.size == 0 or ev.shape != g.shape:
        raise ValueError(
            f"gradient and hessian_eigenvalues must be 1-D arrays of the same length N >= 1, "
            f"got shapes {g.shape} and {ev.shape}"
        )
    if not (np.isfinite(g).all() and np.isfinite(ev).all()):
        raise ValueError("gradient and hessian_eigenvalues must be finite")
    for name, tol in (("grad_tol", grad_tol), ("eig_rtol", eig_rtol)):
        if not (math.isfinite(tol) and tol >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {tol!r}")
    order, orbit_size = check_int("order", order, 1), check_int("orbit_size", orbit_size, 1)
    if orbit_size > order:
        raise ValueError(f"orbit_size must be <= order = {order}, got {orbit_size}")
    m = None if n_samples is None else check_int("n_samples", n_samples, 1)
    N, gnorm = g.size, float(np.linalg.norm(g))
    lo, hi = float(ev.min()), float(ev.max())
    reasons = []
    if gnorm > grad_tol:
        reasons.append(
            f"not a critical point: ||gradient|| = {gnorm:.3e} > grad_tol = {grad_tol:g}"
        )
    if not lo > eig_rtol * float(np.abs(ev).max()):
        reasons.append(
            f"Hessian not positive definite: smallest eigenvalue {lo:.3e}, largest {hi:.3e} "
            f"(needs > {eig_rtol:g} * max |eigenvalue|)"
        )
    if m is not None and m < N:
        reasons.append(f"m = {m} < N = {N}: an interpolating minimum is not strict")
    strict = not reasons
    if orbit_size < order:
        reasons.append(f"orbit has {orbit_size} distinct points < |G| = {order} (fixed points)")
    bound = orbit_size if strict else None  # |G| when the orbit is free
    return LowerBoundCertificate(
        holds=not reasons, bound=bound, order=order, orbit_size=orbit_size,
        gradient_norm=gnorm, min_eigenvalue=lo, max_eigenvalue=hi,
        n_samples=m, n_params=N, reasons=tuple(reasons),
    )  # fmt: skip
