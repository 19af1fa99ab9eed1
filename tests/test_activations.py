"""Tests for lossbounds.theory.activations: the catalogue of Pfaffian activations."""

import math

import mpmath
import pytest
import sympy as sp
import torch

from lossbounds.theory.activations import (
    PfaffianActivation,
    T,
    chain_symbols,
    get_activation,
    list_activations,
    list_chains,
    weighted_degree,
)

PAPER_TABLE = ["sigmoid", "tanh", "arctan", "softplus", "gaussian", "swish", "erf"]
NOT_PFAFFIAN = [
    "relu",
    "ReLU",
    "leaky_relu",
    "leaky-relu",
    "relu6",
    "elu",
    "selu",
    "hardtanh",
    "hardsigmoid",
    "hardswish",
    "step",
    "heaviside",
    "abs",
]
g1, g2 = chain_symbols(2)
#: Every (activation, chain) pair of the catalogue.
ALL_CHAINS = [(n, c) for n in list_activations() for c in list_chains(n)]


# --------------------------------------------------------------- catalogue
def test_catalogue_holds_theory_table_and_gelu():
    names = list_activations()
    assert names[: len(PAPER_TABLE)] == PAPER_TABLE
    assert "gelu" in names


@pytest.mark.parametrize("name, chain", ALL_CHAINS)
def test_catalogue_entry_verifies_symbolically(name, chain):
    act = get_activation(name, chain=chain)
    act.verify()  # derivative polynomials, triangularity, flip: raises on failure
    for g, c, p in zip(act.chain, act.closed_forms, act.derivatives, strict=True):
        assert sp.simplify(sp.diff(c, T) - act.on_chain(p)) == 0, g


def test_theory_table_entries_exactly():
    t = T
    (g,) = chain_symbols(1)
    expected = {
        "sigmoid": ((g - g**2,), g),
        "tanh": ((1 - g**2,), g),
        "arctan": ((-2 * t * g1**2, g1), g2),
        "softplus": ((g1 - g1**2, g1), g2),
        "gaussian": ((-2 * t * g,), g),
        "swish": ((g - g**2,), t * g),
        "erf": ((-2 * t * g1, 2 / sp.sqrt(sp.pi) * g1), g2),
    }
    for name, (derivs, sigma) in expected.items():
        act = get_activation(name)
        assert tuple(sp.expand(d) for d in act.derivatives) == tuple(sp.expand(d) for d in derivs)
        assert sp.expand(act.sigma - sigma) == 0


@pytest.mark.parametrize(
    "name, flip",
    [
        ("sigmoid", "sigmoid"),
        ("tanh", "odd"),
        ("arctan", "odd"),
        ("erf", "odd"),
        ("gaussian", "even"),
        ("softplus", "shift_odd"),
        ("swish", "shift_odd"),
        ("gelu", "shift_odd"),
    ],
)
def test_flip_kind(name, flip):
    act = get_activation(name)
    assert act.flip == flip
    x = torch.linspace(-6, 6, 101, dtype=torch.float64)
    s, s_neg = act.torch_fn(x), act.torch_fn(-x)
    if flip == "odd":
        torch.testing.assert_close(s_neg, -s, rtol=0, atol=1e-15)
    elif flip == "sigmoid":
        torch.testing.assert_close(s_neg, 1 - s, rtol=0, atol=1e-15)
    elif flip == "even":
        torch.testing.assert_close(s_neg, s, rtol=0, atol=1e-15)
    else:  # shift_odd: sigma(-t) = sigma(t) - t
        torch.testing.assert_close(s_neg, s - x, rtol=0, atol=1e-13)


def _mp(expr):
    return sp.lambdify(T, expr, modules="mpmath")


@pytest.mark.parametrize("name, chain", ALL_CHAINS)
def test_torch_forms_match_closed_forms_in_float64(name, chain):
    act = get_activation(name, chain=chain)
    mpmath.mp.dps = 40
    points = [-40.0, -12.5, -3.0, -0.7, 0.0, 0.3, 1.9, 7.0, 35.0]
    x = torch.tensor(points, dtype=torch.float64)
    exprs = [act.sigma_closed_form(), *act.closed_forms]
    fns = [act.torch_fn, *act.torch_chain]
    for expr, fn in zip(exprs, fns, strict=True):
        got = fn(x)
        assert got.dtype == torch.float64
        ref = _mp(expr)
        for i, p in enumerate(points):
            want = float(ref(mpmath.mpf(p)))
            assert abs(float(got[i]) - want) <= 1e-14 * max(1.0, abs(want)), (expr, p)


@pytest.mark.parametrize("name, chain", ALL_CHAINS)
def test_torch_forms_are_finite_far_out(name, chain):
    act = get_activation(name, chain=chain)
    x = torch.tensor([-1e4, -800.0, 800.0, 1e4], dtype=torch.float64)
    for fn in (act.torch_fn, *act.torch_chain):
        assert torch.isfinite(fn(x)).all()


def test_softplus_has_no_threshold_shortcut():
    # F.softplus returns t for t > 20, an error e^-20 ~ 2e-9; ours is exact.
    act = get_activation("softplus")
    x = torch.tensor([25.0], dtype=torch.float64)
    assert float(act.torch_fn(x) - x) == pytest.approx(math.log1p(math.exp(-25.0)), rel=1e-12)


@pytest.mark.parametrize("name, chain", ALL_CHAINS)
def test_sigma_is_q_of_the_torch_chain(name, chain):
    act = get_activation(name, chain=chain)
    x = torch.linspace(-4, 4, 33, dtype=torch.float64)
    q = sp.lambdify((T, *act.chain), act.sigma, modules="math")
    values = [fn(x) for fn in act.torch_chain]
    for i in range(len(x)):
        want = q(float(x[i]), *[float(v[i]) for v in values])
        assert float(act.torch_fn(x[i : i + 1])[0]) == pytest.approx(want, rel=1e-14, abs=1e-15)


@pytest.mark.parametrize("name, chain", ALL_CHAINS)
def test_chain_derivatives_match_autograd(name, chain):
    act = get_activation(name, chain=chain)
    x = torch.linspace(-3, 3, 25, dtype=torch.float64, requires_grad=True)
    values = [fn(x) for fn in act.torch_chain]
    for r, (fn_val, p) in enumerate(zip(values, act.derivatives, strict=True)):
        (grad,) = torch.autograd.grad(fn_val.sum(), x, retain_graph=True)
        poly = sp.lambdify((T, *act.chain), p, modules="math")
        for i in range(len(x)):
            want = poly(float(x[i].detach()), *[float(v[i].detach()) for v in values])
            assert float(grad[i]) == pytest.approx(want, rel=1e-12, abs=1e-14), (r, i)


def test_degrees_of_catalogue():
    # weight of t = 1 and 2 (first and deeper layers)
    sig, arctan, swish = (get_activation(n) for n in ("sigmoid", "arctan", "swish"))
    assert (sig.derivative_degree(1), sig.derivative_degree(2)) == (2, 2)
    assert (arctan.derivative_degree(1), arctan.derivative_degree(2)) == (3, 4)
    assert (swish.sigma_degree(1), swish.sigma_degree(3)) == (2, 4)
    assert sp.expand(swish.sigma_derivative() - (g1 + T * g1 - T * g1**2)) == 0
    assert swish.sigma_derivative_degree(3) == 5


def test_weighted_degree():
    x, y = sp.symbols("x y")
    assert weighted_degree(x**2 * y + y**5, {x: 3, y: 1}) == 7
    assert weighted_degree(x**2 * y + y**5, {x: 1, y: 1}) == 5
    assert weighted_degree(sp.Integer(4), {x: 1}) == 0
    assert weighted_degree(sp.Integer(0), {x: 1}) == -1
    c = sp.Symbol("c")  # not weighted: a constant
    assert weighted_degree(c**9 * x, {x: 2}) == 2
    with pytest.raises(ValueError, match="not a polynomial"):
        weighted_degree(sp.exp(x), {x: 1})


# ---------------------------------------------------------------- look-up
def test_lookup_is_case_insensitive_with_aliases():
    assert get_activation("Sigmoid") is get_activation("sigmoid")
    assert get_activation("  TANH ").name == "tanh"
    assert get_activation("SiLU").name == "swish"
    assert get_activation("logistic").name == "sigmoid"
    assert get_activation("atan").name == "arctan"
    act = get_activation("erf")
    assert get_activation(act) is act


@pytest.mark.parametrize("name", NOT_PFAFFIAN)
def test_non_analytic_activations_are_refused_with_reason(name):
    with pytest.raises(ValueError) as info:
        get_activation(name)
    msg = str(info.value)
    assert "not Pfaffian" in msg and "not analytic" in msg
    assert "sigmoid" in msg  # the catalogue is offered


def test_unknown_name_lists_the_catalogue():
    with pytest.raises(ValueError) as info:
        get_activation("sine_wave")
    msg = str(info.value)
    assert "unknown activation" in msg
    assert all(name in msg for name in list_activations())


def test_gelu_is_pfaffian():
    act = get_activation("GELU")
    assert act.chain_length == 2
    x = torch.linspace(-5, 5, 11, dtype=torch.float64)
    torch.testing.assert_close(act.torch_fn(x), torch.nn.functional.gelu(x), rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("bad", [3, None, 1.5])
def test_lookup_needs_a_name(bad):
    with pytest.raises(ValueError, match="activation must be a name"):
        get_activation(bad)


# ------------------------------------------------------------ verification
def _candidate(name, chain, derivatives, sigma, closed_forms, flip=None):
    """An activation that is not in the catalogue (no torch form), for :meth:`verify`."""
    return PfaffianActivation(
        name, tuple(chain), tuple(derivatives), sigma, tuple(closed_forms), flip, None, ()
    )


def test_verify_accepts_a_mish_chain():
    g3 = sp.Symbol("g3", real=True)
    sig = 1 / (1 + sp.exp(-T))
    soft = sp.log(1 + sp.exp(T))
    mish = _candidate(
        "mish",
        [g1, g2, g3],
        [g1 - g1**2, g1, (1 - g3**2) * g1],
        T * g3,
        [sig, soft, sp.tanh(soft)],
    )
    mish.verify()  # raises on failure
    assert "mish" not in list_activations()


def test_verify_refuses_a_wrong_derivative():
    with pytest.raises(ValueError, match="does not equal"):
        _candidate("wrong", [g1], [2 * g1], g1, [sp.exp(T)]).verify()


def test_verify_refuses_wrong_arctan_chain():
    bad = _candidate(
        "badatan", [g1, g2], [-2 * T * g1, g1], g2, [1 / (1 + T**2), sp.atan(T)], flip="odd"
    )
    with pytest.raises(ValueError, match="does not equal"):
        bad.verify()


def test_verify_refuses_a_non_triangular_chain():
    # g1 = e^t, g2 = e^t: true identities, but P_1 uses the later g2
    with pytest.raises(ValueError, match="triangular"):
        _candidate("loop", [g1, g2], [g2, g1], g2, [sp.exp(T), sp.exp(T)]).verify()


def test_verify_refuses_non_polynomials_and_bad_shapes():
    with pytest.raises(ValueError, match="not a polynomial"):
        _candidate("rooty", [g1], [sp.sqrt(g1)], g1, [sp.exp(T)]).verify()
    with pytest.raises(ValueError, match="same length"):
        _candidate("short", [g1, g2], [g1], g2, [sp.exp(T), sp.exp(T)]).verify()
    with pytest.raises(ValueError, match="not a polynomial"):
        _candidate("sig2", [g1], [g1], sp.exp(g1), [sp.exp(T)]).verify()
    with pytest.raises(ValueError, match="flip symmetry"):
        _candidate("wrongflip", [g1], [g1], g1, [sp.exp(T)], flip="odd").verify()
    # tanh is odd, not shift-odd: tanh(-t) = -tanh(t) != tanh(t) - t
    with pytest.raises(ValueError, match="'shift_odd' does not hold"):
        _candidate("tanhso", [g1], [1 - g1**2], g1, [sp.tanh(T)], flip="shift_odd").verify()


# ------------------------------------------------------- alternative chains
def test_alternative_chains_exactly():
    # hand-derived: (t sigmoid)' = sigmoid + t sigmoid (1 - sigmoid) = g1 + g2 - g1 g2;
    # (t Phi)' = Phi + t phi = (1 + g2)/2 + t g1 / sqrt(2 pi)
    t = T
    a1, a2, a3 = chain_symbols(3)
    expected = {
        "swish": ((a1 - a1**2, a1 + a2 - a1 * a2), a2),
        "gelu": (
            (-t * a1, sp.sqrt(2 / sp.pi) * a1, (1 + a2) / 2 + t * a1 / sp.sqrt(2 * sp.pi)),
            a3,
        ),
    }
    for name, (derivs, sigma) in expected.items():
        act = get_activation(name, chain="value")
        assert (act.name, act.chain_name) == (name, "value")
        assert [sp.expand(d - e) for d, e in zip(act.derivatives, derivs, strict=True)] == [
            0
        ] * len(derivs)
        assert act.sigma == sigma
        # the same function as the catalogue chain's
        assert sp.simplify(act.sigma_closed_form() - get_activation(name).sigma_closed_form()) == 0


def test_list_chains_and_chain_lookup():
    assert list_chains("swish") == ["default", "value"]
    assert list_chains("GELU") == ["default", "value"]
    assert list_chains("tanh") == ["default"]
    assert get_activation("silu", chain="default") is get_activation("swish")
    assert get_activation("swish", chain=None) is get_activation("swish")
    value = get_activation("swish", chain="value")
    assert get_activation(value) is value
    assert get_activation(value, chain="default") is get_activation("swish")
    with pytest.raises(ValueError, match="chain must be one of 'default' for activation 'tanh'"):
        get_activation("tanh", chain="value")
    with pytest.raises(ValueError, match="chain must be one of 'default', 'value'"):
        get_activation("swish", chain="sigmoid")
