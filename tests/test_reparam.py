"""Tests for lossbounds.landscape.reparam: tanh networks as sigmoid networks.

The expected outputs are the tanh network's own outputs (computed by the
torch network of the tanh architecture, an independent path) and the
identity tanh(t) = 2 sigmoid(2t) - 1 written out by hand for one unit.
"""

import numpy as np
import pytest

from lossbounds.landscape.network import forward_numpy
from lossbounds.landscape.reparam import tanh_sigmoid_matrix, tanh_to_sigmoid
from lossbounds.landscape.surface import LossSurface
from lossbounds.theory.architecture import Architecture


def _pair(n, h, K, output="linear"):
    t = Architecture(n, h, K, 10, activation="tanh", output=output)
    s = Architecture(n, h, K, 10, activation="sigmoid", output=output)
    return t, s


def test_one_unit_by_hand():
    # f(x) = v tanh(w x + b) + c  ==  2v sigmoid(2w x + 2b) + c - v
    t, s = _pair(1, 1, 1)
    w, b, v, c = 0.7, -0.3, 1.9, 0.25
    assert np.allclose(
        tanh_to_sigmoid(t, [w, b, v, c]), [2 * w, 2 * b, 2 * v, c - v], atol=0, rtol=0
    )


@pytest.mark.parametrize("K", [1, 2, 3])
@pytest.mark.parametrize("output", ["linear", "sigmoid"])
def test_same_function(K, output):
    t, s = _pair(2, 3, K, output)
    rng = np.random.default_rng(K)
    X = rng.normal(size=(25, 2))
    thetas = rng.normal(size=(4, tanh_sigmoid_matrix(t).shape[0]))
    out_t = forward_numpy(t, thetas, X)
    out_s = forward_numpy(s, tanh_to_sigmoid(t, thetas), X)
    np.testing.assert_allclose(out_s, out_t, atol=1e-12, rtol=0)


def test_same_loss_and_congruent_hessians():
    t, s = _pair(1, 2, 2)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(15, 1)), rng.normal(size=15)
    Lt, Ls = LossSurface(t, X, y), LossSurface(s, X, y)
    theta = rng.normal(size=Lt.n_params)
    A = tanh_sigmoid_matrix(t)
    assert abs(Ls(A @ theta) - Lt(theta)) < 1e-12
    # chain rule: grad_t = A^T grad_s, H_t = A^T H_s A
    np.testing.assert_allclose(Lt.gradient(theta), A.T @ Ls.gradient(A @ theta), atol=1e-10)
    np.testing.assert_allclose(Lt.hessian(theta), A.T @ Ls.hessian(A @ theta) @ A, atol=1e-9)


def test_bad_input():
    t, s = _pair(1, 2, 2)
    with pytest.raises(ValueError, match="activation must be 'tanh'"):
        tanh_to_sigmoid(s, np.zeros(13))
    with pytest.raises(ValueError, match="shape"):
        tanh_to_sigmoid(t, np.zeros(12))
    skip = Architecture(1, 2, 2, 10, activation="tanh", skip="identity")
    with pytest.raises(ValueError, match="skip must be None"):
        tanh_to_sigmoid(skip, np.zeros(13))
    with pytest.raises(ValueError, match="skip must be None"):
        tanh_sigmoid_matrix(skip)
