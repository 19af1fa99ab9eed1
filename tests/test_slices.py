"""Tests for lossbounds.topology.slices: directions, lines, planes, their curvature and persistence."""

import numpy as np
import pytest

from lossbounds.landscape.data import make_teacher_student
from lossbounds.landscape.surface import LossSurface
from lossbounds.theory.architecture import Architecture
from lossbounds.topology.slices import (
    l2_convexity_threshold,
    line,
    plane,
    plane_hessians,
    random_direction,
    slice_persistence,
)


def test_filter_normalised_direction(surface_of):
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


def test_line_and_plane_values(surface_of):
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


def test_bad_input(surface_of):
    S, _ = surface_of()
    theta = np.zeros(S.n_params)
    with pytest.raises(ValueError, match="theta must have shape"):
        line(S, np.zeros(4))
    with pytest.raises(ValueError, match="normalization"):
        random_direction(S, theta, 0, normalization="layer")
    with pytest.raises(ValueError, match="bias"):
        random_direction(S, theta, 0, bias="keep")
    with pytest.raises(ValueError, match="span"):
        plane(S, theta, span=(1, -1))
    with pytest.raises(ValueError, match="res"):
        line(S, theta, res=1)
    with pytest.raises(ValueError, match="n_slices"):
        slice_persistence(S, theta, 0)
    with pytest.raises(ValueError, match="span"):
        slice_persistence(S, theta, 1, span=0.0)
    with pytest.raises(ValueError, match="long_fraction"):
        slice_persistence(S, theta, 1, long_fraction=-1.0)


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


def test_slice_persistence_near_a_strict_minimum():
    arch = Architecture(1, 2, 1, 30, activation="tanh")
    ds = make_teacher_student(arch, 30, noise=0.0, seed=1)
    surf = LossSurface(arch, ds.X, ds.y)
    theta = ds.theta  # the noise-free teacher: a global minimum, loss 0
    out = slice_persistence(surf, theta, 3, res=21, span=1e-3, seed=5)
    assert len(out) == 3
    for j, s in enumerate(out):
        v = s["slice"].values
        assert v.shape == (21, 21) and abs(v[10, 10]) < 1e-20  # odd res: theta at the centre
        # directions of seeds 5 + 2j, 5 + 2j + 1
        np.testing.assert_array_equal(s["slice"].d1, random_direction(surf, theta, 5 + 2 * j))
        np.testing.assert_array_equal(s["slice"].d2, random_direction(surf, theta, 6 + 2 * j))
        assert s["lo"] == v.min() and s["med"] == np.median(v)
        # a tiny window around a strict minimum: convex sublevel sets, one basin;
        # the grid can split a thin ellipse, but only into short-lived components
        assert s["long"].tolist() == [1, 0]
        assert s["total"][0] < 0.1 * (s["med"] - s["lo"]) and s["total"][1] == 0.0
        assert s["peak"] >= 1
