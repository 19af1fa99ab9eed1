"""Certificates of a Pfaffian format: the actual chain of a small network.

:func:`expand_chain` builds the loss's Pfaffian chain of a concrete network
element by element as sparse polynomials over QQ and reads the format off the
expanded polynomials (to compare with :func:`lossbounds.theory.formats.loss_format`);
:func:`lossbounds.landscape.certify.numeric_certificate` evaluates the same chain on the float64 forward
pass of :class:`lossbounds.landscape.network.Network` and compares its derivative
polynomials with autograd. The parameter order is that of
:class:`lossbounds.landscape.layout.ParamLayout`.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

import numpy as np
import sympy as sp

from lossbounds.theory.activations import T
from lossbounds.theory.architecture import Architecture, _size
from lossbounds.theory.formats import PfaffianFormat, output_head

__all__ = ["ChainExpansion", "expand_chain"]

#: The l2 weight lambda, a constant generator of the ring.
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
    """Evaluate a polynomial given by ``terms`` [(coefficient, exponents)] at ring elements."""
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
    x, y : tuples of tuples of sympy.Symbol
        Data symbols (constants): x[k][j], y[k][c] (c < C; one-hot targets
        for cross-entropy).
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
        """Return the total degree of a ring element in (theta, chain).

        Parameters
        ----------
        p : sympy PolyElement
            An element of :attr:`ring` (data and constants have degree 0).

        Returns
        -------
        int
            The degree; -1 for the zero element.
        """
        n = len(self.theta) + len(self.chain)  # they are the first generators
        return max((sum(monom[:n]) for monom in p.keys()), default=-1)

    def element_degree(self, f) -> int:
        """Return max_j of the total degree of d f / d theta_j (the chain element's D).

        Parameters
        ----------
        f : sympy PolyElement
            A chain generator (an entry of :attr:`chain`).

        Returns
        -------
        int
        """
        return max(self.degree(d) for d in self.derivatives[f])

    def measured_format(self) -> PfaffianFormat:
        """Return the format (N, ell, alpha, beta) read off the expanded polynomials.

        Returns
        -------
        PfaffianFormat
            N the number of theta generators, ell the chain length, alpha the
            largest :meth:`element_degree`, beta the degree of the loss; to be
            compared with :func:`lossbounds.theory.formats.loss_format`.
        """
        alpha = max(self.element_degree(f) for f in self.chain)
        return PfaffianFormat(len(self.theta), len(self.chain), alpha, self.degree(self.loss))

    def measured_layer_degrees(self) -> dict:
        """Return the largest derivative degree D per layer, read off the expansion.

        Returns
        -------
        dict
            Hidden layer index (1..K) -> max D over samples, units, chain
            elements and theta_j; ``"head"`` -> the same for the output chain
            elements (if any).
        """
        out: dict = {}
        for f in self.chain:
            lab = self.labels[f]
            key = lab[2] if lab[0] == "hidden" else "head"
            out[key] = max(out.get(key, -1), self.element_degree(f))
        return out

    def is_triangular(self) -> bool:
        """Return True when the chain is triangular (Pfaffian).

        Returns
        -------
        bool
            True when every derivative d f_i / d theta_j is a polynomial in
            theta, the data and the chain elements f_1..f_i only.
        """
        first = len(self.theta)
        for pos, f in enumerate(self.chain):
            later = range(first + pos + 1, first + len(self.chain))
            for d in self.derivatives[f]:
                if any(monom[i] for monom in d.keys() for i in later):
                    return False
        return True

    def measured_slice_format(self, k: int, seed: int = 0) -> PfaffianFormat:
        """Return the format read off after restricting to theta = theta0 + sum_i t_i d_i.

        theta0 and the directions d_i are seeded random integers in [-3, 3]
        (generic); every polynomial is rewritten in (t, chain), the derivatives
        become d f/d t_i = sum_j d_ij d f/d theta_j, and degrees are measured in
        (t, chain).

        Parameters
        ----------
        k : int
            Slice dimension (>= 1).
        seed : int
            Seed of theta0 and the directions.

        Returns
        -------
        PfaffianFormat
            ``(k, ell, alpha, beta)`` of the slice, to be compared with
            :func:`lossbounds.theory.formats.slice_format`.
        """
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
            return _apply([(coeff, monom) for monom, coeff in p.items()], images, R2)

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
        """Convert a ring element to a sympy expression.

        Parameters
        ----------
        p : sympy PolyElement

        Returns
        -------
        sympy.Expr
            With the constant symbols kappa_i replaced by their values.
        """
        return p.as_expr().subs(self.constants)

    def evaluate(self, p, values) -> float:
        """Evaluate a ring element in float64.

        Parameters
        ----------
        p : sympy PolyElement
        values : array_like
            One number per ring generator but the constants, in the order
            theta, chain, x (row-major), y (row-major, (m, C)), lambda.

        Returns
        -------
        float
        """
        if not p:
            return 0.0
        full = np.concatenate([np.asarray(values, dtype=float), self._constant_values()])
        monoms = np.array(list(p.keys()), dtype=float)
        coeffs = np.array([float(c) for c in p.values()])
        return float(coeffs @ np.prod(full**monoms, axis=1))

    def _constant_values(self):
        return np.array([float(v) for v in self.constants.values()], dtype=float)


def _parameter_blocks(arch: Architecture) -> list:
    """Cut theta into ``(name, shape, symbols)`` blocks, in the layout's parameter order.

    Blocks of absent biases are left out; the output weights ``v`` are (C, h_K) for C > 1.
    """
    hs = (arch.n_inputs, *arch.widths)  # W_l is (h_l, h_{l-1})
    shapes = []
    for layer in range(1, arch.hidden_layers + 1):
        shapes.append((f"W{layer}", (hs[layer], hs[layer - 1])))
        if arch.layer_bias(layer):
            shapes.append((f"b{layer}", (hs[layer],)))
        if layer >= 2 and arch.skip == "projection":
            shapes.append((f"P{layer}", (hs[layer], hs[layer - 1])))
    C = arch.n_outputs
    shapes.append(("v", (hs[-1],) if C == 1 else (C, hs[-1])))
    if arch.layer_bias(arch.hidden_layers + 1):
        shapes.append(("c", (arch.n_outputs,)))
    blocks = []
    for name, shape in shapes:
        idx = itertools.product(*map(range, shape))
        syms = [sp.Symbol("_".join([name, *map(str, ix)]), real=True) for ix in idx]
        blocks.append((name, shape, syms))
    return blocks


def _chain_and_labels(arch: Architecture, head) -> tuple[tuple, dict]:
    """Chain symbols in chain order and their labels (see :class:`ChainExpansion`)."""
    k_act = arch.pfaffian_activation.chain_length
    chain, labels = [], {}
    for k in range(arch.n_samples):
        for layer in range(1, arch.hidden_layers + 1):
            for i in range(arch.widths[layer - 1]):
                for r in range(k_act):
                    chain.append(sp.Symbol(f"g{k}_{layer}_{i}_{r}", real=True))
                    labels[chain[-1]] = ("hidden", k, layer, i, r)
        for r in range(head.chain_length):
            chain.append(sp.Symbol(f"o{k}_{r}", real=True))
            labels[chain[-1]] = ("head", k, r)
    return tuple(chain), labels


class _RingChain:
    """The forward pass in the polynomial ring, recording each chain element's derivative rule.

    Ring generators, in order: theta, chain, x, y, lambda, the constants kappa_i.
    ``rule`` maps a chain symbol to (P_r(A, unit chain) as a ring element, unit key),
    ``argument`` a unit key to its argument A, ``depends`` a unit key to the chain
    symbols A contains.
    """

    def __init__(self, arch: Architecture, blocks, chain, x, y):
        act = arch.pfaffian_activation
        self.arch, self.chain, self.x, self.y = arch, chain, x, y
        self.head = output_head(arch.output, arch.loss, arch.n_outputs)
        self.consts = _Constants()
        act_vars = (T, *act.chain)
        self.P_terms = [self.consts.terms(p, act_vars) for p in act.derivatives]
        self.sigma_terms = self.consts.terms(act.sigma, act_vars)
        head_vars = (*self.head.outputs, *self.head.chain)
        self.head_P = [
            [self.consts.terms(p, head_vars) for p in row] for row in self.head.coefficients
        ]
        self.loss_terms = self.consts.terms(self.head.loss, (*head_vars, *self.head.targets))
        theta = [s for _, _, syms in blocks for s in syms]
        data = (*(s for row in x for s in row), *(s for row in y for s in row))
        gens = (*theta, *chain, *data, _LAMBDA, *self.consts.values)
        self.R, *self.G = sp.ring(gens, sp.QQ)
        self.n_theta = len(theta)
        self.sym = dict(zip(gens, self.G, strict=True))
        self.blk = {name: [self.sym[s] for s in syms] for name, _, syms in blocks}
        self.rule, self.argument, self.depends, self._memo = {}, {}, {}, {}
        self._next = iter(chain)

    def _mat(self, name, rows, cols):
        return [self.blk[name][i * cols : (i + 1) * cols] for i in range(rows)]

    def _before(self, deps) -> list:
        """Collect the chain symbols any of ``deps`` (lists of chain symbols) holds, in order."""
        return sorted({s for d in deps for s in d}, key=self.chain.index)

    def _add_unit(self, key, A, terms_list, deps):
        syms = [next(self._next) for _ in terms_list]
        ring_syms = [self.sym[s] for s in syms]
        self.argument[key], self.depends[key] = A, deps
        for s, terms in zip(syms, terms_list, strict=True):
            self.rule[s] = (_apply(terms, [A, *ring_syms], self.R), key)
        return syms, ring_syms

    def _hidden_layer(self, k, layer, u_prev, deps_prev):
        """u_l of sample k from u_{l-1}, and the chain symbols each unit depends on."""
        h = self.arch.widths[layer - 1]
        Wl = self._mat(f"W{layer}", h, len(u_prev))
        bl = self.blk.get(f"b{layer}", [self.R.zero] * h)
        Pl = self._mat(f"P{layer}", h, len(u_prev)) if f"P{layer}" in self.blk else None
        all_prev = self._before(deps_prev)
        u_new, deps_new = [], []
        for i in range(h):
            A = sum((Wl[i][j] * u_prev[j] for j in range(len(u_prev))), bl[i])
            syms, g = self._add_unit(("hidden", k, layer, i), A, self.P_terms, all_prev)
            u = _apply(self.sigma_terms, [A, *g], self.R)
            if layer >= 2 and self.arch.skip == "identity":
                u += u_prev[i]
            elif Pl is not None:
                u += sum((Pl[i][j] * u_prev[j] for j in range(len(u_prev))), self.R.zero)
            u_new.append(u)
            deps_new.append([*all_prev, *syms])
        return u_new, deps_new

    def _sample_loss(self, k):
        """Build the loss polynomial of sample k (adding its chain elements on the way)."""
        u = [self.sym[s] for s in self.x[k]]
        deps: list = [[] for _ in u]
        for layer in range(1, self.arch.hidden_layers + 1):
            u, deps = self._hidden_layer(k, layer, u, deps)
        C = self.arch.n_outputs
        V = self._mat("v", C, len(u))
        c = self.blk.get("c", [self.R.zero] * C)
        zs = [sum((V[r][i] * u[i] for i in range(len(u))), c[r]) for r in range(C)]
        for r, z in enumerate(zs):  # the outputs: units of their own, without chain elements
            self.argument["out", k, r], self.depends["out", k, r] = z, self._before(deps)
        syms = [next(self._next) for _ in self.head_P]
        o = [self.sym[f] for f in syms]
        keys = [("out", k, r) for r in range(C)]
        for f, row in zip(syms, self.head_P, strict=True):
            self.rule[f] = ([_apply(terms, [*zs, *o], self.R) for terms in row], keys)
        targets = [self.sym[s] for s in self.y[k]]
        return _apply(self.loss_terms, [*zs, *o, *targets], self.R)

    def loss(self):
        """Build the training loss: mean over samples (plus lambda ||theta||^2)."""
        m = self.arch.n_samples
        loss = sum((self._sample_loss(k) for k in range(m)), self.R.zero)
        loss *= self.R(sp.Rational(1, m))
        if self.arch.l2:
            theta = self.G[: self.n_theta]
            loss += self.sym[_LAMBDA] * sum((t**2 for t in theta), self.R.zero)
        return loss

    def _d_argument(self, key, j):
        """Total derivative of a unit's argument by theta_j, through the chain."""
        if (key, j) not in self._memo:
            A = self.argument[key]
            out = A.diff(self.G[j])
            for f in self.depends[key]:
                dA_df = A.diff(self.sym[f])
                if dA_df:
                    out += dA_df * self.d_element(f, j)
            self._memo[key, j] = out
        return self._memo[key, j]

    def d_element(self, f, j):
        """Return d f / d theta_j of the chain element f, as a ring element.

        A hidden element's rule is (P, unit key): P * d A / d theta_j; a head
        element's is ([P_c], [output keys]): sum_c P_c * d z_c / d theta_j.
        """
        P, key = self.rule[f]
        if isinstance(P, list):
            return sum((p * self._d_argument(kc, j) for p, kc in zip(P, key, strict=True) if p),
                       self.R.zero)  # fmt: skip
        return P * self._d_argument(key, j)


def expand_chain(arch: Architecture) -> ChainExpansion:
    """Build the loss's Pfaffian chain of a small concrete network symbolically.

    Every chain element f = g_r(A) (A a pre-activation, or z_k for the output
    chain) gets the derivative P_r(A, g_1(A)..g_r(A)) * dA/dtheta_j, where
    dA/dtheta_j is the total derivative of the polynomial A through the chain
    elements it contains. Everything is expanded, so the degrees read off are
    those of actual polynomials, with data symbols as generic constants.

    Raises
    ------
    ValueError
        If a size of ``arch`` is symbolic. Sizes must be small: the expansion
        grows quickly (exponentially in the depth).
    """
    if arch.is_symbolic:
        raise ValueError("expand_chain needs a concrete architecture")
    head = output_head(arch.output, arch.loss, arch.n_outputs)
    blocks = _parameter_blocks(arch)
    theta = tuple(s for _, _, syms in blocks for s in syms)
    chain, labels = _chain_and_labels(arch, head)
    n, m = arch.n_inputs, arch.n_samples
    x = tuple(tuple(sp.Symbol(f"x{k}_{j}", real=True) for j in range(n)) for k in range(m))
    C = arch.n_outputs
    y = tuple(tuple(sp.Symbol(f"y{k}_{c}", real=True) for c in range(C)) for k in range(m))
    ring = _RingChain(arch, blocks, chain, x, y)
    loss = ring.loss()
    derivatives = {f: tuple(ring.d_element(f, j) for j in range(len(theta))) for f in chain}
    return ChainExpansion(
        arch,
        theta,
        blocks,
        x,
        y,
        chain,
        labels,
        ring.R,
        derivatives,
        loss,
        dict(ring.consts.values),
    )
