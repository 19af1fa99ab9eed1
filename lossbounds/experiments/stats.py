"""Statistics of measured trends: bootstrap intervals, paired tests, rank correlations.

A trend claimed from measurements is a statistic over many datasets (seeds):
an estimate with a confidence interval (:func:`bootstrap_ci`), a paired test
across datasets when two settings are measured on the same data
(:func:`paired_test`), a monotone-trend test (:func:`trend_test`), and the
rank correlation between a bound and a measured complexity across cells
(:func:`spearman_ci`). Every function takes plain arrays, refuses non-finite
input and seeds its resampling, so results are reproducible.

These functions treat their inputs as independent. A claim table has several
rows per dataset, so the claims are tested with the dataset as the cluster by
:mod:`lossbounds.experiments.inference` and :mod:`lossbounds.experiments.verdicts`
(statsmodels: paired t on per-dataset means, cluster-robust slopes, TOST, Holm).

All intervals are two-sided at level ``confidence``; bootstrap intervals use
``scipy.stats.bootstrap`` (BCa where the sample allows it, percentile when the
statistic is constant on most resamples, as with integer counts that tie).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from lossbounds._checks import check_int

__all__ = [
    "Estimate",
    "bootstrap_ci",
    "PairedTest",
    "paired_test",
    "RankCorrelation",
    "spearman_ci",
    "TrendTest",
    "trend_test",
]

_STATISTICS = {"mean": np.mean, "median": np.median}
_ALTERNATIVES = ("two-sided", "greater", "less")


def _finite_sample(name: str, values, minimum: int = 2) -> np.ndarray:
    """``values`` as a 1-D float64 array of at least ``minimum`` finite numbers."""
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1-D array of numbers, got {values!r}") from None
    if x.ndim != 1 or x.size < minimum:
        raise ValueError(
            f"{name} must be a 1-D array of at least {minimum} numbers, got shape {x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite (no NaN or infinite values)")
    return x


def _check_confidence(confidence) -> float:
    if not (isinstance(confidence, int | float) and 0.0 < confidence < 1.0):
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")
    return float(confidence)


def _check_alternative(alternative) -> str:
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}")
    return alternative


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a two-sided confidence interval.

    Attributes
    ----------
    value : float
        The statistic on the whole sample.
    low, high : float
        Interval bounds (``low <= value <= high`` up to the bootstrap's own error).
    n : int
        Sample size.
    confidence : float
        Interval level, e.g. 0.95.
    """

    value: float
    low: float
    high: float
    n: int
    confidence: float

    def __str__(self) -> str:
        """Show the value and the interval to 3 significant digits."""
        return f"{self.value:.3g} [{self.low:.3g}, {self.high:.3g}]"

    def excludes(self, x: float) -> bool:
        """Return True when ``x`` lies outside the interval."""
        return bool(x < self.low or x > self.high)


def _spearman(x, y, axis=-1):
    """Spearman's rho along ``axis`` (Pearson correlation of average ranks), vectorised."""
    rx = stats.rankdata(x, axis=axis)
    ry = stats.rankdata(y, axis=axis)
    rx = rx - rx.mean(axis=axis, keepdims=True)
    ry = ry - ry.mean(axis=axis, keepdims=True)
    num = (rx * ry).sum(axis=axis)
    den = np.sqrt((rx * rx).sum(axis=axis) * (ry * ry).sum(axis=axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


#: Statistics that accept an ``axis`` keyword (bootstrap resamples them all at once).
_VECTORISED = (np.mean, np.median, _spearman)


def _bootstrap_interval(data, statistic, confidence, n_resamples, seed, paired=False):
    """(low, high) of a bootstrap interval; BCa, percentile when BCa is undefined.

    ``statistic`` takes the arrays of ``data`` and an ``axis`` keyword when
    ``_VECTORISED`` knows it (fast path), otherwise one resample at a time.
    """
    vectorized = any(statistic is f for f in _VECTORISED)
    rng = np.random.default_rng(seed)
    for method in ("BCa", "percentile"):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BCa on a degenerate sample: we fall back below
            try:
                res = stats.bootstrap(
                    data,
                    statistic,
                    n_resamples=n_resamples,
                    confidence_level=confidence,
                    method=method,
                    paired=paired,
                    vectorized=vectorized,
                    random_state=rng,
                )
            except ValueError:
                continue
        low, high = res.confidence_interval
        if np.isfinite(low) and np.isfinite(high):
            return float(low), float(high)
    return float("nan"), float("nan")


def bootstrap_ci(
    values, statistic="mean", confidence: float = 0.95, n_resamples: int = 4999, seed: int = 0
) -> Estimate:
    """Estimate of a statistic with a bootstrap confidence interval.

    Parameters
    ----------
    values : array_like, shape (n,)
        Finite measurements, one per dataset (n >= 2).
    statistic : {"mean", "median"} or callable
        The statistic; a callable takes a 1-D array and returns a float.
    confidence : float
        Two-sided level in (0, 1).
    n_resamples : int
        Bootstrap resamples (>= 100).
    seed : int
        Seed of the resampling.

    Returns
    -------
    Estimate
        For a constant sample the interval is the single value.

    Raises
    ------
    ValueError
        For fewer than two values, non-finite values or bad options.
    """
    x = _finite_sample("values", values)
    confidence = _check_confidence(confidence)
    n_resamples = check_int("n_resamples", n_resamples, 100)
    if isinstance(statistic, str):
        if statistic not in _STATISTICS:
            raise ValueError(
                f"statistic must be one of {sorted(_STATISTICS)} or a callable, got {statistic!r}"
            )
        statistic = _STATISTICS[statistic]
    elif not callable(statistic):
        raise ValueError(f"statistic must be 'mean', 'median' or a callable, got {statistic!r}")
    value = float(statistic(x))
    if np.all(x == x[0]):
        return Estimate(value, value, value, x.size, confidence)
    low, high = _bootstrap_interval((x,), statistic, confidence, n_resamples, seed)
    return Estimate(value, low, high, x.size, confidence)


@dataclass(frozen=True)
class PairedTest:
    """Comparison of two settings measured on the same datasets.

    Attributes
    ----------
    mean_difference : Estimate
        Mean of ``a - b`` with its bootstrap interval.
    greater, less, ties : int
        Number of datasets with ``a > b``, ``a < b`` and ``a == b``.
    statistic, pvalue : float
        Wilcoxon signed-rank statistic and p-value (``pvalue = 1`` when every
        difference is zero).
    alternative : str
        The alternative hypothesis for ``a - b`` ("greater": a tends to exceed b).
    """

    mean_difference: Estimate
    greater: int
    less: int
    ties: int
    statistic: float
    pvalue: float
    alternative: str

    @property
    def n(self) -> int:
        """Number of pairs."""
        return self.greater + self.less + self.ties


def paired_test(
    a, b, alternative: str = "two-sided", confidence: float = 0.95, seed: int = 0
) -> PairedTest:
    """Wilcoxon signed-rank test of paired measurements, with the mean difference.

    Parameters
    ----------
    a, b : array_like, shape (n,)
        Measurements of two settings on the same n datasets (n >= 2, finite).
    alternative : {"two-sided", "greater", "less"}
        Alternative hypothesis for the differences ``a - b``.
    confidence : float
        Level of the interval on the mean difference.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    PairedTest
        Zero differences are split between the signs (``zero_method="zsplit"``),
        which keeps ties from inflating the evidence.

    Raises
    ------
    ValueError
        If ``a`` and ``b`` differ in length or hold non-finite values.
    """
    x = _finite_sample("a", a)
    y = _finite_sample("b", b)
    if x.shape != y.shape:
        raise ValueError(f"a and b must have the same length, got {x.size} and {y.size}")
    alternative = _check_alternative(alternative)
    d = x - y
    diff = bootstrap_ci(d, "mean", confidence=confidence, seed=seed)
    if np.all(d == 0):
        statistic, pvalue = float("nan"), 1.0
    else:
        res = stats.wilcoxon(d, zero_method="zsplit", alternative=alternative)
        statistic, pvalue = float(res.statistic), float(res.pvalue)
    counts = int(np.sum(d > 0)), int(np.sum(d < 0)), int(np.sum(d == 0))
    return PairedTest(diff, *counts, statistic, pvalue, alternative)


@dataclass(frozen=True)
class RankCorrelation:
    """Spearman's rank correlation with a bootstrap interval over the pairs.

    Attributes
    ----------
    rho : Estimate
        The correlation and its interval (resampling pairs).
    pvalue : float
        Two-sided p-value of ``rho = 0`` (``scipy.stats.spearmanr``).
    """

    rho: Estimate
    pvalue: float


def spearman_ci(
    x, y, confidence: float = 0.95, n_resamples: int = 4999, seed: int = 0
) -> RankCorrelation:
    """Spearman's rho between two quantities across cells, with a bootstrap interval.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Paired finite values (e.g. log10 of a bound and a measured complexity
        per cell), n >= 3, neither constant.
    confidence : float
        Interval level.
    n_resamples : int
        Bootstrap resamples of the pairs (>= 100).
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    RankCorrelation

    Raises
    ------
    ValueError
        For unequal lengths, fewer than 3 pairs, non-finite or constant input.
    """
    x = _finite_sample("x", x, 3)
    y = _finite_sample("y", y, 3)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    for name, v in (("x", x), ("y", y)):
        if np.all(v == v[0]):
            raise ValueError(f"{name} is constant: a rank correlation is undefined")
    confidence = _check_confidence(confidence)
    n_resamples = check_int("n_resamples", n_resamples, 100)
    res = stats.spearmanr(x, y)
    low, high = _bootstrap_interval((x, y), _spearman, confidence, n_resamples, seed, paired=True)
    rho = Estimate(float(res.statistic), low, high, x.size, confidence)
    return RankCorrelation(rho, float(res.pvalue))


@dataclass(frozen=True)
class TrendTest:
    """Kendall's tau-b of a measurement against an ordered setting (e.g. m).

    Attributes
    ----------
    tau, pvalue : float
        The statistic and its p-value for ``alternative``.
    n : int
        Number of (setting, measurement) pairs.
    alternative : str
        "greater": the measurement grows with the setting.
    """

    tau: float
    pvalue: float
    n: int
    alternative: str


def trend_test(setting, measured, alternative: str = "two-sided") -> TrendTest:
    """Test for a monotone trend of ``measured`` in ``setting`` (Kendall's tau-b).

    Parameters
    ----------
    setting : array_like, shape (n,)
        The ordered setting of each measurement (ties allowed), not constant.
    measured : array_like, shape (n,)
        The measurements, finite.
    alternative : {"two-sided", "greater", "less"}
        "greater" tests for growth with the setting.

    Returns
    -------
    TrendTest
        A constant ``measured`` gives ``tau = 0`` and ``pvalue = 1``.

    Raises
    ------
    ValueError
        For unequal lengths, fewer than 3 pairs, non-finite or constant ``setting``.
    """
    x = _finite_sample("setting", setting, 3)
    y = _finite_sample("measured", measured, 3)
    if x.shape != y.shape:
        raise ValueError(
            f"setting and measured must have the same length, got {x.size} and {y.size}"
        )
    if np.all(x == x[0]):
        raise ValueError("setting is constant: there is no trend to test")
    alternative = _check_alternative(alternative)
    if np.all(y == y[0]):
        return TrendTest(0.0, 1.0, x.size, alternative)
    res = stats.kendalltau(x, y, alternative=alternative)
    return TrendTest(float(res.statistic), float(res.pvalue), x.size, alternative)
