"""Tests for lossbounds.topology.critical (the measurement core).

References are independent of the code under test: the 3^d critical points
of rotated tilted double wells from the roots of the 1-D cubic (numpy.roots);
published critical points of the Mueller-Brown and Himmelblau functions,
refined to 30 digits by mpmath.findroot on the hand-written gradient; the
published LJ7 minimum energies (Cambridge Cluster Database).
"""

import os
import time
import warnings

import mpmath
import numpy as np
import pytest
import torch
from scipy.stats import qmc

from lossbounds.landscape.data import make_teacher_student
from lossbounds.landscape.surface import LossSurface
from lossbounds.theory.architecture import Architecture
from lossbounds.topology.connectivity import merge_tree
from lossbounds.topology.critical import critical_points
from lossbounds.topology.shapes import (
    HIMMELBLAU_CRITICAL,
    LJ7_MINIMA,
    MUELLER_BROWN_CRITICAL,
    himmelblau,
    lennard_jones,
    mueller_brown,
    tilted_double_wells,
)


def _wells_starts(f, n, seed=0):
    """Starts whose rotated coordinates fill [-1.6, 1.6]^d (where all 3^d points lie)."""
    d = len(f.eps)
    return ((qmc.Sobol(d, seed=seed).random(n) * 2 - 1) * 1.6) @ f.Q


def _match(got_points, want_points):
    """Index of the nearest found point to every reference point, and the distances."""
    dist = np.linalg.norm(got_points[None, :, :] - want_points[:, None, :], axis=-1)
    return dist.argmin(axis=1), dist.min(axis=1)


@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_all_critical_points_of_rotated_double_wells_exactly_by_index(d):
    f = tilted_double_wells(d, seed=d)
    pts, values, index = f.critical_points()  # roots of 4t^3 - 4t + eps per coordinate
    res = critical_points(f, _wells_starts(f, 2 ** (5 + 2 * d)))
    assert len(res.values) == 3**d
    near, dist = _match(res.points, pts)
    assert np.unique(near).size == 3**d and dist.max() < 1e-9
    np.testing.assert_allclose(res.values[near], values, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(res.index[near], index)
    assert (res.nullity == 0).all()
    from math import comb

    want_counts = [comb(d, k) * 2 ** (d - k) for k in range(d + 1)]
    np.testing.assert_array_equal(res.counts(), want_counts)
    np.testing.assert_array_equal(res.counts(full=True), want_counts)  # no group: weight 1
    checks = res.morse_inequalities()
    assert checks["applies"] and all(checks["weak"]) and all(checks["strong"]) and checks["euler"]
    assert res.euler_characteristic == 1.0
    sat = res.saturation(0)
    assert sat[-1] == 2**d and np.all(np.diff(sat) >= 0)
    assert res.chao1(0) >= 2**d


def _mb_grad(x, y):
    """Gradient of the Mueller-Brown potential, written by hand in mpmath."""
    A, a, b, c = (-200, -100, -170, 15), (-1, -1, -6.5, 0.7), (0, 0, 11, 0.6), (-10, -10, -6.5, 0.7)
    x0, y0 = (1, 0, -0.5, -1), (0, 0.5, 1.5, 1)
    gx = gy = mpmath.mpf(0)
    for i in range(4):
        dx, dy = x - x0[i], y - y0[i]
        e = A[i] * mpmath.exp(a[i] * dx * dx + b[i] * dx * dy + c[i] * dy * dy)
        gx += e * (2 * a[i] * dx + b[i] * dy)
        gy += e * (b[i] * dx + 2 * c[i] * dy)
    return gx, gy


def _mb_value(x, y):
    A, a, b, c = (-200, -100, -170, 15), (-1, -1, -6.5, 0.7), (0, 0, 11, 0.6), (-10, -10, -6.5, 0.7)
    x0, y0 = (1, 0, -0.5, -1), (0, 0.5, 1.5, 1)
    return sum(
        A[i]
        * mpmath.exp(
            a[i] * (x - x0[i]) ** 2 + b[i] * (x - x0[i]) * (y - y0[i]) + c[i] * (y - y0[i]) ** 2
        )
        for i in range(4)
    )


def test_mueller_brown_critical_points_match_published_values():
    mpmath.mp.dps = 30
    ref = []
    for x, y, _, _ in MUELLER_BROWN_CRITICAL:  # published to 3 decimals; refined to 30 digits
        rx, ry = mpmath.findroot(lambda u, v: _mb_grad(u, v), (x, y))
        ref.append((float(rx), float(ry), float(_mb_value(rx, ry))))
    ref = np.array(ref)
    np.testing.assert_allclose(ref[:, :2], MUELLER_BROWN_CRITICAL[:, :2], atol=1e-3)
    np.testing.assert_allclose(ref[:, 2], MUELLER_BROWN_CRITICAL[:, 2], atol=1e-2)
    starts = qmc.Sobol(2, seed=0).random(1024) * [2.7, 2.5] + [-1.7, -0.5]
    res = critical_points(mueller_brown, starts)
    near, dist = _match(res.points, ref[:, :2])
    assert dist.max() < 1e-9
    np.testing.assert_allclose(res.values[near], ref[:, 2], rtol=0, atol=1e-8)
    np.testing.assert_array_equal(res.index[near], MUELLER_BROWN_CRITICAL[:, 3])
    # starts that ran into the flat exponential tails are counted, not dropped silently
    assert res.rejected["not_converged"] > 0
    assert np.array_equal(np.sort(res.counts()[:2]), [2, 3])


def test_himmelblau_all_nine_critical_points():
    # the gradient is polynomial: its real roots are the reference (mpmath, 30 digits)
    mpmath.mp.dps = 30

    def grad(x, y):
        a, b = x * x + y - 11, x + y * y - 7
        return 4 * a * x + 2 * b, 2 * a + 4 * b * y

    starts = qmc.Sobol(2, seed=0).random(1024) * 12 - 6
    res = critical_points(himmelblau, starts)
    assert len(res.values) == 9
    np.testing.assert_array_equal(res.counts(), [4, 4, 1])
    for x, y, value, index in HIMMELBLAU_CRITICAL:  # published (6 decimals)
        i = np.argmin(np.linalg.norm(res.points - [x, y], axis=1))
        assert np.linalg.norm(res.points[i] - [x, y]) < 1e-5
        rx, ry = mpmath.findroot(grad, (x, y))
        exact = float((rx * rx + ry - 11) ** 2 + (rx + ry * ry - 7) ** 2)
        assert res.values[i] == pytest.approx(exact, abs=1e-8)
        assert abs(res.values[i] - value) < 1e-3 and res.index[i] == index
    assert res.morse_inequalities()["euler"]


def test_linear_function_warns_and_counts_flat_hessians():
    def linear(x):
        return x @ torch.tensor([1.0, -2.0], dtype=x.dtype)

    starts = np.random.default_rng(0).normal(size=(8, 2))
    with pytest.warns(UserWarning, match="flat_hessian: 8"):
        res = critical_points(linear, starts)
    assert len(res.values) == 0 and res.rejected["flat_hessian"] == 8
    with pytest.warns(UserWarning, match="no minimum"):
        tree = merge_tree(linear, starts, descent_steps=5)
    assert tree.diagram().shape == (0, 2)


def test_orbit_weighted_counts_with_a_group():
    arch = Architecture(1, 2, 1, 10, activation="tanh", l2=True)
    ds = make_teacher_student(Architecture(1, 2, 1, 10, activation="tanh"), 10, 0.05, 0)
    surf = LossSurface(arch, ds.X, ds.y, l2=1e-2)
    group = surf.symmetry_group()
    starts = np.random.default_rng(0).normal(size=(64, surf.n_params))
    plain = critical_points(surf, starts)
    quot = critical_points(surf, starts, group=group)
    assert quot.group_order == group.order == 8  # 2! * 2^2
    # every class of the quotient is an orbit of at most |G| points of the full space
    assert np.all((quot.orbit_size >= 1) & (quot.orbit_size <= 8))
    assert len(quot.values) <= len(plain.values)
    assert quot.counts(full=True).sum() >= len(quot.values)


def test_lj7_gives_its_four_minimum_energies_quickly():
    rng = np.random.default_rng(0)
    starts = rng.uniform(-1.0, 1.0, size=(512, 21))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = merge_tree(
            lennard_jones, starts, max_rounds=1, check_bands=0, n_neighbors=1, descent_steps=3000
        )
    elapsed = time.perf_counter() - t0
    found = tree.minima_values
    for e in LJ7_MINIMA:  # published, 8 decimals
        assert np.min(np.abs(found - e)) < 1e-7, (e, np.unique(np.round(found, 8)))
    assert (tree.nullity == 6).all()  # translations and rotations
    assert elapsed < float(os.environ.get("LOSSBOUNDS_LJ7_SECONDS", "120"))


def test_overparametrised_network_at_zero_l2_gives_a_merge_tree():
    arch = Architecture(1, 3, 1, 4, activation="tanh")  # N = 10 > m = 4
    ds = make_teacher_student(Architecture(1, 3, 1, 4, activation="tanh"), 4, 0.0, 0)
    surf = LossSurface(arch, ds.X, ds.y)
    starts = np.random.default_rng(0).normal(size=(16, surf.n_params))
    tree = merge_tree(surf, starts, check_bands=0, max_rounds=1)
    assert len(tree.minima) >= 1 and (tree.nullity > 0).any()
    assert np.isinf(tree.diagram()[:, 1]).sum() >= 1
    # the 16 zero-loss end points lie on flat valleys: joined by zero-barrier bands, not by distance
    assert len(tree.minima) < 16 and tree.hits.sum() == 16


def test_refined_saddles_on_a_small_teacher_student_network():
    """At least 90 % of the finite bars die at verified index-1 saddles (2-3-1 tanh, m = 20)."""
    from lossbounds.landscape.layout import ParamLayout

    arch = Architecture(2, 3, 1, 20, activation="tanh", l2=True)
    refined = []
    for seed in (1, 2, 3, 4):
        ds = make_teacher_student(Architecture(2, 3, 1, 20, activation="tanh"), 20, 0.05, seed)
        surf = LossSurface(arch, ds.X, ds.y, l2=1e-3)
        starts = ParamLayout(arch).init(np.random.default_rng(seed), scale=2.0, n_points=64)
        tree = merge_tree(surf, starts, group=surf.symmetry_group(), check_bands=0)
        assert tree.refined.size == np.isfinite(tree.diagram()[:, 1]).sum()
        refined.extend(tree.refined.tolist())
    assert len(refined) >= 8 and np.mean(refined) >= 0.9


def test_wells_merges_are_all_verified_and_persistence_counts():
    f = tilted_double_wells(3, seed=3)
    tree = merge_tree(f, _wells_starts(f, 256), check_bands=0)
    assert tree.refined.all() and tree.refined.size == 7 and tree.converged
    exact = f.exact_diagram()
    pers = exact[:, 1] - exact[:, 0]
    # thresholded counts: bars with persistence >= t (the infinite bar always counts);
    # thresholds halfway between the exact persistences, far from any of them
    mids = np.sort(pers[np.isfinite(pers)])
    t = np.concatenate([[0.0], 0.5 * (mids[1:] + mids[:-1]), [2 * mids[-1]]])
    want = (pers[None, :] >= t[:, None]).sum(axis=1)
    np.testing.assert_array_equal(tree.n_persistent(t), want)
    assert want[0] == 8 and want[-1] == 1
