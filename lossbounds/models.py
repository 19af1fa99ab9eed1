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

import numpy as np
import torch
from torch import nn

from lossbounds.activations import get_activation
from lossbounds.layout import ParamLayout
from lossbounds.symmetry import GroupElement, SymmetryGroup

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
