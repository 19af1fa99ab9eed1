"""Formats of classifiers: softmax cross-entropy, vector outputs with MSE, bias-free layers.

References are hand derivations (docs/formats.md, section 7), the brute-force
chain expansion and torch autograd / torch's own losses.
"""

from functools import cache

import numpy as np
import pytest
import sympy as sp

from lossbounds.landscape.certify import numeric_certificate
from lossbounds.theory.activations import list_activations
from lossbounds.theory.architecture import Architecture
from lossbounds.theory.certificates import expand_chain
from lossbounds.theory.formats import layer_degrees, loss_format, output_head

n_, h_, K_, m_ = sp.symbols("n h K m", positive=True, integer=True)


@cache
def _expansion(arch):
    return expand_chain(arch)


def _ce(n, h, K, m, C=3, act="tanh", **kw):
    return Architecture(n, h, K, m, activation=act, loss="cross_entropy", n_outputs=C, **kw)


# ------------------------------------------------------------------ heads
@pytest.mark.parametrize("C", [2, 3, 4])
def test_cross_entropy_head_is_a_pfaffian_chain(C):
    head = output_head("linear", "cross_entropy", C)
    head.verify()  # triangular; d f_r / d z_c of the closed forms equal the P_rc
    assert head.chain_length == C + 2


def test_head_verify_has_teeth():
    import dataclasses

    head = output_head("linear", "cross_entropy", 2)
    rows = list(head.coefficients)
    rows[-2] = tuple(-p for p in rows[-2])  # d q should be -q^2 sum e_c dz_c
    with pytest.raises(ValueError, match="dq/dz1"):
        dataclasses.replace(head, coefficients=tuple(rows)).verify()


def test_scalar_heads_keep_their_chains():
    assert output_head("linear", "mse").chain_length == 0
    assert output_head("sigmoid", "mse").chain_length == 1
    assert output_head("sigmoid", "bce").chain_length == 2


def test_output_head_refuses_unknown_combinations():
    with pytest.raises(ValueError, match="accepted are"):
        output_head("sigmoid", "mse", 3)


# ------------------------------------------------------ architecture checks
@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(loss="cross_entropy"), "n_outputs >= 2"),
        (dict(loss="cross_entropy", n_outputs=3, output="sigmoid"), "output='linear'"),
        (dict(n_outputs=2, output="sigmoid"), "n_outputs=2 needs output='linear'"),
        (dict(n_outputs=0), "n_outputs must be a concrete integer >= 1"),
        (dict(n_outputs=sp.Symbol("C", positive=True, integer=True)), "n_outputs"),
        (dict(bias="yes"), "bias must be True, False"),
        (dict(bias=(True, False)), "one entry per weight layer"),
        (dict(bias=(True, 1, False)), "bias entries must be True or False"),
        (dict(loss="hinge"), "loss must be one of mse, bce, cross_entropy"),
    ],
)
def test_architecture_refuses(kw, match):
    with pytest.raises(ValueError, match=match):
        Architecture(2, 3, 2, 5, **kw)


def test_bias_normalisation_and_layer_bias():
    assert Architecture(2, 3, 2, 5, bias=(False, False, False)).bias is False
    arch = Architecture(2, 3, 2, 5, bias=(True, False, True))
    assert [arch.layer_bias(layer) for layer in (1, 2, 3)] == [True, False, True]
    assert "bias=(True, False, True)" in repr(arch)
    assert Architecture(2, 3, 2, 5, bias=(True,) * 3) == Architecture(2, 3, 2, 5)


# ------------------------------------------------------- hand-derived formats
@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
@pytest.mark.parametrize("K", [1, 2, 3, 5])
def test_cross_entropy_hand_derived(act, K):
    # D(K) = 3K - 1, E_z = 1 + D(K) = 3K; d q = -q^2 sum e_c dz_c has degree 3 + E_z.
    n, h, m, C = 3, 4, 7, 5
    fmt = loss_format(_ce(n, h, K, m, C, act))
    N = h * (n + 1) + (K - 1) * h * (h + 1) + C * (h + 1)
    assert fmt.as_tuple() == (N, m * (h * K + C + 2), 3 * K + 3, 2)


@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
def test_vector_mse_and_bias_free_hand_derived(act):
    n, h, K, m, C = 3, 4, 3, 7, 5
    vec = loss_format(Architecture(n, h, K, m, activation=act, n_outputs=C))
    assert vec.as_tuple() == (
        h * (n + 1) + (K - 1) * h * (h + 1) + C * (h + 1),
        m * h * K,
        3 * K - 1,
        4,
    )
    free = loss_format(Architecture(n, h, K, m, activation=act, n_outputs=C, bias=False))
    assert free.as_tuple() == (h * n + (K - 1) * h * h + C * h, m * h * K, 3 * K - 1, 4)


def test_symbolic_depth_cross_entropy():
    fmt = loss_format(_ce(n_, h_, K_, m_, C=10, bias=False))
    assert sp.expand(fmt.n_params - (h_ * n_ + (K_ - 1) * h_**2 + 10 * h_)) == 0
    assert sp.expand(fmt.chain_length - m_ * (h_ * K_ + 12)) == 0
    assert (sp.expand(fmt.chain_degree - (3 * K_ + 3)), fmt.loss_degree) == (0, 2)


@pytest.mark.parametrize("act", list_activations())
def test_symbolic_depth_agrees_with_concrete_for_classifiers(act):
    sym = loss_format(_ce(n_, h_, K_, m_, C=3, act=act, bias=False))
    for K in (1, 2, 3, 6):
        conc = loss_format(_ce(2, 3, K, 4, C=3, act=act, bias=False))
        assert sym.subs({n_: 2, h_: 3, K_: K, m_: 4}).as_tuple() == conc.as_tuple()


@pytest.mark.parametrize("act", ["sigmoid", "gaussian", "swish"])
def test_bias_does_not_change_the_degrees(act):
    for K in (1, 2, 3):
        with_b = Architecture(2, 3, K, 4, activation=act)
        without = Architecture(2, 3, K, 4, activation=act, bias=False)
        assert loss_format(with_b).as_tuple()[1:] == loss_format(without).as_tuple()[1:]


# --------------------------------------------- brute force and autograd certificates
CASES = [
    *[
        (2, 2, K, 2, a, dict(loss="cross_entropy", n_outputs=3))
        for a in ("tanh", "sigmoid")
        for K in (1, 2)
    ],
    *[(1, 2, 2, 1, a, dict(loss="cross_entropy", n_outputs=2)) for a in list_activations()],
    *[(2, 2, 2, 2, a, dict(n_outputs=3)) for a in ("tanh", "gaussian", "swish")],
    *[(2, 2, 2, 2, a, dict(bias=False)) for a in ("tanh", "arctan", "softplus")],
    (2, 2, 2, 2, "tanh", dict(bias=(False, True, False), loss="cross_entropy", n_outputs=2)),
    (2, 2, 2, 2, "erf", dict(bias=(True, False, True), n_outputs=2, l2=True)),
    (2, 2, 2, 2, "sigmoid", dict(bias=False, output="sigmoid", loss="bce")),
    (2, 2, 2, 2, "tanh", dict(loss="cross_entropy", n_outputs=2, l2=True)),
]


@pytest.mark.parametrize(
    "case", CASES, ids=lambda c: "-".join(map(str, c[:5])) + str(sorted(c[5].items()))
)
def test_brute_force_and_autograd_certificates(case):
    *sizes, act, kw = case
    arch = Architecture(*sizes, activation=act, **kw)
    exp = _expansion(arch)
    assert exp.is_triangular()
    assert exp.measured_format() == loss_format(arch)
    per_layer = exp.measured_layer_degrees()
    assert [per_layer[r.layer] for r in layer_degrees(arch)] == [
        r.chain_derivative for r in layer_degrees(arch)
    ]
    for seed in (0, 1):
        cert = numeric_certificate(exp, seed=seed)
        assert cert["elements"] == loss_format(arch).chain_length
        assert cert["gradient"] <= 1e-10
        assert cert["loss"] <= 1e-10


def test_bounds_follow_the_classifier_format():
    from lossbounds.theory.bounds import bound_summary, bounds_for_architectures

    kw = dict(activation="tanh", loss="cross_entropy", n_outputs=10, bias=False)
    arch = Architecture(64, 16, 2, 300, **kw)
    one = bound_summary(arch)
    many = bounds_for_architectures(64, 16, 2, 300, **kw)
    assert (one["n_params"], one["chain_length"]) == (64 * 16 + 16 * 16 + 10 * 16, 300 * (32 + 12))
    assert int(np.ravel(many["n_params"])[0]) == one["n_params"]
    assert float(np.ravel(many["log2_critical_points"])[0]) == pytest.approx(
        one["log2_critical_points"]
    )
