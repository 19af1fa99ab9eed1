"""Clustered inference: hand-computed references for Holm, t effects, TOST, exact rank tests."""

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.weightstats import ttost_paired

from lossbounds.experiments import inference as inf


def test_holm_and_bonferroni_on_known_pvalues():
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005, 3*0.01, 2*0.03, max(0.06, 0.04)
    np.testing.assert_allclose(inf.adjust_pvalues(p), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(inf.adjust_pvalues(p, "bonferroni"), [0.04, 0.16, 0.12, 0.02])
    with pytest.raises(ValueError, match="method"):
        inf.adjust_pvalues(p, "nope")
    with pytest.raises(ValueError, match="pvalues"):
        inf.adjust_pvalues([0.2, 1.5])


def test_paired_effect_is_the_paired_t_test():
    a = np.array([3.0, 5.0, 4.0, 6.0, 7.0])
    b = np.array([2.0, 5.0, 3.0, 4.0, 4.0])
    e = inf.paired_effect(a, b)  # d = 1, 0, 1, 2, 3: mean 1.4, sd sqrt(1.3)
    assert e.estimate == pytest.approx(1.4) and e.df == 4
    assert e.se == pytest.approx(math.sqrt(1.3 / 5))
    assert e.pvalue() == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert e.pvalue("larger") == pytest.approx(stats.ttest_rel(a, b, alternative="greater").pvalue)
    low, high = e.interval(0.95)
    q = stats.t.ppf(0.975, 4)
    assert (low, high) == pytest.approx((1.4 - q * e.se, 1.4 + q * e.se))


def test_cluster_means_by_hand():
    labels, means = inf.cluster_means([1.0, 2.0, 3.0, 10.0], [7, 3, 7, 3])
    assert labels.tolist() == [3, 7] and means.tolist() == [6.0, 2.0]


@pytest.mark.parametrize("low, upp", [(-0.3, 0.3), (-1.0, 0.2), (0.05, 2.0)])
def test_tost_on_an_estimate_matches_ttost_paired(low, upp):
    rng = np.random.default_rng(1)
    a = rng.normal(size=20)
    b = a + rng.normal(0.1, 0.5, size=20)
    expected = ttost_paired(a, b, low, upp)
    mine = inf.tost(inf.paired_effect(a, b), low, upp)
    assert mine.pvalue == pytest.approx(expected[0], rel=1e-12)
    assert (mine.p_low, mine.p_upp) == pytest.approx((expected[1][1], expected[2][1]), rel=1e-12)
    assert inf.paired_tost(a, b, low, upp).pvalue == pytest.approx(expected[0], rel=1e-12)


def test_clustered_slope_on_paired_data_reduces_to_the_paired_test():
    # y = arm (0/1) regression with datasets as clusters: slope = mean(a - b), and the
    # cluster-robust variance is sum_g (d_g - dbar)^2 / n^2 times G/(G-1) (N-1)/(N-2), N = 2n
    rng = np.random.default_rng(2)
    n = 12
    b = rng.normal(size=n)
    a = b + rng.normal(0.3, 0.4, size=n)
    y = np.concatenate([b, a])
    x = np.repeat([0.0, 1.0], n)
    g = np.tile(np.arange(n), 2)
    slope = inf.clustered_slope(y, x, g)
    d = a - b
    factor = n / (n - 1) * (2 * n - 1) / (2 * n - 2)
    assert slope.estimate == pytest.approx(d.mean(), rel=1e-12)
    assert slope.se == pytest.approx(math.sqrt(np.sum((d - d.mean()) ** 2) / n**2 * factor))
    assert slope.df == n - 1
    # the coefficient TOST, with the SE brought back to the paired one, is ttost_paired
    paired_se = slope.se * math.sqrt(n / (n - 1) / factor)
    rescaled = inf.Effect(slope.estimate, paired_se, slope.df, n)
    expected = ttost_paired(a, b, 0.0, 0.6)
    assert inf.tost(rescaled, 0.0, 0.6).pvalue == pytest.approx(expected[0], rel=1e-10)


@pytest.mark.parametrize("method", ["spearman", "kendall"])
def test_exact_rank_correlation_of_a_perfect_order(method):
    # only the identity pairing and its reverse reach |stat| = 1: p = 2 / 5!
    stat, p = inf.rank_correlation([1, 2, 3, 4, 5], [2, 4, 6, 8, 10], method=method)
    assert stat == pytest.approx(1.0) and p == pytest.approx(2 / 120)


def test_exact_rank_correlation_is_larger_than_the_asymptotic_one_at_n_6():
    # n = 6 with a tie: 720 pairings; the t approximation of spearmanr is far too small
    x = [1, 2, 3, 4, 5, 6]
    y = [1.0, 2.0, 3.0, 4.0, 5.5, 5.5]
    rho, p = inf.rank_correlation(x, y)
    assert rho == pytest.approx(stats.spearmanr(x, y).statistic)
    assert p >= 2 / 720 and p > 10 * stats.spearmanr(x, y).pvalue


def test_verdict_truth_table():
    v = inf.claim_verdict
    assert v(1, 0.5, 0.01) == "supported"
    assert v(1, -0.5, 0.01) == "contradicted"
    assert v(-1, -0.5, 0.01, 0.9) == "supported"
    assert v(1, 0.01, 0.4, 0.01) == "contradicted"  # shown equivalent: the predicted gap is absent
    assert v(1, 0.01, 0.4, 0.2) == "undecided"
    assert v(1, 0.01, 0.4) == "undecided"
    assert v(0, 0.01, 0.4, 0.01) == "supported"
    assert v(0, 0.01, 0.4, 0.2) == "undecided"  # non-significance alone is not agreement
    assert v(0, 0.8, 0.001, 0.3) == "contradicted"
    with pytest.raises(ValueError, match="predicted"):
        v(2, 0.1, 0.1)


def test_format_and_power():
    assert inf.format_effect(0.1234, -0.5, 1.0) == "+0.12 [-0.50, +1.00]"
    # Cohen's tables: a paired t-test on 20 pairs detects d_z = 0.66 at alpha 0.05, power 0.8
    assert inf.detectable_effect(20) == pytest.approx(0.66, abs=0.005)
    assert 0.0 < inf.tost_power(0.5, 20) < inf.tost_power(1.0, 20) <= 1.0


def test_constant_effect_and_bad_input():
    e = inf.paired_effect([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    assert e.se == 0 and e.pvalue() == 0.0 and e.pvalue("smaller") == 1.0
    # a slope of rounding size with SE 0 is no effect, not a certain one
    assert inf.Effect(1e-17, 0.0, 5, 6).pvalue() == 1.0
    with pytest.raises(ValueError, match="x is constant"):
        inf.clustered_slope([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], [0, 1, 2])
    with pytest.raises(ValueError, match="low"):
        inf.tost(e, 1.0, -1.0)
