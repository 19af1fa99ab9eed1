"""Tests for lossbounds.surface: batched losses, streaming, derivatives, residuals."""

import numpy as np
import pytest
import torch

from lossbounds.architecture import Architecture
from lossbounds.data import make_teacher_student
from lossbounds.layout import ParamLayout
from lossbounds.network import MLP
from lossbounds.surface import LossSurface


def loop_losses(surface, thetas):
    """Per-point reference: nn.Module forward and the loss written out by hand."""
    arch = surface.arch
    net = MLP(arch)
    X = torch.as_tensor(surface.X_np)
    y = surface.y_np
    out = []
    with torch.no_grad():
        for t in thetas:
            f = net.set_flat(t)(X).numpy()
            if arch.loss == "bce":
                val = -np.mean(y * np.log(f) + (1 - y) * np.log(1 - f))
            else:
                val = np.mean((f - y) ** 2)
            out.append(val + (surface.l2 * np.sum(t**2)))
    return np.array(out)


# ------------------------------------------------------------- values
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"act": "sigmoid", "skip": "identity"},
        {"act": "erf", "skip": "projection", "output": "sigmoid"},
        {"act": "sigmoid", "output": "sigmoid", "loss": "bce"},
        {"act": "softplus", "l2": 0.3},
    ],
)
def test_batched_equals_per_point_loop(kw, surface_of):
    S, _ = surface_of(**kw)
    thetas = ParamLayout(S.arch).init(0, scale=1.5, n_points=9)
    np.testing.assert_allclose(S(thetas), loop_losses(S, thetas), rtol=0, atol=1e-12)
    assert isinstance(S(thetas[0]), float)
    assert abs(S(thetas[0]) - loop_losses(S, thetas[:1])[0]) < 1e-12


def test_chunking_streams_and_dtypes_agree(surface_of):
    S, _ = surface_of()
    thetas = ParamLayout(S.arch).init(1, n_points=50)
    ref = S(thetas)

    def same(values):  # chunk shapes change the GEMM's summation order: rounding only
        np.testing.assert_allclose(values, ref, rtol=0, atol=1e-14)

    for c in (1, 7, 1000):
        same(S(thetas, chunk_size=c))
    same(S(torch.as_tensor(thetas)))
    gen = (thetas[i : i + 13] for i in range(0, 50, 13))
    same(S(gen))
    same(S.stream(lambda a, b: thetas[a:b], n_points=50, chunk_size=8))
    seen = []
    assert S.stream(iter([thetas[:20], thetas[20:]]), reduce=lambda p, v: seen.append(v)) is None
    same(np.concatenate(seen))
    v32 = S(thetas, dtype=torch.float32)
    assert v32.dtype == np.float32
    np.testing.assert_allclose(v32, ref, rtol=1e-5)


def test_l2_term_and_bce_by_hand(surface_of):
    S0, d = surface_of(act="sigmoid", output="sigmoid", loss="bce")
    S1 = LossSurface(
        Architecture(2, 3, 2, 20, activation="sigmoid", output="sigmoid", loss="bce", l2=True),
        d.X,
        d.y,
        l2=0.25,
    )
    theta = ParamLayout(S0.arch).init(2)
    assert abs(S1(theta) - S0(theta) - 0.25 * np.sum(theta**2)) < 1e-12
    # BCE at theta = 0: output 1/2 everywhere, loss log 2 whatever the labels
    assert abs(S0(np.zeros(S0.n_params)) - np.log(2)) < 1e-15


@pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:DeprecationWarning")
def test_gradient_and_hessian_match_finite_differences(surface_of):
    S, _ = surface_of(act="sigmoid", skip="projection")
    theta = ParamLayout(S.arch).init(3, scale=1.5)
    g = S.gradient(theta)
    H = S.hessian(theta)
    eps = 1e-6
    E = np.eye(S.n_params)
    fd = np.array([(S(theta + eps * e) - S(theta - eps * e)) / (2 * eps) for e in E])
    np.testing.assert_allclose(g, fd, atol=1e-8)
    fdh = np.array(
        [(S.gradient(theta + eps * e) - S.gradient(theta - eps * e)) / (2 * eps) for e in E]
    )
    np.testing.assert_allclose(H, fdh, atol=1e-7)
    np.testing.assert_array_equal(H, H.T)
    # a second exact method: torch.func (forward-over-reverse) through the same loss
    Hf = torch.func.hessian(S._single)(torch.as_tensor(theta)).numpy()
    np.testing.assert_allclose(H, Hf, rtol=0, atol=1e-12)
    vals, grads = S.gradients(np.stack([theta, 2 * theta]))
    np.testing.assert_allclose(grads[0], g, atol=1e-14)
    np.testing.assert_allclose(grads[1], S.gradient(2 * theta), atol=1e-14)
    assert abs(vals[1] - S(2 * theta)) < 1e-14


def _fd(fun, theta, eps=1e-6):
    """Central finite differences of a vector function, shape (out, N)."""
    cols = []
    for j in range(theta.shape[0]):
        e = np.zeros_like(theta)
        e[j] = eps
        cols.append((fun(theta + e) - fun(theta - e)) / (2 * eps))
    return np.stack(cols, axis=-1)


def _problem(h=2, K=2, l2=None, m=30):
    arch = Architecture(1, h, K, m, activation="tanh", l2=l2 is not None)
    ds = make_teacher_student(arch, m, noise=0.0, seed=3)
    return LossSurface(arch, ds.X, ds.y, l2=l2)


@pytest.mark.parametrize("l2", [None, 0.01])
def test_residual_jacobians_match_finite_differences(l2):
    surf = _problem(l2=l2)
    thetas = np.random.default_rng(0).normal(size=(3, surf.n_params))
    r, J = surf.residual_jacobians(thetas)
    assert J.shape == (3, r.shape[1], surf.n_params)
    assert r.shape[1] == surf.m + (surf.n_params if l2 else 0)
    for k in range(3):
        np.testing.assert_allclose(J[k], _fd(surf.residuals, thetas[k]), atol=1e-7)
        # the residuals reproduce the loss: L = ||r||^2 / m
        assert abs(float((r[k] ** 2).sum()) / surf.m - surf(thetas[k])) < 1e-12
    r0, J0 = surf.residual_jacobians(thetas[0])
    np.testing.assert_array_equal(r0, r[0])
    np.testing.assert_array_equal(J0, J[0])
    np.testing.assert_array_equal(surf.residuals(thetas[0]), r[0])


def test_batched_hessians_match_finite_differences_of_the_gradient():
    surf = _problem(l2=0.01)
    thetas = np.random.default_rng(1).normal(size=(2, surf.n_params))
    loss, g, H = surf.hessians(thetas)
    assert H.shape == (2, surf.n_params, surf.n_params)
    for k in range(2):
        assert abs(float(loss[k]) - surf(thetas[k])) < 1e-12
        np.testing.assert_allclose(
            g[k], _fd(lambda t: np.array([surf(t)]), thetas[k])[0], atol=1e-7
        )
        np.testing.assert_allclose(H[k], _fd(surf.gradient, thetas[k]), atol=1e-6)
        np.testing.assert_array_equal(H[k], H[k].T)


def test_bad_input():
    arch = Architecture(2, 3, 2, 5, activation="tanh")
    X, y = np.zeros((5, 2)), np.zeros(5)
    S = LossSurface(arch, X, y)
    with pytest.raises(ValueError, match="thetas must have shape"):
        S(np.zeros((3, S.n_params + 1)))
    with pytest.raises(ValueError, match="theta must be one point"):
        S.hessian(np.zeros((2, S.n_params)))
    with pytest.raises(ValueError, match="X must be finite"):
        LossSurface(arch, np.full((5, 2), np.nan), y)
    with pytest.raises(ValueError, match="y must be finite"):
        LossSurface(arch, X, np.full(5, np.inf))
    with pytest.raises(ValueError, match="non-empty"):
        LossSurface(arch, np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError, match="n_inputs"):
        LossSurface(arch, np.zeros((5, 3)), y)
    with pytest.raises(ValueError, match="chunk_size"):
        LossSurface(arch, X, y, chunk_size=0)
    with pytest.raises(ValueError, match="chunk_size"):
        S(np.zeros((2, S.n_params)), chunk_size=0)
    with pytest.raises(ValueError, match="dtype"):
        LossSurface(arch, X, y, dtype=torch.int64)
    with pytest.raises(ValueError, match="l2"):
        LossSurface(arch, X, y, l2=-1.0)
    with pytest.raises(ValueError, match="l2"):
        LossSurface(Architecture(2, 3, 2, 5, l2=True), X, y)
    bce = Architecture(2, 3, 2, 5, output="sigmoid", loss="bce")
    with pytest.raises(ValueError, match=r"y must lie in \[0, 1\]"):
        LossSurface(bce, X, np.full(5, 2.0))
    with pytest.raises(ValueError, match="n_points"):
        S.stream(lambda a, b: None)
    bce_surf = LossSurface(bce, X, y)
    with pytest.raises(ValueError, match="loss must be 'mse'"):
        bce_surf.residuals(np.zeros(bce_surf.n_params))
    with pytest.raises(ValueError, match="loss must be 'mse'"):
        bce_surf.residual_jacobians(np.zeros(bce_surf.n_params))
    with pytest.raises(ValueError, match="thetas must have shape"):
        S.hessians(np.zeros((2, S.n_params + 1)))


def test_unequal_widths_losses_gradients_and_hessians():
    arch = Architecture(n_inputs=2, widths=(4, 2, 3), n_samples=12, activation="tanh")
    d = make_teacher_student(arch, 12, noise=0.1, seed=4)
    surface = LossSurface(arch, d.X, d.y)
    thetas = ParamLayout(arch).init(3, n_points=5)
    np.testing.assert_allclose(surface(thetas), loop_losses(surface, thetas), rtol=0, atol=1e-12)
    X, y = torch.as_tensor(d.X), torch.as_tensor(d.y)

    def loss(t):  # the network equations, one point, as a function of the flat vector
        p = ParamLayout(arch).unflatten(t)
        u = X
        for layer in (1, 2, 3):
            u = torch.tanh(u @ p[f"W{layer}"].T + p[f"b{layer}"])
        return torch.mean((u @ p["v"] + p["c"] - y) ** 2)

    t0 = torch.as_tensor(thetas[0])
    ref_grad = torch.func.grad(loss)(t0).numpy()
    ref_hess = torch.autograd.functional.hessian(loss, t0).numpy()
    np.testing.assert_allclose(surface.gradient(thetas[0]), ref_grad, rtol=0, atol=1e-12)
    np.testing.assert_allclose(surface.hessian(thetas[0]), ref_hess, rtol=0, atol=1e-11)
    _, _, hess = surface.hessians(thetas[:2])
    np.testing.assert_allclose(hess[0], ref_hess, rtol=0, atol=1e-11)
