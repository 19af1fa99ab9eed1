"""Tests for lossbounds.landscape.surface: batched losses, streaming, derivatives, residuals."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from lossbounds.landscape.data import make_teacher_student
from lossbounds.landscape.devices import default_chunk_size
from lossbounds.landscape.layout import ParamLayout
from lossbounds.landscape.modules import ModuleLayout, to_module
from lossbounds.landscape.surface import LossSurface
from lossbounds.theory.architecture import Architecture
from lossbounds.topology.slices import plane


def module_loop(model, X, y, thetas, loss="mse", l2=0.0):
    """Per-point reference: load each vector into the module, run it, write the loss out.

    Returns the losses (K,) and their gradients (K, N) by autograd on the
    module's own parameters.
    """
    net = copy.deepcopy(model)
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    vals, grads = [], []
    for t in torch.as_tensor(np.asarray(thetas)):
        nn.utils.vector_to_parameters(t, net.parameters())
        net.zero_grad()
        f = net(X).reshape(-1)
        if loss == "bce":
            val = -torch.mean(y * torch.log(f) + (1 - y) * torch.log(1 - f))
        else:
            val = torch.mean((f - y) ** 2)
        val = val + l2 * sum((p**2).sum() for p in net.parameters())
        val.backward()
        vals.append(val.item())
        grads.append(nn.utils.parameters_to_vector(p.grad for p in net.parameters()).numpy())
    return np.array(vals), np.stack(grads)


def loop_losses(surface, thetas):
    """Per-point reference of a built-in surface: its network as a module (``to_module``)."""
    model = to_module(surface.arch)
    return module_loop(model, surface.X_np, surface.y_np, thetas, surface.loss, surface.l2)[0]


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


# ------------------------------------------------------------ from_module
F64 = torch.float64


class _GatedBlock(nn.Module):
    """A block the package cannot describe: a ReLU gate beside a tanh path."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 5, dtype=F64)
        self.b = nn.Linear(3, 5, dtype=F64)
        self.head = nn.Linear(5, 1, bias=False, dtype=F64)
        self.scale = nn.Parameter(torch.tensor([0.7], dtype=F64))

    def forward(self, x):
        return self.scale * self.head(torch.tanh(self.a(x)) * torch.relu(self.b(x)))[:, 0]


def _user_models():
    torch.manual_seed(0)
    return {
        "sequential": nn.Sequential(
            nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 1)
        ).to(F64),
        "sigmoid": nn.Sequential(nn.Linear(3, 4), nn.SiLU(), nn.Linear(4, 1), nn.Sigmoid()).to(F64),
        "gated": _GatedBlock(),
        "relu": nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 1)).to(F64),
    }


def _module_data(loss="mse", m=11):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((m, 3))
    y = (rng.random(m) < 0.5).astype(float) if loss == "bce" else rng.standard_normal(m)
    return X, y


@pytest.mark.parametrize(
    "name,loss,l2",
    [
        ("sequential", "mse", 0.0),
        ("sequential", "mse", 0.05),
        ("sigmoid", "bce", 0.0),
        ("gated", "mse", 0.0),
        ("relu", "mse", 0.02),
    ],
)
def test_from_module_equals_per_point_module_loop(name, loss, l2):
    model = _user_models()[name]
    X, y = _module_data(loss)
    S = LossSurface.from_module(model, X, y, loss=loss, l2=l2)
    N = sum(p.numel() for p in model.parameters())
    assert S.n_params == N and S.loss == loss and S.l2 == l2
    thetas = np.random.default_rng(1).standard_normal((7, N))
    ref_vals, ref_grads = module_loop(model, X, y, thetas, loss, l2)
    np.testing.assert_allclose(S(thetas), ref_vals, rtol=0, atol=1e-10)
    vals, grads = S.gradients(thetas)
    np.testing.assert_allclose(vals, ref_vals, rtol=0, atol=1e-10)
    np.testing.assert_allclose(grads, ref_grads, rtol=0, atol=1e-10)
    val, g = S.value_and_grad(thetas[3])
    assert abs(val - ref_vals[3]) < 1e-10
    np.testing.assert_allclose(g, ref_grads[3], rtol=0, atol=1e-10)
    # at the module's own parameters: the module's own loss
    own = nn.utils.parameters_to_vector(model.parameters()).detach().numpy()
    assert abs(S(own) - module_loop(model, X, y, own[None], loss, l2)[0][0]) < 1e-10


def test_from_module_of_a_described_sequential_is_the_built_in_surface():
    model = _user_models()["sequential"]
    X, y = _module_data()
    S = LossSurface.from_module(model, X, y, l2=0.05)
    arch = Architecture(3, 4, 2, 11, activation="tanh", l2=True)
    assert S.arch == arch
    assert isinstance(S.layout, ParamLayout) and S.layout.n_params == 41
    ref = LossSurface(arch, X, y, l2=0.05)
    assert S.symmetry_group().order == ref.symmetry_group().order == (2**4 * 24) ** 2
    thetas = S.layout.init(2, scale=1.5, n_points=3)
    # a second network code (lossbounds.landscape.network.Network) gives the same Hessians
    _, g_ref, H_ref = ref.hessians(thetas)
    _, g, H = S.hessians(thetas)
    np.testing.assert_allclose(g, g_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(H, H_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(S.hessian(thetas[0]), H_ref[0], rtol=0, atol=1e-10)
    r, J = S.residual_jacobians(thetas)
    r_ref, J_ref = ref.residual_jacobians(thetas)
    np.testing.assert_allclose(r, r_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(J, J_ref, rtol=0, atol=1e-12)
    a, b = plane(S, thetas[0], res=5, seed=4), plane(ref, thetas[0], res=5, seed=4)
    np.testing.assert_array_equal(a.d1, b.d1)
    np.testing.assert_allclose(a.values, b.values, rtol=0, atol=1e-12)


@pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:DeprecationWarning")
def test_from_module_without_architecture():
    model = _user_models()["gated"]
    X, y = _module_data()
    S = LossSurface.from_module(model, X, y)
    assert S.arch is None and isinstance(S.layout, ModuleLayout)
    with pytest.raises(ValueError, match="(?s)no Architecture.*custom container"):
        S.symmetry_group()
    # torch's order: the block's own parameter (scale) first, then a, b, head.
    # Filters: rows of a.weight, b.weight, head.weight; the scale (1-D, not a bias) is kept
    assert S.layout.weight_rows() == [(1, 16, 5), (21, 36, 5), (41, 46, 1)]
    theta = np.random.default_rng(2).standard_normal(S.n_params)
    sl = plane(S, theta, res=5, seed=1)
    assert sl.betas[2] == 0.0
    assert sl.d1[S.layout.bias_mask()].tolist() == [0.0] * 10
    assert sl.d1[0] != 0.0
    np.testing.assert_allclose(
        np.linalg.norm(sl.d1[1:16].reshape(5, 3), axis=1),
        np.linalg.norm(theta[1:16].reshape(5, 3), axis=1),
    )
    ref = module_loop(model, X, y, theta[None] + sl.alphas[:, None] * sl.d1[None])[0]
    np.testing.assert_allclose(sl.values[:, 2], ref, rtol=0, atol=1e-10)
    # Hessian: central differences of the per-point loop's gradients
    grad = lambda t: module_loop(model, X, y, t[None])[1][0]  # noqa: E731
    np.testing.assert_allclose(S.hessian(theta), _fd(grad, theta), atol=1e-6)
    r = S.residuals(theta)
    with torch.no_grad():
        nn.utils.vector_to_parameters(torch.as_tensor(theta), model.parameters())
        f = model(torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(r, f - y, rtol=0, atol=1e-12)


def test_from_module_float32():
    model = _user_models()["relu"]
    X, y = _module_data()
    S = LossSurface.from_module(model, X, y, dtype=torch.float32)
    thetas = np.random.default_rng(0).standard_normal((4, S.n_params))
    v = S(thetas)
    assert v.dtype == np.float32
    np.testing.assert_allclose(v, module_loop(model, X, y, thetas)[0], rtol=1e-5)


def test_from_module_bad_input():
    models = _user_models()
    X, y = _module_data()
    with pytest.raises(ValueError, match="loss must be one of"):
        LossSurface.from_module(models["sequential"], X, y, loss="mae")
    with pytest.raises(ValueError, match="needs a module ending with nn.Sigmoid"):
        LossSurface.from_module(models["sequential"], X, (y > 0).astype(float), loss="bce")
    with pytest.raises(ValueError, match=r"y must lie in \[0, 1\] for loss='bce'"):
        LossSurface.from_module(models["sigmoid"], X, y, loss="bce")
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0"):
        LossSurface.from_module(models["sequential"], X, y, l2=-1.0)
    with pytest.raises(ValueError, match="model must be a torch.nn.Module"):
        LossSurface.from_module(lambda x: x, X, y)
    with pytest.raises(ValueError, match=r"model failed on X of shape \(11, 2\)"):
        LossSurface.from_module(models["gated"], X[:, :2], y)
    wide = nn.Sequential(nn.Linear(3, 2)).to(F64)
    with pytest.raises(ValueError, match=r"y must have shape \(m, C\) with C = 2"):
        LossSurface.from_module(wide, X, y)
    with pytest.raises(ValueError, match="dtype"):
        LossSurface.from_module(models["sequential"], X, y, dtype=torch.int64)
    with pytest.raises(ValueError, match="chunk_size"):
        LossSurface.from_module(models["sequential"], X, y, chunk_size=0)


def test_from_module_device_and_default_chunk_size():
    models = _user_models()
    X, y = _module_data()
    S = LossSurface.from_module(models["gated"], X, y)  # widest layer: 5 units
    assert S.device.type == "cpu" and S.chunk_size == default_chunk_size("cpu", 46, 11, 5)
    D = LossSurface.from_module(models["sequential"], X, y, device="cpu")
    assert D.chunk_size == LossSurface(D.arch, X, y).chunk_size
    with pytest.raises(ValueError, match="device must be one of"):
        LossSurface.from_module(models["sequential"], X, y, device="tpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["sequential", "gated"])
def test_from_module_on_cuda_equals_cpu(name):
    model = _user_models()[name]
    X, y = _module_data()
    G = LossSurface.from_module(copy.deepcopy(model).cuda(), X, y, l2=0.01, device="cuda")
    C = LossSurface.from_module(model, X, y, l2=0.01)
    thetas = np.random.default_rng(4).standard_normal((5, C.n_params))
    np.testing.assert_allclose(G(thetas), C(thetas), rtol=0, atol=1e-12)
    np.testing.assert_allclose(G.gradients(thetas)[1], C.gradients(thetas)[1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(G.hessian(thetas[0]), C.hessian(thetas[0]), rtol=0, atol=1e-10)
