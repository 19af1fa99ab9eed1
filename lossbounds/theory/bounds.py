"""Upper and lower bounds on B(S), the sum of the Betti numbers of a sublevel set.

Zell's expression (the right-hand side of Zell's theorem with a chosen constant C; a bound
only for C at least the theorem's unknown constant), Khovanskii's bound on non-degenerate
critical points, and the symmetry-group order, as log2 / log10 (never the numbers). Each
formula is one sympy expression used by an exact symbolic path and a vectorised float path.
S is the sublevel set cut by a ball (s = 2 sign conditions), so Zell's functions need
loss_degree >= 2 (ValueError naming it otherwise). The formulas, the precision of the float
path and the hypotheses: docs/bounds.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import sympy as sp

from lossbounds._checks import check_int
from lossbounds.theory.activations import list_chains
from lossbounds.theory.architecture import Architecture
from lossbounds.theory.formats import loss_format, slice_format
from lossbounds.theory.groups import (
    log2_symmetry_group_order,
    symmetry_description,
    symmetry_group_order,
)

__all__ = [
    "BoundTerms",
    "gradient_degree",
    "zell_log2_symbolic",
    "zell_terms_symbolic",
    "zell_log2",
    "zell_terms",
    "khovanskii_log2_symbolic",
    "khovanskii_terms_symbolic",
    "khovanskii_log2",
    "khovanskii_terms",
    "format_tuple",
    "slice_bounds",
    "bounds_for_architectures",
    "log10_bounds",
    "log10_exact",
    "chain_bounds",
    "smallest_format",
    "bound_summary",
    "LOG10_2",
]

#: log10(2), to turn log2 into log10.
LOG10_2 = math.log10(2.0)

# Integers beyond 2^53 are not exactly representable in float64.
_FLOAT_EXACT = 2**53

_BALL_MESSAGE = (
    "loss_degree must be >= 2 for Zell's expression, got {beta}: S is cut by the ball "
    "||theta||^2 <= r^2, whose polynomial has degree 2, and Zell's format bounds the degree "
    "of every defining function; pass max(loss_degree, 2)"
)


@dataclass(frozen=True)
class BoundTerms:
    """The three terms of a log2 bound (floats, numpy arrays or sympy expressions).

    The field names follow Zell's expression: ``sign`` = N log2 s, ``chain`` =
    ell(ell-1)/2, ``degree`` = (N+ell) log2(C (N beta + min(N, ell) alpha)).
    Khovanskii's bound fills the same three slots with its own terms: ``sign``
    holds N log2 beta' (the log2 of the product of the N equation degrees, not
    a count of sign conditions), ``chain`` = ell(ell-1)/2, ``degree`` =
    ell log2(N beta' - N + min(N, ell) alpha + 1).

    Attributes
    ----------
    sign, chain, degree : float, numpy.ndarray of shape (k,), or sympy.Expr
        The terms; arrays share the broadcast shape of the inputs.
    """

    sign: object
    chain: object
    degree: object

    @property
    def total(self):
        """log2 of the bound: ``sign + chain + degree``."""
        return self.sign + self.chain + self.degree

    @property
    def log10(self):
        """log10 of the bound (floats/arrays only; sympy totals get ``* log10(2)``)."""
        if isinstance(self.total, sp.Basic):
            return self.total * sp.log(2) / sp.log(10)
        return self.total * LOG10_2

    def as_dict(self) -> dict:
        """``{"sign": ..., "chain": ..., "degree": ..., "total": ...}``."""
        return {"sign": self.sign, "chain": self.chain, "degree": self.degree, "total": self.total}


# ---------------------------------------------------------------------------
# formats
# ---------------------------------------------------------------------------
def format_tuple(arch_or_format):
    """Return (N, ell, alpha, beta) of an Architecture, a PfaffianFormat or a 4-tuple.

    Parameters
    ----------
    arch_or_format : lossbounds.theory.architecture.Architecture, PfaffianFormat or tuple
        An architecture (its loss format is computed with
        :func:`lossbounds.theory.formats.loss_format`), a format, or the tuple
        ``(n_params, chain_length, chain_degree, loss_degree)``.

    Returns
    -------
    tuple of 4 sympy or python numbers
    """
    if isinstance(arch_or_format, tuple | list):
        if len(arch_or_format) != 4:
            raise ValueError(
                "arch_or_format as a tuple must be (n_params, chain_length, chain_degree, "
                f"loss_degree), got {len(arch_or_format)} entries"
            )
        return tuple(arch_or_format)
    if hasattr(arch_or_format, "n_params"):
        fmt = arch_or_format
    elif hasattr(arch_or_format, "n_weight_layers"):
        fmt = loss_format(arch_or_format)
    else:
        raise ValueError(
            "arch_or_format must be an Architecture, a PfaffianFormat or a tuple "
            f"(N, ell, alpha, beta), got {type(arch_or_format).__name__}"
        )
    return (fmt.n_params, fmt.chain_length, fmt.chain_degree, fmt.loss_degree)


def _exact_constant(constant, name="constant"):
    """Sympy number for a constant: floats become exact rationals (1.0 -> 1)."""
    c = (
        sp.nsimplify(constant, rational=True)
        if isinstance(constant, float)
        else sp.sympify(constant)
    )
    if c.is_number and not (c.is_positive and c.is_finite):
        raise ValueError(f"{name} must be a positive finite number, got {constant!r}")
    return c


def gradient_degree(chain_degree, loss_degree):
    """Degree of each dL/dtheta_j as a Pfaffian function on the loss's chain.

    If q = Q(theta, f_1..f_ell) with deg Q <= beta, then
    dq/dtheta_j = dQ/dtheta_j + sum_i dQ/df_i * P_ij(theta, f): both partial
    derivatives of Q have degree <= beta - 1 and every P_ij has degree <=
    alpha, so the derivative has degree <= beta - 1 + alpha (tight for the
    shallow sigmoid MSE loss, checked in ``tests/test_bounds.py``).

    Parameters
    ----------
    chain_degree, loss_degree : int, array or sympy.Expr
        alpha and beta.

    Returns
    -------
    same type as the inputs
        beta + alpha - 1.
    """
    return loss_degree + chain_degree - 1


# ---------------------------------------------------------------------------
# the formulas, written once
# ---------------------------------------------------------------------------
_N, _ELL, _ALPHA, _BETA, _S, _C = sp.symbols("N ell alpha beta s C")

#: log2 as an undefined function: ``math``-exact ``numpy.log2`` in the float path,
#: ``sympy.log(x, 2)`` (evaluated exactly where possible) in the symbolic one.
_LG = sp.Function("log2")

#: Zell's terms (sign, chain, degree) in (N, ell, alpha, beta, s, C).
_ZELL = (
    _N * _LG(_S),
    _ELL * (_ELL - 1) / 2,
    (_N + _ELL) * _LG(_C * (_N * _BETA + sp.Min(_N, _ELL) * _ALPHA)),
)

#: Khovanskii's terms (sign, chain, degree) in (N, ell, alpha, beta).
_KHOVANSKII = (
    _N * _LG(gradient_degree(_ALPHA, _BETA)),
    _ELL * (_ELL - 1) / 2,
    _ELL * _LG(_N * gradient_degree(_ALPHA, _BETA) - _N + sp.Min(_N, _ELL) * _ALPHA + 1),
)


def _substitute(terms, values: dict) -> BoundTerms:
    """Replace the placeholders of the terms by sympy values (exact log2)."""
    rule = {k: sp.sympify(v) for k, v in values.items()}
    return BoundTerms(*(t.xreplace(rule).replace(_LG, lambda x: sp.log(x, 2)) for t in terms))


@lru_cache(maxsize=2)
def _lambdified(name: str):
    """Lambdify the three terms of ``name`` into a numpy function of the placeholders."""
    terms, args = {
        "zell": (_ZELL, (_N, _ELL, _ALPHA, _BETA, _S, _C)),
        "khovanskii": (_KHOVANSKII, (_N, _ELL, _ALPHA, _BETA)),
    }[name]
    return sp.lambdify(args, terms, modules=[{"log2": np.log2}, "numpy"])


# ---------------------------------------------------------------------------
# symbolic (exact) path
# ---------------------------------------------------------------------------
def zell_terms_symbolic(arch_or_format, s=2, constant=1) -> BoundTerms:
    """Zell's expression in log2, term by term, as exact sympy expressions.

    The value is a bound on B(S) only for ``constant`` at least the theorem's
    (unknown) constant C; with C = 1 it is an expression, not a bound.

    Parameters
    ----------
    arch_or_format : Architecture, PfaffianFormat or tuple (N, ell, alpha, beta)
        Sizes may be integers or sympy expressions; beta >= 2 (the ball's degree).
    s : int
        Number of sign conditions defining S (2: the sublevel condition and a ball).
    constant : number
        The constant C hidden in the O(.); floats are converted to exact rationals.

    Returns
    -------
    BoundTerms
        ``sign = N log2 s``, ``chain = ell(ell-1)/2``,
        ``degree = (N+ell) log2(C (N beta + min(N, ell) alpha))``.

    Raises
    ------
    ValueError
        If ``loss_degree`` (beta) is provably below 2 (a symbolic beta that
        sympy cannot compare with 2 is accepted).
    """
    n, ell, alpha, beta = format_tuple(arch_or_format)
    if (sp.sympify(beta) < 2) is sp.true:
        raise ValueError(_BALL_MESSAGE.format(beta=beta))
    values = {_N: n, _ELL: ell, _ALPHA: alpha, _BETA: beta}
    return _substitute(_ZELL, {**values, _S: _check_s(s), _C: _exact_constant(constant)})


def zell_log2_symbolic(arch_or_format, s=2, constant=1):
    """log2 of Zell's expression as an exact sympy expression (see :func:`zell_terms_symbolic`).

    A bound only for ``constant`` at least Zell's unknown constant.
    ``.evalf(50)`` gives 50 correct digits for concrete sizes.
    """
    return zell_terms_symbolic(arch_or_format, s=s, constant=constant).total


def khovanskii_terms_symbolic(arch_or_format) -> BoundTerms:
    """Khovanskii's bound on non-degenerate critical points, log2, term by term (sympy).

    Applied to grad L = 0: N equations of degree beta' = beta + alpha - 1 on
    the loss's chain of length ell and degree alpha.

    Returns
    -------
    BoundTerms
        ``sign = N log2 beta'`` (the product of the degrees),
        ``chain = ell(ell-1)/2``,
        ``degree = ell log2(N beta' - N + min(N, ell) alpha + 1)``.
    """
    n, ell, alpha, beta = format_tuple(arch_or_format)
    return _substitute(_KHOVANSKII, {_N: n, _ELL: ell, _ALPHA: alpha, _BETA: beta})


def khovanskii_log2_symbolic(arch_or_format):
    """log2 of Khovanskii's critical-point bound as an exact sympy expression."""
    return khovanskii_terms_symbolic(arch_or_format).total


# ---------------------------------------------------------------------------
# numeric (vectorised) path: the same expressions, lambdified
# ---------------------------------------------------------------------------
def _check_s(s):
    return check_int("s (number of sign conditions)", s, 1)


def _as_int_array(x, name, minimum):
    """float64 array of integer values >= minimum and < 2^53 (exact in float64)."""
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric (int or array of ints), got {x!r}") from exc
    if not np.all(np.isfinite(a)) or np.any(a != np.floor(a)):
        raise ValueError(f"{name} must hold finite integers, got {x!r}")
    if np.any(a < minimum) or np.any(a >= _FLOAT_EXACT):
        raise ValueError(f"{name} must hold integers in [{minimum}, 2**53), got {x!r}")
    return a


def _numeric_format(n_params, chain_length, chain_degree, loss_degree):
    n = _as_int_array(n_params, "n_params", 1)
    ell = _as_int_array(chain_length, "chain_length", 0)
    alpha = _as_int_array(chain_degree, "chain_degree", 0)
    beta = _as_int_array(loss_degree, "loss_degree", 1)
    return np.broadcast_arrays(n, ell, alpha, beta)


def _maybe_scalar(a):
    return float(a) if np.ndim(a) == 0 else a


def _numeric_terms(name, n, *args) -> BoundTerms:
    """Evaluate the lambdified terms; each broadcast to the shape of ``n``."""
    terms = _lambdified(name)(n, *args)
    return BoundTerms(*(_maybe_scalar(np.broadcast_to(t, np.shape(n))) for t in terms))


def zell_terms(n_params, chain_length, chain_degree, loss_degree, s=2, constant=1.0) -> BoundTerms:
    """Zell's expression in log2, term by term, vectorised over numpy arrays.

    The value is a bound on B(S) only for ``constant`` at least the theorem's
    (unknown) constant C; with C = 1 it is an expression, not a bound.

    Parameters
    ----------
    n_params, chain_length, chain_degree, loss_degree : int or array_like of shape (k,)
        N >= 1, ell >= 0, alpha >= 0, beta >= 2 (integers below 2^53); broadcast
        together. beta >= 2 because S is cut by a ball, whose polynomial has
        degree 2 (Zell's degree bounds every defining function).
    s : int
        Number of sign conditions (default 2).
    constant : float
        The constant C > 0 of the O(.) (default 1).

    Returns
    -------
    BoundTerms
        Float (scalar inputs) or float64 arrays of the broadcast shape. Relative
        error of the total below ~1e-15 (see the module docstring).

    Raises
    ------
    ValueError
        If a size is not an integer in range (``loss_degree`` below 2 included),
        ``s`` < 1 or ``constant`` is not positive and finite.
    """
    s = _check_s(s)
    if not (isinstance(constant, int | float | np.floating | np.integer) and 0 < constant < np.inf):
        raise ValueError(f"constant must be a positive finite number, got {constant!r}")
    n, ell, alpha, beta = _numeric_format(n_params, chain_length, chain_degree, loss_degree)
    if np.any(beta < 2):
        raise ValueError(_BALL_MESSAGE.format(beta=loss_degree))
    return _numeric_terms("zell", n, ell, alpha, beta, s, float(constant))


def zell_log2(n_params, chain_length, chain_degree, loss_degree, s=2, constant=1.0):
    """log2 of Zell's expression, vectorised (see :func:`zell_terms`).

    A bound on B(S) only for ``constant`` at least Zell's unknown constant.

    Returns
    -------
    float or numpy.ndarray of shape (k,)
    """
    return zell_terms(
        n_params, chain_length, chain_degree, loss_degree, s=s, constant=constant
    ).total


def khovanskii_terms(n_params, chain_length, chain_degree, loss_degree) -> BoundTerms:
    """Khovanskii's bound on non-degenerate critical points of L, log2, vectorised.

    A proven bound with no hidden constant, valid for every valid format of L
    (every Pfaffian chain representing L gives one).

    Parameters
    ----------
    n_params, chain_length, chain_degree, loss_degree : int or array_like of shape (k,)
        The loss format (N, ell, alpha, beta).

    Returns
    -------
    BoundTerms
        ``sign = N log2 beta'``, ``chain = ell(ell-1)/2``,
        ``degree = ell log2(N beta' - N + min(N, ell) alpha + 1)`` with
        beta' = beta + alpha - 1.

    Raises
    ------
    ValueError
        If a size is not an integer in range, or alpha + beta < 2.
    """
    n, ell, alpha, beta = _numeric_format(n_params, chain_length, chain_degree, loss_degree)
    if np.any(gradient_degree(alpha, beta) < 1):
        raise ValueError("chain_degree + loss_degree must be >= 2 (gradient of degree >= 1)")
    return _numeric_terms("khovanskii", n, ell, alpha, beta)


def khovanskii_log2(n_params, chain_length, chain_degree, loss_degree):
    """log2 of Khovanskii's critical-point bound, vectorised (see :func:`khovanskii_terms`)."""
    return khovanskii_terms(n_params, chain_length, chain_degree, loss_degree).total


def _numeric_tuple(arch_or_format):
    vals = format_tuple(arch_or_format)
    out = []
    for name, v in zip(
        ("n_params", "chain_length", "chain_degree", "loss_degree"), vals, strict=True
    ):
        v = sp.sympify(v)
        if not v.is_Integer:
            raise ValueError(
                f"{name} must be a concrete integer for numeric bounds, got {v} "
                "(use the *_symbolic functions for symbolic sizes)"
            )
        out.append(int(v))
    return tuple(out)


def _bound_record(fmt, s=2, constant=1.0, arrays=False) -> dict:
    """log2 and log10 of Zell's expression and of Khovanskii's critical-point bound.

    Parameters
    ----------
    fmt : sequence of 4 ints or int arrays
        (N, ell, alpha, beta).
    s, constant
        As in :func:`zell_terms`.
    arrays : bool
        Return arrays of shape (k,) even for a single format.

    Returns
    -------
    dict
        ``log2_zell_expression``, ``log10_zell_expression`` (Zell's expression
        with the given C, a bound only for C at least the theorem's unknown
        constant), ``log2_critical_points``, ``log10_critical_points``
        (Khovanskii's bound on non-degenerate critical points): floats, or
        float64 arrays when ``arrays``.
    """
    z = zell_log2(*fmt, s=s, constant=constant)
    kh = khovanskii_log2(*fmt)
    if arrays:
        z, kh = np.atleast_1d(z), np.atleast_1d(kh)
    return {
        "log2_zell_expression": z,
        "log10_zell_expression": z * LOG10_2,
        "log2_critical_points": kh,
        "log10_critical_points": kh * LOG10_2,
    }


# ---------------------------------------------------------------------------
# many architectures at once
# ---------------------------------------------------------------------------
@lru_cache(maxsize=64)
def _format_function(activation, output, loss, l2, skip, chain="default", n_outputs=1, bias=True):
    """Lambdify the symbolic format into a numpy function (n, h, K, m) -> (N, ell, alpha, beta).

    The closed forms come from :func:`lossbounds.theory.formats.loss_format` on an
    architecture with symbolic sizes (derived and proved there, not retyped
    here); sympy's lambdify turns them into vectorised numpy code.
    """
    n, h, k, m = sp.symbols("n h K m", positive=True, integer=True)
    arch = Architecture(
        n, h, k, m, activation=activation, output=output, loss=loss, l2=l2, skip=skip,
        chain=chain, n_outputs=n_outputs, bias=bias,
    )  # fmt: skip
    return sp.lambdify((n, h, k, m), loss_format(arch).as_tuple(), "numpy")


def bounds_for_architectures(
    n_inputs,
    width,
    hidden_layers,
    n_samples,
    activation="sigmoid",
    output="linear",
    loss="mse",
    l2=False,
    skip=None,
    constant=1.0,
    chain="default",
    n_outputs=1,
    bias=True,
) -> dict:
    """Compute formats, Zell's expression and Khovanskii's bound of many architectures.

    Parameters
    ----------
    n_inputs, width, hidden_layers, n_samples : int or array_like of shape (k,)
        Sizes n, h, K = L - 1, m (positive integers), broadcast together.
        Equal widths only (the closed forms are in one width h); for
        per-layer widths use :func:`bound_summary` on an
        ``Architecture(..., widths=...)``.
    activation, output, loss, l2, skip, chain, n_outputs, bias
        As in :class:`lossbounds.theory.architecture.Architecture` (one value for
        all; ``bias`` one bool).
    constant : float
        The constant C of Zell's O(.).

    Returns
    -------
    dict of numpy.ndarray of shape (k,)
        ``n_params``, ``chain_length``, ``chain_degree``, ``loss_degree``
        (int64) and ``log2_zell_expression``, ``log10_zell_expression``,
        ``log2_critical_points``, ``log10_critical_points`` (float64); the
        same numbers as :func:`bound_summary` architecture by architecture.
    """
    sizes = {}
    for name, v in (
        ("n_inputs", n_inputs),
        ("width", width),
        ("hidden_layers", hidden_layers),
        ("n_samples", n_samples),
    ):
        sizes[name] = _as_int_array(v, name, 1)
    n, h, k, m = np.broadcast_arrays(*sizes.values())
    if skip is not None and np.any(k < 2):
        raise ValueError(
            f"hidden_layers must be >= 2 with skip={skip!r} (skips join hidden layers)"
        )
    fn = _format_function(activation, output, loss, bool(l2), skip, chain, n_outputs, bias)
    cols = [np.broadcast_to(np.asarray(c, dtype=np.float64), n.shape) for c in fn(n, h, k, m)]
    if any(np.any(c != np.round(c)) for c in cols):  # pragma: no cover - formats are integers
        raise ValueError("the format closed form gave non-integer values")
    fmt = [np.round(c).astype(np.int64) for c in cols]
    names = ("n_params", "chain_length", "chain_degree", "loss_degree")
    return {
        **dict(zip(names, fmt, strict=True)),
        **_bound_record(fmt, constant=constant, arrays=True),
    }


# ---------------------------------------------------------------------------
# one architecture, every chain of its activation
# ---------------------------------------------------------------------------
def log10_bounds(archs, constant=1.0) -> tuple[np.ndarray, np.ndarray]:
    """Return log10 of Zell's expression and of Khovanskii's bound for a list of architectures.

    Parameters
    ----------
    archs : sequence of Architecture
        Concrete architectures (any widths, skips, activations).
    constant : float
        The constant C of Zell's O(.) (C = 1: Zell's expression, not a bound).

    Returns
    -------
    zell, khovanskii : numpy.ndarray of shape (len(archs),)
        float64, through the vectorised float path (:func:`zell_log2`,
        :func:`khovanskii_log2`) on the formats of :func:`loss_format`.
    """
    n, ell, alpha, beta = np.array([loss_format(a).as_tuple() for a in archs], dtype=np.int64).T
    z = zell_log2(n, ell, alpha, beta, constant=constant) * LOG10_2
    k = khovanskii_log2(n, ell, alpha, beta) * LOG10_2
    return np.atleast_1d(z), np.atleast_1d(k)


def log10_exact(arch, digits: int = 30) -> tuple[float, float, float]:
    """Return log10 of Zell's expression (C = 1), of Khovanskii's bound and of |G|, exactly evaluated.

    The exact references of the float path: the sympy expressions
    (:func:`zell_log2_symbolic`, :func:`khovanskii_log2_symbolic`) evaluated to
    ``digits`` significant digits, and log10 of the exact integer
    :func:`symmetry_group_order`.

    Parameters
    ----------
    arch : Architecture
        Concrete sizes.
    digits : int
        Significant digits of the sympy evaluation (>= 16).

    Returns
    -------
    tuple of 3 floats
        (zell, khovanskii, group_order), log10.
    """
    digits = check_int("digits", digits, 16)
    to10 = sp.log(2) / sp.log(10)
    zell = float(sp.N(zell_log2_symbolic(arch) * to10, digits))
    khovanskii = float(sp.N(khovanskii_log2_symbolic(arch) * to10, digits))
    return zell, khovanskii, math.log10(symmetry_group_order(arch))


def chain_bounds(arch, s=2, constant=1.0) -> dict:
    """Format, Zell's expression and Khovanskii's bound on every chain of the activation.

    A format is a property of the chain chosen to represent the loss; every
    valid chain (:func:`lossbounds.theory.activations.list_chains`) gives a valid
    format and hence a valid Khovanskii bound (and Zell's expression, a bound
    for C at least the theorem's unknown constant). ``arch.chain`` is ignored.

    Parameters
    ----------
    arch : lossbounds.theory.architecture.Architecture
        Concrete sizes.
    s, constant
        As in :func:`zell_terms`.

    Returns
    -------
    dict
        chain name -> record with ``chain``, the ``as_dict()`` keys of the
        format, ``log2_zell_expression``, ``log10_zell_expression``,
        ``log2_critical_points``, ``log10_critical_points``; in the order of
        ``list_chains`` (the default chain first).
    """
    out = {}
    for name in list_chains(arch.activation):
        fmt = loss_format(replace(arch, chain=name))
        record = _bound_record(_numeric_tuple(fmt), s=s, constant=constant)
        out[name] = {"chain": name, **fmt.as_dict(), **record}
    return out


def smallest_format(arch, s=2, constant=1.0) -> dict:
    """Find the chain whose format gives the smallest Khovanskii bound, and its numbers.

    Khovanskii's count is constant-free, so it can rank the chains; Zell's
    expression is reported beside it (its ranking can depend on C). Every valid
    format gives a valid bound, so the smallest is the one to report. Ties go
    to the earlier chain of ``list_chains`` (the default first).

    Parameters
    ----------
    arch : lossbounds.theory.architecture.Architecture
        Concrete sizes (``arch.chain`` is ignored: all chains are compared).
    s, constant
        As in :func:`zell_terms`.

    Returns
    -------
    dict
        One record of :func:`chain_bounds` (key ``chain`` names the winner).
    """
    records = chain_bounds(arch, s=s, constant=constant)
    return min(records.values(), key=lambda r: r["log2_critical_points"])


# ---------------------------------------------------------------------------
# slices
# ---------------------------------------------------------------------------
def slice_bounds(arch, k: int, s=2, constant=1.0) -> dict:
    """Zell's expression and Khovanskii's bound for a k-dimensional affine slice of the loss.

    The slice theta = theta_0 + sum_i t_i d_i, t in R^k, keeps the chain and its
    degree (:func:`lossbounds.theory.formats.slice_format`); only N becomes k. The set
    compared is {t : L(t) <= c, ||t||^2 <= r^2}, i.e. the sublevel set of a
    measured 2D slice (cut by a disc) when k = 2, so s = 2 is the default, as
    for the full parameter space.

    Parameters
    ----------
    arch : lossbounds.theory.architecture.Architecture
        Concrete sizes.
    k : int
        Slice dimension, 1 <= k <= N.
    s, constant
        As in :func:`zell_terms`.

    Returns
    -------
    dict
        The slice format (``as_dict()`` keys) plus ``log2_zell_expression``,
        ``log10_zell_expression``, ``log2_critical_points``, ``log10_critical_points``.
    """
    fmt = slice_format(arch, k)
    n, ell, alpha, beta = _numeric_tuple(fmt)
    n_full = _numeric_tuple(arch)[0]
    if n > n_full:
        raise ValueError(f"k (slice dimension) must be at most n_params = {n_full}, got {k}")
    return {**fmt.as_dict(), **_bound_record((n, ell, alpha, beta), s=s, constant=constant)}


# ---------------------------------------------------------------------------
# summary (CLI)
# ---------------------------------------------------------------------------
#: Above this many decimal digits, ``group_order`` is given as its exact
#: closed form instead (Python refuses int->str beyond 4300 digits by default).
_MAX_DIGITS = 4000


def bound_summary(arch, constant=1.0) -> dict:
    """Format, Zell's expression, Khovanskii's bound and |G| of one architecture, JSON-ready.

    Parameters
    ----------
    arch : lossbounds.theory.architecture.Architecture
        Concrete sizes.
    constant : float
        The constant C of Zell's O(.) (default 1; Zell's expression is a bound
        only for C at least the theorem's unknown constant).

    Returns
    -------
    dict
        The keys of ``loss_format(arch).as_dict()`` plus ``log2_zell_expression``,
        ``log10_zell_expression``, ``log2_critical_points``,
        ``log10_critical_points``, ``group_order`` (|G| as an exact
        decimal string; for |G| above 4000 digits its exact closed form such as
        ``'2^2000 * (1000!)^2'``), ``log2_group_order`` and
        ``log10_group_order``. |G| is the symmetry group's order, a lower
        bound on b_0 only under the hypotheses of
        :func:`lossbounds.landscape.symmetry.lower_bound_certificate`.
    """
    fmt = loss_format(arch)
    lg = log2_symmetry_group_order(arch)
    if lg * LOG10_2 < _MAX_DIGITS - 2:
        sym = str(symmetry_group_order(arch))
    else:
        sym = symmetry_description(arch)
    out = {**fmt.as_dict(), **_bound_record(_numeric_tuple(fmt), constant=constant)}
    out.update(
        group_order=sym,
        log2_group_order=lg,
        log10_group_order=lg * LOG10_2,
    )
    return out
