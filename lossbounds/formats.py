"""Pfaffian format (N, ell, alpha, beta) of a network's training loss.

The training loss of a feed-forward network with Pfaffian activations is a
Pfaffian function of the parameters theta. Its *format* is

- ``n_params`` N: the number of parameters (the dimension of theta),
- ``chain_length`` ell: the number of Pfaffian chain elements,
- ``chain_degree`` alpha: the largest total degree of the polynomials
  P_ij(theta, f_1..f_i) = d f_i / d theta_j,
- ``loss_degree`` beta: the total degree of the loss as a polynomial in
  (theta, f_1..f_ell).

Nothing here is typed in as a closed form. :func:`loss_format` runs the
per-layer weighted-degree recurrences of THEORY.md, built from the
activation's own polynomials (:mod:`lossbounds.activations`), and, for a
symbolic depth, derives the closed form in the number of hidden layers K and
proves it by induction with sympy (:func:`depth_closed_form`). The result is
checked against a brute-force symbolic expansion of the actual chain on small
networks (:func:`expand_chain`) and against torch autograd
(:func:`numeric_certificate`).

Network and parameter order
---------------------------
Inputs x_k in R^n (k = 1..m), K = L - 1 hidden layers of width h, scalar output::

    u_0 = x,   a_l = W_l u_{l-1} + b_l,   u_l = sigma(a_l) [+ skip_l],   l = 1..K
    z = v . u_K + c,   output z (linear) or sigmoid(z)

``skip="identity"`` adds u_{l-1} to u_l for l = 2..K (equal widths, no new
parameter); ``skip="projection"`` adds P_l u_{l-1} with its own h x h matrix
P_l and no bias (a bias there would be redundant: it passes linearly into the
next layer's bias). Skips join consecutive hidden layers only (not input to
hidden, not into the output), so they need K >= 2.

theta is ordered W_1 (row-major), b_1, then per layer l = 2..K: W_l, b_l
[, P_l], then v, c.

The chain holds, for every sample k, hidden layer l, unit i (in that order),
the activation's chain elements evaluated at a_{k,l,i}; then for a sigmoid
output the unit sigmoid(z_k), and for BCE also log sigmoid(z_k) (whose
derivative (1 - sigmoid(z_k)) dz_k needs sigmoid(z_k) before it).

Weighted-degree recurrences (d_a, E, D, beta_sigma as in THEORY.md; du and
dgu are the degrees of u_l and of du_l/dtheta_j; a dash means "absent")::

    d_a(l)  = 1 + du(l-1)                       du(0) = 0 (the data are constants)
    E(l)    = max(du(l-1), 0, 1 + dgu(l-1))     dgu(0) = -
    D(l)    = deg_w P(d_a(l)) + E(l)            P = the activation's derivatives
    beta_sigma(l) = deg_w Q(d_a(l)),            deg_w Q'(d_a(l)) = degree of sigma'(a)
    du(l)   = beta_sigma(l)                     [identity: max(., du(l-1));
                                                 projection: max(., 1 + du(l-1))]
    dgu(l)  = deg_w Q'(d_a(l)) + E(l)           [identity: max(., dgu(l-1));
                                                 projection: max(., 1 + dgu(l-1), du(l-1))]

where deg_w is the weighted degree with t of weight d_a(l) and each chain
symbol of weight 1. The output z has d_z = 1 + du(K), E_z = max(du(K), 0,
1 + dgu(K)); an output chain element has degree deg_w P_out(d_z) + E_z; the
loss per sample is a polynomial in (z, output chain) whose weighted degree is
beta. alpha is the maximum of all the D's.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields
from functools import lru_cache

import sympy as sp

from lossbounds.activations import (
    PfaffianActivation,
    T,
    chain_symbols,
    get_activation,
    weighted_degree,
)
from lossbounds.architecture import Architecture, _is_concrete, _size

__all__ = [
    "PfaffianFormat",
    "LayerDegrees",
    "layer_degrees",
    "loss_format",
    "slice_format",
    "depth_closed_form",
    "head_chain",
    "ChainExpansion",
    "expand_chain",
    "numeric_certificate",
]

#: The target of one sample, a constant of the loss.
Y = sp.Symbol("y", real=True)

#: Degree of the l2 term lambda * sum_j theta_j^2 as a polynomial in theta.
_L2_DEGREE = 2


# ---------------------------------------------------------------------------
# format
# ---------------------------------------------------------------------------
def _plain(value):
    """int for an integer value, a (simplified) sympy expression otherwise."""
    value = sp.sympify(value)
    if value.is_Integer:
        return int(value)
    if isinstance(value, sp.Piecewise):
        return value
    return sp.expand(value)


@dataclass(frozen=True)
class PfaffianFormat:
    """The format (N, ell, alpha, beta) of a Pfaffian function.

    Values are python ints for a concrete architecture and sympy expressions
    (possibly ``Piecewise`` in the depth) for a symbolic one.
    """

    n_params: object
    chain_length: object
    chain_degree: object
    loss_degree: object

    def as_dict(self) -> dict:
        """``{n_params, chain_length, chain_degree, loss_degree}``: ints, or strings of sympy expressions."""
        return {
            f.name: (v if isinstance(v, int) else str(v))
            for f in fields(self)
            for v in [getattr(self, f.name)]
        }

    def as_tuple(self) -> tuple:
        """(N, ell, alpha, beta)."""
        return (self.n_params, self.chain_length, self.chain_degree, self.loss_degree)

    @property
    def is_symbolic(self) -> bool:
        """True when some entry is a sympy expression."""
        return not all(isinstance(v, int) for v in self.as_tuple())

    def subs(self, values: dict) -> PfaffianFormat:
        """Substitute sympy symbols by values (e.g. ``{h: 4, K: 3}``)."""
        out = []
        for v in self.as_tuple():
            out.append(v if isinstance(v, int) else _plain(sp.sympify(v).subs(values)))
        return PfaffianFormat(*out)


@dataclass(frozen=True)
class LayerDegrees:
    """One row of the degree recurrence (hidden layer ``layer``)."""

    layer: object
    pre_activation: object  # d_a(l)
    pre_activation_derivative: object  # E(l)
    chain_derivative: object  # D(l)
    sigma: object  # beta_sigma(l)
    sigma_derivative: object  # degree of sigma'(a_l) d a_l / d theta_j
    unit: object  # du(l), degree of u_l
    unit_derivative: object  # dgu(l), degree of d u_l / d theta_j


_RECURRENCE_FIELDS = tuple(f.name for f in fields(LayerDegrees) if f.name != "layer")


def _step(act: PfaffianActivation, skip, prev: LayerDegrees | None, layer, mx) -> LayerDegrees:
    """Degrees of hidden layer ``layer`` from those of the previous one (None: the inputs)."""
    if prev is None:  # a_1 = W_1 x + b_1 with constant data x
        du0, dgu0 = 0, None
    else:
        du0, dgu0 = prev.unit, prev.unit_derivative
    d_a = 1 + du0
    # d a_l / d theta_j: u_{l-1} (theta_j in W_l), 1 (in b_l), W_l d u_{l-1} (earlier)
    E = mx([du0, 0] + ([1 + dgu0] if dgu0 is not None else []))
    D = act.derivative_degree(d_a, mx) + E
    b_sig = act.sigma_degree(d_a, mx)
    d_sig = act.sigma_derivative_degree(d_a, mx) + E
    if prev is not None and skip == "identity":  # u_l = sigma(a_l) + u_{l-1}
        du, dgu = mx([b_sig, du0]), mx([d_sig, dgu0])
    elif prev is not None and skip == "projection":  # u_l = sigma(a_l) + P_l u_{l-1}
        du, dgu = mx([b_sig, 1 + du0]), mx([d_sig, 1 + dgu0, du0])
    else:
        du, dgu = b_sig, d_sig
    return LayerDegrees(layer, d_a, E, D, b_sig, d_sig, du, dgu)


def _hidden_layers(act, skip, n_hidden: int, mx=max) -> list[LayerDegrees]:
    rows, prev = [], None
    for layer in range(1, n_hidden + 1):
        prev = _step(act, skip, prev, layer, mx)
        rows.append(prev)
    return rows


# ------------------------------------------------------------------- heads
@lru_cache(maxsize=1)
def _bce_head() -> PfaffianActivation:
    """Output chain for BCE: g1 = sigmoid(z), g2 = log sigmoid(z)."""
    g1, g2 = chain_symbols(2)
    sig = 1 / (1 + sp.exp(-T))
    return PfaffianActivation(
        name="sigmoid+logsigmoid",
        chain=(g1, g2),
        derivatives=(g1 - g1**2, 1 - g1),
        sigma=g2,
        closed_forms=(sig, sp.log(sig)),
        flip=None,
        torch_fn=_t_logsigmoid,
        torch_chain=(get_activation("sigmoid").torch_fn, _t_logsigmoid),
        description="sigmoid output unit and its logarithm (BCE)",
    )


def _t_logsigmoid(x):
    import torch

    return torch.nn.functional.logsigmoid(x)


def head_chain(output: str, loss: str):
    """The output's chain and the per-sample loss polynomial.

    Returns ``(chain, loss_polynomial)``: ``chain`` is a
    :class:`~lossbounds.activations.PfaffianActivation` whose chain elements,
    evaluated at z_k, join the Pfaffian chain (``None`` for a linear output);
    ``loss_polynomial`` is the loss of one sample as a polynomial in
    :data:`~lossbounds.activations.T` (= z_k), the chain symbols and
    :data:`Y` (= y_k). The loss is the mean over samples (plus the l2 term).

    - linear, MSE: (z - y)^2
    - sigmoid, MSE: (sigmoid(z) - y)^2
    - sigmoid, BCE: -[y log s + (1 - y) log(1 - s)] = -[log s - (1 - y) z],
      s = sigmoid(z), using log(1 - s) = log s - z.
    """
    if (output, loss) == ("linear", "mse"):
        return None, (T - Y) ** 2
    if (output, loss) == ("sigmoid", "mse"):
        sig = get_activation("sigmoid")
        return sig, (sig.chain[0] - Y) ** 2
    if (output, loss) == ("sigmoid", "bce"):
        head = _bce_head()
        return head, -(head.chain[1] - (1 - Y) * T)
    raise ValueError(f"no loss {loss!r} for output {output!r}")


def _head(last: LayerDegrees, max_hidden_D, head, loss_poly, l2: bool, mx):
    """(alpha, beta) from the last hidden layer and the largest hidden D."""
    d_z = 1 + last.unit
    E_z = mx([last.unit, 0, 1 + last.unit_derivative])
    weights = {T: d_z}
    candidates = [max_hidden_D]
    if head is not None:  # output chain elements: P_out(z, ...) dz/dtheta_j
        candidates.append(head.derivative_degree(d_z, mx) + E_z)
        weights.update(dict.fromkeys(head.chain, 1))
    beta = weighted_degree(loss_poly, weights, mx)
    if l2:
        beta = mx([beta, _L2_DEGREE])
    return mx(candidates), beta


# ------------------------------------------------------ closed form in depth
class _Undecided(Exception):
    """A comparison of two polynomials in j >= 0 that coefficient signs do not settle."""


def _poly_max(j: sp.Symbol):
    """max over polynomials in the integer j >= 0, proved by coefficient signs.

    a >= b for all j >= 0 when every coefficient of a - b is >= 0. If neither
    a - b nor b - a has that property, :class:`_Undecided` is raised (the
    caller then starts the induction later, which makes the coefficients of
    eventually-dominating polynomials nonnegative).
    """

    def mx(args):
        best = None
        for a in args:
            a = sp.expand(a)
            if best is None:
                best = a
                continue
            coeffs = sp.Poly(a - best, j).all_coeffs()
            if all(c >= 0 for c in coeffs):
                best = a
            elif not all(c <= 0 for c in coeffs):
                raise _Undecided(f"max({a}, {best}) for j >= 0")
        return best

    return mx


_LMAX = 14  # concrete layers computed to guess the closed form (then proved)


def _concrete_alpha_beta(rows, head, loss_poly, l2, K):
    """alpha and beta of a concrete network with the first K rows of the recurrence."""
    max_D = max(r.chain_derivative for r in rows[:K])
    alpha, beta = _head(rows[K - 1], max_D, head, loss_poly, l2, max)
    return alpha, beta


def depth_closed_form(activation, output="linear", loss="mse", l2=False, skip=None, K=None):
    """alpha and beta as functions of the number of hidden layers K, proved by induction.

    The recurrence is run for K = 1.._LMAX. From a starting layer l0 >= 2 on,
    each column of the recurrence (d_a, E, D, beta_sigma, du, dgu) is fitted by
    a polynomial in j = l - l0 (``sympy.interpolate`` on five layers, checked
    on all the others); then one step of the recurrence is applied to the
    *symbolic* row at layer l0 + j (maxima of polynomials decided for all
    j >= 0 by coefficient signs) and must give the row at l0 + j + 1: an
    induction proof. D(l) is also shown non-decreasing from l0 on, so the
    maximum over the hidden layers is a max with the constant max_{l<l0} D(l).
    Layers K < l0 whose values differ from the formula become ``Piecewise``
    branches.

    Parameters
    ----------
    K : sympy.Symbol, optional
        The symbol for hidden_layers (a positive integer symbol ``K`` by default).

    Returns
    -------
    (alpha, beta) : sympy expressions in K

    Raises
    ------
    ValueError
        If no polynomial closed form is found (e.g. an activation whose Q has
        t-degree >= 2 makes the degrees grow exponentially with depth).
    """
    act = get_activation(activation)
    if K is None:
        K = sp.Symbol("K", positive=True, integer=True)
    head, loss_poly = head_chain(output, loss)
    rows = _hidden_layers(act, skip, _LMAX)
    k_min = 2 if skip is not None else 1
    concrete = {
        k: _concrete_alpha_beta(rows, head, loss_poly, l2, k) for k in range(k_min, _LMAX + 1)
    }
    j = sp.Symbol("j", integer=True, nonnegative=True)
    mx = _poly_max(j)
    for l0 in range(2, _LMAX - 7):
        fits = {}
        for name in _RECURRENCE_FIELDS:
            pts = [(i, getattr(rows[l0 - 1 + i], name)) for i in range(5)]
            poly = sp.expand(sp.interpolate(pts, j))
            if any(
                poly.subs(j, q - l0) != getattr(rows[q - 1], name) for q in range(l0, _LMAX + 1)
            ):
                break
            fits[name] = poly
        else:
            row = LayerDegrees(l0 + j, **fits)
            try:
                nxt = _step(act, skip, row, l0 + j + 1, mx)
                if any(
                    sp.expand(getattr(nxt, name) - fits[name].subs(j, j + 1)) != 0
                    for name in _RECURRENCE_FIELDS
                ):
                    continue
                D = fits["chain_derivative"]
                if mx([D, D.subs(j, j + 1)]) != sp.expand(D.subs(j, j + 1)):
                    continue  # D must be non-decreasing from l0 on
                c0 = max((r.chain_derivative for r in rows[: l0 - 1]), default=D)
                alpha_j, beta_j = _head(row, mx([c0, D]), head, loss_poly, l2, mx)
            except _Undecided:
                continue
            alpha_K = sp.expand(alpha_j.subs(j, K - l0))
            beta_K = sp.expand(beta_j.subs(j, K - l0))
            for k, (a, b) in concrete.items():  # sanity: the proof covers k >= l0
                if k >= l0 and (alpha_K.subs(K, k), beta_K.subs(K, k)) != (a, b):
                    raise AssertionError(f"closed form disagrees with the recurrence at K={k}")
            return (
                _with_exceptions(alpha_K, K, {k: ab[0] for k, ab in concrete.items() if k < l0}),
                _with_exceptions(beta_K, K, {k: ab[1] for k, ab in concrete.items() if k < l0}),
            )
    raise ValueError(
        f"no polynomial closed form in the depth for activation {act.name!r} "
        f"(output={output}, loss={loss}, skip={skip}); pass a concrete hidden_layers"
    )


def _with_exceptions(formula, K, values: dict):
    """``formula``, or a Piecewise with the small K where it does not hold."""
    branches = [(v, sp.Eq(K, k)) for k, v in sorted(values.items()) if formula.subs(K, k) != v]
    if not branches:
        return formula
    return sp.Piecewise(*branches, (formula, True))


# ------------------------------------------------------------- public API
def layer_degrees(arch: Architecture) -> list[LayerDegrees]:
    """The recurrence table, one row per hidden layer (concrete hidden_layers only)."""
    if not _is_concrete(arch.hidden_layers):
        raise ValueError("layer_degrees needs a concrete hidden_layers")
    return _hidden_layers(arch.pfaffian_activation, arch.skip, arch.hidden_layers)


def _n_params(arch: Architecture):
    """h(n+1) + sum_{l=2}^{K} [h(h+1) (+ h^2 for a projection)] + (h+1)."""
    n, h, K = arch.n_inputs, arch.width, arch.hidden_layers
    layer = sp.Symbol("l", integer=True, positive=True)
    per_hidden = h * (h + 1) + (h * h if arch.skip == "projection" else 0)
    return h * (n + 1) + sp.summation(per_hidden, (layer, 2, K)) + (h + 1)


def _chain_length(arch: Architecture):
    """m * (k h K + output elements): k chain elements per hidden unit and sample."""
    head, _ = head_chain(arch.output, arch.loss)
    per_sample = arch.pfaffian_activation.chain_length * arch.width * arch.hidden_layers
    per_sample += head.chain_length if head is not None else 0
    return arch.n_samples * per_sample


def loss_format(arch: Architecture) -> PfaffianFormat:
    """Pfaffian format (N, ell, alpha, beta) of the training loss of ``arch``.

    alpha and beta depend only on the activation, the depth, the output, the
    loss, the l2 flag and the skip (not on n, h, m). With a symbolic
    ``hidden_layers`` they come from :func:`depth_closed_form` (valid for
    K >= 2 when there are skips).
    """
    act = arch.pfaffian_activation
    head, loss_poly = head_chain(arch.output, arch.loss)
    K = arch.hidden_layers
    if _is_concrete(K):
        rows = _hidden_layers(act, arch.skip, K)
        alpha, beta = _concrete_alpha_beta(rows, head, loss_poly, arch.l2, K)
    else:
        alpha, beta = _depth_cached(act, arch.output, arch.loss, arch.l2, arch.skip, K)
    return PfaffianFormat(
        _plain(_n_params(arch)), _plain(_chain_length(arch)), _plain(alpha), _plain(beta)
    )


@lru_cache(maxsize=256)
def _depth_cached(activation, output, loss, l2, skip, K):
    return depth_closed_form(activation, output, loss, l2, skip, K)


def slice_format(arch: Architecture, k) -> PfaffianFormat:
    """Format of the loss restricted to a k-dimensional affine slice of parameter space.

    On theta = theta0 + sum_i t_i d_i every parameter is affine in t, so every
    pre-activation keeps its weighted degree (W_l affine in t plays the role of
    W_l), d/dt_i = sum_j d_ij d/dtheta_j is a constant combination of the
    theta-derivatives, and substituting affine functions of t into a
    polynomial cannot raise its degree: the chain (restricted to the slice) is
    a Pfaffian chain in t with the same ell and alpha, and the loss has the
    same beta. Only N becomes k. For generic directions nothing drops
    (directions that leave a layer fixed can only lower the degrees, or turn
    chain elements into constants, which the bound may keep).
    """
    k = _size("k", k)
    fmt = loss_format(arch)
    return PfaffianFormat(k, fmt.chain_length, fmt.chain_degree, fmt.loss_degree)


# ---------------------------------------------------------------------------
# brute force: the actual chain, expanded symbolically
# ---------------------------------------------------------------------------
_LAMBDA = sp.Symbol("lambda", positive=True)


class _Constants:
    """Irrational coefficients (2/sqrt(pi), ...) renamed to constant symbols kappa_i."""

    def __init__(self):
        self.values: dict = {}

    def terms(self, expr, variables) -> list:
        """[(coefficient, exponents)] of ``expr`` as a polynomial in ``variables``."""
        out = []
        for exps, coeff in sp.Poly(expr, *variables).terms():
            if not coeff.is_Rational:
                name = next((k for k, v in self.values.items() if v == coeff), None)
                if name is None:
                    name = sp.Symbol(f"kappa{len(self.values)}")
                    self.values[name] = coeff
                coeff = name
            out.append((coeff, exps))
        return out


def _apply(terms, values, R):
    """Evaluate a polynomial given by ``terms`` at ring elements ``values``."""
    out = R.zero
    for coeff, exps in terms:
        term = R(coeff)
        for v, e in zip(values, exps, strict=True):
            if e:
                term *= v**e
        out += term
    return out


@dataclass
class ChainExpansion:
    """The Pfaffian chain of a concrete (small) network, built element by element.

    Polynomials are sparse ``sympy.ring`` elements over QQ whose generators are
    the parameters, the chain symbols, the data, lambda and the constants
    ``kappa_i`` (irrational coefficients such as 2/sqrt(pi)); only parameters
    and chain symbols count towards degrees.

    Attributes
    ----------
    arch : Architecture
    theta : tuple of sympy.Symbol
        Parameters in the module's order (see the module docstring).
    blocks : list of (name, shape, symbols)
        ``theta`` cut into weight matrices and bias vectors.
    x, y : tuples of sympy.Symbol
        Data symbols (constants): x[k][j], y[k].
    chain : tuple of sympy.Symbol
        Chain symbols in chain order.
    labels : dict
        chain symbol -> ("hidden", k, l, i, r) or ("head", k, r).
    ring : sympy.polys.rings.PolyRing
    derivatives : dict
        chain symbol -> tuple over theta of d f / d theta_j (ring elements).
    loss : ring element
        The loss as a polynomial in (theta, chain).
    constants : dict
        kappa_i -> its exact value.
    """

    arch: Architecture
    theta: tuple
    blocks: list
    x: tuple
    y: tuple
    chain: tuple
    labels: dict
    ring: object
    derivatives: dict
    loss: object
    constants: dict

    def degree(self, p) -> int:
        """Total degree in (theta, chain) of a ring element (-1 for zero)."""
        n = len(self.theta) + len(self.chain)  # they are the first generators
        return max((sum(monom[:n]) for monom in p.keys()), default=-1)

    def element_degree(self, f) -> int:
        """max_j total degree of d f / d theta_j."""
        return max(self.degree(d) for d in self.derivatives[f])

    def measured_format(self) -> PfaffianFormat:
        """(N, ell, alpha, beta) read off the expanded polynomials."""
        alpha = max(self.element_degree(f) for f in self.chain)
        return PfaffianFormat(len(self.theta), len(self.chain), alpha, self.degree(self.loss))

    def measured_layer_degrees(self) -> dict:
        """{layer: max D over samples, units, chain elements, theta_j}; ``"head"`` for the output."""
        out: dict = {}
        for f in self.chain:
            lab = self.labels[f]
            key = lab[2] if lab[0] == "hidden" else "head"
            out[key] = max(out.get(key, -1), self.element_degree(f))
        return out

    def is_triangular(self) -> bool:
        """Each derivative uses only theta, the data and chain elements up to its own."""
        first = len(self.theta)
        for pos, f in enumerate(self.chain):
            later = range(first + pos + 1, first + len(self.chain))
            for d in self.derivatives[f]:
                if any(monom[i] for monom in d.keys() for i in later):
                    return False
        return True

    def measured_slice_format(self, k: int, seed: int = 0) -> PfaffianFormat:
        """Format read off after restricting to theta = theta0 + sum_i t_i d_i.

        theta0 and the directions d_i are seeded random integers in [-3, 3]
        (generic); every polynomial is rewritten in (t, chain), the derivatives
        become d f/d t_i = sum_j d_ij d f/d theta_j, and degrees are measured in
        (t, chain).
        """
        import random

        rng = random.Random(seed)
        k = _size("k", k)
        ts = [sp.Symbol(f"t{i}") for i in range(k)]
        old = self.ring.symbols
        n_theta = len(self.theta)
        R2, *G2 = sp.ring((*ts, *old[n_theta:]), sp.QQ)
        d = [[rng.randint(-3, 3) for _ in range(n_theta)] for _ in range(k)]
        images = [
            R2(rng.randint(-3, 3)) + sum((d[i][j] * G2[i] for i in range(k)), R2.zero)
            for j in range(n_theta)
        ] + G2[k:]

        def restrict(p):
            out = R2.zero
            for monom, coeff in p.items():
                term = R2(coeff)
                for img, e in zip(images, monom, strict=True):
                    if e:
                        term *= img**e
                out += term
            return out

        n = k + len(self.chain)

        def degree(p):
            return max((sum(monom[:n]) for monom in p.keys()), default=-1)

        alpha = -1
        for f in self.chain:
            grads = [restrict(g) for g in self.derivatives[f]]
            for i in range(k):
                alpha = max(
                    alpha, degree(sum((d[i][j] * grads[j] for j in range(n_theta)), R2.zero))
                )
        return PfaffianFormat(k, len(self.chain), alpha, degree(restrict(self.loss)))

    def as_expr(self, p) -> sp.Expr:
        """A ring element as a sympy expression (constants substituted)."""
        return p.as_expr().subs(self.constants)

    def evaluate(self, p, values) -> float:
        """Evaluate a ring element in float64 at ``values`` (one per ring generator but
        the constants, in the order theta, chain, x, y, lambda)."""
        import numpy as np

        if not p:
            return 0.0
        full = np.concatenate([np.asarray(values, dtype=float), self._constant_values()])
        monoms = np.array(list(p.keys()), dtype=float)
        coeffs = np.array([float(c) for c in p.values()])
        return float(coeffs @ np.prod(full**monoms, axis=1))

    def _constant_values(self):
        import numpy as np

        return np.array([float(v) for v in self.constants.values()], dtype=float)


def expand_chain(arch: Architecture) -> ChainExpansion:
    """Build the loss's Pfaffian chain of a small concrete network symbolically.

    Every chain element f = g_r(A) (A a pre-activation, or z_k for the output
    chain) gets the derivative P_r(A, g_1(A)..g_r(A)) * dA/dtheta_j, where
    dA/dtheta_j is the total derivative of the polynomial A through the chain
    elements it contains. Everything is expanded, so the degrees read off are
    those of actual polynomials, with data symbols as generic constants.
    Sizes must be concrete and small (the expansion grows quickly).
    """
    if arch.is_symbolic:
        raise ValueError("expand_chain needs a concrete architecture")
    act = arch.pfaffian_activation
    n, h, K, m = arch.n_inputs, arch.width, arch.hidden_layers, arch.n_samples
    head, loss_poly = head_chain(arch.output, arch.loss)

    # ---- symbols, in ring-generator order: theta, chain, x, y, lambda, constants
    blocks: list = []

    def block(name, shape):
        idx = itertools.product(*map(range, shape))
        syms = [sp.Symbol("_".join([name, *map(str, ix)]), real=True) for ix in idx]
        blocks.append((name, shape, syms))

    for layer in range(1, K + 1):
        block(f"W{layer}", (h, n if layer == 1 else h))
        block(f"b{layer}", (h,))
        if layer >= 2 and arch.skip == "projection":
            block(f"P{layer}", (h, h))
    block("v", (h,))
    block("c", (1,))
    theta = tuple(s for _, _, syms in blocks for s in syms)
    chain, labels = [], {}
    for k in range(m):
        for layer in range(1, K + 1):
            for i in range(h):
                for r in range(act.chain_length):
                    chain.append(sp.Symbol(f"g{k}_{layer}_{i}_{r}", real=True))
                    labels[chain[-1]] = ("hidden", k, layer, i, r)
        for r in range(head.chain_length if head is not None else 0):
            chain.append(sp.Symbol(f"o{k}_{r}", real=True))
            labels[chain[-1]] = ("head", k, r)
    chain = tuple(chain)
    x = tuple(tuple(sp.Symbol(f"x{k}_{j}", real=True) for j in range(n)) for k in range(m))
    y = tuple(sp.Symbol(f"y{k}", real=True) for k in range(m))

    consts = _Constants()
    act_vars = (T, *act.chain)
    P_terms = [consts.terms(p, act_vars) for p in act.derivatives]
    sigma_terms = consts.terms(act.sigma, act_vars)
    head_vars = (T, *(head.chain if head is not None else ()))
    head_P = [consts.terms(p, head_vars) for p in head.derivatives] if head is not None else []
    loss_terms = consts.terms(loss_poly, (*head_vars, Y))

    gens = (*theta, *chain, *(s for row in x for s in row), *y, _LAMBDA, *consts.values)
    R, *G = sp.ring(gens, sp.QQ)
    sym = dict(zip(gens, G, strict=True))
    blk = {name: [sym[s] for s in syms] for name, _, syms in blocks}

    def mat(name, rows, cols):
        return [blk[name][i * cols : (i + 1) * cols] for i in range(rows)]

    # ---- forward pass in the ring: arguments and derivative rules of the chain
    rule: dict = {}  # chain symbol -> (P_r(A, unit chain) as ring element, unit key)
    argument: dict = {}  # unit key -> A
    depends: dict = {}  # unit key -> chain symbols A contains
    losses = []
    chain_iter = iter(chain)

    def add_unit(key, A, terms_list, k_len, deps):
        syms = [next(chain_iter) for _ in range(k_len)]
        ring_syms = [sym[s] for s in syms]
        argument[key], depends[key] = A, deps
        for s, terms in zip(syms, terms_list, strict=True):
            rule[s] = (_apply(terms, [A, *ring_syms], R), key)
        return syms, ring_syms

    for k in range(m):
        u_prev = [sym[s] for s in x[k]]
        deps_prev: list = [[] for _ in u_prev]  # chain symbols each u depends on
        for layer in range(1, K + 1):
            Wl = mat(f"W{layer}", h, len(u_prev))
            bl = blk[f"b{layer}"]
            Pl = mat(f"P{layer}", h, h) if f"P{layer}" in blk else None
            all_prev = sorted({s for d in deps_prev for s in d}, key=chain.index)
            u_new, deps_new = [], []
            for i in range(h):
                A = sum((Wl[i][j] * u_prev[j] for j in range(len(u_prev))), bl[i])
                syms, g = add_unit(("hidden", k, layer, i), A, P_terms, act.chain_length, all_prev)
                u = _apply(sigma_terms, [A, *g], R)
                deps = [*all_prev, *syms]
                if layer >= 2 and arch.skip == "identity":
                    u += u_prev[i]
                elif Pl is not None:
                    u += sum((Pl[i][j] * u_prev[j] for j in range(h)), R.zero)
                u_new.append(u)
                deps_new.append(deps)
            u_prev, deps_prev = u_new, deps_new
        z = sum((blk["v"][i] * u_prev[i] for i in range(h)), blk["c"][0])
        all_prev = sorted({s for d in deps_prev for s in d}, key=chain.index)
        o = []
        if head is not None:
            _, o = add_unit(("head", k), z, head_P, head.chain_length, all_prev)
        losses.append(_apply(loss_terms, [z, *o, sym[y[k]]], R))
    loss = sum(losses, R.zero) * R(sp.Rational(1, m))
    if arch.l2:
        loss += sym[_LAMBDA] * sum((t**2 for t in G[: len(theta)]), R.zero)

    # ---- total derivatives through the chain
    memo: dict = {}

    def d_argument(key, j):
        if (key, j) not in memo:
            A = argument[key]
            out = A.diff(G[j])
            for f in depends[key]:
                dA_df = A.diff(sym[f])
                if dA_df:
                    out += dA_df * d_element(f, j)
            memo[key, j] = out
        return memo[key, j]

    def d_element(f, j):
        P, key = rule[f]
        return P * d_argument(key, j)

    derivatives = {f: tuple(d_element(f, j) for j in range(len(theta))) for f in chain}
    return ChainExpansion(
        arch, theta, blocks, x, y, chain, labels, R, derivatives, loss, dict(consts.values)
    )


# ---------------------------------------------------------------------------
# numeric certificate: the same chain on a real torch float64 network
# ---------------------------------------------------------------------------
def numeric_certificate(expansion: ChainExpansion, seed: int = 0, scale: float = 0.7, lam=0.1):
    """Compare the symbolic chain with torch autograd on a float64 network.

    A torch network with the architecture of ``expansion`` is built from a
    seeded random theta (normal, std ``scale``) and random data; each chain
    element is computed with the activation's torch chain, its gradient with
    autograd, and compared with the derivative polynomial of
    :func:`expand_chain` evaluated at (theta, chain values, data). The loss
    polynomial is compared with the loss computed by torch directly (BCE via
    ``binary_cross_entropy_with_logits``).

    Returns
    -------
    dict
        ``gradient``: the largest relative error ||grad_sym - grad_torch|| /
        ||grad_torch|| over chain elements; ``loss``: relative error of the
        loss value; ``elements``: number of chain elements checked.
    """
    import numpy as np
    import torch

    arch = expansion.arch
    act = arch.pfaffian_activation
    head, _ = head_chain(arch.output, arch.loss)
    gen = torch.Generator().manual_seed(seed)
    dt = torch.float64
    N = len(expansion.theta)
    theta = (scale * torch.randn(N, generator=gen, dtype=dt)).requires_grad_(True)
    xs = torch.randn(arch.n_samples, arch.n_inputs, generator=gen, dtype=dt)
    if arch.loss == "bce":
        ys = torch.randint(0, 2, (arch.n_samples,), generator=gen).to(dt)
    else:
        ys = torch.randn(arch.n_samples, generator=gen, dtype=dt)

    params, pos = {}, 0
    for name, shape, syms in expansion.blocks:
        params[name] = theta[pos : pos + len(syms)].reshape(shape)
        pos += len(syms)

    values = []  # chain values in chain order
    zs = []
    for k in range(arch.n_samples):
        u = xs[k]
        for layer in range(1, arch.hidden_layers + 1):
            a = params[f"W{layer}"] @ u + params[f"b{layer}"]
            for i in range(arch.width):
                values.extend(fn(a[i]) for fn in act.torch_chain)
            u_new = act.torch_fn(a)
            if layer >= 2 and arch.skip == "identity":
                u_new = u_new + u
            elif layer >= 2 and arch.skip == "projection":
                u_new = u_new + params[f"P{layer}"] @ u
            u = u_new
        z = params["v"] @ u + params["c"][0]
        zs.append(z)
        if head is not None:
            values.extend(fn(z) for fn in head.torch_chain)
    z = torch.stack(zs)
    if arch.output == "linear":
        loss = torch.mean((z - ys) ** 2)
    elif arch.loss == "mse":
        loss = torch.mean((torch.sigmoid(z) - ys) ** 2)
    else:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, ys)
    if arch.l2:
        loss = loss + lam * torch.sum(theta**2)

    point = [
        *theta.detach().tolist(),
        *[float(v.detach()) for v in values],
        *xs.reshape(-1).tolist(),
        *ys.tolist(),
        lam,
    ]
    worst = 0.0
    for f, value in zip(expansion.chain, values, strict=True):
        (grad,) = torch.autograd.grad(value, theta, retain_graph=True)
        sym = np.array([expansion.evaluate(d, point) for d in expansion.derivatives[f]])
        ref = grad.detach().numpy()
        worst = max(worst, float(np.linalg.norm(sym - ref) / max(np.linalg.norm(ref), 1e-300)))
    loss_sym = expansion.evaluate(expansion.loss, point)
    loss_ref = float(loss.detach())
    loss_err = abs(loss_sym - loss_ref) / max(abs(loss_ref), 1e-300)
    return {"gradient": worst, "loss": loss_err, "elements": len(values)}
