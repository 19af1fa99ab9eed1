"""Tests of lossbounds.experiments.stats against independent computations and known coverage."""

import numpy as np
import pytest
from scipy.stats import rankdata

from lossbounds.experiments.stats import bootstrap_ci, paired_test, spearman_ci, trend_test


def test_bootstrap_interval_covers_the_true_mean_at_about_the_nominal_rate():
    rng = np.random.default_rng(1)
    hits = 0
    for k in range(200):
        x = rng.normal(2.0, 1.0, size=30)
        est = bootstrap_ci(x, confidence=0.9, n_resamples=999, seed=k)
        assert est.low <= est.value <= est.high
        assert est.value == pytest.approx(x.mean())
        hits += est.low <= 2.0 <= est.high
    assert 0.82 <= hits / 200 <= 0.97


def test_bootstrap_median_and_callable_statistics():
    x = np.arange(21.0)
    med = bootstrap_ci(x, "median", seed=0)
    assert med.value == 10.0 and med.low < 10.0 < med.high
    spread = bootstrap_ci(x, lambda v: float(np.max(v) - np.min(v)), n_resamples=200)
    assert spread.value == 20.0 and spread.high <= 20.0


def test_bootstrap_of_a_constant_sample_is_a_point():
    est = bootstrap_ci([3, 3, 3, 3])
    assert (est.value, est.low, est.high, est.n) == (3.0, 3.0, 3.0, 4)
    assert est.excludes(2.5) and not est.excludes(3.0)


def test_bootstrap_of_tied_counts_gives_a_finite_interval():
    counts = np.array([1] * 18 + [2, 5])
    est = bootstrap_ci(counts)
    assert np.isfinite(est.low) and np.isfinite(est.high) and est.low <= est.value <= est.high


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(values=[1.0]), "at least 2"),
        (dict(values=[1.0, np.nan]), "finite"),
        (dict(values=[[1.0, 2.0]]), "1-D"),
        (dict(values=[1.0, 2.0], statistic="mode"), "statistic must be one of"),
        (dict(values=[1.0, 2.0], confidence=1.5), "confidence"),
        (dict(values=[1.0, 2.0], n_resamples=10), "n_resamples"),
    ],
)
def test_bootstrap_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bootstrap_ci(**kwargs)


def test_paired_test_detects_a_shift_and_counts_signs():
    rng = np.random.default_rng(0)
    b = rng.normal(size=30)
    a = b + 1.0 + 0.5 * rng.normal(size=30)
    res = paired_test(a, b, alternative="greater")
    d = a - b
    assert (res.greater, res.less, res.ties) == (np.sum(d > 0), np.sum(d < 0), 0)
    assert res.pvalue < 1e-4 and res.mean_difference.low > 0
    assert res.mean_difference.value == pytest.approx(d.mean())
    assert paired_test(a, b, alternative="less").pvalue > 0.5


def test_paired_test_of_equal_settings_finds_nothing():
    x = np.arange(10.0)
    res = paired_test(x, x.copy())
    assert res.pvalue == 1.0 and res.ties == 10 and res.n == 10
    assert res.mean_difference.value == 0.0


def test_paired_test_bad_input():
    with pytest.raises(ValueError, match="same length"):
        paired_test([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="alternative"):
        paired_test([1, 2, 3], [1, 2, 4], alternative="bigger")


def test_spearman_equals_pearson_of_ranks_and_is_invariant_to_monotone_maps():
    rng = np.random.default_rng(3)
    x = rng.normal(size=40)
    y = x + rng.normal(size=40)
    res = spearman_ci(x, y, n_resamples=500)
    expected = np.corrcoef(rankdata(x), rankdata(y))[0, 1]
    assert res.rho.value == pytest.approx(expected, abs=1e-12)
    assert res.rho.low <= res.rho.value <= res.rho.high
    assert spearman_ci(np.exp(x), y**3 + y, n_resamples=500).rho.value == pytest.approx(expected)
    assert spearman_ci(x, x**3, n_resamples=200).rho.value == pytest.approx(1.0)


def test_spearman_interval_covers_the_population_value():
    # bivariate normal with correlation r: Spearman's rho = (6 / pi) asin(r / 2)
    r = 0.6
    truth = 6 / np.pi * np.arcsin(r / 2)
    rng = np.random.default_rng(7)
    cov = [[1, r], [r, 1]]
    hits = 0
    for k in range(60):
        x, y = rng.multivariate_normal([0, 0], cov, size=60).T
        res = spearman_ci(x, y, confidence=0.9, n_resamples=300, seed=k)
        hits += res.rho.low <= truth <= res.rho.high
    assert 0.75 <= hits / 60 <= 1.0


def test_spearman_bad_input():
    with pytest.raises(ValueError, match="constant"):
        spearman_ci([1, 1, 1], [1, 2, 3])
    with pytest.raises(ValueError, match="at least 3"):
        spearman_ci([1, 2], [1, 2])
    with pytest.raises(ValueError, match="same length"):
        spearman_ci([1, 2, 3], [1, 2, 3, 4])


def test_trend_test_sees_growth_and_its_direction():
    m = np.repeat([10, 20, 40, 80], 5)
    rng = np.random.default_rng(0)
    measured = np.log(m) + 0.1 * rng.normal(size=m.size)
    up = trend_test(m, measured, alternative="greater")
    assert up.tau > 0.6 and up.pvalue < 1e-4 and up.n == 20
    assert trend_test(m, -measured, alternative="greater").pvalue > 0.5
    flat = trend_test(m, np.ones(m.size))
    assert (flat.tau, flat.pvalue) == (0.0, 1.0)
    with pytest.raises(ValueError, match="setting is constant"):
        trend_test([1, 1, 1], [1, 2, 3])
