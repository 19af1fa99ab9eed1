"""Exact reparametrisation between tanh and sigmoid networks.

Since tanh(t) = 2 sigmoid(2t) - 1, every tanh network is a sigmoid network
with affinely transformed weights. With u^T_l = tanh(a_l) and
u^S_l = sigmoid(2 a_l) = (u^T_l + 1) / 2 the sigmoid network needs the
pre-activations 2 a_l::

    layer 1:      W'_1 = 2 W_1,   b'_1 = 2 b_1
    layer l >= 2: W'_l = 4 W_l,   b'_l = 2 (b_l - W_l 1)      (a_l = 2 W_l u^S + b_l - W_l 1)
    output:       v'   = 2 v,     c'   = c - sum(v)           (z = 2 v . u^S + c - sum(v))

so ``theta' = A theta`` is an invertible *linear* map (the constants -W_l 1 and
-sum(v) are linear in theta) of the flat
parameter vector (:class:`lossbounds.landscape.layout.ParamLayout`) with
``f_sigmoid(theta') = f_tanh(theta)`` for every input. The two training
losses (without regularisation) are therefore the same function up to this
change of coordinates: ``L_sigmoid(A theta) = L_tanh(theta)``.
Sublevel sets are affine images of each other (same Betti numbers), critical
points correspond one to one with the same loss, and Hessians are congruent
(``H_tanh = A^T H_sigmoid A``), so Morse indices agree. An l2 term breaks the
correspondence, since ``||A theta|| != ||theta||``.

Skip connections are not covered (identity skips would need an offset that
grows along the residual stream).
"""

from __future__ import annotations

import numpy as np

from lossbounds.landscape.layout import ParamLayout

__all__ = ["tanh_sigmoid_matrix", "tanh_to_sigmoid"]


def _check(arch, activation: str) -> ParamLayout:
    if getattr(arch, "skip", None) is not None:
        raise ValueError(f"arch.skip must be None for the tanh/sigmoid map, got {arch.skip!r}")
    if arch.activation != activation:
        raise ValueError(f"arch.activation must be {activation!r} here, got {arch.activation!r}")
    return ParamLayout(arch)


def tanh_sigmoid_matrix(arch) -> np.ndarray:
    """Return the linear map ``theta_sigmoid = A @ theta_tanh``.

    Parameters
    ----------
    arch : lossbounds.theory.architecture.Architecture
        The architecture (any activation field; only sizes are used), no skips.

    Returns
    -------
    A : numpy.ndarray, shape (N, N)
        Invertible (diagonal but for the bias rows, which also read their
        layer's weights; det = product of the diagonal, all entries 1, 2 or 4).
    """
    if getattr(arch, "skip", None) is not None:
        raise ValueError(f"arch.skip must be None for the tanh/sigmoid map, got {arch.skip!r}")
    lay = ParamLayout(arch)
    N = lay.n_params
    A = np.zeros((N, N))
    blk = lay.blocks
    H = arch.hidden_layers
    for layer in range(1, H + 1):
        W, b = blk[f"W{layer}"], blk[f"b{layer}"]
        rows, cols = W.shape
        scale_w = 2.0 if layer == 1 else 4.0
        for i in range(rows):
            for j in range(cols):
                k = W.start + i * cols + j
                A[k, k] = scale_w
                if layer >= 2:  # b'_i = 2 b_i - 2 sum_j W_ij
                    A[b.start + i, k] = -2.0
            A[b.start + i, b.start + i] = 2.0
    v, c = blk["v"], blk["c"]
    for i in range(v.size):
        A[v.start + i, v.start + i] = 2.0
        A[c.start, v.start + i] = -1.0  # c' = c - sum_i v_i
    A[c.start, c.start] = 1.0
    return A


def tanh_to_sigmoid(arch, theta) -> np.ndarray:
    """Parameters of the sigmoid network computing the same function as a tanh network.

    Parameters
    ----------
    arch : lossbounds.theory.architecture.Architecture
        The tanh architecture (``activation == "tanh"``, no skips); the
        result is for the same architecture with ``activation="sigmoid"``.
    theta : array, shape (N,) or (K, N)

    Returns
    -------
    numpy.ndarray, same shape as ``theta``, float64
    """
    lay = _check(arch, "tanh")
    theta = lay.check(np.asarray(theta, dtype=np.float64))
    return theta @ tanh_sigmoid_matrix(arch).T
