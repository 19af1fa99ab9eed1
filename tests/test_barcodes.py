"""The barcode claim tests: per-dataset r, one-sided t, clustered slope, Holm, verdicts, bounds."""

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from lossbounds.experiments import barcodes as bc

MARGINS = {"r0": 0.1, "slope_r": 0.02}
ARCHS = ((2, 1, 7), (4, 1, 13), (4, 2, 33))  # (width, depth, N)


def _table(r, fallback=None, merges=None, archs=ARCHS, samples=(16, 48)):
    """A barcode table: r[a][s][k] for architecture a, dataset s, m = samples[k]."""
    cols = {c: [] for c in bc.BARCODE_COLUMNS}
    for a, (w, d, n) in enumerate(archs):
        for s in range(len(r[a])):
            for k, m in enumerate(samples):
                cols["seed"].append(s)
                cols["samples"].append(m)
                cols["width"].append(w)
                cols["hidden_layers"].append(d)
                cols["n_params"].append(n)
                cols["barcode_r"].append(r[a][s][k])
                cols["n_merges"].append(3 if merges is None else merges[a][s][k])
                cols["n_fallback"].append(0 if fallback is None else fallback[a][s][k])
    return {k: np.asarray(v) for k, v in cols.items()}


def _levels(values_per_arch, n_seeds):
    """r constant over m: r[a][s] = values_per_arch[a][s] at both m."""
    return [[[v[s], v[s]] for s in range(n_seeds)] for v in values_per_arch]


def test_per_dataset_r_averages_over_m_and_leaves_out_undefined_cells():
    nan = math.nan
    r = [
        [[0.1, 0.3], [nan, 0.5], [nan, nan]],
        [[0.2, 0.2], [0.4, 0.0], [0.6, 0.6]],
        [[0.0, 1.0], [0.5, 0.5], [0.3, 0.1]],
    ]
    fb = [[[0, 0], [0, 2], [0, 0]], [[1, 0], [0, 0], [0, 0]], [[0, 0], [0, 0], [0, 0]]]
    archs = bc.per_dataset_r(_table(r, fb))
    assert [a.architecture for a in archs] == [(2, 1), (4, 1), (4, 2)]
    a = archs[0]
    assert a.label == "2x1" and a.n_params == 7
    assert a.datasets.tolist() == [0, 1] and a.table_datasets.tolist() == [0, 1, 2]
    np.testing.assert_allclose(a.r, [0.2, 0.5])
    assert a.verified.tolist() == [True, False]
    assert (a.n_cells, a.n_undefined, a.n_merges, a.n_fallback) == (6, 3, 18, 2)
    np.testing.assert_allclose(archs[1].r, [0.2, 0.2, 0.6])
    assert archs[1].verified.tolist() == [False, True, True]


def test_per_dataset_r_rejects_a_table_without_the_columns():
    t = _table(_levels([[0.1, 0.2]] * 3, 2))
    del t["n_fallback"]
    with pytest.raises(ValueError, match="n_fallback"):
        bc.per_dataset_r(t)


def test_claim_1_is_the_one_sided_t_test_against_r0():
    rng = np.random.default_rng(0)
    low = 0.05 + 0.01 * rng.standard_normal(8)
    high = 0.3 + 0.05 * rng.standard_normal(8)
    mid = 0.1 + 0.1 * rng.standard_normal(8)
    archs = bc.per_dataset_r(_table(_levels([low, high, mid], 8)))
    tests = bc.level_tests(archs, 0.1)
    ref_low = stats.ttest_1samp(low, 0.1, alternative="less")
    ref_high = stats.ttest_1samp(high, 0.1, alternative="greater")
    assert tests[0].p == pytest.approx(ref_low.pvalue, rel=1e-10)
    assert tests[0].effect.estimate == pytest.approx(low.mean())
    assert tests[1].p == pytest.approx(ref_high.pvalue, rel=1e-10)
    decided = bc.decide_barcodes(tests)
    # Holm over the three one-sided p-values, by hand
    p = np.array([t.p for t in tests])
    order = np.argsort(p)
    holm = np.maximum.accumulate(np.minimum(1, (3 - np.arange(3)) * p[order]))
    np.testing.assert_allclose([decided[i].p_adj for i in order], holm)
    assert [t.verdict for t in decided[:2]] == ["supported", "contradicted"]
    assert decided[2].verdict == "undecided"
    assert all(t.family_size == 3 for t in decided)


def test_claim_2_slope_is_the_mean_of_per_dataset_slopes_with_its_clustered_se():
    rng = np.random.default_rng(1)
    G = 6
    x = np.log2([7, 13, 33])
    slopes = -0.05 + 0.02 * rng.standard_normal(G)
    values = [[0.4 + slopes[s] * (x[a] - x[0]) + 0.01 * rng.standard_normal() for s in range(G)]
              for a in range(3)]  # fmt: skip
    archs = bc.per_dataset_r(_table(_levels(values, G)))
    t = bc.slope_test(archs, 0.02)
    per = np.array([np.polyfit(x, [values[a][s] for a in range(3)], 1)[0] for s in range(G)])
    # balanced design: pooled OLS slope = mean of per-dataset slopes; cluster-robust SE =
    # SE of that mean x sqrt((n - 1) / (n - 2)) (statsmodels' small-sample factor, n = 3 G rows)
    n = 3 * G
    assert t.effect.estimate == pytest.approx(per.mean(), rel=1e-10)
    se = per.std(ddof=1) / math.sqrt(G) * math.sqrt((n - 1) / (n - 2))
    assert t.effect.se == pytest.approx(se, rel=1e-10)
    assert t.effect.df == G - 1 and t.n_datasets == G == t.n_table
    tt = t.effect.estimate / t.effect.se
    assert t.p == pytest.approx(2 * stats.t.sf(abs(tt), G - 1), rel=1e-10)
    p_eq = max(stats.t.sf((t.effect.estimate + 0.02) / se, G - 1),
               stats.t.cdf((t.effect.estimate - 0.02) / se, G - 1))  # fmt: skip
    assert t.p_equivalence == pytest.approx(p_eq, rel=1e-10)


def test_claim_2_verdicts_follow_the_slope():
    G, x = 10, np.log2([7, 13, 33])
    rng = np.random.default_rng(2)
    noise = 0.002 * rng.standard_normal((3, G))
    steep = [[0.5 - 0.1 * (x[a] - x[0]) + noise[a, s] for s in range(G)] for a in range(3)]
    flat = [[0.5 + noise[a, s] for s in range(G)] for a in range(3)]
    rising = [[0.1 + 0.1 * (x[a] - x[0]) + noise[a, s] for s in range(G)] for a in range(3)]
    verdict = {}
    for name, values in (("steep", steep), ("flat", flat), ("rising", rising)):
        tests = bc.barcode_claims(_table(_levels(values, G)), MARGINS)
        verdict[name] = tests[-1].verdict
        assert tests[-1].family_size == 3 + 2  # three levels, slope and its TOST
    # falling: predicted sign; flat within 0.02 per doubling: equivalence where a fall is claimed
    assert verdict == {"steep": "supported", "flat": "contradicted", "rising": "contradicted"}


def test_too_few_datasets_is_incomplete_and_too_few_bars_is_undefined():
    short = _table(_levels([[0.01, 0.02, 0.01]] * 3, 3))
    tests = bc.barcode_claims(short, MARGINS)
    assert [t.verdict for t in tests] == [bc.INCOMPLETE] * 4
    assert all(t.family_size == 0 for t in tests)
    nan = math.nan
    values = [[nan] * 6, [0.01, 0.02, 0.01, 0.03, 0.02, 0.01], [nan, nan, 0.2, nan, nan, nan]]
    tests = bc.barcode_claims(_table(_levels(values, 6)), MARGINS)
    # claim 2: one architecture with 5 or more datasets of defined r, one N: no slope
    assert [t.verdict for t in tests] == [bc.UNDEFINED, "supported", bc.UNDEFINED, bc.UNDEFINED]
    assert tests[0].n_table == 6 and tests[0].n_datasets == 0
    assert tests[1].family_size == 1
    assert "too few finite bars" in bc.report_barcodes(tests)
    with pytest.raises(ValueError, match="min_datasets"):
        bc.barcode_claims(short, MARGINS, min_datasets=1)
    with pytest.raises(ValueError, match="r0"):
        bc.level_tests(bc.per_dataset_r(short), -0.1)


def test_deaths_summary_and_bounded_r_by_hand():
    nan = math.nan
    r = [[[0.3, nan], [0.2, 0.4]]]
    fb = [[[1, 0], [0, 2]]]
    merges = [[[2, 0], [1, 4]]]
    t = _table(r, fb, merges, archs=ARCHS[:1])
    s = bc.deaths_summary(t)
    assert s == {"cells": 4, "undefined": 1, "undefined_fraction": 0.25, "merges": 7,
                 "fallback": 3, "fallback_fraction": 3 / 7, "cells_with_fallback": 2}  # fmt: skip
    b = bc.bounded_r(t)
    np.testing.assert_array_equal(b["barcode_r_verified"], [nan, nan, 0.2, nan])
    np.testing.assert_array_equal(b["barcode_r_lowest"], [0.0, nan, 0.2, 0.0])
    np.testing.assert_array_equal(b["barcode_r"], t["barcode_r"])  # the input is not changed


def test_sensitivity_shows_a_verdict_that_upper_bound_deaths_decide():
    rng = np.random.default_rng(3)
    G = 8
    high = [0.4 + 0.05 * rng.standard_normal(G) for _ in range(3)]
    r = _levels(high, G)
    # every cell of datasets 0..5 has an upper-bound death, datasets 6, 7 are verified
    fb = [[[1, 1] if s < 6 else [0, 0] for s in range(G)] for _ in range(3)]
    out = bc.sensitivity(_table(r, fb), MARGINS)
    assert list(out) == list(bc.SENSITIVITY)
    level = {k: [t.verdict for t in v[:3]] for k, v in out.items()}
    assert level["as measured"] == ["contradicted"] * 3
    assert level["verified cells only"] == [bc.UNDEFINED] * 3  # 2 datasets left
    assert level["upper-bound cells at r = 0"] == ["undecided"] * 3  # 6 of 8 at 0: mean 0.1


def test_plot_barcode_r_draws_r0_the_means_and_marks_upper_bound_datasets():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lossbounds.plot import plot_barcode_r

    values = [[0.05, 0.07, 0.06], [0.2, 0.3, 0.25], [0.01, 0.02, 0.03]]
    fb = [[[0, 0], [1, 0], [0, 0]], [[0, 0]] * 3, [[2, 2]] * 3]
    archs = bc.per_dataset_r(_table(_levels(values, 3), fb))
    ax = plot_barcode_r(archs, 0.1)
    assert ax.get_xlabel().startswith("N (parameters") and ax.get_ylabel().startswith("r =")
    names = [t.get_text() for t in ax.get_legend().get_texts()]
    assert names == ["dataset, deaths verified", "dataset, some death an upper bound (r too)",
                     "mean over datasets, 95% t interval", "r0 = 0.1 (pre-registered)"]  # fmt: skip
    r0_lines = [ln for ln in ax.get_lines() if list(ln.get_ydata()) == [0.1, 0.1]]
    assert len(r0_lines) == 1
    open_dots = [ln for ln in ax.get_lines() if ln.get_markerfacecolor() == "none"]
    assert sum(len(ln.get_xdata()) for ln in open_dots) == 1 + 3  # 2x1 dataset 1, every 4x2 one
    means = [c for c in ax.containers if type(c).__name__ == "ErrorbarContainer"]
    assert [float(c.lines[0].get_ydata()[0]) for c in means] == pytest.approx([0.06, 0.25, 0.02])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["7", "13", "33"]
    plt.close(ax.figure)


def test_claim_2_leaves_out_undefined_cells_and_balanced_keeps_common_datasets():
    nan = math.nan
    rng = np.random.default_rng(4)
    G = 6
    a0 = [nan] * G  # 2x1: one basin everywhere
    a1 = (0.3 + 0.02 * rng.standard_normal(G)).tolist()
    a2 = (0.2 + 0.02 * rng.standard_normal(G)).tolist()
    a2[0] = nan  # dataset 0 has no finite bar in 4x2
    archs = bc.per_dataset_r(_table(_levels([a0, a1, a2], G)))
    full = bc.slope_test(archs, 0.02)
    assert full.n_datasets == G and full.n_table == G
    # the same rows without the all-undefined architecture
    same = bc.slope_test(bc.per_dataset_r(_table(_levels([a1, a2], G), archs=ARCHS[1:])), 0.02)
    assert full.effect == same.effect
    bal = bc.slope_test(archs, 0.02, balanced=True)
    assert bal.n_datasets == G - 1 and bal.claim.endswith("(balanced)")
    # balanced, two N: the mean over datasets of the per-dataset difference / (log2 33 - log2 13)
    d = (np.array(a2[1:]) - np.array(a1[1:])) / (np.log2(33) - np.log2(13))
    assert bal.effect.estimate == pytest.approx(d.mean(), rel=1e-10)
    # an architecture with fewer than min_datasets datasets in the table: incomplete
    short = bc.per_dataset_r(
        _table([_levels([a1], G)[0], _levels([a2[:3]], 3)[0]], archs=ARCHS[1:])
    )
    t = bc.decide_barcodes([bc.slope_test(short, 0.02)])[0]
    assert t.n_table == 3 and t.verdict == bc.INCOMPLETE


def test_an_architecture_of_the_design_missing_from_the_table_is_incomplete():
    values = [[0.01, 0.02, 0.01, 0.03, 0.02, 0.01]] * 2
    t = _table(_levels(values, 6), archs=ARCHS[:2])
    expected = {(w, d): n for w, d, n in ARCHS}
    tests = bc.barcode_claims(t, MARGINS, expected=expected)
    assert [x.claim for x in tests[:3]] == ["claim 1: 2x1 (N = 7)", "claim 1: 4x1 (N = 13)",
                                             "claim 1: 4x2 (N = 33)"]  # fmt: skip
    assert [x.verdict for x in tests] == ["supported", "supported", bc.INCOMPLETE, bc.INCOMPLETE]
    assert tests[2].n_table == 0 and tests[3].n_table == 0
    with pytest.raises(ValueError, match="expected"):
        bc.per_dataset_r(t, expected={(2, 1): 8, (4, 1): 13})


def test_spec_architectures_reads_the_design_and_its_parameter_counts():
    spec = Path(__file__).resolve().parents[1] / "sweeps" / "barcodes_depth_width.toml"
    # N = h (n + 1) + (K - 1) h (h + 1) + h + 1 for n = 1 input, width h, depth K, one output
    assert bc.spec_architectures(spec) == {(2, 1): 7, (4, 1): 13, (8, 1): 25, (4, 2): 33,
                                           (4, 3): 53}  # fmt: skip


def test_full_space_barcode_sees_the_copies_of_the_minimum_that_the_quotient_merges():
    from lossbounds.experiments import load_spec
    from lossbounds.experiments.measurements import run_cell

    spec = load_spec(
        __import__("pathlib").Path(__file__).resolve().parents[1]
        / "sweeps"
        / "barcodes_depth_width.toml"
    )
    cell = dict(next(c for c in spec.cells if c["width"] == 2 and c["samples"] == 16), n_starts=16)
    quotient = run_cell(cell)
    full = bc.full_space_barcode(cell)
    # modulo G (|G| = 2^h h! = 8 for h = 2): one class, no finite bar, r undefined
    assert quotient["n_minima"] == 1 and quotient["n_merges"] == 0
    assert math.isnan(quotient["barcode_r"])
    # in R^N the same starts reach copies of that minimum: more minima, finite bars, the same L*
    assert 1 < full["n_minima"] <= 8 and 1 <= full["n_merges"] <= full["n_minima"] - 1
    assert full["best_loss"] == pytest.approx(quotient["best_loss"], rel=1e-9)
    assert full["start_loss"] == quotient["start_loss"]
    assert 0 <= full["barcode_r"] < 1
