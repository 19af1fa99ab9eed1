"""Torch networks of an :class:`~lossbounds.formats.Architecture`, flat parameters, symmetries.

The network
-----------
Inputs x in R^n, ``H = arch.hidden_layers`` hidden layers of width ``h``,
activation sigma, scalar output::

    u_1     = sigma(W_1 x + b_1)                       W_1: (h, n)
    u_{l+1} = sigma(W_{l+1} u_l + b_{l+1}) [+ skip]    W_{l+1}: (h, h),  l = 1..H-1
    z       = v . u_H + c                              v: (h,),  c: scalar
    output  = z (linear) or sigmoid(z) (sigmoid output)

with ``skip`` = ``u_l`` (``arch.skip == "identity"``) or ``P_{l+1} u_l``
(``"projection"``, P_{l+1}: (h, h) with its own weights, no bias) or nothing.
Skips connect consecutive hidden layers only (never the input, whose width n
may differ, and never the output).

Flat parameter layout (:class:`ParamLayout`)
--------------------------------------------
One vector theta of length N, blocks in this order, each block row-major
(``W[i, j]`` at ``offset + i * fan_in + j``, the layout of ``nn.Linear.weight``)::

    W1 (h, n), b1 (h,), W2 (h, h), b2 (h,), [P2 (h, h)], ..., WH, bH, [PH], v (h,), c (1,)

so N = h(n+1) + (H-1)h(h+1) + (h+1), plus (H-1)h^2 with projection skips.

Speed
-----
:meth:`Network.forward` evaluates K parameter vectors at once, in a
unit-major layout (K, h, m): the first layer is ``b1 + W1 @ X^T`` for all K at
once (``torch.baddbmm`` with X^T broadcast), deeper layers are ``baddbmm`` over the K
networks. Without autograd it writes into reused buffers with in-place
activation kernels (fresh (K, h, m) tensors cost page faults that dominate the
arithmetic); chunks of 64-1024 vectors keep those buffers near the cache. This
is where the landscape code gets its speed: 15-30x a per-point ``nn.Module``
loop in ``benchmarks/bench_landscape.py`` on a shared 2-core machine (the ratio
moves with the machine's load); the per-point :class:`MLP` is the reference.

Symmetries (:class:`SymmetryGroup`)
-----------------------------------
An element acts on hidden layer l by a permutation ``perm_l`` of the units
(new unit j = old unit ``perm_l[j]``) and a set of flipped units ``flips_l``
(bool, indexed by the *new* unit). A flipped unit has its pre-activation
negated, and the rest of the network compensates according to the
activation's flip kind (``activation.flip``):

- ``"odd"`` (tanh, arctan, erf): sigma(-t) = -sigma(t), the unit's output
  changes sign; the next layer negates that unit's outgoing column.
- ``"sigmoid"``: sigma(-t) = 1 - sigma(t): the output becomes 1 - u; the next
  layer negates the outgoing column and adds it to its bias.
- ``"even"`` (gaussian): sigma(-t) = sigma(t): nothing else changes.
- ``None`` (softplus, swish, gelu): no flips; permutations only.

All cases are one rule: the transformed network computes a hidden state
``u'_l = A_l u_l + delta_l`` with ``A_l`` a signed permutation matrix and
``delta_l`` a constant vector, and every later weight is rewritten as
``W' = S Pi W A^{-1}``, ``b' = S Pi b - W' delta``, ``P' = A_l P A_{l-1}^{-1}``,
``v' = A_H^{-T} v``, ``c' = c - v' . delta_H`` (see :meth:`SymmetryGroup.apply`).

Skip connections and which elements remain symmetries:

- no skip, or projection skips: every layer has its own permutation and
  flips; with projection skips ``P`` is rewritten like a weight matrix (its
  rows follow layer l+1, its columns layer l), and for sigmoid flips the
  offset ``delta`` travels through ``P`` and is absorbed by later biases.
  Order (2^h h!)^H with flips, (h!)^H without.
- identity skips (H >= 2): ``u_{l+1} = sigma(...) + u_l`` forces one signed
  permutation on the whole residual stream, ``A_1 = ... = A_H``: one
  permutation for all hidden layers, and (odd or sigmoid flips) one flip
  pattern for all layers. A flip of a single layer is *not* a symmetry: it
  would turn sigma(a) + u into -sigma(a) + u. For sigmoid the stream offset
  grows by one per layer (u' = l - u at layer l), absorbed by the biases.
  Even flips do not touch the stream, so they stay free per layer.
  Order: 2^h h! (odd, sigmoid), 2^{hH} h! (even), h! (none).
  With H = 1 there is no skip and the order is that of the plain network.

These are the symmetries implemented and tested (loss unchanged to 1e-12);
the full symmetry group of a particular theta can be larger (dead or
duplicated units), which is why orbit sizes are counted, not assumed.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from lossbounds.activations import get_activation
from lossbounds.layout import ParamLayout

__all__ = [
    "ParamLayout",
    "Network",
    "MLP",
    "GroupElement",
    "SymmetryGroup",
    "forward",
    "forward_numpy",
]

# In-place kernels for the catalogue activations, used by the no-grad fast path
# of Network.forward: allocating a fresh (K, h, m) tensor per operation costs
# page faults that dominate the arithmetic. Activations not listed (softplus,
# swish, gelu, user ones) fall back to ``torch_fn`` plus a copy.
_INPLACE = {
    "sigmoid": torch.Tensor.sigmoid_,
    "tanh": torch.Tensor.tanh_,
    "arctan": torch.Tensor.atan_,
    "erf": torch.Tensor.erf_,
    "gaussian": lambda a: a.square_().neg_().exp_(),
}


class Network:
    """Functional, batched network of an architecture: ``forward(thetas, X) -> (K, m)``.

    Without autograd the pass reuses three work buffers of shapes (K, h, m),
    (K, h, m), (K, 1, m) kept on the object (re-allocated when K, m or the
    dtype change) and runs in-place kernels: one ``Network`` must not be used
    from several threads at once. With ``thetas.requires_grad`` (or inside
    torch.func transforms) it takes the plain allocating path.

    Parameters
    ----------
    arch : lossbounds.formats.Architecture
        The architecture.
    """

    def __init__(self, arch):
        self.arch = arch
        self.layout = ParamLayout(arch)
        self.activation = get_activation(arch.activation)
        self.n_params = self.layout.n_params
        self._buffers, self._buffers_key = None, None

    def forward(self, thetas: torch.Tensor, X: torch.Tensor, logits: bool = False) -> torch.Tensor:
        """Outputs of K networks on m inputs.

        Parameters
        ----------
        thetas : torch.Tensor, shape (K, N)
            Flat parameter vectors (one network per row).
        X : torch.Tensor, shape (m, n)
            Inputs, same dtype and device as ``thetas``.
        logits : bool
            For a sigmoid output, return z (before the sigmoid) instead of sigmoid(z).

        Returns
        -------
        torch.Tensor, shape (K, m)
            A fresh tensor (differentiable when ``thetas`` requires grad).
        """
        grad = torch.is_grad_enabled() and thetas.requires_grad
        wrapped = bool(getattr(torch._C, "_functorch", None)) and bool(
            torch._C._functorch.is_functorch_wrapped_tensor(thetas)
        )
        return self._forward(thetas, X, logits, fast=not (grad or wrapped)).clone()

    def _forward(self, thetas, X, logits: bool, fast: bool) -> torch.Tensor:
        """Forward pass; ``fast`` (no autograd) reuses work buffers and in-place kernels.

        With ``fast=True`` the result is a view into a buffer that the next
        call overwrites: consume it before calling again.
        """
        arch, lay = self.arch, self.layout
        K = thetas.shape[0]
        m = X.shape[0]
        h, H, n = lay.width, lay.hidden_layers, lay.n_inputs
        p = lay.unflatten(thetas)
        act = self.activation.torch_fn
        if not fast:
            # Layer 1: one GEMM for all K networks, [W1 | b1] (K*h, n+1) @ [X | 1]^T.
            W1b = torch.cat([p["W1"], p["b1"][:, :, None]], dim=2).reshape(K * h, n + 1)
            X1t = torch.cat([X, torch.ones(m, 1, dtype=X.dtype)], dim=1).T
            u = act((W1b @ X1t).reshape(K, h, m))
            for layer in range(2, H + 1):
                new = act(torch.baddbmm(p[f"b{layer}"][:, :, None], p[f"W{layer}"], u))
                if arch.skip == "identity":
                    new = new + u
                elif arch.skip == "projection":
                    new = torch.baddbmm(new, p[f"P{layer}"], u)
                u = new
            z = torch.baddbmm(p["c"][:, :, None], p["v"][:, None, :], u)[:, 0, :]
            if arch.output == "sigmoid" and not logits:
                return torch.sigmoid(z)
            return z
        # Fast path: every step writes into reused (K, h, m) buffers (ping-pong),
        # few dispatcher calls per chunk (they cost as much as the arithmetic
        # for chunks of ~64 vectors).
        key = (K, m, thetas.dtype)
        if self._buffers_key != key:
            self._buffers = [torch.empty(K, h, m, dtype=thetas.dtype) for _ in range(2)]
            self._buffers.append(torch.empty(K, 1, m, dtype=thetas.dtype))
            self._buffers_key = key
        A, B, Z = self._buffers
        inplace = _INPLACE.get(self.activation.name)

        def activate(buf):
            if inplace is None:
                buf.copy_(act(buf))
            else:
                inplace(buf)

        # Layer 1: b1 + W1 @ X^T for all K at once (X^T broadcast over the batch).
        torch.baddbmm(p["b1"][:, :, None], p["W1"], X.T.expand(K, n, m), out=A)
        activate(A)
        u = A
        for layer in range(2, H + 1):
            nxt = B if u is A else A
            torch.baddbmm(p[f"b{layer}"][:, :, None], p[f"W{layer}"], u, out=nxt)
            activate(nxt)
            if arch.skip == "identity":
                nxt.add_(u)
            elif arch.skip == "projection":
                nxt.baddbmm_(p[f"P{layer}"], u)
            u = nxt
        torch.bmm(p["v"][:, None, :], u, out=Z)
        z = Z[:, 0, :].add_(p["c"])
        if arch.output == "sigmoid" and not logits:
            return z.sigmoid_()
        return z

    __call__ = forward


class MLP(nn.Module):
    """The same network as an ordinary ``nn.Module`` (one parameter vector at a time).

    This is the reference for :class:`Network` and the way per-point tools
    (Li et al.'s loss-landscape code) evaluate a surface: load a vector into
    the module, run it. Parameters follow :class:`ParamLayout`.
    """

    def __init__(self, arch, dtype=torch.float64):
        super().__init__()
        self.arch = arch
        self.layout = ParamLayout(arch)
        self.activation = get_activation(arch.activation)
        n, h, H = self.layout.n_inputs, self.layout.width, self.layout.hidden_layers
        self.hidden = nn.ModuleList(
            [nn.Linear(n if i == 0 else h, h, dtype=dtype) for i in range(H)]
        )
        self.proj = nn.ModuleList(
            [nn.Linear(h, h, bias=False, dtype=dtype) for _ in range(H - 1)]
            if arch.skip == "projection"
            else []
        )
        self.out = nn.Linear(h, 1, dtype=dtype)

    @torch.no_grad()
    def set_flat(self, theta) -> MLP:
        """Copy a flat vector of shape (N,) (numpy or torch) into the parameters."""
        theta = torch.as_tensor(theta, dtype=self.out.weight.dtype)
        p = self.layout.unflatten(self.layout.check(theta))
        for i, lin in enumerate(self.hidden, start=1):
            lin.weight.copy_(p[f"W{i}"])
            lin.bias.copy_(p[f"b{i}"])
        for i, lin in enumerate(self.proj, start=2):
            lin.weight.copy_(p[f"P{i}"])
        self.out.weight.copy_(p["v"][None, :])
        self.out.bias.copy_(p["c"])
        return self

    def forward(self, X: torch.Tensor, logits: bool = False) -> torch.Tensor:
        """Outputs of shape (m,) for inputs ``X`` of shape (m, n)."""
        act = self.activation.torch_fn
        u = act(self.hidden[0](X))
        for i in range(1, len(self.hidden)):
            new = act(self.hidden[i](u))
            if self.arch.skip == "identity":
                new = new + u
            elif self.arch.skip == "projection":
                new = new + self.proj[i - 1](u)
            u = new
        z = self.out(u)[:, 0]
        if self.arch.output == "sigmoid" and not logits:
            return torch.sigmoid(z)
        return z


def forward(arch, thetas, X, logits: bool = False, dtype=torch.float64) -> torch.Tensor:
    """Batched outputs (K, m) for thetas (K, N) or (N,) (then (m,)) and X (m, n)."""
    net = Network(arch)
    thetas = torch.as_tensor(thetas, dtype=dtype)
    single = thetas.ndim == 1
    net.layout.check(thetas, "thetas")
    X = torch.as_tensor(X, dtype=dtype)
    out = net.forward(thetas[None] if single else thetas, X, logits=logits)
    return out[0] if single else out


def forward_numpy(arch, theta, X, logits: bool = False) -> np.ndarray:
    """Float64 numpy wrapper of :func:`forward`."""
    with torch.no_grad():
        return forward(arch, theta, X, logits=logits).numpy()


# ---------------------------------------------------------------------------
# symmetry group
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class GroupElement:
    """A symmetry: per hidden layer a permutation and a flip pattern.

    Attributes
    ----------
    perms : numpy.ndarray of int, shape (H, h)
        ``perms[l-1][j]`` = old index of the unit that becomes unit j of layer l.
    flips : numpy.ndarray of bool, shape (H, h)
        ``flips[l-1][j]`` = whether the new unit j of layer l is flipped.
    """

    perms: np.ndarray
    flips: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "perms", np.asarray(self.perms, dtype=np.int64))
        object.__setattr__(self, "flips", np.asarray(self.flips, dtype=bool))


class SymmetryGroup:
    """The hidden-unit symmetry group of an architecture acting on flat vectors.

    See the module docstring for the elements kept with each kind of skip.

    Parameters
    ----------
    arch : lossbounds.formats.Architecture
        The architecture.
    l2 : float, optional
        Coefficient of an l2 term lambda*||theta||^2 in the loss. The term is
        active when ``l2 > 0`` or ``arch.l2`` is true. Permutations and odd or
        even flips preserve ||theta||, but a sigmoid flip moves the outgoing
        weight into the next bias and changes it: with an active l2 term the
        sigmoid flips are dropped from the group (permutations only), as in
        :func:`lossbounds.bounds.symmetry_group_order`.

    Attributes
    ----------
    order : int
        |G|, exact.
    flip_kind : {"odd", "sigmoid", "even", None}
        The flip symmetry the group uses (None when the activation has none,
        or for sigmoid with an active l2 term).
    """

    def __init__(self, arch, l2: float | None = None):
        self.arch = arch
        self.layout = ParamLayout(arch)
        if l2 is not None and not (np.isfinite(l2) and l2 >= 0):
            raise ValueError(f"l2 must be a finite number >= 0 or None, got {l2!r}")
        self.regularised = bool(arch.l2) or bool(l2)
        self.flip_kind = get_activation(arch.activation).flip
        if self.regularised and self.flip_kind == "sigmoid":
            self.flip_kind = None
        h, H = self.layout.width, self.layout.hidden_layers
        self.h, self.H = h, H
        # Identity skips tie the layers together (only when there is a skip, H >= 2).
        self.tied = arch.skip == "identity" and H >= 2
        self.has_flips = self.flip_kind is not None
        self.tied_flips = self.tied and self.flip_kind in ("odd", "sigmoid")
        fact, two = math.factorial(h), 2**h
        if not self.tied:
            self.order = (fact * (two if self.has_flips else 1)) ** H
        elif self.flip_kind is None:
            self.order = fact
        elif self.tied_flips:
            self.order = fact * two
        else:  # even flips stay free per layer
            self.order = fact * two**H

    def __repr__(self) -> str:
        return (
            f"SymmetryGroup(order={self.order}, flip={self.flip_kind!r}, "
            f"skip={self.arch.skip!r}, h={self.h}, H={self.H})"
        )

    # -------------------------------------------------------------- elements
    def identity(self) -> GroupElement:
        """The neutral element."""
        return GroupElement(
            np.tile(np.arange(self.h), (self.H, 1)), np.zeros((self.H, self.h), dtype=bool)
        )

    def check_element(self, g: GroupElement) -> None:
        """Raise ``ValueError`` unless ``g`` belongs to this group."""
        h, H = self.h, self.H
        if g.perms.shape != (H, h) or g.flips.shape != (H, h):
            raise ValueError(
                f"element must have perms and flips of shape (H, h) = {(H, h)}, "
                f"got {g.perms.shape} and {g.flips.shape}"
            )
        if any(sorted(p) != list(range(h)) for p in g.perms.tolist()):
            raise ValueError("element.perms rows must be permutations of 0..h-1")
        if not self.has_flips and g.flips.any():
            raise ValueError(
                f"element.flips must be all False: activation {self.arch.activation!r} has no flip"
            )
        if self.tied and not (g.perms == g.perms[0]).all():
            raise ValueError("element.perms must be equal in all layers with identity skips")
        if self.tied_flips and not (g.flips == g.flips[0]).all():
            raise ValueError(
                "element.flips must be equal in all layers with identity skips "
                f"and {self.flip_kind!r} flips"
            )

    def random_element(self, rng) -> GroupElement:
        """A uniformly random element (``rng``: numpy Generator or seed)."""
        rng = np.random.default_rng(rng)
        h, H = self.h, self.H
        if self.tied:
            perms = np.tile(rng.permutation(h), (H, 1))
        else:
            perms = np.stack([rng.permutation(h) for _ in range(H)])
        flips = np.zeros((H, h), dtype=bool)
        if self.tied_flips:
            flips[:] = rng.random(h) < 0.5
        elif self.has_flips:
            flips = rng.random((H, h)) < 0.5
        return GroupElement(perms, flips)

    def elements(self):
        """Iterate over all |G| elements (only sensible for small groups)."""
        h, H = self.h, self.H
        perms1 = [np.array(p) for p in itertools.permutations(range(h))]
        flips1 = (
            [np.array(f, dtype=bool) for f in itertools.product([False, True], repeat=h)]
            if self.has_flips
            else [np.zeros(h, dtype=bool)]
        )
        if not self.tied:
            per_layer = [(p, f) for p in perms1 for f in flips1]
            for combo in itertools.product(per_layer, repeat=H):
                yield GroupElement(np.stack([c[0] for c in combo]), np.stack([c[1] for c in combo]))
            return
        flip_choices = (
            [np.tile(f, (H, 1)) for f in flips1]
            if (self.tied_flips or not self.has_flips)
            else [np.stack(c) for c in itertools.product(flips1, repeat=H)]
        )
        for p in perms1:
            for f in flip_choices:
                yield GroupElement(np.tile(p, (H, 1)), f)

    # ---------------------------------------------------------------- action
    def apply(self, theta, g: GroupElement) -> np.ndarray:
        """Image of ``theta`` under ``g``.

        Parameters
        ----------
        theta : array, shape (N,) or (K, N)
            Flat parameters (converted to float64 numpy).
        g : GroupElement
            A member of the group (checked).

        Returns
        -------
        numpy.ndarray, same shape as ``theta``, float64
        """
        theta = np.asarray(theta, dtype=np.float64)
        self.layout.check(theta)
        self.check_element(g)
        arch = self.arch
        p = self.layout.unflatten(theta)
        q = {}
        lead = theta.shape[:-1]
        kappa = 1.0 if self.flip_kind == "sigmoid" else 0.0
        signs_move = self.flip_kind in ("odd", "sigmoid")
        # State of the stream feeding the current layer: u' = sgn * u[perm] + delta.
        n_in = self.layout.n_inputs
        prev_perm = np.arange(n_in)
        prev_sgn = np.ones(n_in)
        delta = np.zeros((*lead, n_in))
        for layer in range(1, self.H + 1):
            perm = g.perms[layer - 1]
            s = np.where(g.flips[layer - 1], -1.0, 1.0)
            W = p[f"W{layer}"]
            # W' = S Pi W A^{-1}: rows by the new order (signed), columns by the old stream map.
            Wn = s[:, None] * W[..., perm, :][..., :, prev_perm] * prev_sgn[None, :]
            q[f"W{layer}"] = Wn
            q[f"b{layer}"] = s * p[f"b{layer}"][..., perm] - np.einsum(
                "...ij,...j->...i", Wn, delta
            )
            sgn = s if signs_move else np.ones(self.h)
            offset = kappa * g.flips[layer - 1]
            if arch.skip == "identity" and layer >= 2:
                new_delta = offset + delta
            elif arch.skip == "projection" and layer >= 2:
                P = p[f"P{layer}"]
                Pn = sgn[:, None] * P[..., perm, :][..., :, prev_perm] * prev_sgn[None, :]
                q[f"P{layer}"] = Pn
                new_delta = offset + np.einsum("...ij,...j->...i", Pn, delta)
            else:
                new_delta = np.broadcast_to(offset, (*lead, self.h)).astype(np.float64)
            prev_perm, prev_sgn, delta = perm, sgn, new_delta
        vn = p["v"][..., prev_perm] * prev_sgn
        q["v"] = vn
        q["c"] = p["c"] - np.einsum("...i,...i->...", vn, delta)[..., None]
        return self.layout.flatten(q)

    def orbit(self, theta, max_order: int = 100_000) -> np.ndarray:
        """All images g(theta), shape (|G|, N) (with repetitions if theta is not generic).

        Raises
        ------
        ValueError
            If ``theta`` is not a single vector of length N or ``|G| > max_order``.
        """
        theta = np.asarray(theta, dtype=np.float64)
        if theta.ndim != 1:
            raise ValueError(f"theta must be one vector of shape (N,), got shape {theta.shape}")
        if self.order > max_order:
            raise ValueError(
                f"group order {self.order} exceeds max_order={max_order}; "
                "use random_element or canonical instead"
            )
        return np.stack([self.apply(theta, g) for g in self.elements()])

    def canonical(self, theta) -> np.ndarray:
        """A canonical representative of the orbit of ``theta`` (shape (N,)).

        Layer by layer (l = 1..H, or layer 1 for the tied residual stream),
        flip the units whose bias is negative (when flips exist) and sort the
        units by bias. For generic theta (nonzero, pairwise distinct bias
        magnitudes) ``canonical(g(theta)) == canonical(theta)`` for every g up
        to rounding; near ties the choice is unstable, so deduplication
        compares with a distance tolerance (see :meth:`distance`).
        """
        theta = np.asarray(theta, dtype=np.float64)
        if theta.ndim != 1:
            raise ValueError(f"theta must be one vector of shape (N,), got shape {theta.shape}")
        self.layout.check(theta)
        H, h = self.H, self.h
        if self.tied:
            p = self.layout.unflatten(theta)
            b1 = p["b1"]
            perm = np.argsort(np.abs(b1) if self.has_flips else b1, kind="stable")
            flips = np.zeros((H, h), dtype=bool)
            if self.tied_flips:
                flips[:] = (b1 < 0)[perm]
            elif self.has_flips:  # even: each layer's flips are independent, stream unchanged
                for layer in range(1, H + 1):
                    flips[layer - 1] = (p[f"b{layer}"] < 0)[perm]
            return self.apply(theta, GroupElement(np.tile(perm, (H, 1)), flips))
        for layer in range(1, H + 1):
            b = self.layout.unflatten(theta)[f"b{layer}"]
            perm = np.argsort(np.abs(b) if self.has_flips else b, kind="stable")
            g = self.identity()
            g.perms[layer - 1] = perm
            if self.has_flips:
                g.flips[layer - 1] = (b < 0)[perm]
            theta = self.apply(theta, g)
        return theta

    def distance(self, theta_a, theta_b, max_order: int = 5_000) -> float:
        """Euclidean distance between the orbits of two vectors.

        Exact minimum over the orbit of ``theta_a`` when ``|G| <= max_order``,
        otherwise the distance between canonical representatives (an upper
        bound, equal for generic nearby points).
        """
        theta_b = np.asarray(theta_b, dtype=np.float64)
        if self.order <= max_order:
            return float(np.min(np.linalg.norm(self.orbit(theta_a) - theta_b, axis=1)))
        return float(np.linalg.norm(self.canonical(theta_a) - self.canonical(theta_b)))
