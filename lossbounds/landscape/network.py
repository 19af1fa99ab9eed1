"""Torch network of an :class:`~lossbounds.theory.architecture.Architecture` on flat parameter vectors.

Inputs x in R^n, ``H = arch.hidden_layers`` hidden layers of widths
``(h_1, ..., h_H) = arch.widths``, activation sigma, C = ``arch.n_outputs``
outputs::

    a_1 = W_1 x + b_1,          u_1 = sigma(a_1)             W_1: (h_1, n)
    a_l = W_l u_{l-1} + b_l,    u_l = sigma(a_l) [+ skip]    W_l: (h_l, h_{l-1}),  l = 2..H
    z   = V u_H + c                                          V: (C, h_H),  c: (C,)
    output = z (linear) or sigmoid(z) (sigmoid output, C = 1)

A bias-free layer (``arch.layer_bias(l)`` false) drops its ``b_l`` (or ``c``).

with ``skip`` = ``u_{l-1}`` (``arch.skip == "identity"``) or ``P_l u_{l-1}``
(``"projection"``, P_l: (h, h), no bias) or nothing: skips join consecutive
hidden layers only (of equal widths h). The parameters are flat vectors theta of length N in the
layout of :class:`lossbounds.landscape.layout.ParamLayout`.

:class:`Network` evaluates K vectors at once, unit-major: the hidden states
of layer l have shape (K, h_l, m) for m inputs.
"""

from __future__ import annotations

import numpy as np
import torch

from lossbounds.landscape.devices import resolve_device
from lossbounds.landscape.layout import ParamLayout
from lossbounds.theory.activations import get_activation
from lossbounds.theory.architecture import LOSSES

__all__ = ["Network", "forward", "forward_numpy", "sample_losses"]

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
    """``bias + W @ u`` for K networks: (K, r), (K, r, f), (K, f, m) -> (K, r, m), into ``out``.

    ``bias`` None: no bias (``W @ u``).
    """
    if bias is None:
        return torch.bmm(W, u, out=out)
    return torch.baddbmm(bias[:, :, None], W, u, out=out)


def _is_transformed(t) -> bool:
    """Whether ``t`` is wrapped by a torch.func transform (vmap, grad, jacrev, ...)."""
    functorch = getattr(torch._C, "_functorch", None)
    return bool(functorch) and bool(functorch.is_functorch_wrapped_tensor(t))


class Network:
    """Functional, batched network of an architecture: ``forward(thetas, X) -> (K, m)``.

    Without autograd the pass writes into three work buffers kept on the
    object, on the device of the inputs (re-allocated when K, m, the dtype or
    the device change) with in-place kernels: two of K * max_l h_l * m
    elements, viewed as (K, h_l, m) layer by layer, and one (K, 1, m) for the
    output. One ``Network`` must not be
    used from several threads at once. With ``thetas.requires_grad`` (or inside
    torch.func transforms) every step allocates its result.

    Parameters
    ----------
    arch : lossbounds.theory.architecture.Architecture
        The architecture.
    """

    def __init__(self, arch):
        self.arch = arch
        self.layout = ParamLayout(arch)
        self.activation = get_activation(arch.activation)
        self.n_params = self.layout.n_params
        self.n_outputs = self.layout.n_outputs
        self._buffers, self._buffers_key = None, None

    def _check(self, thetas, X) -> None:
        """Raise ``ValueError`` unless thetas is (K, N) and X is (m, n) on the same device."""
        if X.device != thetas.device:
            raise ValueError(
                f"X must lie on the device of thetas ({thetas.device}), got {X.device}"
            )
        if thetas.ndim != 2:
            raise ValueError(f"thetas must have shape (K, N), got {tuple(thetas.shape)}")
        self.layout.check(thetas, "thetas")
        if X.ndim != 2 or X.shape[1] != self.layout.n_inputs:
            raise ValueError(
                f"X must have shape (m, n) with n = {self.layout.n_inputs}, got {tuple(X.shape)}"
            )

    def forward(self, thetas: torch.Tensor, X: torch.Tensor, logits: bool = False) -> torch.Tensor:
        """Compute the outputs of K networks on m inputs (shape (K, m), or (K, m, C) for C > 1).

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
        torch.Tensor, shape (K, m), or (K, m, C) for C = ``arch.n_outputs`` > 1
            A fresh tensor (differentiable when ``thetas`` requires grad).

        Raises
        ------
        ValueError
            If the shapes are not (K, N) and (m, n), or the devices differ.
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
            H tensors, of shapes (K, h_l, m): ``pre[l-1][k, :, i]`` is a_l of
            network k on input i.
        z : torch.Tensor, shape (K, m) (or (K, m, C) for C > 1)
            The output before any output sigmoid.

        Raises
        ------
        ValueError
            If the shapes are not (K, N) and (m, n), or the devices differ.
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
        """Two flat ping-pong buffers of K * max(h_l) * m elements and one (K, C, m) buffer."""
        key = (thetas.shape[0], X.shape[0], thetas.dtype, thetas.device)
        if self._buffers_key != key:
            K, m, dtype, device = key
            size = K * max(self.layout.widths) * m
            # Drop the old buffers first: on a GPU they may be what fills the memory.
            self._buffers, self._buffers_key = None, None
            buffers = [torch.empty(size, dtype=dtype, device=device) for _ in range(2)]
            buffers.append(torch.empty(K, self.layout.n_outputs, m, dtype=dtype, device=device))
            self._buffers, self._buffers_key = buffers, key
        return self._buffers

    def _activate(self, a, inplace: bool):
        """sigma(a); with ``inplace`` written into ``a`` (and ``a`` returned)."""
        if not inplace:
            return self.activation.torch_fn(a)
        kernel = _INPLACE.get(self.activation.name)
        return a.copy_(self.activation.torch_fn(a)) if kernel is None else kernel(a)

    def _pass(self, thetas, X, buffers=None, pre=None):
        """Run the layer loop and return the logits z of shape (K, m) (or (K, m, C) for C > 1).

        ``buffers`` (from :meth:`_work_buffers`) selects in-place evaluation
        into them (layer l into the contiguous (K, h_l, m) head of buffer
        (l - 1) mod 2; the result is then a view of a buffer); ``pre``, a list,
        receives the pre-activations a_l (only meaningful without buffers,
        which overwrite them).
        """
        lay, skip = self.layout, self.arch.skip
        p = lay.unflatten(thetas)
        inplace = buffers is not None
        K, m = thetas.shape[0], X.shape[0]
        u = X.T.expand(K, lay.n_inputs, m)
        for layer, h in enumerate(lay.widths, start=1):
            out = buffers[(layer - 1) % 2][: K * h * m].view(K, h, m) if inplace else None
            a = _affine(p.get(f"b{layer}"), p[f"W{layer}"], u, out=out)
            if pre is not None:
                pre.append(a)
            new = self._activate(a, inplace)
            if layer >= 2 and skip == "identity":
                new = new.add_(u) if inplace else new + u
            elif layer >= 2 and skip == "projection":
                P = p[f"P{layer}"]
                new = new.baddbmm_(P, u) if inplace else torch.baddbmm(new, P, u)
            u = new
        C = lay.n_outputs
        V = p["v"].reshape(K, C, u.shape[1])
        z = _affine(p.get("c"), V, u, out=buffers[2] if inplace else None)  # (K, C, m)
        return z[:, 0, :] if C == 1 else z.transpose(1, 2)


def forward(
    arch, thetas, X, logits: bool = False, dtype=torch.float64, device="cpu"
) -> torch.Tensor:
    """Batched outputs of the network of ``arch``.

    Parameters
    ----------
    arch : lossbounds.theory.architecture.Architecture
        The architecture.
    thetas : array_like or torch.Tensor, shape (K, N) or (N,)
        Flat parameter vectors.
    X : array_like or torch.Tensor, shape (m, n)
        Inputs.
    logits : bool
        For a sigmoid output, return z instead of sigmoid(z).
    dtype : torch.dtype
        Precision of the evaluation.
    device : str or torch.device
        Where ``thetas`` and ``X`` are moved and evaluated: "cpu" (default),
        "cuda", "cuda:N", "auto", or a ``torch.device``.

    Returns
    -------
    torch.Tensor, shape (K, m), or (m,) for one vector ((K, m, C), (m, C) for C > 1 outputs)
        On ``device``.

    Raises
    ------
    ValueError
        For wrong shapes, or an unknown or unavailable ``device``.
    """
    net = Network(arch)
    dev = resolve_device(device)
    thetas = torch.as_tensor(thetas, dtype=dtype, device=dev)
    single = thetas.ndim == 1
    net.layout.check(thetas, "thetas")
    X = torch.as_tensor(X, dtype=dtype, device=dev)
    out = net.forward(thetas[None] if single else thetas, X, logits=logits)
    return out[0] if single else out


def forward_numpy(arch, theta, X, logits: bool = False, device="cpu") -> np.ndarray:
    """Float64 numpy wrapper of :func:`forward` (evaluated on ``device``, returned on the host)."""
    with torch.no_grad():
        return forward(arch, theta, X, logits=logits, device=device).cpu().numpy()


def sample_losses(z: torch.Tensor, targets: torch.Tensor, loss: str, inplace: bool = False):
    """Per-sample losses of K networks: the one place each loss formula is written.

    Parameters
    ----------
    z : torch.Tensor, shape (K, m) or (K, m, C)
        Outputs: the logits for "bce" and "cross_entropy", the outputs for "mse".
    targets : torch.Tensor, shape (m,) or (m, C)
        Targets (one-hot rows for "cross_entropy"), dtype of ``z``.
    loss : {"mse", "bce", "cross_entropy"}
        ``mse``: (z - y)^2, averaged over the C outputs (``mse_loss``'s mean);
        ``bce``: softplus(z) - y z = -[y log s(z) + (1-y) log(1-s(z))], stable;
        ``cross_entropy``: logsumexp_c z_c - sum_c y_c z_c = -log softmax(z)_y.
    inplace : bool
        For "mse", overwrite ``z`` (no autograd).

    Returns
    -------
    torch.Tensor, shape (K, m)

    Raises
    ------
    ValueError
        For an unknown ``loss``.
    """
    if loss == "cross_entropy":
        return torch.logsumexp(z, dim=-1) - (z * targets).sum(dim=-1)
    if loss == "bce":
        return torch.logaddexp(z, torch.zeros_like(z)) - targets * z
    if loss != "mse":
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    per = z.sub_(targets).square_() if inplace else (z - targets) ** 2
    return per.mean(dim=-1) if targets.ndim == 2 else per
