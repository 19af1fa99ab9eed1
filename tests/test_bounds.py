"""Tests of lossbounds.theory.bounds.

Expected values are computed independently: exact big integers and
``math.log2``, 50-digit mpmath evaluation of the formulas typed by hand,
and hand-computed group orders in the summary (the symmetry group itself is
tested in test_symmetry.py).
"""

import itertools
import math

import mpmath
import numpy as np
import pytest
import sympy as sp

from lossbounds.theory import bounds

# ---------------------------------------------------------------------------
# small formats: exact integers
# ---------------------------------------------------------------------------
SMALL = list(itertools.product(range(1, 6), range(0, 7), range(0, 4), range(1, 5)))
#: Zell's expression needs beta >= 2 (the ball's degree).
SMALL_ZELL = [f for f in SMALL if f[3] >= 2]


def _zell_int(n, ell, alpha, beta, s=2):
    return s**n * 2 ** (ell * (ell - 1) // 2) * (n * beta + min(n, ell) * alpha) ** (n + ell)


def _khovanskii_int(n, ell, alpha, beta):
    bp = beta + alpha - 1
    return 2 ** (ell * (ell - 1) // 2) * bp**n * (n * bp - n + min(n, ell) * alpha + 1) ** ell


@pytest.mark.parametrize("s", [1, 2, 3])
def test_zell_float_path_equals_log2_of_exact_integer(s):
    n, ell, alpha, beta = (np.array(col) for col in zip(*SMALL_ZELL, strict=True))
    got = bounds.zell_log2(n, ell, alpha, beta, s=s)
    expected = np.array([math.log2(_zell_int(*f, s=s)) for f in SMALL_ZELL])
    assert got.shape == (len(SMALL_ZELL),)
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=0)


def test_khovanskii_float_path_equals_log2_of_exact_integer():
    fmts = [f for f in SMALL if f[2] + f[3] >= 2]
    n, ell, alpha, beta = (np.array(col) for col in zip(*fmts, strict=True))
    got = bounds.khovanskii_log2(n, ell, alpha, beta)
    expected = np.array([math.log2(_khovanskii_int(*f)) for f in fmts])
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=0)


def test_symbolic_closed_form_equals_exact_integer():
    for n, ell, alpha, beta in [(3, 4, 2, 4), (5, 0, 1, 2), (2, 6, 5, 4), (1, 1, 0, 2)]:
        z = bounds.zell_log2_symbolic((n, ell, alpha, beta))
        # 2^z is exactly the integer bound
        assert sp.simplify(2**z - _zell_int(n, ell, alpha, beta)) == 0
        k = bounds.khovanskii_log2_symbolic((n, ell, alpha, beta)) if alpha + beta >= 2 else None
        if k is not None:
            assert sp.simplify(2**k - _khovanskii_int(n, ell, alpha, beta)) == 0


def test_terms_decompose_the_exact_integer():
    # 2^sign, 2^chain and 2^degree are the three exact integer factors
    n, ell, alpha, beta = 4, 9, 5, 4
    t = bounds.zell_terms(n, ell, alpha, beta)
    assert t.sign == n
    assert t.chain == ell * (ell - 1) // 2
    assert t.degree == pytest.approx(
        (n + ell) * math.log2(n * beta + min(n, ell) * alpha), rel=1e-15
    )
    assert t.total == pytest.approx(math.log2(_zell_int(n, ell, alpha, beta)), rel=1e-15)
    assert t.log10 == pytest.approx(math.log10(_zell_int(n, ell, alpha, beta)), rel=1e-14)
    k = bounds.khovanskii_terms(n, ell, alpha, beta)
    bp = beta + alpha - 1
    assert k.sign == pytest.approx(n * math.log2(bp), rel=1e-15)
    assert k.chain == ell * (ell - 1) // 2
    assert k.degree == pytest.approx(
        ell * math.log2(n * bp - n + min(n, ell) * alpha + 1), rel=1e-15
    )


# ---------------------------------------------------------------------------
# huge formats: 50-digit reference, float path and exact symbolic path
# ---------------------------------------------------------------------------
def _zell_mp(n, ell, alpha, beta, s=2, c=1):
    with mpmath.workdps(50):
        n, ell = mpmath.mpf(n), mpmath.mpf(ell)
        inner = mpmath.mpf(c) * (n * beta + min(n, ell) * alpha)
        return n * mpmath.log(s, 2) + ell * (ell - 1) / 2 + (n + ell) * mpmath.log(inner, 2)


def _khovanskii_mp(n, ell, alpha, beta):
    with mpmath.workdps(50):
        bp = beta + alpha - 1
        n, ell = mpmath.mpf(n), mpmath.mpf(ell)
        inner = n * bp - n + min(n, ell) * alpha + 1
        return ell * (ell - 1) / 2 + n * mpmath.log(bp, 2) + ell * mpmath.log(inner, 2)


def _huge_formats(seed=0, k=300):
    rng = np.random.default_rng(seed)
    n = np.floor(10 ** rng.uniform(0, 9, size=k)).astype(np.int64)
    ell = np.floor(10 ** rng.uniform(0, 12, size=k)).astype(np.int64)
    alpha = rng.integers(0, 60, size=k)
    beta = rng.integers(2, 10, size=k)
    n[:3] = [10**9, 10**9, 1]
    ell[:3] = [10**12, 1, 10**12]
    return n, ell, alpha, beta


def test_float_path_matches_50_digit_reference_up_to_huge_sizes():
    n, ell, alpha, beta = _huge_formats()
    got = bounds.zell_log2(n, ell, alpha, beta)
    assert np.all(np.isfinite(got))
    ref = np.array([float(_zell_mp(*map(int, f))) for f in zip(n, ell, alpha, beta, strict=True)])
    np.testing.assert_allclose(got, ref, rtol=2e-15, atol=0)
    # the largest: ell(ell-1)/2 = 5e23 dominates
    assert got[0] == pytest.approx(5e23, rel=1e-9)


def test_symbolic_path_is_exact_for_huge_sizes():
    n, ell, alpha, beta = 10**9, 10**12, 5, 4
    z = bounds.zell_log2_symbolic((n, ell, alpha, beta))
    # the integer part is carried exactly: subtract it and compare the rest
    exact_int = n + ell * (ell - 1) // 2
    rest = sp.N(z - exact_int, 40)
    with mpmath.workdps(60):
        ref = (n + ell) * mpmath.log(n * beta + min(n, ell) * alpha, 2)
        ref = sp.Float(mpmath.nstr(ref, 45), 45)
    assert abs(float(rest - ref)) < 1e-20 * float(ref)


def test_symbolic_in_symbols_substitutes_to_numeric():
    N, a, b = sp.symbols("N alpha beta", positive=True, integer=True)
    ell = sp.Symbol("ell", nonnegative=True, integer=True)  # ell = 0 is allowed
    z = bounds.zell_log2_symbolic((N, ell, a, b), constant=3)
    k = bounds.khovanskii_log2_symbolic((N, ell, a, b))
    assert z.free_symbols == {N, ell, a, b}
    for vals in [(7, 40, 5, 4), (300, 12, 2, 2), (1, 0, 1, 1)]:
        sub = dict(zip((N, ell, a, b), vals, strict=True))
        assert float(z.subs(sub)) == pytest.approx(float(_zell_mp(*vals, c=3)), rel=1e-14)
        kh = _khovanskii_int(*vals)
        assert float(k.subs(sub)) == pytest.approx(math.log2(kh), rel=1e-14)


def test_constant_shifts_degree_term_by_n_plus_ell_log2_c():
    n, ell, alpha, beta = 12, 30, 5, 4
    base = bounds.zell_log2(n, ell, alpha, beta)
    assert bounds.zell_log2(n, ell, alpha, beta, constant=2.0) - base == pytest.approx(
        n + ell, rel=1e-12
    )
    # symbolic constant: float 1.0 becomes the exact integer 1
    assert bounds.zell_log2_symbolic(
        (n, ell, alpha, beta), constant=1.0
    ) == bounds.zell_log2_symbolic((n, ell, alpha, beta), constant=1)


def test_gradient_degree_lemma_brute_force_shallow_sigmoid_mse():
    """d/dtheta of a Pfaffian function through the chain has degree beta + alpha - 1.

    Shallow sigmoid network, n = 1, h = 1, m = 2 samples, MSE: chain
    F_k = sigma(w x_k + b), with dF_k/dw = x_k (F_k - F_k^2) and
    dF_k/db = F_k - F_k^2 (alpha = 2); L = sum (v F_k + c - y_k)^2 (beta = 4).
    """
    w, b, v, c, t = sp.symbols("w b v c t")
    xs, ys = [sp.Rational(1, 2), sp.Rational(-3, 2)], [sp.Rational(1, 3), 2]
    F = sp.symbols("F1 F2")
    theta = (w, b, v, c)
    P = {(k, w): xs[k] * (F[k] - F[k] ** 2) for k in range(2)}
    P.update({(k, b): F[k] - F[k] ** 2 for k in range(2)})
    Q = sum((v * F[k] + c - ys[k]) ** 2 for k in range(2))
    gens = (*theta, *F)
    alpha = max(sp.Poly(p, *gens).total_degree() for p in P.values())
    beta = sp.Poly(Q, *gens).total_degree()
    assert (alpha, beta) == (2, 4)
    sig = 1 / (1 + sp.exp(-t))
    closed = {F[k]: sig.subs(t, w * xs[k] + b) for k in range(2)}
    degrees = []
    for th in theta:
        dQ = sp.diff(Q, th) + sum(sp.diff(Q, F[k]) * P.get((k, th), 0) for k in range(2))
        degrees.append(sp.Poly(sp.expand(dQ), *gens).total_degree())
        # the chain-rule polynomial is the true derivative (numerically, at a point)
        point = {w: 0.3, b: -0.7, v: 1.1, c: 0.2}
        true = sp.diff(Q.subs(closed), th).subs(point)
        assert float(dQ.subs(closed).subs(point)) == pytest.approx(float(true), rel=1e-12)
    assert max(degrees) == bounds.gradient_degree(alpha, beta) == 5


def test_gradient_degree_lemma_random_polynomials():
    """For random Q of degree beta and P of degree alpha the bound beta + alpha - 1 holds."""
    rng = np.random.default_rng(3)
    x, f1, f2 = sp.symbols("x f1 f2")
    gens = (x, f1, f2)

    def rand_poly(deg):
        monos = [m for m in itertools.product(range(deg + 1), repeat=3) if sum(m) <= deg]
        return sum(int(rng.integers(-3, 4)) * x**i * f1**j * f2**k for i, j, k in monos) + (
            x**deg  # makes the degree exact
        )

    for alpha, beta in [(1, 1), (2, 3), (3, 2), (1, 4)]:
        Q = rand_poly(beta)
        P1, P2 = rand_poly(alpha), rand_poly(alpha)
        dQ = sp.expand(sp.diff(Q, x) + sp.diff(Q, f1) * P1 + sp.diff(Q, f2) * P2)
        assert sp.Poly(dQ, *gens).total_degree() <= bounds.gradient_degree(alpha, beta)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_params=0, chain_length=1, chain_degree=1, loss_degree=2), "n_params"),
        (dict(n_params=2, chain_length=-1, chain_degree=1, loss_degree=2), "chain_length"),
        (dict(n_params=2, chain_length=1, chain_degree=1.5, loss_degree=1), "chain_degree"),
        (dict(n_params=2, chain_length=1, chain_degree=1, loss_degree=0), "loss_degree"),
        (dict(n_params=2**53, chain_length=1, chain_degree=1, loss_degree=2), "n_params"),
        (dict(n_params="a", chain_length=1, chain_degree=1, loss_degree=2), "n_params"),
        (dict(n_params=2, chain_length=1, chain_degree=1, loss_degree=2, s=0), "s "),
        (
            dict(n_params=2, chain_length=1, chain_degree=1, loss_degree=2, constant=-1.0),
            "constant",
        ),
    ],
)
def test_bad_numeric_input_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bounds.zell_log2(**kwargs)


@pytest.mark.parametrize("beta", [1, np.array([4, 1])])
def test_zell_refuses_loss_degree_below_the_balls_degree(beta):
    # S = {L <= c} cut by ||theta||^2 <= r^2: the ball's polynomial has degree 2
    with pytest.raises(ValueError, match="loss_degree must be >= 2.*ball"):
        bounds.zell_log2(3, 4, 2, beta)
    with pytest.raises(ValueError, match="loss_degree must be >= 2.*ball"):
        bounds.zell_log2_symbolic((3, 4, 2, 1))
    # Khovanskii's count has no ball: beta = 1 is accepted there
    assert bounds.khovanskii_log2(3, 4, 2, 1) == pytest.approx(
        math.log2(_khovanskii_int(3, 4, 2, 1))
    )


def test_bad_format_argument_raises():
    with pytest.raises(ValueError, match="arch_or_format"):
        bounds.zell_log2_symbolic((1, 2, 3))
    with pytest.raises(ValueError, match="arch_or_format"):
        bounds.khovanskii_log2_symbolic("sigmoid")
    with pytest.raises(ValueError, match="constant"):
        bounds.zell_log2_symbolic((1, 2, 3, 4), constant=0)
    with pytest.raises(ValueError, match="chain_degree \\+ loss_degree"):
        bounds.khovanskii_log2(3, 3, 0, 1)


# ---------------------------------------------------------------------------
# architectures
# ---------------------------------------------------------------------------
def _arch(width, hidden_layers, activation="sigmoid", skip=None, n_inputs=2, n_samples=10):
    from lossbounds.theory.architecture import Architecture

    return Architecture(
        n_inputs=n_inputs,
        width=width,
        hidden_layers=hidden_layers,
        n_samples=n_samples,
        activation=activation,
        skip=skip,
    )


# ---------------------------------------------------------------------------
# architectures: closed forms in the symbols, invariances, slices, summary
# ---------------------------------------------------------------------------
_n, _h, _m, _K = sp.symbols("n h m K", positive=True, integer=True)


@pytest.mark.parametrize(
    "activation, output, loss",
    [
        ("sigmoid", "linear", "mse"),
        ("tanh", "sigmoid", "bce"),
        ("arctan", "linear", "mse"),
        ("swish", "sigmoid", "mse"),
        ("erf", "linear", "mse"),
    ],
)
def test_symbolic_closed_form_in_architecture_symbols_equals_numeric(activation, output, loss):
    from lossbounds.theory.architecture import Architecture
    from lossbounds.theory.formats import loss_format

    kw = dict(activation=activation, output=output, loss=loss)
    z_sym = bounds.zell_log2_symbolic(Architecture(_n, _h, _K, _m, **kw))
    k_sym = bounds.khovanskii_log2_symbolic(Architecture(_n, _h, _K, _m, **kw))
    rng = np.random.default_rng(5)
    for _ in range(6):
        n, h, K, m = (
            int(v)
            for v in (
                rng.integers(1, 6),
                rng.integers(1, 40),
                rng.integers(1, 7),
                rng.integers(1, 300),
            )
        )
        sub = {_n: n, _h: h, _K: K, _m: m}
        fmt = loss_format(Architecture(n, h, K, m, **kw)).as_tuple()
        assert float(z_sym.subs(sub)) == pytest.approx(bounds.zell_log2(*fmt), rel=1e-13)
        assert float(k_sym.subs(sub)) == pytest.approx(bounds.khovanskii_log2(*fmt), rel=1e-13)


@pytest.mark.parametrize(
    "activation, output, loss",
    [("sigmoid", "linear", "mse"), ("gaussian", "sigmoid", "bce")],
)
def test_l2_and_identity_skip_leave_bounds_unchanged_symbolically(activation, output, loss):
    from lossbounds.theory.architecture import Architecture

    kw = dict(activation=activation, output=output, loss=loss)
    plain = Architecture(_n, _h, _K, _m, **kw)
    for extra in (dict(l2=True), dict(skip="identity"), dict(l2=True, skip="identity")):
        other = Architecture(_n, _h, _K, _m, **kw, **extra)
        assert sp.simplify(bounds.zell_log2_symbolic(other) - bounds.zell_log2_symbolic(plain)) == 0
        assert (
            sp.simplify(
                bounds.khovanskii_log2_symbolic(other) - bounds.khovanskii_log2_symbolic(plain)
            )
            == 0
        )
    proj = Architecture(_n, _h, _K, _m, skip="projection", **kw)
    assert sp.simplify(bounds.zell_log2_symbolic(proj) - bounds.zell_log2_symbolic(plain)) != 0


def test_slice_bounds_equal_exact_integer_with_n_replaced_by_k():
    from lossbounds.theory.formats import loss_format

    arch = _arch(2, 1, "tanh", n_inputs=1, n_samples=3)
    _, ell, alpha, beta = loss_format(arch).as_tuple()
    for k in (1, 2, 3):
        out = bounds.slice_bounds(arch, k)
        assert out["n_params"] == k
        assert out["log2_zell_expression"] == pytest.approx(
            math.log2(_zell_int(k, ell, alpha, beta)), rel=1e-14
        )
        assert out["log2_critical_points"] == pytest.approx(
            math.log2(_khovanskii_int(k, ell, alpha, beta)), rel=1e-14
        )
    with pytest.raises(ValueError, match="k "):
        bounds.slice_bounds(arch, 8)  # N = 7


def test_bound_summary_rejects_symbolic_sizes_and_gives_closed_form_for_huge_groups():
    from lossbounds.theory.architecture import Architecture

    with pytest.raises(ValueError, match="n_params"):
        bounds.bound_summary(Architecture(_n, 3, 1, 10))
    s = bounds.bound_summary(_arch(3000, 1, "tanh", n_samples=2))
    assert s["group_order"] == "2^3000 * 3000!"
    direct = 3000 + math.fsum(math.log2(i) for i in range(2, 3001))
    assert s["log2_group_order"] == pytest.approx(direct, rel=1e-13)
    small = bounds.bound_summary(_arch(5, 2, "swish"))
    assert small["group_order"] == str(120**2)


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(activation="swish", output="sigmoid", loss="bce"),
        dict(activation="arctan", l2=True),
        dict(activation="gaussian", skip="projection"),
        dict(activation="tanh", skip="identity"),
        dict(activation="swish", chain="value"),
        dict(activation="gelu", chain="value", output="sigmoid"),
    ],
)
def test_bounds_for_architectures_equal_the_per_architecture_path(kw):
    """Vectorised closed forms against the concrete recurrences of formats, one by one."""
    from lossbounds.theory.architecture import Architecture
    from lossbounds.theory.formats import loss_format

    rng = np.random.default_rng(7)
    k = 12
    n, h, m = rng.integers(1, 5, k), rng.integers(1, 30, k), rng.integers(1, 200, k)
    layers = rng.integers(2 if "skip" in kw else 1, 6, k)
    out = bounds.bounds_for_architectures(n, h, layers, m, **kw)
    for i in range(k):
        fmt = loss_format(
            Architecture(int(n[i]), int(h[i]), int(layers[i]), int(m[i]), **kw)
        ).as_tuple()
        got = tuple(
            int(out[key][i]) for key in ("n_params", "chain_length", "chain_degree", "loss_degree")
        )
        assert got == fmt
        # 50-digit references (the exact integers have up to ~1e8 digits here)
        assert out["log2_zell_expression"][i] == pytest.approx(float(_zell_mp(*fmt)), rel=1e-13)
        assert out["log2_critical_points"][i] == pytest.approx(
            float(_khovanskii_mp(*fmt)), rel=1e-13
        )


def test_bounds_for_architectures_bad_input():
    with pytest.raises(ValueError, match="hidden_layers"):
        bounds.bounds_for_architectures(2, 3, [1, 2], 10, skip="identity")
    with pytest.raises(ValueError, match="width"):
        bounds.bounds_for_architectures(2, 0, 1, 10)


# ---------------------------------------------------------------------------
# every chain of the activation; the smallest format
# ---------------------------------------------------------------------------
def _hand_formats(n, h, K, m):
    """Swish, linear output, MSE (docs/theory.md): catalogue chain and swish(a) in the chain."""
    N = h * (n + 1) + (K - 1) * h * (h + 1) + h + 1
    return {
        "default": (N, m * h * K, K * K + K, 4 * K + 2),
        "value": (N, 2 * m * h * K, 3 * K - 1, 4),
    }


@pytest.mark.parametrize("sizes", [(1, 2, 1, 30), (2, 2, 20, 1), (2, 1, 50, 1), (3, 4, 2, 5)])
def test_chain_bounds_on_hand_derived_formats(sizes):
    from lossbounds.theory.architecture import Architecture

    got = bounds.chain_bounds(Architecture(*sizes, activation="swish"))
    assert list(got) == ["default", "value"]
    for chain, fmt in _hand_formats(*sizes).items():
        rec = got[chain]
        keys = ("n_params", "chain_length", "chain_degree", "loss_degree")
        assert tuple(rec[k] for k in keys) == fmt
        assert rec["chain"] == chain
        assert rec["log2_critical_points"] == pytest.approx(float(_khovanskii_mp(*fmt)), rel=1e-13)
        assert rec["log2_zell_expression"] == pytest.approx(float(_zell_mp(*fmt)), rel=1e-13)


def test_smallest_format_takes_the_minimum_not_the_first(monkeypatch):
    from lossbounds.theory import activations
    from lossbounds.theory.architecture import Architecture

    arch = Architecture(2, 2, 20, 1, activation="swish", chain="value")
    fmts = _hand_formats(2, 2, 20, 1)
    best = min(fmts, key=lambda c: float(_khovanskii_mp(*fmts[c])))
    assert bounds.smallest_format(arch)["chain"] == best == "default"
    # a single-chain activation reports its own chain
    assert bounds.smallest_format(Architecture(2, 2, 2, 3, activation="tanh"))["chain"] == "default"
    # list the alternative first: the minimum must still win
    monkeypatch.setattr(activations, "list_chains", lambda name: ["value", "default"])
    assert bounds.smallest_format(arch)["chain"] == "default"
