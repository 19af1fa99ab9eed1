"""Catalogue of Pfaffian activation functions.

Each activation carries its chain (sympy symbols g1..gk with triangular derivative polynomials
P_j), its value as a polynomial Q in (t, g), closed forms for :meth:`PfaffianActivation.verify`,
its sign-flip symmetry and a stable torch implementation (torch imported lazily). Alternative
chains (``chain="value"`` for swish and GELU) give other valid formats. Non-analytic
activations (ReLU, ...) are refused. Chains and their derivations: docs/formats.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache

import sympy as sp

__all__ = [
    "T",
    "FLIPS",
    "PfaffianActivation",
    "get_activation",
    "list_activations",
    "list_chains",
    "DEFAULT_CHAIN",
    "weighted_degree",
    "chain_symbols",
]

#: The activation's variable.
T = sp.Symbol("t", real=True)

#: Allowed values of :attr:`PfaffianActivation.flip`.
FLIPS = ("odd", "sigmoid", "even", "shift_odd", None)

#: Name of the catalogue chain of every activation.
DEFAULT_CHAIN = "default"


def chain_symbols(k: int) -> tuple[sp.Symbol, ...]:
    """Return the chain symbols ``(g1, ..., gk)`` used by every activation."""
    return tuple(sp.Symbol(f"g{j}", real=True) for j in range(1, k + 1))


def weighted_degree(expr, weights: dict, maximum=max):
    """Weighted total degree of the polynomial ``expr`` in the keys of ``weights``.

    Each monomial prod x^e has degree sum weight(x) * e; the result is the
    maximum over the monomials of the expanded polynomial (0 for a nonzero
    constant, and ``-1`` for the zero polynomial, so that it never wins a max).
    Symbols of ``expr`` that are not keys of ``weights`` are treated as
    constants. The weights may be sympy expressions (a symbolic depth); then
    ``maximum`` must compare them (it receives a list).

    Raises
    ------
    ValueError
        If ``expr`` is not a polynomial in the weighted symbols.
    """
    expr = sp.sympify(expr)
    free = expr.free_symbols
    gens = tuple(s for s in weights if s in free)
    monoms = _monomials(expr, gens)
    if monoms is None:
        return -1
    w = [weights[g] for g in gens]
    return maximum([sum(wi * ei for wi, ei in zip(w, monom, strict=True)) for monom in monoms])


@lru_cache(maxsize=4096)
def _monomials(expr, gens: tuple):
    """Exponent tuples of ``expr`` as a polynomial in ``gens`` (None for zero)."""
    if not gens:
        return None if expr == 0 else ((),)
    try:
        poly = sp.Poly(expr, *gens)
    except sp.PolynomialError as exc:
        raise ValueError(f"{expr} is not a polynomial in {list(gens)}") from exc
    return None if poly.is_zero else tuple(poly.monoms())


@dataclass(frozen=True)
class PfaffianActivation:
    """A Pfaffian activation: its one-variable chain, derivatives and torch form.

    Attributes
    ----------
    name : str
        Catalogue name (lower case).
    chain : tuple of sympy.Symbol
        The chain symbols ``g1..gk`` (see :func:`chain_symbols`).
    derivatives : tuple of sympy.Expr
        ``P_j(t, g_1..g_j)``, the polynomial with ``g_j'(t) = P_j``.
    sigma : sympy.Expr
        ``Q(t, g_1..g_k)``, the polynomial with ``sigma(t) = Q``.
    closed_forms : tuple of sympy.Expr
        ``g_j`` as an explicit function of :data:`T`.
    flip : {"odd", "sigmoid", "even", "shift_odd", None}
        Sign-flip identity: ``"odd"`` sigma(-t) = -sigma(t); ``"sigmoid"``
        sigma(-t) = 1 - sigma(t); ``"even"`` sigma(-t) = sigma(t);
        ``"shift_odd"`` sigma(-t) = sigma(t) - t (softplus, swish, GELU: a
        network absorbs its ``-t`` only through a projection skip, see
        :mod:`lossbounds.landscape.symmetry`); ``None`` none.
    torch_fn : callable
        sigma on torch tensors, numerically stable, float64-safe.
    torch_chain : tuple of callables
        The chain elements on torch tensors (same order as ``chain``).
    description : str
        One line for tables.
    chain_name : str
        Which of the activation's chains this is (:data:`DEFAULT_CHAIN` for
        the catalogue chain; see :func:`list_chains`).
    """

    name: str
    chain: tuple
    derivatives: tuple
    sigma: sp.Expr
    closed_forms: tuple
    flip: str | None
    torch_fn: Callable
    torch_chain: tuple
    description: str = ""
    chain_name: str = DEFAULT_CHAIN

    # ----------------------------------------------------------------- sizes
    @property
    def t(self) -> sp.Symbol:
        """The activation's variable (:data:`T`)."""
        return T

    @property
    def chain_length(self) -> int:
        """k, the number of chain elements per unit."""
        return len(self.chain)

    # ------------------------------------------------------------ closed forms
    def sigma_closed_form(self) -> sp.Expr:
        """Return sigma as an explicit function of t (Q with the chain substituted)."""
        return self.sigma.subs(dict(zip(self.chain, self.closed_forms, strict=True)))

    def on_chain(self, expr) -> sp.Expr:
        """Substitute the closed forms of the chain into a polynomial in (t, g)."""
        return sp.sympify(expr).subs(dict(zip(self.chain, self.closed_forms, strict=True)))

    def sigma_derivative(self) -> sp.Expr:
        """Return d sigma/dt as a polynomial in (t, g): chain rule through the P_j."""
        return self._sigma_derivative

    @cached_property
    def _sigma_derivative(self) -> sp.Expr:
        d = sp.diff(self.sigma, T)
        for g, p in zip(self.chain, self.derivatives, strict=True):
            d += sp.diff(self.sigma, g) * p
        return sp.expand(d)

    # ----------------------------------------------------------------- degrees
    def _weights(self, t_weight) -> dict:
        return {T: t_weight, **dict.fromkeys(self.chain, 1)}

    def derivative_degree(self, t_weight=1, maximum=max):
        """max_j weighted degree of P_j when t has weight ``t_weight`` and each g_j weight 1."""
        w = self._weights(t_weight)
        return maximum([weighted_degree(p, w, maximum) for p in self.derivatives])

    def sigma_degree(self, t_weight=1, maximum=max):
        """Weighted degree of Q (sigma as a polynomial in t and the chain)."""
        return weighted_degree(self.sigma, self._weights(t_weight), maximum)

    def sigma_derivative_degree(self, t_weight=1, maximum=max):
        """Weighted degree of d sigma/dt written on the chain (:meth:`sigma_derivative`)."""
        return weighted_degree(self.sigma_derivative(), self._weights(t_weight), maximum)

    # ------------------------------------------------------------ verification
    def verify(self) -> None:
        """Check the Pfaffian structure symbolically; raise ValueError if it fails.

        Checks: lengths agree; each P_j is a polynomial in (t, g_1..g_j) only
        (triangularity); Q is a polynomial in (t, g); d/dt of each closed form
        equals P_j evaluated on the chain (sympy simplifies the difference to
        0); the declared flip symmetry holds.
        """
        _verify(self.name, self.chain, self.derivatives, self.sigma, self.closed_forms, self.flip)

    # ------------------------------------------------------------------- misc
    def __call__(self, x):
        """Apply sigma to a torch tensor (``torch_fn``)."""
        return self.torch_fn(x)

    def latex_table_row(self) -> dict:
        """LaTeX strings for the chain, derivatives and sigma (for notebooks)."""
        return {
            "activation": self.name,
            "chain": ", ".join(
                f"{sp.latex(g)} = {sp.latex(c)}"
                for g, c in zip(self.chain, self.closed_forms, strict=True)
            ),
            "derivatives": ", ".join(
                f"{sp.latex(g)}' = {sp.latex(p)}"
                for g, p in zip(self.chain, self.derivatives, strict=True)
            ),
            "sigma": sp.latex(self.sigma),
        }


# ---------------------------------------------------------------------------
# verification
# ---------------------------------------------------------------------------
def _is_zero(expr) -> bool:
    """Return True when sympy proves ``expr`` == 0 (simplify, then rewrite in exp)."""
    expr = sp.sympify(expr)
    if sp.simplify(expr) == 0:
        return True
    if sp.simplify(expr.rewrite(sp.exp)) == 0:
        return True
    return expr.equals(0) is True


def _numerically_zero(expr, points=(-1.7, -0.4, 0.3, 1.1, 2.3)) -> bool:
    """Cheap necessary condition, evaluated before the (slow) symbolic proof."""
    for p in points:
        try:
            v = complex(sp.N(expr.subs(T, p), 30))
        except (TypeError, ValueError):
            return False
        if not math.isfinite(abs(v)) or abs(v) > 1e-12:
            return False
    return True


def _verify(name, chain, derivatives, sigma, closed_forms, flip) -> None:
    """Raise ``ValueError`` naming ``name`` unless the activation's data are consistent.

    Checks the sizes and symbols, that every P_j and sigma are polynomials of a
    triangular chain, that the closed forms solve g_j' = P_j, and the declared flip.
    """
    _verify_symbols(name, chain, derivatives, closed_forms, flip)
    sigma = _verify_polynomials(name, chain, derivatives, sigma)
    subs = dict(zip(chain, closed_forms, strict=True))
    _verify_closed_forms(name, chain, derivatives, closed_forms, subs)
    if flip is not None:
        _verify_flip(name, sigma.subs(subs), flip)


def _verify_symbols(name, chain, derivatives, closed_forms, flip) -> None:
    """Check the lengths, that the chain is distinct symbols other than t, and the flip kind."""
    k = len(chain)
    if k == 0:
        raise ValueError(f"activation {name!r}: the chain must have at least one element")
    if len(derivatives) != k or len(closed_forms) != k:
        raise ValueError(
            f"activation {name!r}: chain, derivatives and closed_forms must have the same "
            f"length, got {k}, {len(derivatives)}, {len(closed_forms)}"
        )
    if any(not isinstance(g, sp.Symbol) for g in chain) or len(set(chain)) != k or T in chain:
        raise ValueError(
            f"activation {name!r}: chain must be {k} distinct sympy symbols other than t"
        )
    if flip not in FLIPS:
        raise ValueError(f"activation {name!r}: flip must be one of {FLIPS}, got {flip!r}")


def _verify_polynomials(name, chain, derivatives, sigma) -> sp.Expr:
    """Check that P_j is polynomial in (t, g_1..g_j) and sigma in (t, g); return sigma."""
    allowed_all = {T, *chain}
    for j, (g, p) in enumerate(zip(chain, derivatives, strict=True), start=1):
        p = sp.sympify(p)
        allowed = {T, *chain[:j]}
        extra = p.free_symbols - allowed
        if extra:
            raise ValueError(
                f"activation {name!r}: derivative of {g} (P_{j}) may only use t and "
                f"{', '.join(map(str, chain[:j]))} (triangular chain), but uses "
                f"{', '.join(sorted(map(str, extra)))}"
            )
        if not p.is_polynomial(*allowed):
            raise ValueError(
                f"activation {name!r}: P_{j} = {p} is not a polynomial in t and the chain"
            )
    sigma = sp.sympify(sigma)
    if sigma.free_symbols - allowed_all or not sigma.is_polynomial(*allowed_all):
        raise ValueError(
            f"activation {name!r}: sigma = {sigma} is not a polynomial in t and the chain"
        )
    return sigma


def _verify_closed_forms(name, chain, derivatives, closed_forms, subs) -> None:
    """Check that each closed form is a function of t with d/dt g_j = P_j on the chain."""
    for j, (g, c, p) in enumerate(zip(chain, closed_forms, derivatives, strict=True), start=1):
        c = sp.sympify(c)
        if c.free_symbols - {T}:
            raise ValueError(
                f"activation {name!r}: closed form of {g} must be a function of t only"
            )
        diff = sp.diff(c, T) - sp.sympify(p).subs(subs)
        if not _numerically_zero(diff) or not _is_zero(diff):
            raise ValueError(
                f"activation {name!r}: d/dt {g} = {sp.simplify(sp.diff(c, T))} does not equal "
                f"P_{j} = {p} on the chain (difference {sp.simplify(diff)})"
            )


def _verify_flip(name, s, flip) -> None:
    """Check the declared flip identity of the closed-form sigma ``s``."""
    s_neg = s.subs(T, -T)
    target = {"odd": -s, "sigmoid": 1 - s, "even": s, "shift_odd": s - T}[flip]
    if not _numerically_zero(s_neg - target) or not _is_zero(s_neg - target):
        raise ValueError(f"activation {name!r}: the declared flip symmetry {flip!r} does not hold")


# ---------------------------------------------------------------------------
# torch implementations (module-level functions: picklable, torch imported lazily)
# ---------------------------------------------------------------------------
def _t_sigmoid(x):
    import torch

    return torch.sigmoid(x)


def _t_tanh(x):
    import torch

    return torch.tanh(x)


def _t_atan(x):
    import torch

    return torch.atan(x)


def _t_inv1p_sq(x):
    return 1.0 / (1.0 + x * x)


def _t_softplus(x):
    # log(1 + e^x) without overflow and without the threshold shortcut of
    # torch.nn.functional.softplus (which returns x for x > 20, an error of
    # e^-20 ~ 2e-9 that would break float64 certificates).
    import torch

    return torch.logaddexp(x, torch.zeros_like(x))


def _t_gaussian(x):
    import torch

    return torch.exp(-x * x)


def _t_swish(x):
    import torch

    return x * torch.sigmoid(x)


def _t_erf(x):
    import torch

    return torch.special.erf(x)


def _t_gauss_half(x):
    import torch

    return torch.exp(-0.5 * x * x)


def _t_erf_sqrt2(x):
    import torch

    return torch.special.erf(x * (1.0 / math.sqrt(2.0)))


def _t_gelu(x):
    import torch

    return 0.5 * x * (1.0 + torch.special.erf(x * (1.0 / math.sqrt(2.0))))


# ---------------------------------------------------------------------------
# the catalogue
# ---------------------------------------------------------------------------
def _catalogue() -> dict[str, PfaffianActivation]:
    t = T
    (g,) = chain_symbols(1)
    g1, g2 = chain_symbols(2)
    sig = 1 / (1 + sp.exp(-t))
    A = PfaffianActivation
    acts = [
        A(name="sigmoid", chain=(g,), derivatives=(g - g**2,), sigma=g, closed_forms=(sig,),
          flip="sigmoid", torch_fn=_t_sigmoid, torch_chain=(_t_sigmoid,),
          description="logistic 1/(1+e^-t)"),
        A(name="tanh", chain=(g,), derivatives=(1 - g**2,), sigma=g, closed_forms=(sp.tanh(t),),
          flip="odd", torch_fn=_t_tanh, torch_chain=(_t_tanh,),
          description="hyperbolic tangent"),
        A(name="arctan", chain=(g1, g2), derivatives=(-2 * t * g1**2, g1), sigma=g2,
          closed_forms=(1 / (1 + t**2), sp.atan(t)),
          flip="odd", torch_fn=_t_atan, torch_chain=(_t_inv1p_sq, _t_atan),
          description="arctangent"),
        A(name="softplus", chain=(g1, g2), derivatives=(g1 - g1**2, g1), sigma=g2,
          closed_forms=(sig, sp.log(1 + sp.exp(t))),
          flip="shift_odd", torch_fn=_t_softplus, torch_chain=(_t_sigmoid, _t_softplus),
          description="log(1+e^t)"),
        A(name="gaussian", chain=(g,), derivatives=(-2 * t * g,), sigma=g,
          closed_forms=(sp.exp(-(t**2)),),
          flip="even", torch_fn=_t_gaussian, torch_chain=(_t_gaussian,),
          description="exp(-t^2)"),
        A(name="swish", chain=(g,), derivatives=(g - g**2,), sigma=t * g, closed_forms=(sig,),
          flip="shift_odd", torch_fn=_t_swish, torch_chain=(_t_sigmoid,),
          description="t*sigmoid(t) (SiLU)"),
        A(name="erf", chain=(g1, g2), derivatives=(-2 * t * g1, 2 / sp.sqrt(sp.pi) * g1),
          sigma=g2, closed_forms=(sp.exp(-(t**2)), sp.erf(t)),
          flip="odd", torch_fn=_t_erf, torch_chain=(_t_gaussian, _t_erf),
          description="error function"),
        A(name="gelu", chain=(g1, g2), derivatives=(-t * g1, sp.sqrt(2 / sp.pi) * g1),
          sigma=t * (1 + g2) / 2, closed_forms=(sp.exp(-(t**2) / 2), sp.erf(t / sp.sqrt(2))),
          flip="shift_odd", torch_fn=_t_gelu, torch_chain=(_t_gauss_half, _t_erf_sqrt2),
          description="t*Phi(t), exact (erf) GELU"),
    ]  # fmt: skip
    return {a.name: a for a in acts}


_CATALOGUE: dict[str, PfaffianActivation] = _catalogue()


def _alternatives() -> dict[tuple[str, str], PfaffianActivation]:
    """Further chains of catalogue activations, keyed by (name, chain name)."""
    t = T
    g1, g2, g3 = chain_symbols(3)
    sig = 1 / (1 + sp.exp(-t))
    swish = _CATALOGUE["swish"]
    gelu = _CATALOGUE["gelu"]
    swish_value = PfaffianActivation(
        name="swish", chain=(g1, g2), derivatives=(g1 - g1**2, g1 + g2 - g1 * g2), sigma=g2,
        closed_forms=(sig, t * sig), flip=swish.flip, torch_fn=_t_swish,
        torch_chain=(_t_sigmoid, _t_swish), chain_name="value",
        description="t*sigmoid(t), chain (sigmoid(t), t*sigmoid(t))",
    )  # fmt: skip
    gelu_value = PfaffianActivation(
        name="gelu", chain=(g1, g2, g3),
        derivatives=(-t * g1, sp.sqrt(2 / sp.pi) * g1, (1 + g2) / 2 + t * g1 / sp.sqrt(2 * sp.pi)),
        sigma=g3, closed_forms=(*gelu.closed_forms, t * (1 + sp.erf(t / sp.sqrt(2))) / 2),
        flip=gelu.flip, torch_fn=_t_gelu, torch_chain=(*gelu.torch_chain, _t_gelu),
        chain_name="value", description="t*Phi(t), chain (exp(-t^2/2), erf(t/sqrt 2), t*Phi(t))",
    )  # fmt: skip
    return {(a.name, a.chain_name): a for a in (swish_value, gelu_value)}


_ALTERNATIVES: dict[tuple[str, str], PfaffianActivation] = _alternatives()

_ALIASES = {"logistic": "sigmoid", "silu": "swish", "atan": "arctan", "gauss": "gaussian"}

#: Common activations that are not Pfaffian, with the reason.
_NOT_PFAFFIAN = {
    "relu": "max(0, t) has a kink at t = 0",
    "leaky_relu": "it is piecewise linear with a kink at t = 0",
    "relu6": "min(max(0, t), 6) has kinks at t = 0 and t = 6",
    "elu": "it is defined piecewise at t = 0 (t versus a(e^t - 1))",
    "selu": "it is defined piecewise at t = 0 (scaled ELU)",
    "celu": "it is defined piecewise at t = 0",
    "hardtanh": "clip(t, -1, 1) has kinks at t = -1 and t = 1",
    "hardsigmoid": "it is piecewise linear with kinks at t = -3 and t = 3",
    "hardswish": "it is piecewise with kinks at t = -3 and t = 3",
    "step": "it jumps at t = 0",
    "heaviside": "it jumps at t = 0",
    "sign": "it jumps at t = 0",
    "abs": "|t| has a kink at t = 0",
}


def _normalise(name: str) -> str:
    if not isinstance(name, str):
        raise ValueError(f"activation must be a name (str), got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    return _ALIASES.get(key, key)


def list_activations() -> list[str]:
    """Names of the Pfaffian activations in the catalogue, in catalogue order."""
    return list(_CATALOGUE)


def list_chains(name) -> list[str]:
    """Names of the chains of activation ``name``: ``"default"`` first, then the alternatives.

    Raises
    ------
    ValueError
        As :func:`get_activation` for a name that is not in the catalogue.
    """
    act = get_activation(name)
    return [DEFAULT_CHAIN, *(c for (n, c) in _ALTERNATIVES if n == act.name)]


def get_activation(name, chain=None) -> PfaffianActivation:
    """Return the activation called ``name`` (case-insensitive), with the chosen chain.

    Parameters
    ----------
    name : str or PfaffianActivation
        A catalogue name or alias. A :class:`PfaffianActivation` passed in is
        returned unchanged when ``chain`` is None.
    chain : str, optional
        One of :func:`list_chains` ``(name)``; None or ``"default"`` gives the
        catalogue chain.

    Raises
    ------
    ValueError
        For a non-analytic activation (ReLU, ELU, hardtanh, ...: not analytic,
        hence not Pfaffian), an unknown name (the message lists the catalogue)
        or a ``chain`` the activation does not have (the message lists its chains).
    """
    if isinstance(name, PfaffianActivation):
        if chain is None:
            return name
        name = name.name
    key = _normalise(name)
    if key in _CATALOGUE:
        if chain is None or chain == DEFAULT_CHAIN:
            return _CATALOGUE[key]
        if (key, chain) in _ALTERNATIVES:
            return _ALTERNATIVES[key, chain]
        raise ValueError(
            f"chain must be one of {', '.join(map(repr, list_chains(key)))} for activation "
            f"{key!r}, got {chain!r}"
        )
    if key in _NOT_PFAFFIAN:
        raise ValueError(
            f"activation {name!r} is not Pfaffian: {_NOT_PFAFFIAN[key]}, so it is not analytic "
            f"there, and Pfaffian functions are analytic; choose one of {', '.join(_CATALOGUE)}"
        )
    raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(_CATALOGUE)}")
