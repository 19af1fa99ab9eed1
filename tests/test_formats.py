"""Tests for lossbounds.theory.formats: the Pfaffian format calculus."""

import pytest
import sympy as sp
from _format_cases import VARIANTS, _arch

from lossbounds.theory import activations
from lossbounds.theory.activations import T, chain_symbols, list_activations
from lossbounds.theory.architecture import Architecture
from lossbounds.theory.formats import (
    PfaffianFormat,
    depth_closed_form,
    layer_degrees,
    loss_format,
    slice_format,
)

n_, h_, K_, m_ = sp.symbols("n h K m", positive=True, integer=True)
ACTIVATIONS = list_activations()


# ------------------------------------------------------------ worked case
@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
def test_worked_case_recurrence_table(act):
    rows = layer_degrees(_arch(2, 2, 6, 1, act))
    assert [r.pre_activation for r in rows] == [1] + [2] * 5
    assert [r.pre_activation_derivative for r in rows] == [3 * q - 3 for q in range(1, 7)]
    assert [r.chain_derivative for r in rows] == [3 * q - 1 for q in range(1, 7)]  # D(l) = 3l - 1
    assert all(r.sigma == 1 for r in rows)


@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
@pytest.mark.parametrize("L", [2, 3, 4, 7])
def test_worked_case_format(act, L):
    n, h, m = 2, 3, 5
    fmt = loss_format(_arch(n, h, L - 1, m, act))
    assert fmt.n_params == h * (n + 1) + (L - 2) * h * (h + 1) + (h + 1)
    assert fmt.chain_length == m * h * (L - 1)
    assert fmt.chain_degree == 3 * L - 4
    assert fmt.loss_degree == 4


def test_worked_case_symbolic():
    fmt = loss_format(Architecture(n_, h_, K_, m_))
    L = K_ + 1
    assert sp.expand(fmt.n_params - (h_ * (n_ + 1) + (L - 2) * h_ * (h_ + 1) + h_ + 1)) == 0
    assert sp.expand(fmt.chain_length - m_ * h_ * (L - 1)) == 0
    assert sp.expand(fmt.chain_degree - (3 * L - 4)) == 0
    assert fmt.loss_degree == 4


# Degrees derived by hand from the recurrences (see notebook 01), K = hidden layers.
HAND = {
    # activation: (alpha(K) linear output, beta(K) linear MSE)
    "sigmoid": (lambda K: 3 * K - 1, lambda K: 4),
    "tanh": (lambda K: 3 * K - 1, lambda K: 4),
    "arctan": (lambda K: 3 if K == 1 else 2 * K + 2, lambda K: 4),
    "softplus": (lambda K: 2 * K, lambda K: 4),
    "gaussian": (lambda K: 4 * K - 2, lambda K: 4),
    "swish": (lambda K: K * K + K, lambda K: 4 * K + 2),
    "erf": (lambda K: 2 if K == 1 else 2 * K + 1, lambda K: 4),
    "gelu": (lambda K: K * K + 2 * K - 1, lambda K: 4 * K + 2),
}


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_hand_derived_degrees(act):
    alpha, beta = HAND[act]
    for K in range(1, 7):
        fmt = loss_format(_arch(1, 2, K, 3, act))
        assert (fmt.chain_degree, fmt.loss_degree) == (alpha(K), beta(K)), K


# Hand-derived formats of the alternative chains (docs/theory.md): the value in the chain
# keeps the chain's polynomials free of t, so alpha is affine in K and ell grows.
VALUE_HAND = {
    # (activation, output, loss): (alpha(K), beta(K), chain elements per unit, per output)
    ("swish", "linear", "mse"): (lambda K: 3 * K - 1, lambda K: 4, 2, 0),
    ("swish", "sigmoid", "bce"): (lambda K: 3 * K + 2, lambda K: 2, 2, 2),
    ("gelu", "linear", "mse"): (lambda K: 4 * K - 2, lambda K: 4, 3, 0),
    ("gelu", "sigmoid", "mse"): (lambda K: 4 * K + 1, lambda K: 2, 3, 1),
}


@pytest.mark.parametrize("case", VALUE_HAND, ids=str)
def test_value_chain_hand_derived_formats(case):
    act, output, loss = case
    alpha, beta, per_unit, per_output = VALUE_HAND[case]
    for K in range(1, 6):
        n, h, m = 2, 3, 4
        arch = Architecture(n, h, K, m, activation=act, output=output, loss=loss, chain="value")
        fmt = loss_format(arch)
        assert fmt.as_tuple() == (
            loss_format(Architecture(n, h, K, m, activation=act)).n_params,
            m * (per_unit * h * K + per_output),
            alpha(K),
            beta(K),
        ), K
    symbolic = loss_format(
        Architecture(n_, h_, K_, m_, activation=act, output=output, loss=loss, chain="value")
    )
    assert sp.expand(symbolic.chain_degree - alpha(K_)) == 0
    assert sp.expand(symbolic.loss_degree - beta(K_)) == 0


def test_sigmoid_output_raises_alpha_correction():
    # The output unit sigmoid(z) joins the chain; its derivative (s - s^2) dz has
    # degree 2 + E(L) = 3L - 1 > D(L-1) = 3L - 4: alpha grows by 3.
    for K in range(1, 6):
        L = K + 1
        mse = loss_format(_arch(2, 3, K, 4, "sigmoid", VARIANTS[1]))
        assert mse.as_tuple()[1:] == (4 * 3 * K + 4, 3 * L - 1, 2)
        bce = loss_format(_arch(2, 3, K, 4, "sigmoid", ("sigmoid", "bce", False, None)))
        assert bce.as_tuple()[1:] == (4 * 3 * K + 8, 3 * L - 1, 2)


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize(
    "output, loss", [("linear", "mse"), ("sigmoid", "mse"), ("sigmoid", "bce")]
)
def test_l2_leaves_the_format_unchanged(act, output, loss):
    for K in (1, 2, 5, K_):
        plain = loss_format(Architecture(n_, h_, K, m_, act, output, loss))
        for k in (2, 3, 9):  # beta >= 2, the degree of lambda * ||theta||^2
            assert plain.subs({K_: k}).loss_degree >= 2
        assert loss_format(Architecture(n_, h_, K, m_, act, output, loss, l2=True)) == plain


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize(
    "output, loss", [("linear", "mse"), ("sigmoid", "mse"), ("sigmoid", "bce")]
)
def test_identity_skip_leaves_the_format_unchanged(act, output, loss):
    for K in (2, 3, 6):
        plain = loss_format(Architecture(n_, h_, K, m_, act, output, loss))
        assert loss_format(Architecture(n_, h_, K, m_, act, output, loss, skip="identity")) == plain
    # symbolic depth: equal for K >= 2 (skips need two hidden layers)
    plain = loss_format(Architecture(n_, h_, K_, m_, act, output, loss))
    skip = loss_format(Architecture(n_, h_, K_, m_, act, output, loss, skip="identity"))
    for K in range(2, 12):
        assert skip.subs({K_: K}) == plain.subs({K_: K})


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_projection_skip_changes_the_format(act):
    plain = loss_format(Architecture(n_, h_, K_, m_, act))
    proj = loss_format(Architecture(n_, h_, K_, m_, act, skip="projection"))
    assert sp.expand(proj.n_params - plain.n_params - (K_ - 1) * h_**2) == 0
    assert proj.chain_length == plain.chain_length
    for K in range(2, 8):
        p, q = plain.subs({K_: K}), proj.subs({K_: K})
        assert q.n_params > p.n_params
        assert q.loss_degree >= p.loss_degree and q.chain_degree >= p.chain_degree
    # sigmoid: u_l = sigma(a_l) + P_l u_{l-1} has degree l, so z has degree K + 1
    if act == "sigmoid":
        assert proj.loss_degree == 2 * (K_ + 1)


# ------------------------------------------------------------ symbolic depth
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v)))
def test_symbolic_depth_agrees_with_concrete(act, variant):
    out, loss, l2, skip = variant
    sym = loss_format(Architecture(n_, h_, K_, m_, act, out, loss, l2, skip))
    for K in range(2 if skip else 1, 16):
        values = {n_: 2, h_: 3, K_: K, m_: 4}
        assert sym.subs(values) == loss_format(Architecture(2, 3, K, 4, act, out, loss, l2, skip))


def test_symbolic_depth_piecewise_and_quadratic():
    arctan = loss_format(Architecture(1, 1, K_, 1, "arctan"))
    assert isinstance(arctan.chain_degree, sp.Piecewise)
    assert arctan.subs({K_: 1}).chain_degree == 3 and arctan.subs({K_: 4}).chain_degree == 10
    swish = loss_format(Architecture(1, 1, K_, 1, "swish"))
    assert sp.expand(swish.chain_degree - (K_**2 + K_)) == 0
    assert sp.expand(swish.loss_degree - (4 * K_ + 2)) == 0


def test_depth_closed_form_refuses_superpolynomial_growth(monkeypatch):
    (g,) = chain_symbols(1)
    name = "texp_sq"
    # sigma = t^2 e^t: the weight of t doubles with each layer
    act = activations.PfaffianActivation(name, (g,), (g,), T**2 * g, (sp.exp(T),), None, None, ())
    monkeypatch.setitem(activations._CATALOGUE, name, act)
    assert loss_format(Architecture(1, 1, 3, 1, name)).chain_degree > 0
    with pytest.raises(ValueError, match="no polynomial closed form"):
        depth_closed_form(name)


def test_format_dict_and_subs():
    fmt = loss_format(Architecture(2, 3, 2, 5))
    d = fmt.as_dict()
    assert list(d) == ["n_params", "chain_length", "chain_degree", "loss_degree"]
    assert d == {"n_params": 25, "chain_length": 30, "chain_degree": 5, "loss_degree": 4}
    assert all(type(v) is int for v in d.values()) and not fmt.is_symbolic
    sym = loss_format(Architecture(n_, h_, K_, m_))
    ds = sym.as_dict()
    assert sym.is_symbolic and all(isinstance(v, (int, str)) for v in ds.values())
    assert ds["chain_degree"] == "3*K - 1" and ds["loss_degree"] == 4
    assert sym.subs({n_: 2, h_: 3, K_: 2, m_: 5}) == fmt


# ------------------------------------------------------------------ slices
def test_slice_format():
    arch = _arch(2, 3, 3, 7, "tanh", VARIANTS[2])
    full = loss_format(arch)
    for k in (1, 2, 5):
        assert slice_format(arch, k) == PfaffianFormat(k, *full.as_tuple()[1:])
    k = sp.Symbol("k", positive=True, integer=True)
    assert slice_format(arch, k).n_params == k
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="k must be"):
            slice_format(arch, bad)


def test_layer_degrees_needs_concrete_depth():
    with pytest.raises(ValueError, match="concrete"):
        layer_degrees(Architecture(1, 1, K_, 1))
