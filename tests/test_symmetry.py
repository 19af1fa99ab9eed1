"""Tests for lossbounds.landscape.symmetry: group structure and orders, the group acting on vectors.

Expected orders are typed by hand or found by brute-force enumeration of the
per-layer permutations and flips of tiny networks (their invariance checked
with a numpy forward pass written here).
"""

import itertools
import math
import re
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp
from _nets import ACTIVATIONS, OUTPUTS, SKIPS, arch_of, data

from lossbounds.landscape.layout import ParamLayout
from lossbounds.landscape.network import forward_numpy
from lossbounds.landscape.symmetry import (
    GroupElement,
    SymmetryGroup,
    dedup_modulo_group,
    group_structure,
    log2_symmetry_group_order,
    lower_bound_certificate,
    symmetry_description,
    symmetry_group_order,
)
from lossbounds.theory.activations import get_activation, list_activations
from lossbounds.theory.architecture import Architecture


# ---------------------------------------------------------------- orders
@pytest.mark.parametrize(
    "width, layers, activation, skip, expected",
    [
        (2, 1, "tanh", None, 8),  # 2^2 * 2!
        (3, 2, "sigmoid", None, 2304),  # (2^3 * 3!)^2 = 48^2
        (3, 2, "softplus", None, 36),  # (3!)^2
        (4, 1, "swish", None, 24),  # 4!
        (2, 3, "gaussian", None, 512),  # (2^2 * 2!)^3
        (3, 1, "erf", None, 48),
        (3, 2, "tanh", "identity", 48),  # one shared permutation and flip: 2^3 * 3!
        (3, 2, "gaussian", "identity", 384),  # 2^(3*2) * 3!
        (3, 2, "softplus", "identity", 6),
        (3, 2, "tanh", "projection", 2304),
        (3, 2, "softplus", "projection", 36 * 8),  # (3!)^2 * 2^3: flips in layer 2 only
        (2, 3, "swish", "projection", 8 * 16),  # (2!)^3 * 2^(2*2)
    ],
)
def test_symmetry_group_order_hand_values(width, layers, activation, skip, expected):
    arch = arch_of(activation, skip, h=width, H=layers, m=10)
    assert symmetry_group_order(arch) == expected
    assert log2_symmetry_group_order(arch) == pytest.approx(math.log2(expected), rel=1e-13)


def test_log2_symmetry_order_large_width_by_direct_sum():
    h, layers = 10**6, 3
    direct = layers * (h + math.fsum(math.log2(i) for i in range(2, h + 1)))
    arch = arch_of("tanh", h=h, H=layers, m=10)
    assert log2_symmetry_group_order(arch) == pytest.approx(direct, rel=1e-12)
    assert symmetry_description(arch) == "2^3000000 * (1000000!)^3"


_NP_ACT = {
    "tanh": np.tanh,
    "sigmoid": lambda t: 1.0 / (1.0 + np.exp(-t)),
    "gaussian": lambda t: np.exp(-(t**2)),
    "softplus": lambda t: np.logaddexp(0.0, t),
    "swish": lambda t: t / (1.0 + np.exp(-t)),
}
_FLIP = {"tanh": "odd", "sigmoid": "sigmoid", "gaussian": "even", "softplus": None, "swish": None}


def _forward(params, x, act, skip):
    (w1, b1), *hidden, (v, c) = params
    u = act(x @ w1.T + b1)
    for w, b in hidden:
        u = act(u @ w.T + b) + (u if skip else 0.0)
    return u @ v + c


def _transform(params, perms, signs, flip, skip):
    """Apply per-layer permutation P_l and flips D_l with the rule of the flip kind.

    odd/None: u_l -> D_l P_l u_l;  sigmoid: u_l -> D_l P_l u_l + e_l with
    e_l = (1 - D_l)/2 (plus e_{l-1} along an identity skip);
    even: a_l -> D_l P_l a_l and u_l -> P_l u_l.
    """
    out = []
    prev_m, prev_e = None, None  # u_prev' = prev_m @ u_prev + prev_e
    for i, ((w, b), p, d) in enumerate(zip(params[:-1], perms, signs, strict=True)):
        pm = np.eye(len(p))[list(p)]
        s = np.diag(d) @ pm  # acts on the pre-activation
        wi = w if prev_m is None else w @ np.linalg.inv(prev_m)
        bi = b if prev_e is None else b - wi @ prev_e
        out.append((s @ wi, s @ bi))
        if flip == "even":
            prev_m, prev_e = pm, np.zeros(len(p))
        else:
            shift = (1 - d) / 2 if flip == "sigmoid" else np.zeros(len(p))
            if skip and i > 0:
                shift = shift + prev_e  # the stream carries the previous shift
            prev_m, prev_e = s, shift
    v, c = params[-1]
    vi = v @ np.linalg.inv(prev_m)
    out.append((vi, c - vi @ prev_e))
    return out


@pytest.mark.parametrize(
    "activation, layers, skip",
    [
        ("tanh", 1, None),
        ("tanh", 2, None),
        ("sigmoid", 2, None),
        ("gaussian", 2, None),
        ("softplus", 2, None),
        ("swish", 2, None),
        ("tanh", 2, "identity"),
        ("sigmoid", 2, "identity"),
        ("gaussian", 2, "identity"),
        ("softplus", 2, "identity"),
    ],
)
def test_symmetry_group_order_by_brute_force(activation, layers, skip):
    """Enumerate all per-layer permutations and flips of a width-2 network.

    Count those that leave the network function unchanged on random inputs;
    every invariance found gives a distinct parameter vector. The claimed
    order must equal this count (the candidate family contains the group used).
    """
    h, n = 2, 3
    rng = np.random.default_rng(11)
    params = [(rng.normal(size=(h, n)), rng.normal(size=h))]
    params += [(rng.normal(size=(h, h)), rng.normal(size=h)) for _ in range(layers - 1)]
    params += [(rng.normal(size=h), rng.normal())]
    x = rng.normal(size=(25, n))
    act = _NP_ACT[activation]
    y = _forward(params, x, act, skip)
    perms = list(itertools.permutations(range(h)))
    flips = [np.array(d, dtype=float) for d in itertools.product([1.0, -1.0], repeat=h)]
    found = []
    for combo in itertools.product(itertools.product(perms, flips), repeat=layers):
        ps, ds = zip(*combo, strict=True)
        new = _transform(params, ps, ds, _FLIP[activation], skip)
        if np.allclose(_forward(new, x, act, skip), y, atol=1e-10, rtol=0):
            found.append(np.concatenate([np.ravel(a) for pair in new for a in pair]))
    distinct = {tuple(np.round(f, 9)) for f in found}
    assert len(distinct) == len(found)
    arch = arch_of(activation, skip, n=n, h=h, H=layers, m=10)
    assert symmetry_group_order(arch) == len(found)


def test_symmetry_order_agrees_with_the_group_acting_on_vectors():
    """The group acting on parameter vectors has the order used by the bounds."""
    for activation in ("sigmoid", "tanh", "gaussian", "softplus"):
        for width, layers, skip in [
            (3, 1, None),
            (2, 3, None),
            (3, 2, "identity"),
            (2, 3, "projection"),
        ]:
            arch = arch_of(activation, skip, h=width, H=layers, m=10)
            assert symmetry_group_order(arch) == SymmetryGroup(arch).order


@pytest.mark.parametrize(
    "activation, layers, skip",
    [
        ("tanh", 2, None),
        ("sigmoid", 1, None),
        ("sigmoid", 2, None),
        ("sigmoid", 2, "identity"),
        ("gaussian", 2, None),
        ("softplus", 1, None),
    ],
)
def test_symmetry_group_order_with_l2_by_brute_force(activation, layers, skip):
    """With lambda ||theta||^2 a candidate must also keep the parameter norm.

    Same enumeration as above, but an invariance must leave the regularised
    loss mean((f - y)^2) + lambda ||theta||^2 unchanged: sigmoid flips (which
    move v_i into the next bias) fail, signed permutations (odd, even) pass.
    """
    h, n, lam = 2, 3, 0.37
    rng = np.random.default_rng(5)
    params = [(rng.normal(size=(h, n)), rng.normal(size=h))]
    params += [(rng.normal(size=(h, h)), rng.normal(size=h)) for _ in range(layers - 1)]
    params += [(rng.normal(size=h), rng.normal())]
    x, y = rng.normal(size=(25, n)), rng.normal(size=25)
    act = _NP_ACT[activation]

    def loss(p):
        norm2 = sum(np.sum(np.square(a)) for pair in p for a in pair)
        return np.mean((_forward(p, x, act, skip) - y) ** 2) + lam * norm2

    ref = loss(params)
    perms = list(itertools.permutations(range(h)))
    flips = [np.array(d, dtype=float) for d in itertools.product([1.0, -1.0], repeat=h)]
    count = 0
    for combo in itertools.product(itertools.product(perms, flips), repeat=layers):
        ps, ds = zip(*combo, strict=True)
        if skip == "identity" and (len(set(ps)) > 1 or len({tuple(d) for d in ds}) > 1):
            continue  # not even a symmetry of the network function (tied stream)
        new = _transform(params, ps, ds, _FLIP[activation], skip)
        count += abs(loss(new) - ref) <= 1e-10 * abs(ref)
    arch = Architecture(n, h, layers, 25, activation=activation, skip=skip, l2=True)
    assert symmetry_group_order(arch) == count
    expected_without_flips = {"sigmoid"}  # hand rule: only sigmoid loses its flips
    plain = symmetry_group_order(Architecture(n, h, layers, 25, activation=activation, skip=skip))
    assert (count < plain) == (activation in expected_without_flips)


def test_symmetry_module_does_not_import_torch():
    code = "import lossbounds.landscape.symmetry, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_group_structure_decides_ties_and_flips():
    s = group_structure("sigmoid", "identity", False, 3, 2)
    assert (s.flip, s.tied, s.tied_flips, s.exponents) == ("sigmoid", True, True, (3, 1))
    s = group_structure("sigmoid", "identity", True, 3, 2)  # l2 drops sigmoid flips
    assert (s.flip, s.tied, s.tied_flips, s.exponents) == (None, True, False, (0, 1))
    s = group_structure("even", "identity", False, 3, 2)  # even flips stay free per layer
    assert (s.tied, s.tied_flips, s.exponents, s.order) == (True, False, (6, 1), 2**6 * 6)
    s = group_structure("odd", "identity", False, 3, 1)  # one layer: nothing to tie
    assert (s.tied, s.exponents, s.description) == (False, (3, 1), "2^3 * 3!")
    s = group_structure("shift_odd", "projection", False, 3, 3)  # layers 2..H flip
    assert (s.flip, s.flip_layers, s.exponents, s.order) == ("shift_odd", (2, 3), (6, 3), 64 * 216)
    assert s.description == "2^6 * (3!)^3"
    for skip, l2, H in [("projection", True, 3), ("identity", False, 3), (None, False, 3)]:
        s = group_structure("shift_odd", skip, l2, 3, H)  # no projection row or l2: no flips
        n_perm = 1 if skip == "identity" else 3
        assert (s.flip, s.flip_layers, s.exponents) == (None, (), (0, n_perm))
    assert group_structure("shift_odd", "projection", False, 3, 1).flip is None
    assert group_structure("odd", None, False, 2, 3).flip_layers == (1, 2, 3)
    s = group_structure("even", "projection", True, 2, 3)  # l2 keeps even flips
    assert (s.tied, s.exponents, s.description) == (False, (6, 3), "2^6 * (2!)^3")
    assert s.log2_order == pytest.approx(math.log2(2**6 * 2**3), rel=1e-14)


def test_group_structure_bad_input():
    with pytest.raises(ValueError, match="concrete integers"):
        group_structure("odd", None, False, sp.Symbol("h", positive=True, integer=True), 2)
    with pytest.raises(ValueError, match="concrete integers"):
        group_structure("odd", None, False, 3, 0)
    with pytest.raises(ValueError, match="flip must be one of"):
        group_structure("mirror", None, False, 3, 2)
    with pytest.raises(ValueError, match="skip must be"):
        group_structure("odd", "dense", False, 3, 2)
    with pytest.raises(ValueError, match="concrete integers"):
        symmetry_group_order(Architecture(2, sp.Symbol("h", positive=True, integer=True), 1, 5))


# ---------------------------------------------------------------- group


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("skip", SKIPS)
@pytest.mark.parametrize("output", OUTPUTS)
def test_group_elements_leave_the_function_unchanged(act, skip, output):
    arch = arch_of(act, skip, output, H=3)
    G = SymmetryGroup(arch)
    theta = ParamLayout(arch).init(3, scale=1.5)
    X = data()
    ref = forward_numpy(arch, theta, X)
    moved = 0.0
    for seed in range(6):
        image = G.apply(theta, G.random_element(seed))
        np.testing.assert_allclose(forward_numpy(arch, image, X), ref, rtol=0, atol=1e-12)
        moved = max(moved, np.abs(image - theta).max())
    assert moved > 0.1  # the elements really move theta


@pytest.mark.parametrize(
    "act,skip,h,H,expected",
    [
        # (2^h h!)^H with flips, (h!)^H without, typed by hand
        ("tanh", None, 2, 2, (4 * 2) ** 2),
        ("sigmoid", None, 3, 1, 8 * 6),
        ("gaussian", None, 2, 2, 64),
        ("softplus", None, 2, 2, 4),
        ("swish", None, 3, 1, 6),
        ("sigmoid", "projection", 2, 2, 64),
        # shift-odd flips need a projection row: layers 2..H, (h!)^H 2^(h(H-1))
        ("softplus", "projection", 2, 2, 2 * 2 * 4),
        ("gelu", "projection", 2, 3, 8 * 16),
        ("swish", "identity", 2, 3, 2),
        # identity skips: one signed permutation on the stream (2^h h!),
        # free even flips per layer (2^(hH) h!), permutations only (h!)
        ("tanh", "identity", 2, 2, 8),
        ("sigmoid", "identity", 2, 3, 8),
        ("gaussian", "identity", 2, 2, 32),
        ("swish", "identity", 3, 2, 6),
    ],
)
def test_group_order_by_enumeration(act, skip, h, H, expected):
    arch = arch_of(act, skip, h=h, H=H)
    G = SymmetryGroup(arch)
    assert G.order == expected
    assert sum(1 for _ in G.elements()) == expected
    theta = ParamLayout(arch).init(5, scale=1.5)
    assert G.orbit_size(theta, tol=1e-9) == expected  # generic theta: free action
    X = data()
    losses = forward_numpy(arch, G.orbit(theta), X)
    np.testing.assert_allclose(losses, np.broadcast_to(losses[0], losses.shape), rtol=0, atol=1e-12)


def test_single_layer_flip_breaks_identity_skip():
    # documented decision: with identity skips a flip of one layer only is not a symmetry
    arch = arch_of("tanh", "identity", H=2)
    plain = arch_of("tanh", None, H=2)  # same layout, no tie between layers
    theta = ParamLayout(arch).init(2, scale=1.5)
    g = GroupElement(np.tile(np.arange(3), (2, 1)), np.array([[True, False, False], [False] * 3]))
    X = data()
    with pytest.raises(ValueError, match="flips must be equal"):
        SymmetryGroup(arch).apply(theta, g)
    image = SymmetryGroup(plain).apply(theta, g)
    np.testing.assert_allclose(
        forward_numpy(plain, image, X), forward_numpy(plain, theta, X), atol=1e-12
    )
    assert np.abs(forward_numpy(arch, image, X) - forward_numpy(arch, theta, X)).max() > 1e-3


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "gaussian", "swish", "gelu"])
@pytest.mark.parametrize("skip", SKIPS)
def test_canonical_is_constant_on_orbits(act, skip):
    arch = arch_of(act, skip, H=3)
    G = SymmetryGroup(arch)
    theta = ParamLayout(arch).init(7, scale=1.5)
    c = G.canonical(theta)
    for seed in range(5):
        np.testing.assert_allclose(
            G.canonical(G.apply(theta, G.random_element(seed))), c, atol=1e-12
        )
    other = ParamLayout(arch).init(8, scale=1.5)
    assert np.abs(G.canonical(other) - c).max() > 1e-3
    assert G.distance(theta, G.apply(theta, G.random_element(9))) < 1e-12


def test_group_bad_input():
    arch = arch_of("softplus")
    G = SymmetryGroup(arch)
    theta = ParamLayout(arch).init(0)
    with pytest.raises(ValueError, match="N = "):
        G.apply(theta[:-1], G.identity())
    with pytest.raises(ValueError, match="flips must be all False"):
        G.apply(theta, GroupElement(G.identity().perms, np.ones((2, 3), dtype=bool)))
    with pytest.raises(ValueError, match="permutations"):
        G.apply(theta, GroupElement(np.zeros((2, 3), dtype=int), np.zeros((2, 3), dtype=bool)))
    with pytest.raises(ValueError, match="shape"):
        G.apply(theta, GroupElement(np.zeros((1, 3), dtype=int), np.zeros((1, 3), dtype=bool)))
    proj = SymmetryGroup(arch_of("softplus", "projection"))  # shift-odd: layer 1 has no flip
    layer1 = np.array([[True, False, False], [False] * 3])
    with pytest.raises(ValueError, match=r"flips only layers \[2\]"):
        proj.apply(ParamLayout(proj.arch).init(0), GroupElement(proj.identity().perms, layer1))
    big = SymmetryGroup(arch_of("tanh", h=4, H=3))
    assert big.order == (2**4 * math.factorial(4)) ** 3
    with pytest.raises(ValueError, match="max_order"):
        big.orbit(ParamLayout(big.arch).init(0))


def test_elements_are_distinct_and_contain_identity():
    G = SymmetryGroup(arch_of("sigmoid", h=2, H=2))
    keys = {(g.perms.tobytes(), g.flips.tobytes()) for g in G.elements()}
    assert len(keys) == G.order
    ident = G.identity()
    assert (ident.perms.tobytes(), ident.flips.tobytes()) in keys
    theta = ParamLayout(G.arch).init(0)
    np.testing.assert_array_equal(G.apply(theta, ident), theta)


def test_product_of_elements_is_an_element():
    # closure, checked on values: g2(g1(theta)) lies in the orbit of theta
    G = SymmetryGroup(arch_of("sigmoid", "projection", h=2, H=2))
    theta = ParamLayout(G.arch).init(4, scale=1.5)
    orbit = G.orbit(theta)
    for g1, g2 in itertools.islice(itertools.product(G.elements(), repeat=2), 0, 4096, 97):
        image = G.apply(G.apply(theta, g1), g2)
        assert np.min(np.linalg.norm(orbit - image, axis=1)) < 1e-12


@pytest.mark.parametrize(
    "act, skip, l2_order",
    [
        ("sigmoid", None, math.factorial(2) ** 2),  # flips dropped: permutations only
        ("sigmoid", "identity", math.factorial(2)),
        ("tanh", None, (4 * math.factorial(2)) ** 2),  # odd flips keep ||theta||
        ("gaussian", None, (4 * math.factorial(2)) ** 2),  # even flips keep ||theta||
        ("softplus", None, math.factorial(2) ** 2),
    ],
)
def test_l2_aware_group_leaves_the_regularised_loss_unchanged(act, skip, l2_order):
    from lossbounds.landscape.surface import LossSurface

    arch = Architecture(
        n_inputs=2, width=2, hidden_layers=2, n_samples=6, activation=act, skip=skip
    )
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((6, 2)), rng.standard_normal(6)
    surface = LossSurface(arch, X, y, l2=0.1)
    group = SymmetryGroup(arch, l2=0.1)
    assert group.order == l2_order
    theta = rng.standard_normal(ParamLayout(arch).n_params)
    images = np.stack([group.apply(theta, g) for g in group.elements()])
    assert len(images) == l2_order
    losses = surface(images)
    np.testing.assert_allclose(losses, losses[0], rtol=0, atol=1e-12)
    # the same group through arch.l2
    arch_l2 = Architecture(
        n_inputs=2, width=2, hidden_layers=2, n_samples=6, activation=act, skip=skip, l2=True
    )
    assert SymmetryGroup(arch_l2).order == l2_order


def _generators(G):
    """The elementary elements: a swap of units 0 and 1 in each layer (in all
    layers at once when tied) and each single-unit flip of every flip layer (of
    all layers at once when the flips are tied)."""
    gens = []
    for layers in [list(range(G.H))] if G.tied else [[q] for q in range(G.H)]:
        g = G.identity()
        g.perms[np.ix_(layers, [0, 1])] = [1, 0]
        gens.append(g)
    flip_rows = [q - 1 for q in G.flip_layers]
    for layers in [flip_rows] if G.tied_flips else [[q] for q in flip_rows]:
        for i in range(G.h):
            g = G.identity()
            g.flips[layers, i] = True
            gens.append(g)
    return gens


@pytest.mark.parametrize("act", list_activations())
@pytest.mark.parametrize("skip", SKIPS)
@pytest.mark.parametrize(
    "output, loss", [("linear", "mse"), ("sigmoid", "mse"), ("sigmoid", "bce")]
)
@pytest.mark.parametrize("l2", [0.0, 0.1])
def test_every_generator_leaves_the_loss_unchanged(act, skip, output, loss, l2):
    from lossbounds.landscape.surface import LossSurface

    h, H = 2, 3
    arch = Architecture(2, h, H, 6, activation=act, output=output, loss=loss, skip=skip, l2=l2 > 0)
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((6, 2)), rng.random(6)
    surface = LossSurface(arch, X, y, l2=l2 if l2 else None)
    G = SymmetryGroup(arch)
    theta = rng.standard_normal(ParamLayout(arch).n_params)
    gens = _generators(G)
    # generators typed by hand: permutations, then h flips per flip layer
    kind = get_activation(act).flip
    n_perm = 1 if skip == "identity" else H
    if kind in ("odd", "sigmoid") and skip == "identity":
        n_flip = 0 if (kind == "sigmoid" and l2) else h  # one pattern on the whole stream
    elif kind == "shift_odd":
        n_flip = h * (H - 1) if (skip == "projection" and not l2) else 0
    else:
        n_flip = 0 if (kind == "sigmoid" and l2) else h * H
    assert len(gens) == n_perm + n_flip
    images = np.stack([G.apply(theta, g) for g in gens])
    assert np.linalg.norm(images - theta, axis=1).min() > 1e-3  # each generator moves theta
    losses = surface(images)
    np.testing.assert_allclose(losses, surface(theta[None])[0], rtol=1e-10, atol=0)


@pytest.mark.parametrize("act, skip", [("sigmoid", None), ("softplus", "projection")])
def test_sigmoid_and_shift_odd_flips_change_the_regularised_loss(act, skip):
    from lossbounds.landscape.surface import LossSurface

    arch = Architecture(2, 2, 2, 6, activation=act, skip=skip)
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((6, 2)), rng.standard_normal(6)
    theta = rng.standard_normal(ParamLayout(arch).n_params)
    plain = SymmetryGroup(arch)  # no l2: flips are symmetries
    flip = plain.identity()
    flip.flips[-1, 0] = True
    moved = plain.apply(theta, flip)
    no_l2 = LossSurface(arch, X, y)
    assert abs(no_l2(moved[None])[0] - no_l2(theta[None])[0]) < 1e-12
    with_l2 = LossSurface(arch, X, y, l2=0.1)
    assert abs(with_l2(moved[None])[0] - with_l2(theta[None])[0]) > 1e-6
    assert SymmetryGroup(arch, l2=0.1).flip_kind is None
    with pytest.raises(ValueError, match="l2"):
        SymmetryGroup(arch, l2=-1.0)


# ---------------------------------------------------------------- orbit sizes, dedup
def test_orbit_size_counts_coinciding_images_once():
    # one hidden layer, h = 2, tanh: |G| = 2^2 * 2! = 8; with the two units
    # identical (same W1 row, b1, v) the swap fixes theta, so 8 / 2 = 4 points
    G = SymmetryGroup(Architecture(1, 2, 1, 5, activation="tanh"))
    generic = np.array([0.8, -1.3, 0.5, -0.2, 1.1, 0.7, 0.2])  # W1, b1, v, c
    assert G.orbit_size(generic) == 8
    twins = np.array([0.8, 0.8, 0.5, 0.5, 1.1, 1.1, 0.2])
    assert G.orbit_size(twins) == 4
    # a dead output layer (v = 0): the images differ only in the hidden weights
    assert G.orbit_size(np.array([0.8, -1.3, 0.5, -0.2, 0.0, 0.0, 0.2])) == 8
    # everything zero except c: a fixed point
    assert G.orbit_size(np.array([0, 0, 0, 0, 0, 0, 0.2])) == 1
    # a tolerance larger than the orbit's diameter merges everything
    assert G.orbit_size(generic, tol=100.0) == 1
    with pytest.raises(ValueError, match="tol"):
        G.orbit_size(generic, tol=0.0)
    # above max_order: |G| // |Stab| from the stabiliser search, no enumeration
    assert G.orbit_size(generic, max_order=4) == 8
    assert G.orbit_size(twins, max_order=4) == 4


def test_dedup_merges_an_orbit_and_keeps_a_far_point():
    arch = Architecture(1, 2, 1, 5, activation="tanh")
    G = SymmetryGroup(arch)
    theta = np.array([0.8, -1.3, 0.5, -0.2, 1.1, 0.7, 0.2])
    orbit = G.orbit(theta)
    assert len(dedup_modulo_group(orbit, G, tol=1e-8)[0]) == 1
    reps, assign = dedup_modulo_group(np.vstack([theta + 0.5, orbit]), G, tol=1e-8)
    assert reps.tolist() == [0, 1] and assign[0] == 0 and np.all(assign[1:] == 1)
    # visiting order: the first visited point of a class is its representative
    reps, assign = dedup_modulo_group(orbit, G, tol=1e-8, order=np.arange(8)[::-1])
    assert reps.tolist() == [7] and np.all(assign == 0)
    # canonical forms only (exact_limit below |G|) also merge a generic orbit
    assert len(dedup_modulo_group(orbit, G, tol=1e-8, exact_limit=1)[0]) == 1
    with pytest.raises(ValueError, match="tol"):
        dedup_modulo_group(theta[None], G, tol=0.0)
    with pytest.raises(ValueError, match="N = 7"):
        dedup_modulo_group(np.zeros((2, 6)), G)


def test_dedup_merges_a_shift_odd_projection_orbit():
    arch = arch_of("swish", "projection", h=2, H=3)
    G = SymmetryGroup(arch)
    theta = ParamLayout(arch).init(6, scale=1.5)
    orbit = G.orbit(theta)
    assert len(orbit) == 128 and G.orbit_size(theta, tol=1e-9) == 128
    for limit in (1, 512):  # canonical forms only, and with the exact orbit check
        reps, assign = dedup_modulo_group(
            np.vstack([orbit, theta + 0.3]), G, 1e-8, exact_limit=limit
        )
        assert len(reps) == 2 and np.all(assign[:-1] == 0) and assign[-1] == 1


def test_dedup_survives_ties_in_the_canonical_form():
    # equal bias magnitudes make the canonical form ambiguous; the exact orbit
    # distance (small groups) still merges the whole orbit into one class
    arch = Architecture(1, 2, 1, 5, activation="tanh")
    G = SymmetryGroup(arch)
    theta = np.array([0.8, -1.3, 0.5, -0.5, 1.1, 0.7, 0.2])  # W1, b1 (tie), v, c
    orbit = G.orbit(theta)
    reps, assign = dedup_modulo_group(orbit, G, tol=1e-9)
    assert len(reps) == 1 and np.all(assign == 0)


# ---------------------------------------------------------------- lower-bound certificate
_GOOD = dict(
    gradient=np.full(3, 1e-12), hessian_eigenvalues=[2.0, 0.5, 3.0], n_samples=10, orbit_size=8
)


def test_certificate_holds_when_every_hypothesis_holds():
    cert = lower_bound_certificate(**_GOOD, order=8)
    assert cert.holds and cert.bound == 8 and cert.reasons == ()
    assert (cert.n_params, cert.n_samples) == (3, 10)
    assert (cert.min_eigenvalue, cert.max_eigenvalue) == (0.5, 3.0)
    assert cert.gradient_norm == pytest.approx(math.sqrt(3) * 1e-12, rel=1e-12)
    # m >= N skipped on request: m = 2 < N = 3 no longer matters
    assert lower_bound_certificate(**{**_GOOD, "n_samples": None}, order=8).holds


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"gradient": [1e-3, 0.0, 0.0]}, "not a critical point"),
        ({"hessian_eigenvalues": [2.0, -0.1, 3.0]}, "not positive definite"),
        ({"hessian_eigenvalues": [2.0, 0.0, 3.0]}, "not positive definite"),
        ({"hessian_eigenvalues": [2.0, 1e-12, 3.0]}, "not positive definite"),  # below the margin
        ({"n_samples": 2}, r"m = 2 < N = 3"),
    ],
)
def test_certificate_refuses_a_point_that_is_not_a_certified_strict_minimum(change, reason):
    cert = lower_bound_certificate(**{**_GOOD, **change}, order=8)
    assert not cert.holds and cert.bound is None
    assert len(cert.reasons) == 1 and re.search(reason, cert.reasons[0])


def test_certificate_with_a_fixed_point_bounds_by_the_orbit():
    cert = lower_bound_certificate(**{**_GOOD, "orbit_size": 4}, order=8)
    assert not cert.holds and cert.bound == 4  # strict minimum: b0 >= |G theta*|
    assert cert.reasons == ("orbit has 4 distinct points < |G| = 8 (fixed points)",)
    # every failure is listed, and no bound without a strict minimum
    cert = lower_bound_certificate([1.0, 0, 0], [0.0, 1, 1], 1, 4, 8, grad_tol=1e-6)
    assert cert.bound is None and len(cert.reasons) == 4


def test_certificate_bad_input():
    with pytest.raises(ValueError, match="same length"):
        lower_bound_certificate([0.0, 0.0], [1.0], 5, 1, 1)
    with pytest.raises(ValueError, match="finite"):
        lower_bound_certificate([0.0, np.nan], [1.0, 1.0], 5, 1, 1)
    with pytest.raises(ValueError, match="orbit_size must be <= order"):
        lower_bound_certificate(**{**_GOOD, "orbit_size": 9}, order=8)
    with pytest.raises(ValueError, match="order must be an integer"):
        lower_bound_certificate(**_GOOD, order=0)
    with pytest.raises(ValueError, match="n_samples must be an integer"):
        lower_bound_certificate(**{**_GOOD, "n_samples": 2.5}, order=8)
    with pytest.raises(ValueError, match="grad_tol"):
        lower_bound_certificate(**_GOOD, order=8, grad_tol=-1.0)
    with pytest.raises(ValueError, match="eig_rtol"):
        lower_bound_certificate(**_GOOD, order=8, eig_rtol=np.inf)


def test_group_certificate_counts_the_orbit_of_theta():
    G = SymmetryGroup(Architecture(1, 2, 1, 5, activation="tanh"))  # |G| = 8, N = 7
    grad, eig = np.zeros(7), np.linspace(1.0, 2.0, 7)
    generic = np.array([0.8, -1.3, 0.5, -0.2, 1.1, 0.7, 0.2])
    cert = G.lower_bound_certificate(generic, grad, eig, n_samples=7)
    assert cert.holds and cert.bound == 8
    twins = np.array([0.8, 0.8, 0.5, 0.5, 1.1, 1.1, 0.2])  # fixed by the swap
    cert = G.lower_bound_certificate(twins, grad, eig, n_samples=7)
    assert (cert.holds, cert.bound, cert.orbit_size) == (False, 4, 4)
    cert = G.lower_bound_certificate(generic, grad, eig, n_samples=6, eig_rtol=0.6)
    assert cert.bound is None and len(cert.reasons) == 2  # m < N, and 1 < 0.6 * 2


# ------------------------------------------------------------ unequal widths
@pytest.mark.parametrize(
    "widths, activation, l2, expected, text",
    [
        ((5, 4), "tanh", False, 2**9 * 120 * 24, "2^9 * 5! * 4!"),
        ((5, 4), "sigmoid", True, 120 * 24, "5! * 4!"),  # l2 drops sigmoid flips
        ((5, 4), "tanh", True, 2**9 * 120 * 24, "2^9 * 5! * 4!"),  # odd flips keep ||theta||
        ((3, 5, 3), "gaussian", False, 2**11 * 6 * 120 * 6, "2^11 * (3!)^2 * 5!"),
        ((2, 3), "softplus", False, 2 * 6, "2! * 3!"),
    ],
)
def test_symmetry_order_unequal_widths_hand_values(widths, activation, l2, expected, text):
    arch = Architecture(n_inputs=2, widths=widths, n_samples=3, activation=activation, l2=l2)
    assert symmetry_group_order(arch) == expected
    assert log2_symmetry_group_order(arch) == pytest.approx(math.log2(expected), rel=1e-14)
    assert symmetry_description(arch) == text


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "gaussian", "softplus"])
def test_symmetry_order_unequal_widths_by_brute_force(activation):
    """All per-layer permutations and flips of a (2, 3)-wide network that keep its function."""
    widths, n = (2, 3), 2
    rng = np.random.default_rng(5)
    fans = (n, *widths)
    params = [
        (rng.normal(size=(h, f)), rng.normal(size=h))
        for f, h in zip(fans[:-1], widths, strict=True)
    ]
    params += [(rng.normal(size=widths[-1]), rng.normal())]
    x = rng.normal(size=(25, n))
    act = _NP_ACT[activation]
    y = _forward(params, x, act, None)
    per_layer = [
        list(
            itertools.product(
                itertools.permutations(range(h)), itertools.product([1.0, -1.0], repeat=h)
            )
        )
        for h in widths
    ]
    found = []
    for combo in itertools.product(*per_layer):
        ps, ds = zip(*combo, strict=True)
        ds = [np.array(d) for d in ds]
        new = _transform(params, ps, ds, _FLIP[activation], None)
        if np.allclose(_forward(new, x, act, None), y, atol=1e-10, rtol=0):
            found.append(np.concatenate([np.ravel(a) for pair in new for a in pair]))
    assert len({tuple(np.round(f, 9)) for f in found}) == len(found)
    arch = Architecture(n_inputs=n, widths=widths, n_samples=10, activation=activation)
    assert symmetry_group_order(arch) == len(found)
