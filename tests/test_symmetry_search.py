"""Brute-force search for hidden-unit sign/shift symmetries on small random networks.

This file checks docs/symmetry.md numerically and independently of the package's
symmetry code: the transformations are written out here, on the blocks of
:class:`lossbounds.landscape.layout.ParamLayout`, and judged by the network function
(:func:`lossbounds.landscape.network.forward_numpy`, float64) on random inputs.

Flip kinds of the catalogue (docs/symmetry.md, section 1)::

    odd        sigma(-t) = -sigma(t)         tanh, arctan, erf
    sigmoid    sigma(-t) = 1 - sigma(t)      sigmoid
    even       sigma(-t) = sigma(t)          gaussian
    shift_odd  sigma(-t) = sigma(t) - t      softplus, swish, gelu

The candidate set
-----------------
A candidate acts on one unit i of one hidden layer l ("layer" scope) or, with
identity skips, on unit i of every hidden layer at once ("stream" scope). At
each affected (l, i) it

1. negates row i of W_l and b_{l,i} (the pre-activation becomes -a);
2. ``out`` in {+1, -1}: keeps or negates column i of every consumer of u_l
   (W_{l+1} and P_{l+1}, or v when l = K);
3. ``prow`` in {keep, neg, +W, -W} (only where layer l has a projection row,
   l >= 2): keeps row i of P_l, negates it, or adds / subtracts the original
   row i of W_l to it;
4. ``offset`` in {0, +1, -1, +b, -b} (b = the original b_{l,i}): declares that
   the new u_{l,i} equals out * u_{l,i} + offset, and carries that constant
   downstream: b_{l+1} -= W'_{l+1} delta, then delta <- P'_{l+1} delta
   (projection), delta (identity) or 0 (no skip), plus the next layer's own
   offsets, ..., and finally c -= v' . delta.

That is 10 candidates per unit without a projection row and 40 with one. The
theory says exactly these are symmetries (every other candidate changes the
network function):

- odd: (out=-1, offset=0, prow=keep | neg where P_l exists), layer scope,
  except with identity skips, where only the stream candidate (-1, 0) is one;
- sigmoid: the same with offset=+1;
- even: (out=+1, offset=0, prow=keep) in every layer and skip, and the stream
  candidate (+1, 0) with identity skips (a product of layer flips);
- shift_odd: only with projection skips, in layers l >= 2:
  (out=+1, offset=-b, prow=+W). None in layer 1, none without projections.

The group orders of docs/symmetry.md are then checked by counting the orbit of
a generic theta under the group these generators and the permutations
generate, and compared with the package's orders.
"""

import itertools
import math

import numpy as np
import pytest

from lossbounds.landscape.layout import ParamLayout
from lossbounds.landscape.network import forward_numpy
from lossbounds.landscape.symmetry import SymmetryGroup, symmetry_group_order
from lossbounds.theory.activations import get_activation, list_activations
from lossbounds.theory.formats import Architecture

KIND = {
    "sigmoid": "sigmoid",
    "tanh": "odd",
    "arctan": "odd",
    "erf": "odd",
    "gaussian": "even",
    "softplus": "shift_odd",
    "swish": "shift_odd",
    "gelu": "shift_odd",
}
SKIPS = [None, "identity", "projection"]
OUTPUTS = ["linear", "sigmoid"]
OFFSETS = ["0", "+1", "-1", "+b", "-b"]
PROWS = ["keep", "neg", "+W", "-W"]
REL_TOL = 1e-10  # a symmetry: outputs equal to this relative tolerance
GAP = 1e-6  # a non-symmetry must change some output by more than this (relative)


def arch_of(act, skip=None, output="linear", h=2, K=2):
    return Architecture(2, h, K, 8, activation=act, output=output, skip=skip)


def _random(arch, seed):
    """Generic float64 parameters and inputs (standard normal entries)."""
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(ParamLayout(arch).n_params)
    X = rng.standard_normal((8, arch.n_inputs))
    return theta, X


# ----------------------------------------------------------------- actions
def _consumers(arch, q, layer):
    """Names of the blocks whose columns read u_layer (W, P of the next layer, or v)."""
    if layer == arch.hidden_layers:
        return ["v"]
    names = [f"W{layer + 1}"]
    if f"P{layer + 1}" in q:
        names.append(f"P{layer + 1}")
    return names


def apply_candidate(arch, theta, edits):
    """Image of ``theta`` under a candidate (see the module docstring).

    ``edits`` is a list of (layer, unit, out, offset, prow); layers are 1-based.
    """
    lay = ParamLayout(arch)
    orig = lay.unflatten(np.asarray(theta, dtype=np.float64))
    q = {k: np.array(v, dtype=np.float64) for k, v in orig.items()}
    K, h = arch.hidden_layers, arch.width
    own = np.zeros((K + 1, h))  # own[l][i]: declared constant offset of u_{l,i}
    for layer, i, out, offset, prow in edits:
        q[f"W{layer}"][i, :] *= -1
        q[f"b{layer}"][i] *= -1
        if prow != "keep":
            if f"P{layer}" not in q:
                raise ValueError(f"layer {layer} has no projection row")
            row = orig[f"W{layer}"][i, :]
            q[f"P{layer}"][i, :] = {
                "neg": -q[f"P{layer}"][i, :],
                "+W": q[f"P{layer}"][i, :] + row,
                "-W": q[f"P{layer}"][i, :] - row,
            }[prow]
        if out == -1:
            for name in _consumers(arch, q, layer):
                q[name][..., i] *= -1
        b = orig[f"b{layer}"][i]
        own[layer][i] = {"0": 0.0, "+1": 1.0, "-1": -1.0, "+b": b, "-b": -b}[offset]
    delta = own[1]
    for layer in range(2, K + 1):
        q[f"b{layer}"] -= q[f"W{layer}"] @ delta
        if arch.skip == "identity":
            delta = own[layer] + delta
        elif arch.skip == "projection":
            delta = own[layer] + q[f"P{layer}"] @ delta
        else:
            delta = own[layer]
    q["c"] -= q["v"] @ delta
    return lay.flatten(q)


def shift_odd_flip(arch, theta, layer, i):
    """The projection flip of docs/symmetry.md, written out on its own.

    Negate row i of (W_l, b_l), add W_l's row i to P_l's row i, and carry the
    constant -b_{l,i} downstream into the later biases and the output bias.
    """
    lay = ParamLayout(arch)
    q = {k: np.array(v) for k, v in lay.unflatten(np.asarray(theta, dtype=np.float64)).items()}
    b = q[f"b{layer}"][i]
    q[f"P{layer}"][i, :] += q[f"W{layer}"][i, :]
    q[f"W{layer}"][i, :] *= -1
    q[f"b{layer}"][i] *= -1
    delta = np.zeros(arch.width)
    delta[i] = -b
    for nxt in range(layer + 1, arch.hidden_layers + 1):
        q[f"b{nxt}"] -= q[f"W{nxt}"] @ delta
        delta = q[f"P{nxt}"] @ delta
    q["c"] -= q["v"] @ delta
    return lay.flatten(q)


def permute(arch, theta, layers, perm):
    """Relabel the units of the given hidden layers by ``perm`` (new j = old perm[j])."""
    lay = ParamLayout(arch)
    q = {k: np.array(v) for k, v in lay.unflatten(np.asarray(theta, dtype=np.float64)).items()}
    for layer in layers:
        q[f"W{layer}"] = q[f"W{layer}"][perm, :]
        q[f"b{layer}"] = q[f"b{layer}"][perm]
        if f"P{layer}" in q:
            q[f"P{layer}"] = q[f"P{layer}"][perm, :]
        for name in _consumers(arch, q, layer):
            q[name] = q[name][..., perm]
    return lay.flatten(q)


# ---------------------------------------------------------------- judging
def _change(arch, thetas, theta, X):
    """Largest relative output change of each row of ``thetas`` against ``theta``."""
    ref = forward_numpy(arch, theta, X)
    out = forward_numpy(arch, np.atleast_2d(thetas), X)
    logits_ref = forward_numpy(arch, theta, X, logits=True)
    logits = forward_numpy(arch, np.atleast_2d(thetas), X, logits=True)
    scale = 1.0 + np.max(np.abs(logits_ref))
    return (
        np.maximum(np.max(np.abs(out - ref), axis=1), np.max(np.abs(logits - logits_ref), axis=1))
        / scale
    )


def _classify(arch, thetas, theta, X):
    """True (symmetry) / False (not); fails the test on an ambiguous change."""
    change = _change(arch, thetas, theta, X)
    unclear = (change > REL_TOL) & (change < GAP)
    assert not unclear.any(), f"ambiguous output changes {change[unclear]}"
    return change <= REL_TOL


def candidates(arch):
    """All candidates of the module docstring: list of (label, edits)."""
    K, h = arch.hidden_layers, arch.width
    out = []
    for layer, i in itertools.product(range(1, K + 1), range(h)):
        has_p = arch.skip == "projection" and layer >= 2
        for sgn, off, prow in itertools.product((1, -1), OFFSETS, PROWS if has_p else ["keep"]):
            out.append((("layer", layer, i, sgn, off, prow), [(layer, i, sgn, off, prow)]))
    if arch.skip == "identity":
        for i, sgn, off in itertools.product(range(h), (1, -1), OFFSETS):
            edits = [(layer, i, sgn, off, "keep") for layer in range(1, K + 1)]
            out.append((("stream", 0, i, sgn, off, "keep"), edits))
    return out


def expected_symmetry(kind, skip, label):
    """Whether the theory lists this candidate as a symmetry."""
    scope, layer, _, sgn, off, prow = label
    if scope == "stream":  # identity skips: the whole stream at once
        return (kind, sgn, off) in {("odd", -1, "0"), ("sigmoid", -1, "+1"), ("even", 1, "0")}
    has_p = skip == "projection" and layer >= 2
    if kind == "even":
        return (sgn, off, prow) == (1, "0", "keep")
    if kind == "shift_odd":
        return has_p and (sgn, off, prow) == (1, "-b", "+W")
    if skip == "identity":
        return False
    offset = "+1" if kind == "sigmoid" else "0"
    return (sgn, off, prow) == (-1, offset, "neg" if has_p else "keep")


def test_catalogue_kinds_match_the_declared_flips():
    assert sorted(KIND) == sorted(list_activations())
    for name, kind in KIND.items():
        assert get_activation(name).flip == kind


@pytest.mark.parametrize("activation", sorted(KIND))
def test_flip_kind_holds_pointwise(activation):
    t = np.linspace(-4.0, 4.0, 81)
    import torch

    fn = get_activation(activation).torch_fn
    s = fn(torch.as_tensor(t, dtype=torch.float64)).numpy()
    s_neg = fn(torch.as_tensor(-t, dtype=torch.float64)).numpy()
    target = {"odd": -s, "sigmoid": 1.0 - s, "even": s, "shift_odd": s - t}[KIND[activation]]
    np.testing.assert_allclose(s_neg, target, rtol=0, atol=1e-13)


@pytest.mark.parametrize("activation", ["softplus", "swish", "gelu"])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("h,K", [(2, 3), (3, 2)])
def test_shift_odd_projection_flip_is_exact(activation, output, h, K):
    arch = arch_of(activation, "projection", output, h, K)
    theta, X = _random(arch, seed=3)
    images = [shift_odd_flip(arch, theta, layer, i) for layer in range(2, K + 1) for i in range(h)]
    rng = np.random.default_rng(4)  # plus random products of flips, any order
    for _ in range(4):
        img = theta
        for layer, i in rng.permutation([(lay, i) for lay in range(2, K + 1) for i in range(h)]):
            if rng.random() < 0.6:
                img = shift_odd_flip(arch, img, int(layer), int(i))
        images.append(img)
    assert np.all(_change(arch, np.stack(images), theta, X) <= REL_TOL)
    # each flip moves theta (it is not the identity) and is an involution
    for layer, i in itertools.product(range(2, K + 1), range(h)):
        once = shift_odd_flip(arch, theta, layer, i)
        assert np.linalg.norm(once - theta) > 0.1
        np.testing.assert_allclose(shift_odd_flip(arch, once, layer, i), theta, atol=1e-13)
        assert np.allclose(once, apply_candidate(arch, theta, [(layer, i, 1, "-b", "+W")]))
    # any two flips commute: the same parameter vector in either order
    units = [(layer, i) for layer in range(2, K + 1) for i in range(h)]
    for (l1, i1), (l2, i2) in itertools.combinations(units, 2):
        ab = shift_odd_flip(arch, shift_odd_flip(arch, theta, l1, i1), l2, i2)
        ba = shift_odd_flip(arch, shift_odd_flip(arch, theta, l2, i2), l1, i1)
        np.testing.assert_allclose(ab, ba, rtol=0, atol=1e-12)


@pytest.mark.parametrize("activation", ["softplus", "swish", "gelu"])
@pytest.mark.parametrize("layer", [1, 2])
def test_shift_odd_flip_fails_without_a_projection_row(activation, layer):
    # Layer 1 has no projection row; with identity skips or none there is none anywhere:
    # the same edits without the P update leave -W_{l,i} u_{l-1} in the unit's output.
    for skip in (None, "identity"):
        arch = arch_of(activation, skip, "linear", 2, 2)
        theta, X = _random(arch, seed=5)
        img = apply_candidate(arch, theta, [(layer, 0, 1, "-b", "keep")])
        assert _change(arch, img, theta, X)[0] > GAP


@pytest.mark.parametrize("activation", sorted(KIND))
@pytest.mark.parametrize("skip", SKIPS)
@pytest.mark.parametrize("output", OUTPUTS)
def test_candidate_search_finds_exactly_the_listed_symmetries(activation, skip, output):
    kind = KIND[activation]
    for h, K in [(2, 3), (3, 2)]:
        arch = arch_of(activation, skip, output, h, K)
        theta, X = _random(arch, seed=11 + h)
        cands = candidates(arch)
        images = np.stack([apply_candidate(arch, theta, edits) for _, edits in cands])
        found = _classify(arch, images, theta, X)
        wrong = [
            (label, bool(f))
            for (label, _), f in zip(cands, found, strict=True)
            if bool(f) != expected_symmetry(kind, skip, label)
        ]
        assert not wrong, f"{activation}, skip={skip}, h={h}, K={K}: {wrong[:5]}"
        assert found.any() == (kind != "shift_odd" or skip == "projection")


# ------------------------------------------------------------ group orders
def generators(arch, kind, l2):
    """The generators of docs/symmetry.md as functions theta -> theta."""
    K, h = arch.hidden_layers, arch.width
    tied = arch.skip == "identity"
    gens = []
    for a, b in itertools.combinations(range(h), 2):
        perm = np.arange(h)
        perm[[a, b]] = [b, a]
        groups = [list(range(1, K + 1))] if tied else [[layer] for layer in range(1, K + 1)]
        for layers in groups:
            gens.append(lambda t, ls=layers, p=perm: permute(arch, t, ls, p))
    norm_preserving = kind in ("odd", "even")
    if l2 and not norm_preserving:
        return gens
    cands = candidates(arch)
    for label, edits in cands:
        if expected_symmetry(kind, arch.skip, label):
            gens.append(lambda t, e=edits: apply_candidate(arch, t, e))
    return gens


def _key(theta):
    return tuple(np.round(theta, 8))


def orbit_points(arch, theta, gens, limit=5000):
    """The distinct points of the orbit of ``theta``, as rounded tuples (breadth-first closure)."""
    key = _key
    seen = {key(theta)}
    frontier = [theta]
    while frontier:
        nxt = []
        for t in frontier:
            for g in gens:
                img = g(t)
                k = key(img)
                if k not in seen:
                    seen.add(k)
                    nxt.append(img)
        frontier = nxt
        assert len(seen) <= limit, "orbit larger than the limit"
    return seen


def theory_order(kind, skip, h, K, l2):
    """|G| of docs/symmetry.md for K hidden layers of width h."""
    flips = kind in ("odd", "even") or (kind == "sigmoid" and not l2)
    shift = kind == "shift_odd" and skip == "projection" and not l2
    f = math.factorial(h)
    if skip == "identity":
        return f * (2 ** (h * K) if (kind == "even") else 2**h if flips else 1)
    if shift:
        return f**K * 2 ** (h * (K - 1))
    return (f * 2**h) ** K if flips else f**K


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "gaussian", "softplus"])
@pytest.mark.parametrize("skip", SKIPS)
@pytest.mark.parametrize("l2", [False, True])
def test_orbit_of_a_generic_point_has_the_theory_order(activation, skip, l2):
    kind = KIND[activation]
    for h, K in [(2, 2)] if l2 else [(2, 2), (2, 3)]:
        arch = arch_of(activation, skip, "linear", h, K)
        theta, X = _random(arch, seed=21)
        gens = generators(arch, kind, l2)
        count = len(orbit_points(arch, theta, gens))
        assert count == theory_order(kind, skip, h, K, l2)
        if l2:  # every generator kept with an l2 term preserves ||theta||
            for g in gens:
                assert abs(np.linalg.norm(g(theta)) - np.linalg.norm(theta)) < 1e-12


@pytest.mark.parametrize("activation", sorted(KIND))
def test_only_odd_and_even_flips_preserve_the_norm(activation):
    kind = KIND[activation]
    arch = arch_of(activation, "projection", "linear", 2, 2)
    theta, _ = _random(arch, seed=31)
    flips = [e for label, e in candidates(arch) if expected_symmetry(kind, "projection", label)]
    assert flips
    changes = [
        abs(np.linalg.norm(apply_candidate(arch, theta, e)) - np.linalg.norm(theta)) for e in flips
    ]
    if kind in ("odd", "even"):
        assert max(changes) < 1e-12
    else:  # sigmoid and shift-odd flips move weight into biases or P: not isometries
        assert min(changes) > 1e-3


@pytest.mark.parametrize("activation", sorted(KIND))
@pytest.mark.parametrize("skip", SKIPS)
@pytest.mark.parametrize("l2", [False, True])
def test_package_order_matches_the_theory_order(activation, skip, l2):
    kind = KIND[activation]
    for h, K in [(2, 2), (3, 3)]:
        arch = Architecture(2, h, K, 8, activation=activation, skip=skip, l2=l2)
        assert symmetry_group_order(arch) == theory_order(kind, skip, h, K, l2)


@pytest.mark.parametrize("activation", sorted(KIND))
@pytest.mark.parametrize("skip", SKIPS)
@pytest.mark.parametrize("l2", [False, True])
def test_package_orbit_is_the_brute_force_orbit(activation, skip, l2):
    """The package's group action gives exactly the orbit the generators above generate."""
    kind = KIND[activation]
    for K in (2, 3) if skip == "projection" else (2,):
        arch = Architecture(2, 2, K, 8, activation=activation, skip=skip, l2=l2)
        theta, _ = _random(arch, seed=41)
        expected = orbit_points(arch, theta, generators(arch, kind, l2))
        package = {_key(t) for t in SymmetryGroup(arch).orbit(theta)}
        assert package == expected
