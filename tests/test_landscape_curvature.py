"""Tests for the slice curvature helpers of lossbounds.landscape (plane_hessians, l2_convexity_threshold)."""

import numpy as np
import pytest

from lossbounds.data import make_teacher_student
from lossbounds.formats import Architecture
from lossbounds.landscape import LossSurface, l2_convexity_threshold, plane, plane_hessians


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
