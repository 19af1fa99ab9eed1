"""Tests for lossbounds.landscape.optimize: classification, descent, polishing, census, dedup.

Expected values are independent of the code under test: the teacher of a
noise-free teacher-student problem is a global minimum with loss 0; orbit
images of a point are, by construction, one minimum modulo G.
"""

import numpy as np
import pytest
import torch

from lossbounds.landscape.data import make_regression, make_teacher_student
from lossbounds.landscape.modules import to_module
from lossbounds.landscape.optimize import (
    CENSUS_POLISHING,
    Polishing,
    basin_census,
    classify_hessian,
    find_minima,
    minimize_lm,
    polish,
)
from lossbounds.landscape.surface import LossSurface
from lossbounds.landscape.symmetry import SymmetryGroup, dedup_modulo_group
from lossbounds.theory.architecture import Architecture


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


def _origin_saddle():
    """Tanh net, one hidden layer, all weights 0 and c = mean(y): a saddle."""
    arch = Architecture(1, 2, 1, 30, activation="tanh")
    d = make_regression(30, 1, noise=0.0, seed=0)
    S = LossSurface(arch, d.X, d.y)
    theta = np.zeros(S.n_params)
    theta[-1] = d.y.mean()
    return S, theta


def test_network_origin_is_a_saddle():
    # the gradient vanishes (tanh(0) = 0 and v = 0), and d2L/dv_i dw_i = 2 mean((mean(y) - y) x)
    S, theta = _origin_saddle()
    assert np.abs(S.gradient(theta)).max() < 1e-15
    H = S.hessian(theta)
    # layout: W1 = theta[0:2], b1 = theta[2:4], v = theta[4:6], c = theta[6]
    a = 2 * np.mean((S.y_np.mean() - S.y_np) * S.X_np[:, 0])
    assert abs(a) > 0.1
    assert abs(H[4, 0] - a) < 1e-12 and abs(H[5, 1] - a) < 1e-12
    assert classify_hessian(np.linalg.eigvalsh(H)) == "saddle"


def test_teacher_student_strict_minimum_and_dedup():
    arch = Architecture(1, 2, 1, 30, activation="tanh")
    d = make_teacher_student(arch, 30, noise=1e-2, seed=0)
    S = LossSurface(arch, d.X, d.y)
    res = find_minima(S, d.theta, max_iter=300, trust_iter=50)
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


def test_batched_descent_lowers_the_loss(surface_of):
    S, _ = surface_of()
    starts = S.layout.init(6, n_points=4)
    res = find_minima(
        S, starts, method="gd", gd_steps=50, lr=0.05, polishing=Polishing(0), trust_iter=0
    )
    assert res.points.shape == starts.shape and res.eigenvalues.shape == (4, S.n_params)
    assert np.all(res.losses < S(starts))
    assert set(res.labels) <= {"strict_min", "degenerate", "saddle", "max", "not_critical"}


def test_polish_keeps_a_saddle_and_refines_a_minimum():
    S, origin = _origin_saddle()
    res = polish(S, origin)
    assert res.labels.tolist() == ["saddle"]  # no descent: the saddle is not left
    np.testing.assert_allclose(res.points[0], origin, rtol=0, atol=1e-15)
    arch = Architecture(1, 2, 1, 30, activation="tanh")
    d = make_teacher_student(arch, 30, noise=0.0, seed=3)  # min Hessian eigenvalue ~1e-4
    T = LossSurface(arch, d.X, d.y)
    near = d.theta + 1e-4 * np.random.default_rng(1).normal(size=T.n_params)
    res = polish(T, near, newton_steps=8)
    assert res.labels.tolist() == ["strict_min"] and res.grad_norms[0] < 1e-12
    assert np.linalg.norm(res.points[0] - d.theta) < 1e-9 and res.losses[0] < 1e-24
    # without Newton steps: classification only, points unchanged
    still = polish(T, near, newton_steps=0)
    np.testing.assert_array_equal(still.points[0], near)
    assert still.labels.tolist() == ["not_critical"]


def test_bad_input(surface_of):
    S, _ = surface_of()
    theta = np.zeros(S.n_params)
    with pytest.raises(ValueError, match="starts"):
        find_minima(S, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="method"):
        find_minima(S, theta, method="newton")
    with pytest.raises(ValueError, match="gd_steps"):
        find_minima(S, theta, method="gd")
    with pytest.raises(ValueError, match="eigenvalues"):
        classify_hessian([])
    with pytest.raises(ValueError, match="tol"):
        dedup_modulo_group(theta[None], SymmetryGroup(S.arch), tol=0.0)
    with pytest.raises(ValueError, match="points"):
        polish(S, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="newton_steps"):
        polish(S, theta, newton_steps=-1)


def _problem(h=2, K=1, activation="tanh", m=30, noise=0.0, l2=None, seed=3):
    arch = Architecture(1, h, K, m, activation=activation, l2=l2 is not None)
    ds = make_teacher_student(arch, m, noise=noise, seed=seed)
    return arch, ds, LossSurface(arch, ds.X, ds.y, l2=l2)


def test_lm_recovers_a_noise_free_teacher():
    arch, ds, surf = _problem(h=2, K=1, m=30, noise=0.0)
    rng = np.random.default_rng(2)
    starts = ds.theta + 0.05 * rng.normal(size=(4, surf.n_params))
    points, losses = minimize_lm(surf, starts)
    assert losses.max() < 1e-20
    group = SymmetryGroup(arch)
    for p in points:
        assert group.distance(p, ds.theta) < 1e-6


def test_lm_survives_a_start_whose_hessian_overflows(monkeypatch):
    # a non-finite Hessian row (overflow far out) used to break the batched SVD of
    # the damped-Newton stage; that start must stop moving and the others converge
    arch, ds, surf = _problem(h=2, K=1, m=30, noise=0.0)
    rng = np.random.default_rng(2)
    starts = ds.theta + 0.05 * rng.normal(size=(3, surf.n_params))
    real = surf.hessians

    def poisoned(thetas):
        loss, g, H = real(thetas)
        H[1] = np.nan
        return loss, g, H

    monkeypatch.setattr(surf, "hessians", poisoned)
    points, losses = minimize_lm(surf, starts, max_iter=1)
    assert np.all(np.isfinite(points))
    assert losses[0] < 1e-20 and losses[2] < 1e-20


def test_census_merges_symmetric_copies_and_counts_them():
    arch, ds, surf = _problem(h=2, K=1, m=30, noise=0.0, seed=3)
    group = SymmetryGroup(arch)
    rng = np.random.default_rng(4)
    near = ds.theta + 0.02 * rng.normal(size=surf.n_params)
    starts = np.stack([group.apply(near, group.random_element(rng)) for _ in range(6)])
    census = basin_census(surf, starts, group=group)
    assert census.group_order == 8  # 2^2 2! for tanh
    assert census.n_distinct == 1
    assert census.hits.tolist() == [6]
    assert group.distance(census.best(), ds.theta) < 1e-6
    assert census.distinct_losses[0] < 1e-20


def test_census_distinct_losses_are_sorted_and_hits_add_up():
    arch, ds, surf = _problem(h=3, K=1, m=40, noise=0.05, l2=1e-3, seed=6)
    starts = np.random.default_rng(7).normal(scale=2.0, size=(10, surf.n_params))
    census = basin_census(surf, starts)
    assert np.all(np.diff(census.distinct_losses) >= 0)
    assert census.hits.sum() == len(census.strict)
    assert set(census.minima.labels[census.strict]) <= {"strict_min"}


def test_census_without_strict_minimum_has_no_best():
    arch, ds, surf = _problem(h=2, K=1, m=30, noise=0.0)
    starts = np.random.default_rng(8).normal(size=(2, surf.n_params))
    census = basin_census(
        surf, starts, lm_iter=1, newton_iter=0, polishing=Polishing(0, grad_tol=1e-300)
    )
    assert census.n_distinct == 0
    with pytest.raises(ValueError, match="no strict minimum"):
        census.best()


def test_census_of_a_module_surface_equals_the_built_in_census():
    arch, ds, surf = _problem(h=3, K=1, m=40, noise=0.05, l2=1e-3, seed=6)
    model = to_module(arch)  # what a user writes: Linear(1, 3), Tanh, Linear(3, 1)
    msurf = LossSurface.from_module(model, ds.X, ds.y, l2=1e-3)
    starts = np.random.default_rng(7).normal(scale=2.0, size=(8, surf.n_params))
    ref, got = basin_census(surf, starts), basin_census(msurf, starts)
    assert got.group_order == ref.group_order == 48  # 2^3 3!
    assert got.n_distinct == ref.n_distinct >= 1
    np.testing.assert_allclose(got.distinct_losses, ref.distinct_losses, rtol=0, atol=1e-10)
    assert got.hits.tolist() == ref.hits.tolist()
    assert np.all(got.minima.eigenvalues[got.strict] > 0)


def test_census_of_a_surface_without_architecture_needs_a_group():
    rng = np.random.default_rng(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1)
    ).double()
    surf = LossSurface.from_module(model, rng.normal(size=(9, 2)), rng.normal(size=9))
    with pytest.raises(ValueError, match="no Architecture, so no symmetry group.*relu"):
        basin_census(surf, rng.normal(size=(2, surf.n_params)))


def test_lm_bad_input():
    arch = Architecture(1, 2, 1, 10, activation="sigmoid", output="sigmoid", loss="bce")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 1))
    y = (X[:, 0] > 0).astype(float)
    bce = LossSurface(arch, X, y)
    with pytest.raises(ValueError, match="loss must be 'mse'"):
        minimize_lm(bce, np.zeros((1, bce.n_params)))
    _, _, surf = _problem()
    with pytest.raises(ValueError, match="starts must have shape"):
        minimize_lm(surf, np.zeros((2, surf.n_params + 1)))
    with pytest.raises(ValueError, match="max_iter"):
        minimize_lm(surf, np.zeros((1, surf.n_params)), max_iter=0)
    with pytest.raises(ValueError, match="newton_iter"):
        minimize_lm(surf, np.zeros((1, surf.n_params)), newton_iter=-1)
    with pytest.raises(ValueError, match="mu0"):
        minimize_lm(surf, np.zeros((1, surf.n_params)), mu0=0.0)


def test_polishing_defaults_are_the_documented_ones():
    # find_minima's default polishing is polish's own defaults; the census's is stricter
    assert Polishing() == Polishing(8, 0.5, 1e-6, 1e-6, 1e-12)
    assert CENSUS_POLISHING == Polishing(2, 0.5, 1e-8, 1e-9, 1e-12)
