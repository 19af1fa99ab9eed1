"""Tests for lossbounds.models: layout, batched forward, symmetry group."""

import itertools
import math

import numpy as np
import pytest
import sympy as sp
import torch

from lossbounds.architecture import Architecture
from lossbounds.models import (
    MLP,
    GroupElement,
    Network,
    ParamLayout,
    SymmetryGroup,
    forward,
    forward_numpy,
)

ACTIVATIONS = ["sigmoid", "tanh", "arctan", "softplus", "gaussian", "swish", "erf"]
SKIPS = [None, "identity", "projection"]
OUTPUTS = ["linear", "sigmoid"]


def arch_of(act="tanh", skip=None, output="linear", n=2, h=3, H=2, m=5):
    return Architecture(n, h, H, m, activation=act, output=output, skip=skip)


def data(n=2, m=5, seed=1):
    return np.random.default_rng(seed).standard_normal((m, n))


# ---------------------------------------------------------------- layout
@pytest.mark.parametrize(
    "n,h,H,skip",
    [
        (1, 1, 1, None),
        (2, 3, 1, None),
        (3, 4, 3, None),
        (2, 3, 3, "identity"),
        (2, 3, 3, "projection"),
    ],
)
def test_n_params_matches_hand_formula(n, h, H, skip):
    arch = Architecture(n, h, H, 10, skip=skip)
    # THEORY.md: h(n+1) + (L-2)h(h+1) + (h+1), L = H + 1; projections add h^2 per skip
    expected = h * (n + 1) + (H - 1) * h * (h + 1) + (h + 1)
    if skip == "projection":
        expected += (H - 1) * h * h
    assert ParamLayout(arch).n_params == expected


def test_layout_is_row_major_in_documented_order():
    arch = Architecture(2, 3, 2, 5, skip="projection")
    lay = ParamLayout(arch)
    theta = np.arange(lay.n_params, dtype=float)
    p = lay.unflatten(theta)
    assert list(p) == ["W1", "b1", "W2", "b2", "P2", "v", "c"]
    # W1[i, j] at offset i * n + j; b1 right after W1 (6 entries), and so on
    assert p["W1"][1, 0] == 2.0 and p["W1"][2, 1] == 5.0
    assert p["b1"].tolist() == [6.0, 7.0, 8.0]
    assert p["W2"][0, 2] == 11.0
    assert p["P2"][0, 0] == 21.0
    assert p["c"].tolist() == [lay.n_params - 1.0]
    assert np.array_equal(lay.flatten(p), theta)
    # batched (K, N) round trip, numpy and torch
    thetas = np.stack([theta, -theta])
    assert np.array_equal(lay.flatten(lay.unflatten(thetas)), thetas)
    tt = torch.as_tensor(thetas)
    assert torch.equal(lay.flatten(lay.unflatten(tt)), tt)


def test_layout_rejects_symbolic_and_wrong_lengths():
    with pytest.raises(ValueError, match="width"):
        ParamLayout(Architecture(2, sp.Symbol("h", positive=True, integer=True), 1, 5))
    lay = ParamLayout(arch_of())
    with pytest.raises(ValueError, match=f"N = {lay.n_params}"):
        lay.check(np.zeros(lay.n_params + 1))


# ---------------------------------------------------------------- forward
def test_forward_by_hand_single_unit():
    # n = 1, h = 1, one hidden layer, sigmoid: f(x) = v * s(w x + b) + c
    arch = Architecture(1, 1, 1, 3, activation="sigmoid")
    w, b, v, c = 0.7, -0.2, 1.5, 0.3
    X = np.array([[-1.0], [0.0], [2.0]])
    expected = v / (1 + np.exp(-(w * X[:, 0] + b))) + c
    out = forward_numpy(arch, np.array([w, b, v, c]), X)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-15)
    arch_s = Architecture(1, 1, 1, 3, activation="sigmoid", output="sigmoid")
    out_s = forward_numpy(arch_s, np.array([w, b, v, c]), X)
    np.testing.assert_allclose(out_s, 1 / (1 + np.exp(-expected)), rtol=0, atol=1e-15)


def test_forward_identity_skip_by_hand():
    # two hidden layers of width 1 with identity skip: u2 = tanh(w2 u1 + b2) + u1
    arch = Architecture(1, 1, 2, 2, activation="tanh", skip="identity")
    w1, b1, w2, b2, v, c = 0.5, 0.1, -1.2, 0.4, 2.0, -0.5
    X = np.array([[0.3], [-1.1]])
    u1 = np.tanh(w1 * X[:, 0] + b1)
    u2 = np.tanh(w2 * u1 + b2) + u1
    out = forward_numpy(arch, np.array([w1, b1, w2, b2, v, c]), X)
    np.testing.assert_allclose(out, v * u2 + c, rtol=0, atol=1e-15)


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("skip", SKIPS)
@pytest.mark.parametrize("output", OUTPUTS)
def test_batched_forward_equals_per_point_module(act, skip, output):
    arch = arch_of(act, skip, output)
    lay = ParamLayout(arch)
    thetas = lay.init(0, scale=1.5, n_points=6)
    X = data()
    batched = forward_numpy(arch, thetas, X)
    assert batched.shape == (6, X.shape[0])
    net = MLP(arch)
    Xt = torch.as_tensor(X)
    with torch.no_grad():
        loop = np.stack([net.set_flat(t)(Xt).numpy() for t in thetas])
    np.testing.assert_allclose(batched, loop, rtol=0, atol=1e-12)
    # the autograd path (no buffers, no in-place kernels) gives the same values
    t = torch.tensor(thetas, requires_grad=True)
    grad_path = Network(arch).forward(t, Xt).detach().numpy()
    np.testing.assert_allclose(grad_path, loop, rtol=0, atol=1e-12)


def test_forward_single_vector_and_fast_path_buffers_not_aliased():
    arch = arch_of()
    lay = ParamLayout(arch)
    a, b = lay.init(0, n_points=2)
    X = data()
    out_a = forward(arch, a, X)
    out_b = forward(arch, b, X)  # must not overwrite out_a
    assert out_a.shape == (X.shape[0],)
    np.testing.assert_array_equal(out_a.numpy(), forward_numpy(arch, a, X))
    assert not torch.equal(out_a, out_b)


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


def orbit_size(G, theta):
    orbit = G.orbit(theta)
    d = np.linalg.norm(orbit[:, None, :] - orbit[None, :, :], axis=2)
    # count distinct points: greedy clusters at tolerance 1e-9
    reps = []
    for i in range(len(orbit)):
        if not any(d[i, j] < 1e-9 for j in reps):
            reps.append(i)
    return len(reps)


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
        ("softplus", "projection", 2, 2, 4),
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
    assert orbit_size(G, theta) == expected  # generic theta: free action
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


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "gaussian", "swish"])
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
    from lossbounds.surface import LossSurface

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


def test_sigmoid_flip_changes_the_regularised_loss():
    from lossbounds.surface import LossSurface

    arch = Architecture(n_inputs=2, width=2, hidden_layers=1, n_samples=6, activation="sigmoid")
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((6, 2)), rng.standard_normal(6)
    theta = rng.standard_normal(ParamLayout(arch).n_params)
    plain = SymmetryGroup(arch)  # no l2: flips are symmetries
    flip = plain.identity()
    flip.flips[0, 0] = True
    moved = plain.apply(theta, flip)
    no_l2 = LossSurface(arch, X, y)
    assert abs(no_l2(moved[None])[0] - no_l2(theta[None])[0]) < 1e-12
    with_l2 = LossSurface(arch, X, y, l2=0.1)
    assert abs(with_l2(moved[None])[0] - with_l2(theta[None])[0]) > 1e-6
    with pytest.raises(ValueError, match="l2"):
        SymmetryGroup(arch, l2=-1.0)
