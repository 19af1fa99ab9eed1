"""Numeric certificate of a Pfaffian format: the symbolic chain against torch autograd.

:func:`numeric_certificate` evaluates the chain of
:func:`lossbounds.theory.certificates.expand_chain` on the float64 forward pass
of :class:`lossbounds.landscape.network.Network` and compares its derivative
polynomials with autograd.
"""

from __future__ import annotations

import numpy as np
import torch

from lossbounds.landscape.network import Network
from lossbounds.theory.architecture import Architecture
from lossbounds.theory.certificates import ChainExpansion
from lossbounds.theory.formats import output_head

__all__ = ["numeric_certificate"]


def _random_point(arch: Architecture, n_params: int, seed: int, scale: float):
    """Seeded theta (N,) (requires grad), inputs (m, n) and targets, float64.

    Targets: (m,) in {0, 1} for BCE, class indices (m,) for cross-entropy,
    normal (m,) for a scalar MSE and (m, C) for C outputs.
    """
    gen = torch.Generator().manual_seed(seed)
    dt, m, C = torch.float64, arch.n_samples, arch.n_outputs
    theta = (scale * torch.randn(n_params, generator=gen, dtype=dt)).requires_grad_(True)
    xs = torch.randn(m, arch.n_inputs, generator=gen, dtype=dt)
    if arch.loss == "bce":
        ys = torch.randint(0, 2, (m,), generator=gen).to(dt)
    elif arch.loss == "cross_entropy":
        ys = torch.randint(0, C, (m,), generator=gen)
    else:
        ys = (
            torch.randn(m, C, generator=gen, dtype=dt)
            if C > 1
            else torch.randn(m, generator=gen, dtype=dt)
        )
    return theta, xs, ys


def _torch_chain(arch: Architecture, theta, xs):
    """Chain values (scalar tensors, chain order) and the outputs z, shape (m,) or (m, C).

    The pre-activations come from :meth:`lossbounds.landscape.network.Network.trace`;
    each chain element is the activation's (or the head's) torch chain function
    applied to them, in the order sample, layer, unit, chain index, then the
    head elements of that sample.
    """
    act = arch.pfaffian_activation
    head = output_head(arch.output, arch.loss, arch.n_outputs)
    pre, z = Network(arch).trace(theta[None, :], xs)
    hidden = [[fn(a[0]) for fn in act.torch_chain] for a in pre]  # per layer: (h_l, m) each
    zc = z[0] if arch.n_outputs > 1 else z[0][:, None]  # (m, C)
    out = head.torch_chain(zc) if head.chain else ()
    values = []
    for k in range(arch.n_samples):
        for layer in hidden:
            for i in range(layer[0].shape[0]):
                values.extend(g[i, k] for g in layer)
        values.extend(g[k] for g in out)
    return values, z[0]


def _torch_loss(arch: Architecture, z, ys, theta, lam):
    """Compute the training loss with torch's own losses (BCE and cross-entropy from logits)."""
    F = torch.nn.functional
    if arch.loss == "cross_entropy":
        loss = F.cross_entropy(z, ys)
    elif arch.output == "linear":
        loss = F.mse_loss(z, ys)
    elif arch.loss == "mse":
        loss = F.mse_loss(torch.sigmoid(z), ys)
    else:
        loss = F.binary_cross_entropy_with_logits(z, ys)
    if arch.l2:
        loss = loss + lam * torch.sum(theta**2)
    return loss


def _targets(arch: Architecture, ys) -> list:
    """Target values in the expansion's order: y[k][c] row-major (one-hot for cross-entropy)."""
    if arch.loss == "cross_entropy":
        ys = torch.nn.functional.one_hot(ys, arch.n_outputs).to(torch.float64)
    return ys.reshape(-1).tolist()


def numeric_certificate(expansion: ChainExpansion, seed: int = 0, scale: float = 0.7, lam=0.1):
    """Compare the symbolic chain with torch autograd on a float64 network.

    A torch network with the architecture of ``expansion`` is built from a
    seeded random theta (normal, std ``scale``) and random data; each chain
    element is computed with the activation's torch chain, its gradient with
    autograd, and compared with the derivative polynomial of
    :func:`expand_chain` evaluated at (theta, chain values, data). The loss
    polynomial is compared with the loss computed by torch directly (MSE via
    ``mse_loss``, BCE via ``binary_cross_entropy_with_logits``, cross-entropy
    via ``cross_entropy`` on the logits and class indices).

    Returns
    -------
    dict
        ``gradient``: the largest relative error ||grad_sym - grad_torch|| /
        ||grad_torch|| over chain elements; ``loss``: relative error of the
        loss value; ``elements``: number of chain elements checked.
    """
    arch = expansion.arch
    theta, xs, ys = _random_point(arch, len(expansion.theta), seed, scale)
    values, z = _torch_chain(arch, theta, xs)
    loss = _torch_loss(arch, z, ys, theta, lam)
    point = [
        *theta.detach().tolist(),
        *[float(v.detach()) for v in values],
        *xs.reshape(-1).tolist(),
        *_targets(arch, ys),
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
