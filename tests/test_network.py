"""Tests for lossbounds.landscape.network: the batched forward pass and its trace."""

import numpy as np
import pytest
import torch
from _nets import ACTIVATIONS, OUTPUTS, SKIPS, arch_of, data

from lossbounds.landscape.layout import ParamLayout
from lossbounds.landscape.modules import to_module
from lossbounds.landscape.network import Network, forward, forward_numpy
from lossbounds.theory.architecture import Architecture


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
    Xt = torch.as_tensor(X)
    with torch.no_grad():  # per point: the network as an ordinary nn.Sequential
        loop = np.stack([to_module(arch, theta=t)(Xt)[:, 0].numpy() for t in thetas])
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


def _numpy_pre_activations(arch, theta, X):
    """Pre-activations a_l (h, m) and logit z (m,) of one network, numpy, from the equations."""
    p = ParamLayout(arch).unflatten(theta)
    act = {"tanh": np.tanh, "sigmoid": lambda t: 1 / (1 + np.exp(-t))}[arch.activation]
    pre, u = [], X.T
    for layer in range(1, arch.hidden_layers + 1):
        a = p[f"W{layer}"] @ u + p[f"b{layer}"][:, None]
        new = act(a)
        if layer >= 2 and arch.skip == "identity":
            new = new + u
        elif layer >= 2 and arch.skip == "projection":
            new = new + p[f"P{layer}"] @ u
        pre.append(a)
        u = new
    return pre, p["v"] @ u + p["c"]


@pytest.mark.parametrize("skip", SKIPS)
@pytest.mark.parametrize("output", OUTPUTS)
def test_trace_gives_pre_activations_and_logit(skip, output):
    arch = arch_of("sigmoid", skip, output, H=3)
    thetas = ParamLayout(arch).init(2, scale=1.5, n_points=4)
    X = data()
    pre, z = Network(arch).trace(torch.as_tensor(thetas), torch.as_tensor(X))
    assert len(pre) == 3 and all(a.shape == (4, 3, X.shape[0]) for a in pre)
    assert z.shape == (4, X.shape[0])
    for k, theta in enumerate(thetas):
        ref_pre, ref_z = _numpy_pre_activations(arch, theta, X)
        for a, ref in zip(pre, ref_pre, strict=True):
            np.testing.assert_allclose(a[k].numpy(), ref, rtol=0, atol=1e-13)
        np.testing.assert_allclose(z[k].numpy(), ref_z, rtol=0, atol=1e-13)
    np.testing.assert_allclose(z.numpy(), forward_numpy(arch, thetas, X, logits=True), atol=1e-13)


def test_trace_is_differentiable():
    # d/dW1[i, j] of sum_{k, i, s} a_1 = sum_s x_sj, d/db1[i] = m, nothing else
    arch = arch_of("tanh", H=2)
    lay = ParamLayout(arch)
    X = data()
    t = torch.tensor(lay.init(0, n_points=2), requires_grad=True)
    pre, z = Network(arch).trace(t, torch.as_tensor(X))
    (g,) = torch.autograd.grad(pre[0].sum(), t, retain_graph=True)
    expected = lay.unflatten(np.zeros((2, lay.n_params)))
    expected["W1"][:] = X.sum(axis=0)[None, None, :]
    expected["b1"][:] = X.shape[0]
    np.testing.assert_allclose(g.numpy(), lay.flatten(expected), rtol=0, atol=1e-13)
    # the logit's gradient in c is 1 per input
    (gz,) = torch.autograd.grad(z.sum(), t)
    c = lay.blocks["c"].start
    np.testing.assert_allclose(gz[:, c].numpy(), X.shape[0], rtol=0, atol=1e-13)


def test_fast_path_reuses_buffers_and_matches_the_allocating_path():
    arch = arch_of("gaussian", "projection", "sigmoid", H=3)
    net = Network(arch)
    X = torch.as_tensor(data())
    for K in (3, 5, 5):  # a new K re-allocates, the same K reuses
        thetas = torch.as_tensor(ParamLayout(arch).init(K, scale=1.5, n_points=K))
        fast = net._forward(thetas, X, logits=False, fast=True)
        assert net._buffers[2].shape == (K, 1, X.shape[0])
        assert fast.data_ptr() == net._buffers[2].data_ptr()  # a view of the output buffer
        slow = net._forward(thetas, X, logits=False, fast=False)
        np.testing.assert_allclose(fast.numpy(), slow.numpy(), rtol=0, atol=1e-14)


def test_forward_bad_shapes():
    arch = arch_of()
    net = Network(arch)
    thetas = torch.zeros(2, net.n_params, dtype=torch.float64)
    X = torch.zeros(5, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="thetas must have shape \\(K, N\\)"):
        net.forward(thetas[0], X)
    with pytest.raises(ValueError, match="N = "):
        net.forward(thetas[:, 1:], X)
    with pytest.raises(ValueError, match="X must have shape \\(m, n\\) with n = 2"):
        net.trace(thetas, torch.zeros(5, 3, dtype=torch.float64))


# ------------------------------------------------------------ unequal widths
WIDTHS = [(4, 2, 3), (1, 5), (2, 6, 1, 3)]


@pytest.mark.parametrize("widths", WIDTHS, ids=str)
@pytest.mark.parametrize("act", ["tanh", "softplus", "gaussian"])
@pytest.mark.parametrize("output", OUTPUTS)
def test_unequal_widths_forward_equals_per_point_module(widths, act, output):
    arch = Architecture(n_inputs=2, widths=widths, n_samples=5, activation=act, output=output)
    thetas = ParamLayout(arch).init(0, scale=1.5, n_points=6)
    X = data()
    Xt = torch.as_tensor(X)
    linears = [mod for mod in to_module(arch) if isinstance(mod, torch.nn.Linear)]
    assert [lin.out_features for lin in linears[:-1]] == list(widths)
    with torch.no_grad():  # per point: the network as an ordinary nn.Sequential
        loop = np.stack([to_module(arch, theta=t)(Xt)[:, 0].numpy() for t in thetas])
    np.testing.assert_allclose(forward_numpy(arch, thetas, X), loop, rtol=0, atol=1e-12)
    t = torch.tensor(thetas, requires_grad=True)
    grad_path = Network(arch).forward(t, Xt).detach().numpy()
    np.testing.assert_allclose(grad_path, loop, rtol=0, atol=1e-12)


@pytest.mark.parametrize("widths", WIDTHS, ids=str)
def test_unequal_widths_trace_and_buffers(widths):
    arch = Architecture(n_inputs=2, widths=widths, n_samples=5, activation="sigmoid")
    thetas = torch.as_tensor(ParamLayout(arch).init(1, scale=1.5, n_points=4))
    X = data()
    net = Network(arch)
    pre, z = net.trace(thetas, torch.as_tensor(X))
    assert [tuple(a.shape) for a in pre] == [(4, h, X.shape[0]) for h in widths]
    for k, theta in enumerate(thetas.numpy()):
        ref_pre, ref_z = _numpy_pre_activations(arch, theta, X)
        for a, ref in zip(pre, ref_pre, strict=True):
            np.testing.assert_allclose(a[k].numpy(), ref, rtol=0, atol=1e-13)
        np.testing.assert_allclose(z[k].numpy(), ref_z, rtol=0, atol=1e-13)
    fast = net._forward(thetas, torch.as_tensor(X), logits=True, fast=True)
    assert [b.numel() for b in net._buffers[:2]] == [4 * max(widths) * X.shape[0]] * 2
    np.testing.assert_allclose(fast.numpy(), z.numpy(), rtol=0, atol=1e-14)
