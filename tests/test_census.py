"""Tests for lossbounds.census.

Expected values are independent of the code under test: the teacher of a
noise-free teacher-student problem is a global minimum with loss 0; orbit
images of a point are, by construction, one minimum modulo G; Jacobians and
Hessians are compared with central finite differences.
"""

import numpy as np
import pytest
import torch

from lossbounds.architecture import Architecture
from lossbounds.census import (
    _gradients_hessians,
    _jacobian,
    _residuals,
    basin_census,
    minimize_lm,
)
from lossbounds.data import make_teacher_student
from lossbounds.landscape import LossSurface
from lossbounds.symmetry import SymmetryGroup


def _problem(h=2, K=1, activation="tanh", m=30, noise=0.0, l2=None, seed=3):
    arch = Architecture(1, h, K, m, activation=activation, l2=l2 is not None)
    ds = make_teacher_student(arch, m, noise=noise, seed=seed)
    return arch, ds, LossSurface(arch, ds.X, ds.y, l2=l2)


def _fd(fun, theta, eps=1e-6):
    """Central finite differences of a vector function, shape (out, N)."""
    cols = []
    for j in range(theta.shape[0]):
        e = np.zeros_like(theta)
        e[j] = eps
        cols.append((fun(theta + e) - fun(theta - e)) / (2 * eps))
    return np.stack(cols, axis=-1)


@pytest.mark.parametrize("l2", [None, 0.01])
def test_jacobian_matches_finite_differences(l2):
    arch, ds, surf = _problem(h=2, K=2, l2=l2)
    rng = np.random.default_rng(0)
    thetas = rng.normal(size=(3, surf.n_params))
    r, J = _jacobian(surf, torch.tensor(thetas))
    assert J.shape == (3, r.shape[1], surf.n_params)
    for k in range(3):

        def res(t):
            with torch.no_grad():
                return _residuals(surf, torch.tensor(t[None]))[0].numpy()

        np.testing.assert_allclose(J[k].numpy(), _fd(res, thetas[k]), atol=1e-7)
        # the residuals reproduce the loss: L = ||r||^2 / m
        assert abs(float((r[k] ** 2).sum()) / surf.m - surf(thetas[k])) < 1e-12


def test_batched_hessians_match_finite_differences_of_the_gradient():
    arch, ds, surf = _problem(h=2, K=2, l2=0.01)
    thetas = np.random.default_rng(1).normal(size=(2, surf.n_params))
    loss, g, H = _gradients_hessians(surf, torch.tensor(thetas))
    for k in range(2):
        assert abs(float(loss[k]) - surf(thetas[k])) < 1e-12
        np.testing.assert_allclose(
            g[k].numpy(), _fd(lambda t: np.array([surf(t)]), thetas[k])[0], atol=1e-7
        )
        np.testing.assert_allclose(H[k].numpy(), _fd(surf.gradient, thetas[k]), atol=1e-6)


def test_lm_recovers_a_noise_free_teacher():
    arch, ds, surf = _problem(h=2, K=1, m=30, noise=0.0)
    rng = np.random.default_rng(2)
    starts = ds.theta + 0.05 * rng.normal(size=(4, surf.n_params))
    points, losses = minimize_lm(surf, starts)
    assert losses.max() < 1e-20
    group = SymmetryGroup(arch)
    for p in points:
        assert group.distance(p, ds.theta) < 1e-6


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
    census = basin_census(surf, starts, lm_iter=1, newton_iter=0, newton_steps=0, grad_tol=1e-300)
    assert census.n_distinct == 0
    with pytest.raises(ValueError, match="no strict minimum"):
        census.best()


def test_bad_input():
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
