"""Tests for lossbounds.topology.diagrams (and the diagram plots built on it).

Expected values are computed by hand from the bars of small diagrams.
"""

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lossbounds.plot import plot_barcode, plot_betti_curve, plot_diagram  # noqa: E402
from lossbounds.topology import diagrams as D  # noqa: E402

INF = np.inf

DGMS = [
    np.array([[0.0, INF], [1.0, 3.0], [2.0, 2.2]]),
    np.array([[1.5, 4.0], [2.5, INF]]),
]


def test_betti_numbers_by_hand():
    assert D.betti_numbers(DGMS, 1.0).tolist() == [2, 0]
    assert D.betti_numbers(DGMS, 2.0).tolist() == [3, 1]  # birth <= c
    assert D.betti_numbers(DGMS, 3.0).tolist() == [1, 2]  # c < death
    assert D.betti_numbers(DGMS, 2.1, min_persistence=0.5).tolist() == [2, 1]


def test_betti_numbers_outside_the_sampled_range():
    assert D.betti_numbers(DGMS, -10.0).tolist() == [0, 0]  # empty sublevel set
    assert D.betti_numbers(DGMS, 1e9).tolist() == [1, 1]  # infinite bars only
    with pytest.raises(ValueError, match="finite"):
        D.betti_numbers(DGMS, np.nan)
    with pytest.raises(ValueError, match="finite"):
        D.betti_numbers(DGMS, np.inf)


def test_betti_curve_and_persistent_betti_by_hand():
    curve = D.betti_curve(DGMS, [0.5, 2.1, 3.5, 4.5])
    np.testing.assert_array_equal(curve, [[1, 0], [3, 1], [1, 2], [1, 1]])
    assert D.persistent_betti_numbers(DGMS, 2.0, 2.5).tolist() == [2, 1]
    assert D.persistent_betti_numbers(DGMS, 2.5, 4.0).tolist() == [1, 1]
    with pytest.raises(ValueError, match="low must be <= high"):
        D.persistent_betti_numbers(DGMS, 3.0, 2.0)


def test_total_persistence_and_long_bars_by_hand():
    np.testing.assert_allclose(D.total_persistence(DGMS), [2.0 + 0.2, 2.5])
    np.testing.assert_allclose(D.total_persistence(DGMS, p=2), [4.0 + 0.04, 6.25])
    np.testing.assert_allclose(D.total_persistence(DGMS, infinite="cap", cap=5.0), [7.2, 5.0])
    with pytest.raises(ValueError, match="infinite bar"):
        D.total_persistence(DGMS, infinite="raise")
    with pytest.raises(ValueError, match="cap"):
        D.total_persistence(DGMS, infinite="cap")
    assert D.count_long_bars(DGMS, 1.0).tolist() == [2, 2]
    assert D.count_long_bars(DGMS, np.inf).tolist() == [1, 1]


def test_diagram_distance_finite_parts_by_hand():
    a, b = np.array([[0.0, 1.0]]), np.array([[0.0, 2.0]])
    # matched: L-inf distance 1; unmatched: max(0.5, 1.0) = 1
    assert D.diagram_distance(a, b) == pytest.approx(1.0)
    # Wasserstein (p=1, Euclidean ground metric): match = 1, unmatched 1/sqrt2 + 2/sqrt2
    assert D.diagram_distance(a, b, metric="wasserstein") == pytest.approx(1.0)
    assert D.diagram_distance(a, np.zeros((0, 2))) == pytest.approx(0.5)


def test_diagram_distance_handles_infinite_bars_without_warnings():
    a = np.array([[0.0, INF], [1.0, INF], [0.0, 1.0]])
    b = np.array([[0.2, INF], [1.5, INF], [0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert D.diagram_distance(a, b) == pytest.approx(0.5)
        assert D.diagram_distance(a, b, metric="wasserstein") == pytest.approx(0.7)
        assert D.diagram_distance(a, b[1:]) == INF
        per_dim = D.diagram_distance([a, a], [b, a])
    np.testing.assert_allclose(per_dim, [0.5, 0.0])


def test_bad_inputs_raise_value_errors():
    with pytest.raises(ValueError, match="list of"):
        D.betti_numbers(np.zeros((2, 2)), 0.0)
    with pytest.raises(ValueError, match="metric"):
        D.diagram_distance(DGMS[0], DGMS[0], metric="l2")


def test_plots_return_axis_and_draw_every_bar():
    fig, axes = plt.subplots(1, 3)
    assert plot_diagram(DGMS, ax=axes[0]) is axes[0]
    assert sum(len(c.get_offsets()) for c in axes[0].collections) == 5
    assert plot_barcode(DGMS, ax=axes[1]) is axes[1]
    assert sum(len(c.get_segments()) for c in axes[1].collections) == 5
    assert plot_betti_curve(DGMS, np.linspace(0, 5, 11), ax=axes[2]) is axes[2]
    assert len(axes[2].get_lines()) == 2
    plt.close(fig)
    ax = plot_barcode(DGMS, max_bars=1)
    assert "3 shorter bars" in ax.get_title()
    plt.close("all")


def _augmented_costs(a, b, ground):
    # (m + n) x (m + n): point-point, point-diagonal, diagonal-diagonal (0)
    m, n = len(a), len(b)
    big = np.full((m + n, m + n), np.inf)
    if ground == "linf":
        big[:m, :n] = np.abs(a[:, None, :] - b[None, :, :]).max(-1)
        to_diag_a, to_diag_b = (a[:, 1] - a[:, 0]) / 2, (b[:, 1] - b[:, 0]) / 2
    else:
        big[:m, :n] = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)
        to_diag_a, to_diag_b = (a[:, 1] - a[:, 0]) / np.sqrt(2), (b[:, 1] - b[:, 0]) / np.sqrt(2)
    big[np.arange(m), n + np.arange(m)] = to_diag_a
    big[m + np.arange(n), np.arange(n)] = to_diag_b
    big[m:, n:] = 0.0
    return big


def _brute_distances(a, b):
    from scipy.optimize import linear_sum_assignment

    w = _augmented_costs(a, b, "l2")
    r, c = linear_sum_assignment(w)
    wasserstein = w[r, c].sum()
    cost = _augmented_costs(a, b, "linf")
    for t in np.unique(cost[np.isfinite(cost)]):  # smallest t with a perfect matching
        r, c = linear_sum_assignment(np.where(cost <= t, 0.0, 1.0))
        if (cost[r, c] <= t).all():
            return t, wasserstein
    raise AssertionError("no matching")


@pytest.mark.parametrize("seed", range(6))
def test_diagram_distance_matches_brute_force_assignment(seed):
    rng = np.random.default_rng(seed)

    def diagram(n):
        b = np.round(rng.random(n), 2)  # ties
        return np.column_stack([b, b + np.round(rng.exponential(0.3, n), 2) + 0.01])

    a, b = diagram(int(rng.integers(0, 8))), diagram(int(rng.integers(1, 8)))
    bottleneck, wasserstein = _brute_distances(a, b)
    assert D.diagram_distance(a, b) == pytest.approx(bottleneck, abs=1e-12)
    assert D.diagram_distance(a, b, "wasserstein") == pytest.approx(wasserstein, abs=1e-12)
    # one infinite bar each, births 0.1 apart: + 0.1 to W1, max with 0.1 for bottleneck
    ai = np.vstack([a, [[0.2, INF]]])
    bi = np.vstack([b, [[0.3, INF]]])
    assert D.diagram_distance(ai, bi) == pytest.approx(max(bottleneck, 0.1), abs=1e-12)
    got = D.diagram_distance(ai, bi, "wasserstein")
    assert got == pytest.approx(wasserstein + 0.1, abs=1e-12)
