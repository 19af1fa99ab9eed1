"""Torch network of an :class:`~lossbounds.architecture.Architecture` on flat parameter vectors.

Inputs x in R^n, ``H = arch.hidden_layers`` hidden layers of width ``h``,
activation sigma, scalar output::

    a_1 = W_1 x + b_1,          u_1 = sigma(a_1)             W_1: (h, n)
    a_l = W_l u_{l-1} + b_l,    u_l = sigma(a_l) [+ skip]    W_l: (h, h),  l = 2..H
    z   = v . u_H + c                                        v: (h,),  c: scalar
    output = z (linear) or sigmoid(z) (sigmoid output)

with ``skip`` = ``u_{l-1}`` (``arch.skip == "identity"``) or ``P_l u_{l-1}``
(``"projection"``, P_l: (h, h), no bias) or nothing: skips join consecutive
hidden layers only. The parameters are flat vectors theta of length N in the
layout of :class:`lossbounds.layout.ParamLayout`.

:class:`Network` evaluates K vectors at once, unit-major: the hidden states
have shape (K, h, m) for m inputs.
"""

from __future__ import annotations

import numpy as np
import torch

from lossbounds.activations import get_activation
from lossbounds.layout import ParamLayout

__all__ = ["Network", "forward", "forward_numpy"]

# In-place kernels for the catalogue activations, used by the no-grad fast path
# of Network.forward (a fresh (K, h, m) tensor per operation costs page faults
# that dominate the arithmetic). Activations not listed fall back to
# ``torch_fn`` plus a copy.
_INPLACE = {
    "sigmoid": torch.Tensor.sigmoid_,
    "tanh": torch.Tensor.tanh_,
    "arctan": torch.Tensor.atan_,
    "erf": torch.Tensor.erf_,
    "gaussian": lambda a: a.square_().neg_().exp_(),
}


def _affine(bias, W, u, out=None):
    """``bias + W @ u`` for K networks: (K, r), (K, r, f), (K, f, m) -> (K, r, m), into ``out``."""
    return torch.baddbmm(bias[:, :, None], W, u, out=out)


def _is_transformed(t) -> bool:
    """Whether ``t`` is wrapped by a torch.func transform (vmap, grad, jacrev, ...)."""
    functorch = getattr(torch._C, "_functorch", None)
    return bool(functorch) and bool(functorch.is_functorch_wrapped_tensor(t))


class Network:
    """Functional, batched network of an architecture: ``forward(thetas, X) -> (K, m)``.

    Without autograd the pass writes into three work buffers of shapes
    (K, h, m), (K, h, m), (K, 1, m) kept on the object (re-allocated when K, m
    or the dtype change) with in-place kernels: one ``Network`` must not be
    used from several threads at once. With ``thetas.requires_grad`` (or inside
    torch.func transforms) every step allocates its result.

    Parameters
    ----------
    arch : lossbounds.architecture.Architecture
        The architecture.
    """

    def __init__(self, arch):
        self.arch = arch
        self.layout = ParamLayout(arch)
        self.activation = get_activation(arch.activation)
        self.n_params = self.layout.n_params
        self._buffers, self._buffers_key = None, None

    def _check(self, thetas, X) -> None:
        """Raise ``ValueError`` unless thetas is (K, N) and X is (m, n)."""
        if thetas.ndim != 2:
            raise ValueError(f"thetas must have shape (K, N), got {tuple(thetas.shape)}")
        self.layout.check(thetas, "thetas")
        if X.ndim != 2 or X.shape[1] != self.layout.n_inputs:
            raise ValueError(
                f"X must have shape (m, n) with n = {self.layout.n_inputs}, got {tuple(X.shape)}"
            )

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

        Raises
        ------
        ValueError
            If the shapes are not (K, N) and (m, n).
        """
        self._check(thetas, X)
        grad = torch.is_grad_enabled() and thetas.requires_grad
        fast = not (grad or _is_transformed(thetas))
        return self._forward(thetas, X, logits, fast=fast).clone()

    __call__ = forward

    def trace(self, thetas: torch.Tensor, X: torch.Tensor):
        """Pre-activations of every hidden layer and the output logit (differentiable).

        Parameters
        ----------
        thetas : torch.Tensor, shape (K, N)
            Flat parameter vectors.
        X : torch.Tensor, shape (m, n)
            Inputs, same dtype and device as ``thetas``.

        Returns
        -------
        pre : list of torch.Tensor
            H tensors of shape (K, h, m): ``pre[l-1][k, :, i]`` is a_l of
            network k on input i.
        z : torch.Tensor, shape (K, m)
            The output before any output sigmoid.

        Raises
        ------
        ValueError
            If the shapes are not (K, N) and (m, n).
        """
        self._check(thetas, X)
        pre = []
        z = self._pass(thetas, X, None, pre)
        return pre, z

    def _forward(self, thetas, X, logits: bool, fast: bool) -> torch.Tensor:
        """Forward pass; ``fast`` (no autograd) reuses work buffers and in-place kernels.

        With ``fast=True`` the result is a view into a buffer that the next
        call overwrites: consume it before calling again. No shape checks.
        """
        z = self._pass(thetas, X, self._work_buffers(thetas, X) if fast else None)
        if self.arch.output == "sigmoid" and not logits:
            return z.sigmoid_() if fast else torch.sigmoid(z)
        return z

    def _work_buffers(self, thetas, X):
        """Two (K, h, m) ping-pong buffers and one (K, 1, m) output buffer."""
        K, m, dtype = thetas.shape[0], X.shape[0], thetas.dtype
        if self._buffers_key != (K, m, dtype):
            h = self.layout.width
            self._buffers = [torch.empty(K, h, m, dtype=dtype) for _ in range(2)]
            self._buffers.append(torch.empty(K, 1, m, dtype=dtype))
            self._buffers_key = (K, m, dtype)
        return self._buffers

    def _activate(self, a, inplace: bool):
        """sigma(a); with ``inplace`` written into ``a`` (and ``a`` returned)."""
        if not inplace:
            return self.activation.torch_fn(a)
        kernel = _INPLACE.get(self.activation.name)
        return a.copy_(self.activation.torch_fn(a)) if kernel is None else kernel(a)

    def _pass(self, thetas, X, buffers=None, pre=None):
        """The layer loop: logit z of shape (K, m).

        ``buffers`` (from :meth:`_work_buffers`) selects in-place evaluation
        into them (the result is then a view of a buffer); ``pre``, a list,
        receives the pre-activations a_l (only meaningful without buffers,
        which overwrite them).
        """
        lay, skip = self.layout, self.arch.skip
        p = lay.unflatten(thetas)
        inplace = buffers is not None
        A, B, Z = buffers if inplace else (None, None, None)
        u = X.T.expand(thetas.shape[0], lay.n_inputs, X.shape[0])
        for layer in range(1, lay.hidden_layers + 1):
            a = _affine(p[f"b{layer}"], p[f"W{layer}"], u, out=(B if u is A else A))
            if pre is not None:
                pre.append(a)
            new = self._activate(a, inplace)
            if layer >= 2 and skip == "identity":
                new = new.add_(u) if inplace else new + u
            elif layer >= 2 and skip == "projection":
                P = p[f"P{layer}"]
                new = new.baddbmm_(P, u) if inplace else torch.baddbmm(new, P, u)
            u = new
        z = torch.bmm(p["v"][:, None, :], u, out=Z)[:, 0, :]
        return z.add_(p["c"]) if inplace else z + p["c"]


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
