"""Tests for lossbounds.landscape: batched losses, derivatives, slices, samples, minima."""

import numpy as np
import pytest
import torch

from lossbounds.architecture import Architecture
from lossbounds.data import make_regression, make_teacher_student, make_xor
from lossbounds.landscape import (
    LossSurface,
    classify_hessian,
    dedup_modulo_group,
    iter_sample_points,
    l2_convexity_threshold,
    line,
    minimize,
    plane,
    plane_hessians,
    random_direction,
    sample_hessian_shaped,
    sample_loss,
    sample_points,
)
from lossbounds.layout import ParamLayout
from lossbounds.network import MLP
from lossbounds.symmetry import SymmetryGroup


def surface_of(act="tanh", skip=None, output="linear", loss="mse", l2=None, m=20, **kw):
    arch = Architecture(
        2, 3, 2, m, activation=act, output=output, loss=loss, skip=skip, l2=l2 is not None
    )
    d = make_xor(m, 2, seed=0) if loss == "bce" else make_regression(m, 2, seed=0)
    return LossSurface(arch, d.X, d.y, l2=l2, **kw), d


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
def test_batched_equals_per_point_loop(kw):
    S, _ = surface_of(**kw)
    thetas = ParamLayout(S.arch).init(0, scale=1.5, n_points=9)
    np.testing.assert_allclose(S(thetas), loop_losses(S, thetas), rtol=0, atol=1e-12)
    assert isinstance(S(thetas[0]), float)
    assert abs(S(thetas[0]) - loop_losses(S, thetas[:1])[0]) < 1e-12


def test_chunking_streams_and_dtypes_agree():
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


def test_l2_term_and_bce_by_hand():
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
def test_gradient_and_hessian_match_finite_differences():
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


# ------------------------------------------------------------- slices
def test_filter_normalised_direction():
    S, _ = surface_of()
    lay = S.layout
    theta = lay.init(4, scale=1.5)
    d = random_direction(lay, theta, 0)
    pd, pt = lay.unflatten(d), lay.unflatten(theta)
    for name in ("W1", "W2"):
        np.testing.assert_allclose(
            np.linalg.norm(pd[name], axis=1), np.linalg.norm(pt[name], axis=1), rtol=1e-12
        )
    assert abs(np.linalg.norm(pd["v"]) - np.linalg.norm(pt["v"])) < 1e-12
    for name in ("b1", "b2", "c"):
        assert np.all(pd[name] == 0)
    d_theta = random_direction(S, theta, 0, bias="theta")
    np.testing.assert_array_equal(lay.unflatten(d_theta)["b1"], pt["b1"])
    assert abs(np.linalg.norm(random_direction(lay, theta, 0, normalization="unit")) - 1) < 1e-12
    assert not np.array_equal(d, random_direction(lay, theta, 1))


def test_line_and_plane_values():
    S, _ = surface_of()
    theta = S.layout.init(5)
    alphas, values, d = line(S, theta, span=(-1, 1), res=5)
    np.testing.assert_allclose(alphas, [-1, -0.5, 0, 0.5, 1])
    assert values[2] == S(theta)
    assert abs(values[4] - S(theta + d)) < 1e-14
    sl = plane(S, theta, span=((-1, 1), (0, 2)), res=(3, 5), chunk_size=4)
    assert sl.values.shape == (3, 5)
    for i, j in [(0, 0), (1, 2), (2, 4)]:
        direct = S(theta + sl.alphas[i] * sl.d1 + sl.betas[j] * sl.d2)
        assert abs(sl.values[i, j] - direct) < 1e-13
    assert abs(sl.values[1, 0] - S(theta)) < 1e-14
    ortho = plane(S, theta, res=3, orthogonalize=True)
    assert abs(ortho.d1 @ ortho.d2) < 1e-10 * np.linalg.norm(ortho.d1) * np.linalg.norm(ortho.d2)


# ------------------------------------------------------------- samples
def test_samples_in_box_and_ball():
    box = sample_points(300, 4, region="box", low=-2.0, high=[1, 2, 3, 4], seed=0)
    assert box.shape == (300, 4)
    assert np.all(box >= -2) and np.all(box <= [1, 2, 3, 4])
    np.testing.assert_array_equal(
        box, sample_points(300, 4, region="box", low=-2.0, high=[1, 2, 3, 4], seed=0)
    )
    assert not np.array_equal(
        box, sample_points(300, 4, region="box", low=-2.0, high=[1, 2, 3, 4], seed=1)
    )
    ball = sample_points(4096, 3, region="ball", radius=2.0, center=np.ones(3), seed=0)
    r = np.linalg.norm(ball - 1, axis=1)
    assert r.max() <= 2.0
    # uniform in volume: P(r <= 1) = (1/2)^3
    assert abs(np.mean(r <= 1.0) - 0.125) < 0.02
    uni = sample_points(4000, 2, method="uniform", seed=0)
    assert np.all(np.abs(uni) <= 1) and np.abs(uni.mean(axis=0)).max() < 0.05
    chunks = list(iter_sample_points(10, 2, chunk_size=4, seed=3))
    assert [len(c) for c in chunks] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(chunks), sample_points(10, 2, seed=3))


def test_sample_loss_streams():
    S, _ = surface_of()
    pts, vals = sample_loss(S, 100, region="ball", radius=3.0, seed=2, chunk_size=16)
    assert pts.shape == (100, S.n_params) and vals.dtype == np.float32
    np.testing.assert_allclose(vals, S(pts), rtol=1e-5)
    only = sample_loss(
        S, 100, return_points=False, region="ball", radius=3.0, seed=2, dtype=torch.float64
    )
    np.testing.assert_allclose(only, S(pts), rtol=0, atol=1e-12)


# ------------------------------------------------------------- critical points
def test_classify_hessian_by_hand():
    assert classify_hessian([1.0, 2.0]) == "strict_min"
    assert classify_hessian([-1.0, -3.0]) == "max"
    assert classify_hessian([-1.0, 3.0]) == "saddle"
    assert classify_hessian([1e-9, 3.0]) == "degenerate"  # below 1e-6 * 3
    assert classify_hessian([-1e-9, 3.0]) == "degenerate"
    assert classify_hessian([1e-9, 3.0], rel_tol=1e-12) == "strict_min"
    assert classify_hessian([-1e-7, -1e-7, 2.0, -4.0]) == "saddle"


def test_saddle_of_a_hand_made_function():
    # f(x, y) = x^2 - y^2 + x y^3 has a saddle at 0 with Hessian diag(2, -2)
    def f(t):
        return t[0] ** 2 - t[1] ** 2 + t[0] * t[1] ** 3

    H = torch.autograd.functional.hessian(f, torch.zeros(2, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(H, np.diag([2.0, -2.0]))
    assert classify_hessian(np.linalg.eigvalsh(H)) == "saddle"


def test_network_origin_is_a_saddle():
    # tanh net, one hidden layer, all weights 0 and c = mean(y): the gradient
    # vanishes (tanh(0) = 0 and v = 0), and d2L/dv_i dw_i = 2 mean((mean(y) - y) x)
    arch = Architecture(1, 2, 1, 30, activation="tanh")
    d = make_regression(30, 1, noise=0.0, seed=0)
    S = LossSurface(arch, d.X, d.y)
    theta = np.zeros(S.n_params)
    theta[-1] = d.y.mean()
    assert np.abs(S.gradient(theta)).max() < 1e-15
    H = S.hessian(theta)
    # layout: W1 = theta[0:2], b1 = theta[2:4], v = theta[4:6], c = theta[6]
    a = 2 * np.mean((d.y.mean() - d.y) * d.X[:, 0])
    assert abs(a) > 0.1
    assert abs(H[4, 0] - a) < 1e-12 and abs(H[5, 1] - a) < 1e-12
    assert classify_hessian(np.linalg.eigvalsh(H)) == "saddle"


def test_teacher_student_strict_minimum_and_dedup():
    arch = Architecture(1, 2, 1, 30, activation="tanh")
    d = make_teacher_student(arch, 30, noise=1e-2, seed=0)
    S = LossSurface(arch, d.X, d.y)
    res = minimize(S, d.theta, max_iter=300, trust_iter=50)
    assert res.labels[0] == "strict_min"
    assert res.grad_norms[0] < 1e-10
    theta = res.points[0]
    # independent check: the loss rises in every probed direction
    rng = np.random.default_rng(0)
    for _ in range(20):
        u = rng.standard_normal(S.n_params)
        u /= np.linalg.norm(u)
        assert S(theta + 1e-3 * u) > S(theta) and S(theta - 1e-3 * u) > S(theta)
    assert res.counts() == {"strict_min": 1}
    # the orbit (8 points for h = 2 tanh) collapses to one class modulo G
    G = SymmetryGroup(arch)
    orbit = G.orbit(theta)
    assert len(dedup_modulo_group(orbit, G, tol=1e-8)[0]) == 1
    # ... but not without the group: the 8 orbit points are distinct minima
    d_pair = np.linalg.norm(orbit[:, None] - orbit[None], axis=2) + np.eye(8)
    assert d_pair.min() > 1e-3
    np.testing.assert_allclose(S(orbit), S(theta), rtol=0, atol=1e-15)
    far = theta + 0.5
    reps, assign = dedup_modulo_group(np.vstack([orbit, far]), G, tol=1e-8)
    assert len(reps) == 2 and assign[-1] == 1 and np.all(assign[:-1] == 0)


def test_batched_descent_lowers_the_loss():
    S, _ = surface_of()
    starts = S.layout.init(6, n_points=4)
    res = minimize(S, starts, method="gd", gd_steps=50, lr=0.05, newton_steps=0, trust_iter=0)
    assert res.points.shape == starts.shape and res.eigenvalues.shape == (4, S.n_params)
    assert np.all(res.losses < S(starts))
    assert set(res.labels) <= {"strict_min", "degenerate", "saddle", "max", "not_critical"}


# ------------------------------------------------------------- bad input
def test_bad_input():
    arch = Architecture(2, 3, 2, 5, activation="tanh")
    X, y = np.zeros((5, 2)), np.zeros(5)
    S = LossSurface(arch, X, y)
    with pytest.raises(ValueError, match="thetas must have shape"):
        S(np.zeros((3, S.n_params + 1)))
    with pytest.raises(ValueError, match="theta must have shape"):
        line(S, np.zeros(4))
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
    theta = np.zeros(S.n_params)
    with pytest.raises(ValueError, match="normalization"):
        random_direction(S, theta, 0, normalization="layer")
    with pytest.raises(ValueError, match="bias"):
        random_direction(S, theta, 0, bias="keep")
    with pytest.raises(ValueError, match="span"):
        plane(S, theta, span=(1, -1))
    with pytest.raises(ValueError, match="res"):
        line(S, theta, res=1)
    with pytest.raises(ValueError, match="region"):
        sample_points(3, 2, region="cube")
    with pytest.raises(ValueError, match="method"):
        sample_points(3, 2, method="halton")
    with pytest.raises(ValueError, match="radius"):
        sample_points(3, 2, region="ball", radius=0.0)
    with pytest.raises(ValueError, match="starts"):
        minimize(S, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="method"):
        minimize(S, theta, method="newton")
    with pytest.raises(ValueError, match="eigenvalues"):
        classify_hessian([])
    with pytest.raises(ValueError, match="tol"):
        dedup_modulo_group(theta[None], SymmetryGroup(arch), tol=0.0)


def test_dedup_survives_ties_in_the_canonical_form():
    # equal bias magnitudes make the canonical form ambiguous; the exact orbit
    # distance (small groups) still merges the whole orbit into one class
    arch = Architecture(1, 2, 1, 5, activation="tanh")
    G = SymmetryGroup(arch)
    theta = np.array([0.8, -1.3, 0.5, -0.5, 1.1, 0.7, 0.2])  # W1, b1 (tie), v, c
    orbit = G.orbit(theta)
    reps, assign = dedup_modulo_group(orbit, G, tol=1e-9)
    assert len(reps) == 1 and np.all(assign == 0)


# --- slice curvature helpers (plane_hessians, l2_convexity_threshold) ---


@pytest.fixture(scope="module")
def surface_and_slice():
    arch = Architecture(2, 3, 1, 30, activation="tanh")
    ds = make_teacher_student(arch, 30, seed=1)
    surf = LossSurface(arch, ds.X, ds.y)
    sl = plane(surf, ds.theta, span=(-1.0, 1.0), res=7, seed=2)
    return surf, sl


def test_plane_hessians_match_full_hessian_and_finite_differences(surface_and_slice):
    surf, sl = surface_and_slice
    H = plane_hessians(surf, sl, chunk_size=5)  # chunks that do not divide 49
    assert H.shape == (7, 7, 2, 2)
    D = np.stack([sl.d1, sl.d2], axis=1)
    e = 1e-3
    for i, j in [(0, 0), (2, 5), (6, 3)]:
        a, b = sl.alphas[i], sl.betas[j]
        # second method: projection of the full N x N Hessian
        full = D.T @ surf.hessian(sl.theta + a * sl.d1 + b * sl.d2) @ D
        np.testing.assert_allclose(H[i, j], full, rtol=1e-10, atol=1e-10)

        # third method: central finite differences of the loss on the plane
        def g(da, db, a=a, b=b):
            return surf(sl.theta + (a + da) * sl.d1 + (b + db) * sl.d2)

        gaa = (g(e, 0) - 2 * g(0, 0) + g(-e, 0)) / e**2
        gbb = (g(0, e) - 2 * g(0, 0) + g(0, -e)) / e**2
        gab = (g(e, e) - g(e, -e) - g(-e, e) + g(-e, -e)) / (4 * e**2)
        np.testing.assert_allclose(H[i, j], [[gaa, gab], [gab, gbb]], rtol=1e-4, atol=1e-4)


def test_plane_hessians_include_the_l2_term(surface_and_slice):
    surf, sl = surface_and_slice
    lam = 0.3
    reg = LossSurface(surf.arch, surf.X_np, surf.y_np, l2=lam)
    M = np.array([[sl.d1 @ sl.d1, sl.d1 @ sl.d2], [sl.d1 @ sl.d2, sl.d2 @ sl.d2]])
    np.testing.assert_allclose(
        plane_hessians(reg, sl), plane_hessians(surf, sl) + 2 * lam * M, rtol=1e-10, atol=1e-10
    )


def test_convexity_threshold_by_hand():
    # orthonormal directions, M = I: H + 2 lambda I is PSD iff 2 lambda >= -min eigenvalue
    d1, d2 = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    H = np.array([[[-2.0, 0.0], [0.0, 1.0]], [[3.0, 0.0], [0.0, -0.5]]])
    assert l2_convexity_threshold(H, d1, d2) == pytest.approx(1.0)
    # already convex: 0
    assert l2_convexity_threshold(np.eye(2)[None], d1, d2) == 0.0
    # scaled directions: M = diag(4, 1); H = diag(-8, 0) needs 2 lambda * 4 >= 8, lambda = 1
    H2 = np.array([[[-8.0, 0.0], [0.0, 0.0]]])
    assert l2_convexity_threshold(H2, 2 * d1, d2) == pytest.approx(1.0)


def test_convexity_threshold_is_tight(surface_and_slice):
    surf, sl = surface_and_slice
    lam_c = l2_convexity_threshold(plane_hessians(surf, sl), sl.d1, sl.d2)
    assert lam_c > 0  # a random slice of a tanh network is not convex on this window
    for factor, sign in ((1.01, 1), (0.99, -1)):
        reg = LossSurface(surf.arch, surf.X_np, surf.y_np, l2=factor * lam_c)
        smallest = np.linalg.eigvalsh(plane_hessians(reg, sl)).min()
        assert np.sign(smallest) == sign


def test_convexity_threshold_bad_input():
    d1, d2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    with pytest.raises(ValueError, match="hessians"):
        l2_convexity_threshold(np.zeros((3, 3)), d1, d2)
    with pytest.raises(ValueError, match="linearly independent"):
        l2_convexity_threshold(np.zeros((1, 2, 2)), d1, 2 * d1)
    with pytest.raises(ValueError, match="d1 and d2"):
        l2_convexity_threshold(np.zeros((1, 2, 2)), d1, np.zeros(3))


def test_sample_hessian_shaped_follows_the_quadratic_model():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 5))
    H = A @ A.T + np.diag([1e-4, 1e-2, 1.0, 10.0, 100.0])  # badly conditioned, PD
    theta = rng.standard_normal(5)
    pts = sample_hessian_shaped(theta, H, 2000, seed=1, scales=(1e-6, 1e-2))
    assert pts.shape == (2000, 5)
    d = pts - theta
    q = 0.5 * np.einsum("ki,ij,kj->k", d, H, d)  # quadratic model, computed directly
    assert q.max() <= 1e-2 * (1 + 1e-9)
    assert q.min() >= 0 and (q < 1e-4).mean() > 0.2  # increments spread over the scales
    np.testing.assert_array_equal(
        pts, sample_hessian_shaped(theta, H, 2000, seed=1, scales=(1e-6, 1e-2))
    )


def test_sample_hessian_shaped_bad_input():
    theta = np.zeros(2)
    with pytest.raises(ValueError, match="positive definite"):
        sample_hessian_shaped(theta, np.diag([1.0, -1.0]), 10)
    with pytest.raises(ValueError, match="hessian must have shape"):
        sample_hessian_shaped(theta, np.eye(3), 10)
    with pytest.raises(ValueError, match="scales"):
        sample_hessian_shaped(theta, np.eye(2), 10, scales=(1e-2, 1e-6))
    with pytest.raises(ValueError, match="n_points"):
        sample_hessian_shaped(theta, np.eye(2), 0)
