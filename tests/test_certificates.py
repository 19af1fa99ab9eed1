"""Tests for lossbounds.theory.certificates: brute-force chain expansion and the torch certificate."""

import dataclasses
from functools import cache

import pytest
import sympy as sp
from _format_cases import VARIANTS, _arch

from lossbounds.landscape.certify import numeric_certificate
from lossbounds.theory import activations
from lossbounds.theory.activations import T, list_activations
from lossbounds.theory.architecture import Architecture
from lossbounds.theory.certificates import expand_chain
from lossbounds.theory.formats import layer_degrees, loss_format, slice_format

h_ = sp.Symbol("h", positive=True, integer=True)
ACTIVATIONS = list_activations()


@cache
def _expansion(arch):
    return expand_chain(arch)


@pytest.mark.parametrize("act", ["sigmoid", "arctan", "gaussian", "swish"])
@pytest.mark.parametrize("variant", [VARIANTS[0], VARIANTS[2], VARIANTS[4]], ids=str)
def test_slice_brute_force(act, variant):
    arch = _arch(1, 2, 2, 1, act, variant)
    assert _expansion(arch).measured_slice_format(2, seed=3) == slice_format(arch, 2)


# ------------------------------------------------------ brute force (sympy)
BRUTE = [
    *[(2, 2, K, 1, a, VARIANTS[0]) for a in ("sigmoid", "tanh") for K in (1, 2, 3)],  # worked case
    *[(2, 2, 2, 2, a, v) for a in ACTIVATIONS for v in VARIANTS],
    *[(1, 2, 3, 1, a, VARIANTS[0]) for a in ACTIVATIONS],
    *[(1, 2, 3, 1, a, VARIANTS[2]) for a in ACTIVATIONS if a not in ("swish", "gelu")],
    *[(1, 2, 3, 1, a, VARIANTS[4]) for a in ("sigmoid", "arctan", "gaussian", "erf")],
]


@pytest.mark.parametrize("case", BRUTE, ids=lambda c: "-".join(map(str, c[:5] + c[5])))
def test_brute_force_matches_calculus(case):
    *sizes, act, variant = case
    arch = _arch(*sizes, act, variant)
    exp = _expansion(arch)
    assert exp.is_triangular()
    measured = exp.measured_format()
    calculus = loss_format(arch)
    # never exceeded, and tight for generic data
    assert measured.as_tuple() == calculus.as_tuple()
    per_layer = exp.measured_layer_degrees()
    assert [per_layer[r.layer] for r in layer_degrees(arch)] == [
        r.chain_derivative for r in layer_degrees(arch)
    ]


# -------------------------------------------------- numeric certificate (torch)
CERT = [(2, 2, 2, 2, a, v) for a in ACTIVATIONS for v in VARIANTS]


@pytest.mark.parametrize("case", CERT, ids=lambda c: "-".join(map(str, c[:5] + c[5])))
def test_numeric_certificate(case):
    *sizes, act, variant = case
    arch = _arch(*sizes, act, variant)
    for seed in (0, 1):
        cert = numeric_certificate(_expansion(arch), seed=seed)
        assert cert["elements"] == loss_format(arch).chain_length
        assert cert["gradient"] <= 1e-10
        assert cert["loss"] <= 1e-10


@pytest.mark.parametrize("act", ["swish", "gelu"])
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v)))
def test_value_chain_brute_force_and_certificate(act, variant):
    arch = dataclasses.replace(_arch(2, 2, 2, 1, act, variant), chain="value")
    exp = _expansion(arch)
    assert exp.is_triangular()
    assert exp.measured_format() == loss_format(arch)
    assert len(exp.chain) == loss_format(arch).chain_length
    cert = numeric_certificate(exp, seed=2)
    assert cert["gradient"] <= 1e-10
    assert cert["loss"] <= 1e-10


@pytest.mark.parametrize(
    "K, expected", [(1, (9, 4, 2, 4)), (2, (15, 8, 5, 4)), (3, (21, 12, 8, 4))]
)
def test_swish_value_chain_measured_format_hand_values(K, expected):
    # n = h = 2, m = 1, linear MSE: alpha = 3K - 1, beta = 4, ell = 2 m h K (hand-derived)
    arch = Architecture(2, 2, K, 1, activation="swish", chain="value")
    assert _expansion(arch).measured_format().as_tuple() == expected


def test_numeric_certificate_has_teeth(monkeypatch):
    good = activations.get_activation("arctan")
    (g1, g2) = good.chain
    wrong = dataclasses.replace(good, derivatives=(-2 * T * g1, g1))  # g1' should be -2 t g1^2
    monkeypatch.setitem(activations._CATALOGUE, "arctan", wrong)
    cert = numeric_certificate(expand_chain(Architecture(1, 2, 2, 1, "arctan")), seed=0)
    assert cert["gradient"] > 1e-3


def test_expand_chain_needs_concrete_sizes():
    with pytest.raises(ValueError, match="concrete"):
        expand_chain(Architecture(1, h_, 1, 1))


# ------------------------------------------------------------ unequal widths
def _widths_arch(n, widths, m, act, variant):
    out, loss, l2, skip = variant
    return Architecture(
        n_inputs=n, widths=widths, n_samples=m, activation=act, output=out, loss=loss, l2=l2
    )


WIDTHS = [
    *[(2, (3, 1), 2, a, v) for a in ("sigmoid", "tanh", "gaussian") for v in VARIANTS[:3]],
    *[(1, (1, 2, 1), 1, a, VARIANTS[0]) for a in ACTIVATIONS],
    (1, (2, 1, 2), 1, "arctan", VARIANTS[2]),
]


@pytest.mark.parametrize("case", WIDTHS, ids=lambda c: "-".join(map(str, c[:4] + c[4])))
def test_brute_force_unequal_widths(case):
    n, widths, m, act, variant = case
    arch = _widths_arch(n, widths, m, act, variant)
    exp = _expansion(arch)
    assert exp.is_triangular()
    assert exp.measured_format().as_tuple() == loss_format(arch).as_tuple()
    # the degrees are those of the equal-width network of the same depth
    same_depth = _arch(n, 1, len(widths), m, act, variant)
    assert loss_format(arch).as_tuple()[2:] == loss_format(same_depth).as_tuple()[2:]


def test_unequal_widths_sizes_by_hand():
    # n = 2, widths (3, 1): W1 3x2, b1 3, W2 1x3, b2 1, v 1, c 1 -> N = 15;
    # sigmoid: one chain element per unit, 4 units, m = 2 -> ell = 8 (+ 2 for a sigmoid output)
    linear = _expansion(_widths_arch(2, (3, 1), 2, "sigmoid", VARIANTS[0]))
    assert [(name, shape) for name, shape, _ in linear.blocks] == [
        ("W1", (3, 2)),
        ("b1", (3,)),
        ("W2", (1, 3)),
        ("b2", (1,)),
        ("v", (1,)),
        ("c", (1,)),
    ]
    assert loss_format(linear.arch).as_tuple()[:2] == (15, 8)
    out = loss_format(_widths_arch(2, (3, 1), 2, "sigmoid", VARIANTS[1]))
    assert out.as_tuple()[:2] == (15, 10)
    # gelu has two chain elements per unit: ell = 1 * 2 * (1 + 2 + 1)
    assert loss_format(_widths_arch(1, (1, 2, 1), 1, "gelu", VARIANTS[0])).chain_length == 8


@pytest.mark.parametrize(
    "case", WIDTHS[:9:4] + WIDTHS[-3:], ids=lambda c: "-".join(map(str, c[:4] + c[4]))
)
def test_numeric_certificate_unequal_widths(case):
    n, widths, m, act, variant = case
    res = numeric_certificate(_expansion(_widths_arch(n, widths, m, act, variant)), seed=2)
    assert res["gradient"] < 1e-10 and res["loss"] < 1e-10
    assert res["elements"] == loss_format(_widths_arch(n, widths, m, act, variant)).chain_length
