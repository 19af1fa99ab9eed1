"""Tests for lossbounds.landscape.data: seeded synthetic datasets."""

import numpy as np
import pytest
import torch

from lossbounds.landscape.data import (
    Dataset,
    make_regression,
    make_teacher_student,
    make_xor,
)
from lossbounds.landscape.layout import ParamLayout
from lossbounds.landscape.modules import to_module
from lossbounds.theory.architecture import Architecture

GENERATORS = [make_regression, make_xor]


@pytest.mark.parametrize("make", GENERATORS)
def test_shapes_dtypes_and_seeds(make):
    d = make(37, 3, seed=4)
    assert isinstance(d, Dataset)
    assert d.X.shape == (37, 3) and d.y.shape == (37,)
    assert d.X.dtype == np.float64 and d.y.dtype == np.float64
    assert (d.m, d.n) == (37, 3)
    again = make(37, 3, seed=4)
    np.testing.assert_array_equal(d.X, again.X)
    np.testing.assert_array_equal(d.y, again.y)
    other = make(37, 3, seed=5)
    assert not np.array_equal(d.X, other.X)


def test_regression_target_formula():
    d = make_regression(50, 2, noise=0.0, seed=0)
    # y = sin(pi (x1 + x2) / sqrt 2), recomputed here
    np.testing.assert_allclose(
        d.y, np.sin(np.pi * (d.X[:, 0] + d.X[:, 1]) / np.sqrt(2)), atol=1e-15
    )
    assert np.all(np.abs(d.X) <= 1)
    noisy = make_regression(2000, 1, noise=0.1, seed=0)
    resid = noisy.y - np.sin(np.pi * noisy.X[:, 0])
    assert abs(resid.std() - 0.1) < 0.01


def test_xor_labels_follow_signs():
    d = make_xor(400, 4, noise=0.1, seed=1)
    # with spread 0.1 around (+-1, +-1) every point keeps its corner's signs
    expected = (np.sign(d.X[:, 0]) != np.sign(d.X[:, 1])).astype(float)
    np.testing.assert_array_equal(d.y, expected)
    assert 0.35 < d.y.mean() < 0.65
    assert np.abs(d.X[:, 2:]).max() < 1.0  # extra coordinates are pure noise


@pytest.mark.parametrize("output", ["linear", "sigmoid"])
def test_teacher_student_targets_come_from_the_teacher(output):
    arch = Architecture(2, 3, 2, 40, activation="tanh", output=output)
    d = make_teacher_student(arch, 40, noise=0.0, seed=3)
    assert d.theta.shape == (ParamLayout(arch).n_params,)
    with torch.no_grad():
        teacher = to_module(arch, theta=d.theta)(torch.as_tensor(d.X))[:, 0].numpy()
    np.testing.assert_allclose(d.y, teacher, atol=1e-12)
    # moderate weights: every weight magnitude in [0.5, 1.5] * 2 / sqrt(fan_in)
    p = ParamLayout(arch).unflatten(d.theta)
    for name, fan in [("W1", 2), ("W2", 3), ("v", 3)]:
        mags = np.abs(p[name]) * np.sqrt(fan) / 2.0
        assert mags.min() >= 0.5 and mags.max() <= 1.5
    noisy = make_teacher_student(arch, 40, noise=0.05, seed=3)
    np.testing.assert_array_equal(noisy.X, d.X)
    if output == "sigmoid":
        assert noisy.y.min() >= 0 and noisy.y.max() <= 1
    else:
        assert 0.02 < np.std(noisy.y - d.y) < 0.08


def test_teacher_student_with_unequal_widths():
    arch = Architecture(n_inputs=2, widths=(4, 3), n_samples=30, activation="tanh")
    d = make_teacher_student(arch, 30, noise=0.0, seed=1)
    assert d.theta.shape == (ParamLayout(arch).n_params,) == ((4 * 3 + 3 * 5 + 4),)
    with torch.no_grad():
        teacher = to_module(arch, theta=d.theta)(torch.as_tensor(d.X))[:, 0].numpy()
    np.testing.assert_allclose(d.y, teacher, atol=1e-12)
    p = ParamLayout(arch).unflatten(d.theta)
    for name, fan in [("W1", 2), ("W2", 4), ("v", 3)]:  # fan-in of each layer
        mags = np.abs(p[name]) * np.sqrt(fan) / 2.0
        assert mags.min() >= 0.5 and mags.max() <= 1.5


def test_bad_sizes_and_values():
    with pytest.raises(ValueError, match="m must be an integer >= 1"):
        make_regression(0, 2)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        make_regression(5, 0)
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        make_xor(5, 1)
    with pytest.raises(ValueError, match="noise"):
        make_xor(5, noise=-1.0)
    with pytest.raises(ValueError, match="m must be an integer"):
        make_teacher_student(Architecture(1, 2, 1, 5), 2.5)
    with pytest.raises(ValueError, match="weight_scale"):
        make_teacher_student(Architecture(1, 2, 1, 5), 5, weight_scale=0.0)


def test_dataset_validation():
    with pytest.raises(ValueError, match="X must be finite"):
        Dataset(np.array([[np.nan]]), np.array([1.0]))
    with pytest.raises(ValueError, match="y must be finite"):
        Dataset(np.array([[0.0]]), np.array([np.inf]))
    with pytest.raises(ValueError, match="X must be non-empty"):
        Dataset(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError, match="one target per row"):
        Dataset(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="X must be a 2-D"):
        Dataset(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="y must be a 1-D"):
        Dataset(np.zeros((3, 1)), np.zeros((3, 1)))
