"""Tests for the stabiliser search (lossbounds.landscape.stabiliser) against closed forms.

A point is built from a generic random vector by making some hidden units dead (zero
incoming row, bias, skip row and outgoing column), equal to another unit (twins), or equal
to another unit's flip under an odd activation (negated). Expected stabiliser orders, by
hand, for units of one layer whose rows are otherwise generic:

- k dead units in a layer whose units can flip: k! 2^k (any permutation of them, any flips:
  a flip negates zero rows, and for sigmoid moves a zero outgoing weight into the next bias);
  in a layer without flips (sigmoid with l2, softplus layer 1 with projection skips): k!;
- two twin units: 2 (their swap);
- a unit equal to another's negation (odd activation): 2 (their swap, both flipped);
- a generic point: 1, and so is a point whose two units share their incoming rows only
  (the swap is ruled out by the outgoing weights, which only the final test sees).

Stabilisers of different layers multiply. Each expected order is checked against the
greedy orbit enumeration (small groups) and the search (all groups), both as orbit sizes
|G| / |Stab|.
"""

import math
import time

import numpy as np
import pytest

from lossbounds.landscape.layout import ParamLayout
from lossbounds.landscape.stabiliser import stabiliser_order
from lossbounds.landscape.symmetry import SymmetryGroup
from lossbounds.theory.architecture import Architecture


def _group(widths, activation="tanh", skip=None, l2=False, bias=True, n=2):
    arch = Architecture(
        n_inputs=n, widths=widths, n_samples=5, activation=activation, skip=skip, l2=l2, bias=bias
    )
    return SymmetryGroup(arch)


def _generic(G, seed=0):
    return np.random.default_rng(seed).standard_normal(G.layout.n_params)


def _outgoing(p, G, layer):
    """The arrays whose column i is unit i's outgoing weights (W, P of the next layer, or v)."""
    if layer == G.H:
        return [p["v"].reshape(-1, G.widths[-1])]
    return [p[k] for k in (f"W{layer + 1}", f"P{layer + 1}") if k in p]


def _incoming(p, layer):
    """The arrays whose row i is unit i's incoming weights (W, b, P of the layer)."""
    return [p[k] for k in (f"W{layer}", f"b{layer}", f"P{layer}") if k in p]


def _edit(G, theta, layer, units, how, src=None):
    """Make ``units`` of ``layer`` dead, twins of unit ``src``, or its negation (in place).

    ``how="in_twin"``: the same incoming rows as ``src``, outgoing weights left generic.
    """
    p = ParamLayout(G.arch).unflatten(theta)  # views: writes go into theta
    sign = {"dead": 0.0, "twin": 1.0, "neg": -1.0, "in_twin": 1.0}[how]
    for u in units:
        for a in _incoming(p, layer):
            a[u] = sign * a[src] if src is not None else 0.0
        for a in _outgoing(p, G, layer) if how != "in_twin" else []:
            a[:, u] = sign * a[:, src] if src is not None else 0.0
    return theta


def _tol(theta):
    return 1e-8 * (1.0 + np.linalg.norm(theta))


def _both(G, theta):
    """Orbit size by greedy enumeration and by |G| // stabiliser search."""
    tol = _tol(theta)
    return G.orbit_size(theta, tol=tol), G.order // G.stabiliser_order(theta, tol=tol)


F = math.factorial

# (group arguments, edits [(layer, units, how, src)], expected |Stab| by hand)
SMALL = [
    (((3,), "tanh"), [(1, [0], "dead", None)], 2),  # 1! 2^1
    (((3,), "tanh"), [(1, [0, 2], "dead", None)], F(2) * 4),  # 2! 2^2
    (((3,), "tanh"), [(1, [1], "twin", 0)], 2),
    (((3,), "tanh"), [(1, [2], "neg", 0)], 2),
    (((3,), "tanh"), [(1, [2], "in_twin", 0)], 1),
    (((2, 2), "tanh", "projection"), [(2, [1], "in_twin", 0)], 1),
    (((3,), "sigmoid"), [(1, [0, 1], "dead", None)], F(2) * 4),
    (((3,), "sigmoid"), [(1, [2], "twin", 1)], 2),
    (((3,), "sigmoid", None, True), [(1, [0, 1], "dead", None)], F(2)),  # l2: no flips
    (((3,), "gaussian"), [(1, [0, 1], "dead", None)], F(2) * 4),  # even flips
    (((3,), "tanh", None, False, False), [(1, [1], "twin", 0)], 2),  # no bias
    (((3,), "tanh", None, False, False), [(1, [0, 1], "dead", None)], F(2) * 4),
    (((2, 3), "tanh"), [(2, [0, 2], "dead", None)], F(2) * 4),  # unequal widths
    (((2, 3), "sigmoid"), [(1, [1], "twin", 0), (2, [2], "dead", None)], 2 * 2),
    (((2, 2), "tanh", "projection"), [(1, [1], "neg", 0), (2, [0], "dead", None)], 2 * 2),
    (((2, 2), "softplus", "projection"), [(2, [0, 1], "dead", None)], F(2) * 4),  # shift-odd
    (((2, 2), "softplus", "projection"), [(1, [0, 1], "dead", None)], F(2)),  # layer 1: no flip
]


@pytest.mark.parametrize(("args", "edits", "stab"), SMALL)
def test_small_groups_both_methods_give_the_closed_form(args, edits, stab):
    G = _group(*args)
    theta = _generic(G, seed=3)
    for layer, units, how, src in edits:
        _edit(G, theta, layer, units, how, src)
    assert G.stabiliser_order(theta, tol=_tol(theta)) == stab
    assert _both(G, theta) == (G.order // stab, G.order // stab)


GENERIC = [
    ((3,), "tanh"), ((3,), "sigmoid"), ((3,), "sigmoid", None, True), ((3,), "gaussian"),
    ((2, 2), "softplus", "projection"), ((2, 2), "tanh", "projection"), ((2, 3), "sigmoid"),
    ((3,), "tanh", None, False, False), ((2, 2), "swish", "projection"),
]  # fmt: skip


@pytest.mark.parametrize("args", GENERIC)
def test_generic_points_have_a_trivial_stabiliser(args):
    G = _group(*args)
    for seed in range(3):
        theta = _generic(G, seed)
        assert G.stabiliser_order(theta, tol=_tol(theta)) == 1
        # above max_order the orbit size is |G| // 1, without enumeration
        assert G.orbit_size(theta, tol=_tol(theta), max_order=1) == G.order
        assert G.orbit_size(theta, tol=_tol(theta)) == G.order  # greedy enumeration


BIG = [
    (((3, 3), "tanh"), 2304, [(1, [0], "dead", None), (2, [1], "twin", 0)], 2 * 2),
    (((3, 3), "tanh", "projection"), 2304, [(2, [0, 1], "dead", None)], F(2) * 4),
    (((3, 3), "tanh", "projection"), 2304, [(1, [2], "neg", 1), (2, [0], "dead", None)], 2 * 2),
    (((6,), "tanh"), 46080, [(1, [0, 3, 5], "dead", None)], F(3) * 8),
    (((6,), "tanh"), 46080, [(1, [1], "twin", 0), (1, [3], "neg", 2)], 2 * 2),
    (((7,), "tanh"), 645120, [(1, [0, 1, 2, 3], "dead", None)], F(4) * 16),
    (((7,), "tanh"), 645120, [(1, [5, 6], "dead", None), (1, [1], "twin", 0)], F(2) * 4 * 2),
    (((7,), "tanh"), 645120, [(1, [1, 2], "in_twin", 0)], 1),
]


@pytest.mark.parametrize(("args", "order", "edits", "stab"), BIG)
def test_big_groups_closed_form_stabilisers(args, order, edits, stab):
    G = _group(*args)
    assert G.order == order
    theta = _generic(G, seed=5)
    assert G.stabiliser_order(theta, tol=_tol(theta)) == 1
    assert G.orbit_size(theta, tol=_tol(theta), max_order=512) == order
    for layer, units, how, src in edits:
        _edit(G, theta, layer, units, how, src)
    assert G.stabiliser_order(theta, tol=_tol(theta)) == stab
    assert G.orbit_size(theta, tol=_tol(theta), max_order=512) == order // stab
    # the stabiliser of g(theta) is conjugate to that of theta: same order
    image = G.apply(theta, G.random_element(7))
    assert G.stabiliser_order(image, tol=_tol(theta)) == stab


def test_tolerance_not_exact_float_equality():
    # a twin perturbed by 1e-12 (rounding-size noise) is still a twin at tol ~ 1e-8 |theta|,
    # and no longer one at a tolerance below the perturbation
    G = _group((6,))
    theta = _edit(G, _generic(G, 2), 1, [1], "twin", 0)
    theta[0] += 1e-12  # W1[0, 0]
    assert G.stabiliser_order(theta, tol=_tol(theta)) == 2
    assert G.stabiliser_order(theta, tol=1e-14) == 1


def test_generic_seven_unit_layer_is_fast():
    G = _group((7,))
    theta = _generic(G, 1)
    start = time.perf_counter()
    assert G.stabiliser_order(theta, tol=_tol(theta)) == 1
    assert time.perf_counter() - start < 1.0  # |G| = 645120 elements are never enumerated


@pytest.mark.parametrize(
    ("widths", "dead", "stab"),
    [
        ((7,), {1: range(7)}, F(7) * 2**7),  # every unit dead (theta's hidden part is 0): all of G
        ((7,), {1: range(6)}, F(6) * 2**6),  # six dead, one live
        ((3, 3), {1: range(3), 2: range(3)}, (F(3) * 8) ** 2),  # 3x2 at the origin: |G| = 2304
        ((8,), {1: range(5)}, F(5) * 2**5),
    ],
)
def test_dead_units_are_counted_apart_not_searched(widths, dead, stab):
    G = _group(widths)
    theta = _generic(G, 2)
    for layer, units in dead.items():
        theta = _edit(G, theta, layer, list(units), "dead", None)
    start = time.perf_counter()
    assert G.stabiliser_order(theta, tol=_tol(theta), max_elements=100) == stab
    assert G.orbit_size(theta, tol=_tol(theta), max_order=1) == G.order // stab
    assert time.perf_counter() - start < 1.0


def test_cap_and_tied_groups_refuse_clearly():
    G = _group((7,))
    # 7 units with one incoming row and generic outgoing weights: 7! candidate matchings,
    # each refused by the final test (|Stab| = 1)
    alike = _edit(G, _generic(G, 0), 1, list(range(1, 7)), "in_twin", 0)
    with pytest.raises(ValueError, match="max_elements"):
        G.stabiliser_order(alike, tol=_tol(alike), max_elements=1000)
    assert G.stabiliser_order(alike, tol=_tol(alike), max_elements=20_000) == 1
    dead = _edit(G, _generic(G, 0), 1, list(range(7)), "dead", None)  # |Stab| = |G| = 645120
    with pytest.raises(ValueError, match="max_elements"):
        stabiliser_order(G, _generic(G, 0), 1e-8, max_elements=0)
    tied = _group((3, 3), "tanh", "identity")  # one shared permutation and flip: 2^3 3! = 48
    theta = _edit(tied, _generic(tied, 4), 1, [0], "dead", None)
    theta = _edit(tied, theta, 2, [0], "dead", None)  # unit 0 dead in both layers: 2 fixes
    assert tied.stabiliser_order(theta, tol=_tol(theta)) == 2
    assert tied.orbit_size(theta, tol=_tol(theta)) == 24
    with pytest.raises(ValueError, match="tied"):
        tied.stabiliser_order(theta, tol=_tol(theta), max_order=10)
    with pytest.raises(ValueError, match="tol"):
        G.stabiliser_order(dead, tol=0.0)


@pytest.mark.parametrize(
    ("widths", "twins", "stab"),
    [
        ((4, 4, 4), {1: [1, 2, 3], 2: [1, 2, 3], 3: [1, 2, 3]}, F(4) ** 3),  # a collapsed 4x3
        ((4, 4, 4), {2: [1, 2], 3: [3]}, F(3) * 2),
        ((7,), {1: [1, 2, 3, 4, 5, 6]}, F(7)),
        ((3,), {1: [1, 2]}, F(3)),  # |G| = 48: checked against the enumeration
        ((2, 2), {1: [1], 2: [1]}, 2 * 2),
    ],
)
def test_twin_classes_are_counted_apart_not_searched(widths, twins, stab):
    G = _group(widths)
    theta = _generic(G, 3)
    for layer, units in twins.items():  # twins of unit 0 of the layer
        theta = _edit(G, theta, layer, units, "twin", 0)
    assert G.stabiliser_order(theta, tol=_tol(theta), max_elements=100) == stab
    if G.order <= 5000:
        assert G.orbit_size(theta, tol=_tol(theta)) == G.order // stab  # greedy enumeration
