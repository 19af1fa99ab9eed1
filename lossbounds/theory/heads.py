"""Output heads: the chain elements a loss adds on the outputs z_1..z_C, and its polynomial.

A head turns the C outputs z_{k,1..C} of one sample into chain elements
f_1..f_e (functions of z only) and the loss of that sample, a polynomial in
(z, f, targets). Each element's derivative is linear in the derivatives of
the outputs::

    d f_r / d theta_j = sum_c P_rc(z, f_1..f_r) * d z_c / d theta_j

so its degree is max_c deg_w P_rc + E_z, with z of weight d_z (the degree of
an output) and each f of weight 1, E_z the degree of d z_c / d theta_j (see
:mod:`lossbounds.theory.formats`). The heads:

- linear output, MSE with C outputs: no chain; (1/C) sum_c (z_c - y_c)^2;
- sigmoid output (C = 1), MSE: f_1 = sigmoid(z); (f_1 - y)^2;
- sigmoid output (C = 1), BCE: f_1 = sigmoid(z), f_2 = log sigmoid(z);
  -[f_2 - (1 - y) z];
- softmax cross-entropy over C >= 2 logits (linear output): f_c = exp(z_c)
  (c = 1..C), then q = 1 / sum_c exp(z_c) and l = log sum_c exp(z_c), with

      d e_c = e_c dz_c,   d q = -q^2 sum_c e_c dz_c,   d l = q sum_c e_c dz_c,

  a triangular chain of C + 2 elements; the loss is l - sum_c y_c z_c with
  one-hot targets y (a class index y_k picks z_{k, y_k}).

The scalar heads are built from :func:`lossbounds.theory.formats.head_chain`'s
one-variable chains (one definition of each).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

from lossbounds.theory.activations import weighted_degree

__all__ = [
    "OutputHead",
    "output_symbols",
    "target_symbols",
    "scalar_head",
    "mse_head",
    "cross_entropy_head",
]


def output_symbols(n_outputs: int) -> tuple:
    """Return the output symbols ``(z1, ..., zC)``."""
    return tuple(sp.Symbol(f"z{c}", real=True) for c in range(1, n_outputs + 1))


def target_symbols(n_outputs: int) -> tuple:
    """Return the target symbols ``(y1, ..., yC)`` (constants of the loss)."""
    return tuple(sp.Symbol(f"y{c}", real=True) for c in range(1, n_outputs + 1))


@dataclass(frozen=True)
class OutputHead:
    """The chain elements and the per-sample loss polynomial of an output head.

    Attributes
    ----------
    name : str
        ``"<output>/<loss>"``.
    outputs : tuple of sympy.Symbol
        z_1..z_C.
    targets : tuple of sympy.Symbol
        y_1..y_C (one-hot for cross-entropy), constants of the loss.
    chain : tuple of sympy.Symbol
        f_1..f_e (empty for a linear output with MSE).
    coefficients : tuple of tuple of sympy.Expr
        ``coefficients[r][c]`` = P_rc(z, f_1..f_r), the factor of d z_c in d f_r.
    loss : sympy.Expr
        The loss of one sample, a polynomial in (z, f, y).
    closed_forms : tuple of sympy.Expr
        f_r as explicit functions of z (for :meth:`verify`).
    torch_chain : callable or None
        ``z`` (tensor (..., C)) -> tuple of tensors (...), the chain values.
    """

    name: str
    outputs: tuple
    targets: tuple
    chain: tuple
    coefficients: tuple
    loss: sp.Expr
    closed_forms: tuple
    torch_chain: Callable | None = None

    @property
    def n_outputs(self) -> int:
        """C."""
        return len(self.outputs)

    @property
    def chain_length(self) -> int:
        """e, the chain elements per sample."""
        return len(self.chain)

    def _weights(self, d_z) -> dict:
        return {**dict.fromkeys(self.outputs, d_z), **dict.fromkeys(self.chain, 1)}

    def derivative_degree(self, d_z, E_z, maximum=max):
        """max_{r, c} deg_w P_rc + E_z (None without chain elements).

        Parameters
        ----------
        d_z, E_z : int or sympy expression
            Degrees of an output and of its derivative by a parameter.
        maximum : callable
            Max of a list (a polynomial max for symbolic degrees).
        """
        if not self.chain:
            return None
        w = self._weights(d_z)
        degs = [weighted_degree(p, w, maximum) for row in self.coefficients for p in row if p != 0]
        return maximum(degs) + E_z

    def loss_degree(self, d_z, maximum=max):
        """Weighted degree of the per-sample loss (z of weight ``d_z``, chain of weight 1)."""
        return weighted_degree(self.loss, self._weights(d_z), maximum)

    def verify(self) -> None:
        """Check the head symbolically; raise ``ValueError`` if it fails.

        Checks: each P_rc uses only z and f_1..f_r (triangular); d f_r / d z_c
        of the closed forms equals P_rc on the closed forms; the loss is a
        polynomial in (z, f, y).
        """
        subs = dict(zip(self.chain, self.closed_forms, strict=True))
        for r, (f, row) in enumerate(zip(self.closed_forms, self.coefficients, strict=True)):
            later = set(self.chain[r + 1 :])
            for z, p in zip(self.outputs, row, strict=True):
                if sp.sympify(p).free_symbols & later:
                    raise ValueError(f"{self.name}: P for {self.chain[r]} uses later elements")
                if sp.simplify(sp.diff(f, z) - sp.sympify(p).subs(subs)) != 0:
                    raise ValueError(f"{self.name}: d{self.chain[r]}/d{z} != {p}")
        sp.Poly(self.loss, *self.outputs, *self.chain, *self.targets)


def scalar_head(name: str, activation, loss_poly, t, y) -> OutputHead:
    """Build the C = 1 head of a one-variable chain (``activation``; None: no chain).

    ``loss_poly`` is a polynomial in ``t`` (the output), the chain and ``y``.
    """
    (z,), (yy,) = output_symbols(1), target_symbols(1)
    loss = sp.sympify(loss_poly).subs({t: z, y: yy})
    if activation is None:
        return OutputHead(name, (z,), (yy,), (), (), loss, ())
    act = activation
    coefficients = tuple((sp.sympify(p).subs(t, z),) for p in act.derivatives)
    closed = tuple(sp.sympify(c).subs(t, z) for c in act.closed_forms)
    fns = act.torch_chain

    def torch_chain(zt):
        return tuple(fn(zt[..., 0]) for fn in fns)

    return OutputHead(name, (z,), (yy,), act.chain, coefficients, loss, closed, torch_chain)


def mse_head(n_outputs: int) -> OutputHead:
    """Linear outputs with MSE: no chain, loss (1/C) sum_c (z_c - y_c)^2."""
    zs, ys = output_symbols(n_outputs), target_symbols(n_outputs)
    loss = sp.Rational(1, n_outputs) * sum((z - y) ** 2 for z, y in zip(zs, ys, strict=True))
    return OutputHead("linear/mse", zs, ys, (), (), sp.expand(loss), ())


def cross_entropy_head(n_outputs: int) -> OutputHead:
    """Softmax cross-entropy over C >= 2 logits (module docstring)."""
    C = n_outputs
    zs, ys = output_symbols(C), target_symbols(C)
    es = tuple(sp.Symbol(f"e{c}", real=True) for c in range(1, C + 1))
    q, lse = sp.Symbol("q", real=True), sp.Symbol("l", real=True)
    rows = [tuple(e if c == r else sp.Integer(0) for c in range(C)) for r, e in enumerate(es)]
    rows.append(tuple(-(q**2) * e for e in es))
    rows.append(tuple(q * e for e in es))
    total = sum(sp.exp(z) for z in zs)
    closed = (*(sp.exp(z) for z in zs), 1 / total, sp.log(total))
    loss = lse - sum(y * z for y, z in zip(ys, zs, strict=True))

    def torch_chain(zt):
        import torch

        lse_t = torch.logsumexp(zt, dim=-1)
        return (*(torch.exp(zt[..., c]) for c in range(C)), torch.exp(-lse_t), lse_t)

    return OutputHead(
        "linear/cross_entropy", zs, ys, (*es, q, lse), tuple(rows), loss, closed, torch_chain
    )
