"""Tests for lossbounds.models: layout, batched forward, symmetry group."""

import numpy as np
import pytest
import torch

from lossbounds.architecture import Architecture
from lossbounds.models import (
    MLP,
    Network,
    ParamLayout,
    forward,
    forward_numpy,
)

ACTIVATIONS = ["sigmoid", "tanh", "arctan", "softplus", "gaussian", "swish", "erf"]
SKIPS = [None, "identity", "projection"]
OUTPUTS = ["linear", "sigmoid"]


def arch_of(act="tanh", skip=None, output="linear", n=2, h=3, H=2, m=5):
    return Architecture(n, h, H, m, activation=act, output=output, skip=skip)


def data(n=2, m=5, seed=1):
    return np.random.default_rng(seed).standard_normal((m, n))


# ---------------------------------------------------------------- forward
def test_forward_by_hand_single_unit():
    # n = 1, h = 1, one hidden layer, sigmoid: f(x) = v * s(w x + b) + c
    arch = Architecture(1, 1, 1, 3, activation="sigmoid")
    w, b, v, c = 0.7, -0.2, 1.5, 0.3
    X = np.array([[-1.0], [0.0], [2.0]])
    expected = v / (1 + np.exp(-(w * X[:, 0] + b))) + c
    out = forward_numpy(arch, np.array([w, b, v, c]), X)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-15)
    arch_s = Architecture(1, 1, 1, 3, activation="sigmoid", output="sigmoid")
    out_s = forward_numpy(arch_s, np.array([w, b, v, c]), X)
    np.testing.assert_allclose(out_s, 1 / (1 + np.exp(-expected)), rtol=0, atol=1e-15)


def test_forward_identity_skip_by_hand():
    # two hidden layers of width 1 with identity skip: u2 = tanh(w2 u1 + b2) + u1
    arch = Architecture(1, 1, 2, 2, activation="tanh", skip="identity")
    w1, b1, w2, b2, v, c = 0.5, 0.1, -1.2, 0.4, 2.0, -0.5
    X = np.array([[0.3], [-1.1]])
    u1 = np.tanh(w1 * X[:, 0] + b1)
    u2 = np.tanh(w2 * u1 + b2) + u1
    out = forward_numpy(arch, np.array([w1, b1, w2, b2, v, c]), X)
    np.testing.assert_allclose(out, v * u2 + c, rtol=0, atol=1e-15)


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("skip", SKIPS)
@pytest.mark.parametrize("output", OUTPUTS)
def test_batched_forward_equals_per_point_module(act, skip, output):
    arch = arch_of(act, skip, output)
    lay = ParamLayout(arch)
    thetas = lay.init(0, scale=1.5, n_points=6)
    X = data()
    batched = forward_numpy(arch, thetas, X)
    assert batched.shape == (6, X.shape[0])
    net = MLP(arch)
    Xt = torch.as_tensor(X)
    with torch.no_grad():
        loop = np.stack([net.set_flat(t)(Xt).numpy() for t in thetas])
    np.testing.assert_allclose(batched, loop, rtol=0, atol=1e-12)
    # the autograd path (no buffers, no in-place kernels) gives the same values
    t = torch.tensor(thetas, requires_grad=True)
    grad_path = Network(arch).forward(t, Xt).detach().numpy()
    np.testing.assert_allclose(grad_path, loop, rtol=0, atol=1e-12)


def test_forward_single_vector_and_fast_path_buffers_not_aliased():
    arch = arch_of()
    lay = ParamLayout(arch)
    a, b = lay.init(0, n_points=2)
    X = data()
    out_a = forward(arch, a, X)
    out_b = forward(arch, b, X)  # must not overwrite out_a
    assert out_a.shape == (X.shape[0],)
    np.testing.assert_array_equal(out_a.numpy(), forward_numpy(arch, a, X))
    assert not torch.equal(out_a, out_b)
