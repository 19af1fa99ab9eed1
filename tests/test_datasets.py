"""Tests for the real-data loaders of lossbounds.landscape.data (scikit-learn's bundled datasets)."""

import numpy as np
import pytest

from lossbounds.landscape.data import (
    SKLEARN_DATASETS,
    Dataset,
    load_dataset,
    principal_components,
    standardize,
)

# Sizes and class counts of the bundled datasets (scikit-learn's documentation).
SIZES = {"digits": (1797, 64), "iris": (150, 4), "wine": (178, 13), "breast_cancer": (569, 30),
         "diabetes": (442, 10)}  # fmt: skip


def test_standardize_small_example_and_constant_column():
    X = np.array([[1.0, 5.0, 0.0], [3.0, 5.0, 2.0], [5.0, 5.0, 4.0]])
    s = np.sqrt(2.0 / 3.0) * 2  # population std of (1, 3, 5)
    expected = np.array([[-2 / s, 0.0, -2 / s], [0.0, 0.0, 0.0], [2 / s, 0.0, 2 / s]])
    np.testing.assert_allclose(standardize(X), expected, rtol=0, atol=1e-15)


def test_principal_components_of_correlated_columns():
    t = np.array([-2.0, -1.0, 0.5, 1.0, 1.5])
    X = np.c_[t, 3 * t + 7]  # rank 1 after standardisation: first PC is +standardised t
    pcs = principal_components(X, 2)
    z = (t - t.mean()) / t.std()
    np.testing.assert_allclose(pcs[:, 0], z, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(pcs[:, 1], 0.0)


def test_principal_components_are_uncorrelated_unit_variance():
    X = np.random.default_rng(0).standard_normal((40, 6)) @ np.triu(np.ones((6, 6)))
    pcs = principal_components(X, 3)
    np.testing.assert_allclose(pcs.T @ pcs / len(pcs), np.eye(3), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="k must be at most the number of columns 6"):
        principal_components(X, 7)


@pytest.mark.parametrize("name", SKLEARN_DATASETS)
def test_full_dataset_shapes_and_standardisation(name):
    d = load_dataset(name)
    assert isinstance(d, Dataset)
    assert d.X.shape == SIZES[name]
    np.testing.assert_allclose(d.X.mean(axis=0), 0.0, atol=1e-12)
    std = d.X.std(axis=0)
    # digits has pixels that are 0 in every image: those columns are zero, the rest unit
    assert np.all((np.abs(std - 1) < 1e-12) | (std == 0))
    assert (std == 0).sum() == (3 if name == "digits" else 0)


@pytest.mark.parametrize(
    "name,positive_class,count",
    [("iris", None, 50), ("wine", None, 59), ("breast_cancer", None, 357),
     ("breast_cancer", 0, 212), ("digits", 3, 183), ("iris", 2, 50)],
)  # fmt: skip
def test_binary_targets_one_class_against_the_rest(name, positive_class, count):
    y = load_dataset(name, positive_class=positive_class).y
    assert set(np.unique(y)) == {0.0, 1.0}
    assert int(y.sum()) == count


def test_diabetes_is_standardised_regression():
    from sklearn.datasets import load_diabetes

    raw = load_diabetes().target
    y = load_dataset("diabetes").y
    np.testing.assert_allclose(y * raw.std() + raw.mean(), raw, rtol=1e-12)


def test_subsample_is_seeded_and_reduced():
    a = load_dataset("wine", m=40, n_features=2, seed=3)
    b = load_dataset("wine", m=40, n_features=2, seed=3)
    c = load_dataset("wine", m=40, n_features=2, seed=4)
    assert a.X.shape == (40, 2) and a.y.shape == (40,)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    np.testing.assert_allclose(a.X.T @ a.X / 40, np.eye(2), rtol=0, atol=1e-12)
    # all rows, any seed: the full dataset in its original order
    np.testing.assert_array_equal(load_dataset("iris", m=150, seed=9).X, load_dataset("iris").X)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"name": "mnist"}, "name must be one of digits, iris, wine, breast_cancer, diabetes"),
        ({"name": "iris", "m": 151}, "m must be at most the 150 samples of 'iris'"),
        ({"name": "iris", "m": 1}, "m must be an integer >= 2"),
        ({"name": "iris", "n_features": 5}, "n_features must be at most the 4 columns"),
        ({"name": "iris", "n_features": 0}, "n_features must be an integer >= 1"),
        (
            {"name": "iris", "positive_class": 3},
            r"positive_class for 'iris' must be one of \[0, 1, 2\]",
        ),
        ({"name": "diabetes", "positive_class": 1}, "positive_class must be None for 'diabetes'"),
    ],
)
def test_load_dataset_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_dataset(**kwargs)
