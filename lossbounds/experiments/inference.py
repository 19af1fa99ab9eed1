"""Clustered inference for claims: effects with the dataset as the cluster, TOST, Holm, verdicts.

A claim table holds several cells per dataset (one per m, per student, ...), so
its rows are not independent: the dataset (``seed``) is the cluster. This
module draws inferences at the cluster level, through statsmodels:

- :func:`cluster_means` aggregates a column to one value per dataset;
  :func:`paired_effect` is then the mean paired difference across datasets
  with its t standard error (``n - 1`` degrees of freedom);
- :func:`clustered_slope` fits ``y ~ x`` by OLS with a cluster-robust
  covariance (``cov_type="cluster"``, groups = datasets, ``G - 1`` degrees of
  freedom);
- :func:`tost` runs the two one-sided tests of equivalence on any such
  :class:`Effect`; :func:`paired_tost` is statsmodels' ``ttost_paired``;
- :func:`adjust_pvalues` is ``statsmodels.stats.multitest.multipletests``
  (Holm by default);
- :func:`rank_correlation` gives Spearman's rho or Kendall's tau with an exact
  permutation p-value when the sample is small (``scipy.stats.permutation_test``);
- :func:`claim_verdict` turns a pre-registered test into "supported",
  "contradicted" or "undecided"; :func:`format_effect` prints an estimate and
  its interval in one fixed format;
- :func:`detectable_effect` and :func:`tost_power`: what n datasets can detect
  (``statsmodels.stats.power.TTestPower``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "Effect",
    "Equivalence",
    "cluster_means",
    "paired_effect",
    "clustered_slope",
    "tost",
    "paired_tost",
    "adjust_pvalues",
    "rank_correlation",
    "VERDICTS",
    "claim_verdict",
    "format_effect",
    "detectable_effect",
    "tost_power",
]

_ALTERNATIVES = ("two-sided", "larger", "smaller")
#: The three verdicts of a pre-registered claim.
VERDICTS = ("supported", "contradicted", "undecided")


def _vector(name: str, values, minimum: int = 2) -> np.ndarray:
    """``values`` as a finite 1-D float64 array of at least ``minimum`` entries."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size < minimum or not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be a finite 1-D array of at least {minimum} numbers")
    return x


def _level(name: str, value) -> float:
    if not (isinstance(value, int | float) and 0.0 < value < 1.0):
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Effect:
    """An estimate with a standard error and the degrees of freedom of its t reference.

    Attributes
    ----------
    estimate, se : float
        The effect (e.g. a mean paired difference, a slope) and its standard error (>= 0).
    df : float
        Degrees of freedom of the t distribution (clusters - 1).
    n_clusters : int
        Number of datasets behind it.
    """

    estimate: float
    se: float
    df: float
    n_clusters: int

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Return the two-sided t interval ``estimate -+ t_{df} se`` at ``confidence``."""
        q = stats.t.ppf(0.5 + _level("confidence", confidence) / 2, self.df)
        return self.estimate - q * self.se, self.estimate + q * self.se

    def pvalue(self, alternative: str = "two-sided", null: float = 0.0) -> float:
        """Return the t-test p-value of ``effect = null`` ("larger": effect > null)."""
        if alternative not in _ALTERNATIVES:
            raise ValueError(f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}")
        diff = self.estimate - null
        if self.se == 0:  # a constant effect: decided by its sign alone (rounding-level diff is 0)
            if abs(diff) <= 64 * np.finfo(np.float64).eps * max(1.0, abs(self.estimate), abs(null)):
                diff = 0.0
            larger, smaller = float(diff <= 0), float(diff >= 0)
        else:
            t = diff / self.se
            larger, smaller = stats.t.sf(t, self.df), stats.t.cdf(t, self.df)
        if alternative == "larger":
            return float(larger)
        if alternative == "smaller":
            return float(smaller)
        return float(min(1.0, 2 * min(larger, smaller)))

    def shifted(self, offset: float) -> Effect:
        """Return the same effect plus a known constant (e.g. a difference of log10 |G|)."""
        return Effect(self.estimate + float(offset), self.se, self.df, self.n_clusters)


@dataclass(frozen=True)
class Equivalence:
    """Two one-sided tests of ``low < effect < upp``.

    Attributes
    ----------
    pvalue : float
        The TOST p-value, the larger of the two one-sided ones.
    p_low, p_upp : float
        p-values of ``effect <= low`` against ``> low``, and of ``effect >= upp`` against ``< upp``.
    low, upp : float
        The equivalence margins.
    """

    pvalue: float
    p_low: float
    p_upp: float
    low: float
    upp: float


def cluster_means(values, clusters) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``values`` per cluster: returns (sorted cluster labels, their means)."""
    v = _vector("values", values, 1)
    c = np.asarray(clusters)
    if c.shape != v.shape:
        raise ValueError(f"clusters must have the shape of values {v.shape}, got {c.shape}")
    labels, inverse = np.unique(c, return_inverse=True)
    sums = np.bincount(inverse, weights=v)
    return labels, sums / np.bincount(inverse)


def paired_effect(a, b=None) -> Effect:
    """Mean of ``a - b`` over clusters (one value each), with its t standard error.

    Parameters
    ----------
    a, b : array_like, shape (n,)
        One value per cluster of each arm, in the same cluster order (n >= 2);
        ``b`` None: a one-sample effect of ``a``.

    Returns
    -------
    Effect
        ``se = sd(a - b, ddof=1) / sqrt(n)``, ``df = n - 1``: the paired t-test.
    """
    d = _vector("a", a)
    if b is not None:
        y = _vector("b", b)
        if y.shape != d.shape:
            raise ValueError(f"a and b must have the same length, got {d.size} and {y.size}")
        d = d - y
    return Effect(float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size)), d.size - 1, d.size)


def clustered_slope(y, x, clusters) -> Effect:
    """Slope of ``y ~ 1 + x`` by OLS with a cluster-robust standard error (statsmodels).

    Parameters
    ----------
    y, x : array_like, shape (n,)
        Responses and the regressor (e.g. log2 m), finite; ``x`` not constant.
    clusters : array_like, shape (n,)
        The dataset of each row (at least 2 distinct).

    Returns
    -------
    Effect
        The slope, its cluster-robust SE (statsmodels' small-sample correction
        ``G/(G-1) (n-1)/(n-2)``) and ``df = G - 1``.
    """
    import statsmodels.api as sm

    y = _vector("y", y, 3)
    x = _vector("x", x, 3)
    groups = np.unique(np.asarray(clusters), return_inverse=True)[1]
    if x.shape != y.shape or groups.shape != y.shape:
        raise ValueError("y, x and clusters must have the same length")
    if np.ptp(x) == 0:
        raise ValueError("x is constant: no slope to fit")
    n_groups = int(groups.max()) + 1
    if n_groups < 2:
        raise ValueError("clusters must hold at least 2 distinct datasets")
    fit = sm.OLS(y, sm.add_constant(x)).fit(cov_type="cluster", cov_kwds={"groups": groups})
    return Effect(float(fit.params[1]), float(fit.bse[1]), n_groups - 1, n_groups)


def tost(effect: Effect, low: float, upp: float) -> Equivalence:
    """Two one-sided t tests of equivalence ``low < effect < upp`` on an estimate and its SE."""
    if not low < upp:
        raise ValueError(f"low must be below upp, got {low!r} and {upp!r}")
    p_low = effect.pvalue("larger", null=low)
    p_upp = effect.pvalue("smaller", null=upp)
    return Equivalence(max(p_low, p_upp), p_low, p_upp, float(low), float(upp))


def paired_tost(a, b, low: float, upp: float) -> Equivalence:
    """Run statsmodels' ``ttost_paired`` of ``low < mean(a - b) < upp`` (one value per cluster)."""
    from statsmodels.stats.weightstats import ttost_paired

    x, y = _vector("a", a), _vector("b", b)
    if x.shape != y.shape:
        raise ValueError(f"a and b must have the same length, got {x.size} and {y.size}")
    if not low < upp:
        raise ValueError(f"low must be below upp, got {low!r} and {upp!r}")
    p, lower, upper = ttost_paired(x, y, low, upp)
    return Equivalence(float(p), float(lower[1]), float(upper[1]), float(low), float(upp))


def adjust_pvalues(pvalues, method: str = "holm", alpha: float = 0.05) -> np.ndarray:
    """Multiplicity-adjusted p-values (``statsmodels.stats.multitest.multipletests``).

    Parameters
    ----------
    pvalues : array_like, shape (k,)
        The family's p-values, in [0, 1] (k >= 1).
    method : str
        A method of ``multipletests`` ("holm", "bonferroni", "fdr_bh", ...).
    alpha : float
        The family-wise level (does not change Holm's adjusted values).

    Returns
    -------
    numpy.ndarray, shape (k,)
        Adjusted p-values; reject where they are below ``alpha``.
    """
    from statsmodels.stats.multitest import multipletests

    p = _vector("pvalues", pvalues, 1)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("pvalues must lie in [0, 1]")
    try:
        return multipletests(p, alpha=_level("alpha", alpha), method=method)[1]
    except ValueError:
        raise ValueError(f"method {method!r} is not a method of multipletests") from None


def rank_correlation(
    x, y, method: str = "spearman", n_resamples: int = 100_000, seed: int = 0
) -> tuple[float, float]:
    """Rank correlation with a permutation p-value (exact when n! <= ``n_resamples``).

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Paired finite values, n >= 3, neither constant (ties allowed).
    method : {"spearman", "kendall"}
        Spearman's rho or Kendall's tau-b.
    n_resamples : int
        Permutations; all n! of them when n! does not exceed it (exact p-value).
    seed : int
        Seed of the random permutations (large n only).

    Returns
    -------
    (float, float)
        The statistic and its two-sided p-value.
    """
    x, y = _vector("x", x, 3), _vector("y", y, 3)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        raise ValueError("x and y must not be constant: a rank correlation is undefined")
    if method not in ("spearman", "kendall"):
        raise ValueError(f"method must be 'spearman' or 'kendall', got {method!r}")
    ry = stats.rankdata(y) - (y.size + 1) / 2

    def spearman(xs, axis=-1):  # Pearson correlation of average ranks, vectorised over resamples
        rx = stats.rankdata(xs, axis=axis)
        rx = rx - rx.mean(axis=axis, keepdims=True)
        return (rx * ry).sum(axis=axis) / np.sqrt((rx * rx).sum(axis=axis) * (ry * ry).sum())

    def kendall(xs):
        return stats.kendalltau(xs, y).statistic

    # permuting x alone enumerates the n! pairings (exact when n! <= n_resamples)
    res = stats.permutation_test(
        (x,), spearman if method == "spearman" else kendall, permutation_type="pairings",
        n_resamples=n_resamples, vectorized=method == "spearman", alternative="two-sided",
        rng=np.random.default_rng(seed),
    )  # fmt: skip
    return float(res.statistic), float(res.pvalue)


def claim_verdict(
    predicted: int, estimate: float, p_difference: float, p_equivalence=None, alpha: float = 0.05
) -> str:
    """Return the verdict of a pre-registered claim from its (multiplicity-adjusted) tests.

    Parameters
    ----------
    predicted : {1, -1, 0}
        The claim: the effect is positive, negative, or absent (no difference).
    estimate : float
        The effect's estimate (its sign is the direction found).
    p_difference : float
        p-value of the two-sided difference test (``effect = 0``).
    p_equivalence : float, optional
        p-value of the TOST with the pre-registered margin (None: not run).
    alpha : float
        Level of both tests.

    Returns
    -------
    str
        For a predicted sign: "supported" when the difference is significant
        with that sign; "contradicted" when it is significant with the other
        sign, or when the effect is shown equivalent to 0 within the margin
        (the predicted difference is absent); "undecided" otherwise. For
        "no difference": "supported" when equivalence is shown, "contradicted"
        when the difference is significant (and equivalence is not shown),
        "undecided" otherwise: non-significance alone never supports it.
    """
    if predicted not in (1, -1, 0):
        raise ValueError(f"predicted must be 1, -1 or 0, got {predicted!r}")
    alpha = _level("alpha", alpha)
    different = p_difference < alpha
    equivalent = p_equivalence is not None and p_equivalence < alpha
    if predicted == 0:
        return "supported" if equivalent else "contradicted" if different else "undecided"
    if different:
        return "supported" if np.sign(estimate) == predicted else "contradicted"
    return "contradicted" if equivalent else "undecided"


def format_effect(value: float, low: float, high: float, digits: int = 2) -> str:
    """Return ``"+v.vv [+l.ll, +h.hh]"``: an estimate and its interval, signed, fixed decimals."""
    return f"{value:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def detectable_effect(
    n: int, alpha: float = 0.05, power: float = 0.8, alternative: str = "two-sided"
) -> float:
    """Smallest standardized paired effect (mean / SD) a t-test on ``n`` datasets detects.

    ``statsmodels.stats.power.TTestPower().solve_power`` for ``effect_size``.
    """
    from statsmodels.stats.power import TTestPower

    if n < 2:
        raise ValueError(f"n must be at least 2, got {n!r}")
    return float(
        TTestPower().solve_power(
            nobs=n, alpha=_level("alpha", alpha), power=_level("power", power),
            alternative=alternative,
        )
    )  # fmt: skip


def tost_power(margin_sd: float, n: int, alpha: float = 0.05) -> float:
    """Power of the paired TOST to show equivalence when the true effect is 0 (a lower bound).

    ``margin_sd`` is the margin in units of the SD of the paired differences;
    each one-sided test has the power of a one-sided t-test of effect
    ``margin_sd`` (``TTestPower``), and the TOST's power is at least
    ``1 - 2 (1 - that)`` (both must reject).
    """
    from statsmodels.stats.power import TTestPower

    if not margin_sd > 0:
        raise ValueError(f"margin_sd must be > 0, got {margin_sd!r}")
    one = TTestPower().power(effect_size=margin_sd, nobs=n, alpha=alpha, alternative="larger")
    return float(max(0.0, 1.0 - 2.0 * (1.0 - one)))
