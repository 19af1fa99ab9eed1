"""Pfaffian format (N, ell, alpha, beta) of a network's training loss.

For a network with Pfaffian activations the training loss is a Pfaffian function of theta of
format N = ``n_params``, ell = ``chain_length``, alpha = ``chain_degree``, beta = ``loss_degree``.
:func:`loss_format` runs per-layer weighted-degree recurrences built from the activation's own
polynomials; :func:`depth_closed_form` derives the closed form in the number of hidden layers K
and proves it by induction. The network equations, the parameter and chain order and the
recurrences: docs/formats.md (implementation notes).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache

import sympy as sp

from lossbounds.theory.activations import (
    PfaffianActivation,
    T,
    chain_symbols,
    get_activation,
)
from lossbounds.theory.architecture import Architecture, _is_concrete, _size
from lossbounds.theory.heads import OutputHead, cross_entropy_head, mse_head, scalar_head

__all__ = [
    "PfaffianFormat",
    "LayerDegrees",
    "layer_degrees",
    "loss_format",
    "slice_format",
    "depth_closed_form",
    "head_chain",
    "output_head",
    "expand_closed_form",
]

#: The target of one sample, a constant of the loss.
Y = sp.Symbol("y", real=True)

#: Degree of the l2 term lambda * sum_j theta_j^2 as a polynomial in theta.
_L2_DEGREE = 2


# ---------------------------------------------------------------------------
# format
# ---------------------------------------------------------------------------
def _plain(value):
    """Return an int for an integer value, a (simplified) sympy expression otherwise."""
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


def _step(
    act: PfaffianActivation, skip, prev: LayerDegrees | None, layer, mx, bias: bool = True
) -> LayerDegrees:
    """Degrees of hidden layer ``layer`` from those of the previous one (None: the inputs).

    ``bias``: whether a_l has a bias vector b_l (its entries have degree 1 <= 1 + du(l-1)
    in a_l, and derivative 1, of degree 0).
    """
    if prev is None:  # a_1 = W_1 x [+ b_1] with constant data x
        du0, dgu0 = 0, None
    else:
        du0, dgu0 = prev.unit, prev.unit_derivative
    d_a = 1 + du0
    # d a_l / d theta_j: u_{l-1} (theta_j in W_l), 1 (in b_l), W_l d u_{l-1} (earlier)
    E = mx([du0] + ([0] if bias else []) + ([1 + dgu0] if dgu0 is not None else []))
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


def _hidden_layers(act, skip, n_hidden: int, mx=max, bias=lambda layer: True) -> list:
    """Rows of the recurrence for layers 1..n_hidden (``bias(l)``: whether layer l has b_l)."""
    rows, prev = [], None
    for layer in range(1, n_hidden + 1):
        prev = _step(act, skip, prev, layer, mx, bias(layer))
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
    """Return the output's chain and the per-sample loss polynomial.

    Returns ``(chain, loss_polynomial)``: ``chain`` is a
    :class:`~lossbounds.theory.activations.PfaffianActivation` whose chain elements,
    evaluated at z_k, join the Pfaffian chain (``None`` for a linear output);
    ``loss_polynomial`` is the loss of one sample as a polynomial in
    :data:`~lossbounds.theory.activations.T` (= z_k), the chain symbols and
    ``Y`` (= y_k). The loss is the mean over samples (plus the l2 term).

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


@lru_cache(maxsize=64)
def output_head(output: str, loss: str, n_outputs: int = 1) -> OutputHead:
    """Return the :class:`~lossbounds.theory.heads.OutputHead` of an output, loss and C.

    C = 1 heads come from :func:`head_chain`; linear outputs with MSE and
    C > 1 from :func:`~lossbounds.theory.heads.mse_head`; ``"cross_entropy"``
    (linear output, C >= 2) from :func:`~lossbounds.theory.heads.cross_entropy_head`.

    Raises
    ------
    ValueError
        For a combination that has no head (naming the accepted ones).
    """
    if loss == "cross_entropy" and output == "linear" and n_outputs >= 2:
        return cross_entropy_head(n_outputs)
    if n_outputs == 1 and loss != "cross_entropy":
        act, poly = head_chain(output, loss)
        return scalar_head(f"{output}/{loss}", act, poly, T, Y)
    if (output, loss) == ("linear", "mse"):
        return mse_head(n_outputs)
    raise ValueError(
        f"no head for output={output!r}, loss={loss!r}, n_outputs={n_outputs}: accepted are "
        "linear/mse (C >= 1), sigmoid/mse and sigmoid/bce (C = 1), linear/cross_entropy (C >= 2)"
    )


def _head(last: LayerDegrees, max_hidden_D, head: OutputHead, l2: bool, mx, bias: bool = True):
    """(alpha, beta) from the last hidden layer and the largest hidden D.

    z_c = V_c . u_K [+ c_c]: d_z = 1 + du(K); d z_c / d theta_j is u_K (V), 1 (the
    output bias, if any) or V d u_K / d theta_j (earlier parameters).
    """
    d_z = 1 + last.unit
    E_z = mx([last.unit] + ([0] if bias else []) + [1 + last.unit_derivative])
    candidates = [max_hidden_D]
    if head.chain:  # output chain elements: sum_c P_rc(z, ...) dz_c/dtheta_j
        candidates.append(head.derivative_degree(d_z, E_z, mx))
    beta = head.loss_degree(d_z, mx)
    if l2:
        beta = mx([beta, _L2_DEGREE])
    return mx(candidates), beta


# ------------------------------------------------------ closed form in depth
class _Undecided(Exception):
    """A comparison of two polynomials in j >= 0 that coefficient signs do not settle."""


def _poly_max(j: sp.Symbol):
    """Build a max over polynomials in the integer j >= 0, proved by coefficient signs.

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


def _concrete_alpha_beta(rows, head, l2, K, bias_out=True):
    """Return alpha and beta of a concrete network from the first K recurrence rows."""
    max_D = max(r.chain_derivative for r in rows[:K])
    alpha, beta = _head(rows[K - 1], max_D, head, l2, max, bias_out)
    return alpha, beta


def depth_closed_form(
    activation, output="linear", loss="mse", l2=False, skip=None, K=None, n_outputs=1, bias=True
):
    """Return alpha and beta as functions of the number of hidden layers K (by induction).

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
    n_outputs : int
        C (the head's polynomials; the degrees do not depend on C).
    bias : bool
        Whether every layer has a bias vector.

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
    head = output_head(output, loss, n_outputs)
    rows = _hidden_layers(act, skip, _LMAX, bias=lambda layer: bias)
    k_min = 2 if skip is not None else 1
    concrete = {k: _concrete_alpha_beta(rows, head, l2, k, bias) for k in range(k_min, _LMAX + 1)}
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
                nxt = _step(act, skip, row, l0 + j + 1, mx, bias)
                if any(
                    sp.expand(getattr(nxt, name) - fits[name].subs(j, j + 1)) != 0
                    for name in _RECURRENCE_FIELDS
                ):
                    continue
                D = fits["chain_derivative"]
                if mx([D, D.subs(j, j + 1)]) != sp.expand(D.subs(j, j + 1)):
                    continue  # D must be non-decreasing from l0 on
                c0 = max((r.chain_derivative for r in rows[: l0 - 1]), default=D)
                alpha_j, beta_j = _head(row, mx([c0, D]), head, l2, mx, bias)
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
    """Return ``formula``, or a Piecewise with the small K where it does not hold."""
    branches = [(v, sp.Eq(K, k)) for k, v in sorted(values.items()) if formula.subs(K, k) != v]
    if not branches:
        return formula
    return sp.Piecewise(*branches, (formula, True))


# ------------------------------------------------------------- public API
def _head_of(arch: Architecture) -> OutputHead:
    return output_head(arch.output, arch.loss, arch.n_outputs)


def layer_degrees(arch: Architecture) -> list[LayerDegrees]:
    """Tabulate the recurrence, one row per hidden layer (concrete hidden_layers only)."""
    if not _is_concrete(arch.hidden_layers):
        raise ValueError("layer_degrees needs a concrete hidden_layers")
    return _hidden_layers(
        arch.pfaffian_activation, arch.skip, arch.hidden_layers, bias=arch.layer_bias
    )


def _n_params(arch: Architecture):
    """sum_l (h_{l-1} + [b_l]) h_l [+ h_l h_{l-1} for projections, l >= 2] + C (h_K + [c]).

    h_0 = n; [b] is 1 for a layer with a bias vector, 0 without. For a
    symbolic depth (equal widths h, one bias flag b):
    h(n+b) + sum_{l=2}^{K} [h(h+b) (+ h^2)] + C (h+b).
    """
    n, K, C = arch.n_inputs, arch.hidden_layers, arch.n_outputs
    proj = arch.skip == "projection"
    if _is_concrete(K):
        hs = (n, *arch.widths)
        per_hidden = sum(
            (fan_in + int(arch.layer_bias(layer))) * h
            for layer, (fan_in, h) in enumerate(zip(hs[:-1], hs[1:], strict=True), start=1)
        )
        skips = sum(h * fan_in for fan_in, h in zip(hs[1:-1], hs[2:], strict=True)) if proj else 0
        return per_hidden + skips + C * (hs[-1] + int(arch.layer_bias(K + 1)))
    h, b = arch.width, int(arch.bias)
    layer = sp.Symbol("l", integer=True, positive=True)
    per_hidden = h * (h + b) + (h * h if proj else 0)
    return h * (n + b) + sp.summation(per_hidden, (layer, 2, K)) + C * (h + b)


def _chain_length(arch: Architecture):
    """Return m (k sum_l h_l + e): k chain elements per hidden unit, e per sample's head."""
    K = arch.hidden_layers
    units = sum(arch.widths) if _is_concrete(K) else arch.width * K
    per_sample = arch.pfaffian_activation.chain_length * units + _head_of(arch).chain_length
    return arch.n_samples * per_sample


def loss_format(arch: Architecture) -> PfaffianFormat:
    """Pfaffian format (N, ell, alpha, beta) of the training loss of ``arch``.

    alpha and beta depend only on the activation, the depth, the output, the
    loss, the l2 flag and the skip (not on n, h, m, C, nor on the biases). With a symbolic
    ``hidden_layers`` they come from :func:`depth_closed_form` (valid for
    K >= 2 when there are skips).
    """
    act = arch.pfaffian_activation
    K = arch.hidden_layers
    if _is_concrete(K):
        rows = _hidden_layers(act, arch.skip, K, bias=arch.layer_bias)
        alpha, beta = _concrete_alpha_beta(rows, _head_of(arch), arch.l2, K, arch.layer_bias(K + 1))
    else:
        alpha, beta = _depth_cached(
            act, arch.output, arch.loss, arch.l2, arch.skip, K, arch.n_outputs, arch.bias
        )
    return PfaffianFormat(
        _plain(_n_params(arch)), _plain(_chain_length(arch)), _plain(alpha), _plain(beta)
    )


@lru_cache(maxsize=256)
def _depth_cached(activation, output, loss, l2, skip, K, n_outputs, bias):
    return depth_closed_form(activation, output, loss, l2, skip, K, n_outputs, bias)


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


def expand_closed_form(expr):
    """Return a closed form in K in its display form: Piecewise folded, polynomials expanded.

    Parameters
    ----------
    expr : sympy expression or number
        E.g. ``loss_format(arch).chain_length`` for a symbolic ``hidden_layers``.

    Returns
    -------
    sympy expression
        ``sympy.piecewise_fold(expr)`` for a Piecewise, ``sympy.expand(expr)`` otherwise.
    """
    expr = sp.sympify(expr)
    return sp.piecewise_fold(expr) if isinstance(expr, sp.Piecewise) else sp.expand(expr)
