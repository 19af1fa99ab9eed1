"""Claim families on critical_points tables: matching, strata, incomplete tables, quality (hand-built)."""

import math

import numpy as np
import pytest

from lossbounds.experiments import suite as S

MARGINS = {"n_crit_0": 0.176, "n_crit_1": 0.176, "n_crit_2": 0.176, "persistent_minima_2": 0.176,
           "slope_m_next": 0.088}  # fmt: skip


def _table(n_seeds=6):
    """Arms a and b on ``n_seeds`` datasets x m in {8, 32} x lambda in {0, 1e-3, 1e-2}.

    Arm b has 1 minimum; arm a has 10 ** (0.5 + 0.1 seed) at m = 8 and twice that at m = 32
    (lambda > 0); at lambda = 0 the full counts are NaN. |G| = 10 for a, 1 for b.
    """
    rows = []
    for seed in range(n_seeds):
        for m in (8, 32):
            for lam in (0.0, 1e-3, 1e-2):
                for arm in ("a", "b"):
                    base = 10 ** (0.5 + 0.1 * seed) * (2 if m == 32 else 1) if arm == "a" else 1.0
                    full = math.nan if lam == 0 else base * (10 if arm == "a" else 1)
                    rows.append(dict(
                        activation=arm, seed=seed, samples=m, l2=lam, n_crit_0=base,
                        n_crit_1=int(seed % 2), n_crit_2=0,
                        n_crit_0_full=full, n_crit_1_full=full, n_crit_2_full=full,
                        persistent_minima_2=1.0, log10_khovanskii=2.0 if arm == "a" else 1.0,
                        log10_zell_expression=2.0 if arm == "a" else 1.0,
                        log10_group_order=1.0 if arm == "a" else 0.0,
                        n_merges=4, n_fallback=1 if lam == 0 else 0, saturated=int(seed > 0),
                        saturated_1=1, saturated_2=1, saturated_tree=1, tree_converged=int(lam > 0),
                        cpu_process_seconds=float(seed + 1), measurement="critical_points",
                    ))  # fmt: skip
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


A, B = {"activation": "a"}, {"activation": "b"}


def test_matched_differences_average_the_cells_of_each_dataset():
    t = _table()
    pos = S.select(t, l2=[1e-3, 1e-2])
    seeds, means, matched, cells = S.matched_differences(pos, "n_crit_0_full", A, B)
    # per dataset: mean over m = 8, 32 (and both lambda) of 1.5 + 0.1 seed + {0, log10 2}
    expected = 1.5 + 0.1 * np.arange(6) + math.log10(2) / 2
    np.testing.assert_allclose(means, expected, rtol=1e-12)
    assert seeds.tolist() == list(range(6)) and matched == 6 and cells == 2 * 6 * 4
    # at lambda = 0 the full count is NaN: matched datasets, none defined
    seeds0, means0, matched0, _ = S.matched_differences(S.select(t, l2=0.0), "n_crit_0_full", A, B)
    assert matched0 == 6 and seeds0.size == 0 and means0.size == 0


def test_growth_is_a_slope_per_doubling():
    t = S.select(_table(), activation="a", l2=[1e-3, 1e-2])
    comp = S.Comparison("growth", {"samples": 32}, {"samples": 8}, scale=2.0, margin="slope_m_next",
                        kind="slope")  # fmt: skip
    tests = S.run_family(t, [comp], [S.Stratum("all", {})], MARGINS, counts=["n_crit_0_full"])
    # a doubles from m = 8 to 32 (two doublings): log10 2 / 2 per doubling on every dataset
    assert tests[0].estimate == pytest.approx(math.log10(2) / 2)
    assert tests[0].effect.se == pytest.approx(0.0, abs=1e-15) and tests[0].predicted == 0
    # a test that runs on part of its cells says how many it left out
    t["n_crit_0_full"] = np.where(t["seed"] == 0, np.nan, t["n_crit_0_full"])
    (test,) = S.run_family(t, [comp], [S.Stratum("all", {})], MARGINS, counts=["n_crit_0_full"])
    assert test.effect.n_clusters == 5 and "4 of 24 cells undefined, left out" in test.note
    # beyond MAX_UNDEFINED of the cells the defined ones are a selection on the outcome: no test
    # (7 of 24 cells: 6 datasets remain, enough to run, but the count is undefined on 29 %)
    gone = np.isin(t["seed"], [1, 2, 3]) & (t["samples"] == 8) & (t["l2"] == 1e-3)
    t["n_crit_0_full"] = np.where(gone, np.nan, t["n_crit_0_full"])
    (test,) = S.run_family(t, [comp], [S.Stratum("all", {})], MARGINS, counts=["n_crit_0_full"])
    assert 7 / 24 > S.MAX_UNDEFINED and test.verdict == S.UNDEFINED and test.effect is None
    assert "7 of 24 cells undefined (> 25%)" in test.note


def test_run_family_marks_incomplete_and_undefined_tests():
    t = _table()
    comp = S.Comparison("a - b", A, B)
    strata = S.lambda_strata(t)
    tests = S.run_family(t, [comp], strata, MARGINS)
    by = {(x.claim.split(" | ")[1], x.count): x for x in tests}
    assert by["lambda > 0", "minima"].verdict is None  # ran, to be decided
    assert by["lambda > 0", "minima"].predicted == 1  # bound(a) > bound(b)
    assert by["lambda = 0", "minima"].verdict == S.UNDEFINED
    assert by["lambda = 0", "persistent"].verdict is None  # defined at lambda = 0
    assert "not converged" in by["lambda = 0", "persistent"].note
    few = S.select(t, seed=[0, 1, 2, 3])  # 4 datasets < MIN_DATASETS
    assert all(x.verdict == S.INCOMPLETE for x in S.run_family(few, [comp], strata, MARGINS))
    assert all(x.verdict == S.INCOMPLETE for x in S.run_family(None, [comp], strata, MARGINS))
    # the prediction comes from the bounds (e.g. the spec's) even without a table
    missing = S.run_family(None, [comp], strata, MARGINS, bounds=t)
    assert all(x.predicted == 1 and x.verdict == S.INCOMPLETE for x in missing)


def test_tost_of_a_family_test_agrees_with_statsmodels_ttost_paired():
    from statsmodels.stats.weightstats import ttost_paired

    t = _table(8)
    rng = np.random.default_rng(3)
    t["persistent_minima_2"] = t["persistent_minima_2"] + rng.integers(0, 3, size=t["seed"].size)
    (test,) = S.run_family(t, [S.Comparison("a - b", A, B)], [S.Stratum("l2>0", {"l2": [1e-3, 1e-2]})],
                           MARGINS, counts=["persistent_minima_2"])  # fmt: skip
    pos = S.select(t, l2=[1e-3, 1e-2])
    ya = np.array([np.log10(S.select(pos, activation="a", seed=s)["persistent_minima_2"]).mean()
                   for s in range(8)])  # fmt: skip
    yb = np.array([np.log10(S.select(pos, activation="b", seed=s)["persistent_minima_2"]).mean()
                   for s in range(8)])  # fmt: skip
    p = ttost_paired(ya, yb, -0.176, 0.176)[0]
    assert test.p_equivalence == pytest.approx(p, rel=1e-10)
    assert test.estimate == pytest.approx(np.mean(ya - yb))


def test_decide_family_runs_holm_over_the_tests_that_ran_only():
    t = _table()
    tests = S.run_family(t, [S.Comparison("a - b", A, B)], S.lambda_strata(t), MARGINS)
    decided = S.decide_family(tests)
    ran = [x for x in decided if x.effect is not None]
    assert len(ran) == 5 and all(x.family_size == 10 for x in decided)  # 4 at lambda > 0, 1 at 0
    assert [x.verdict for x in decided if x.effect is None] == [S.UNDEFINED] * 3
    # a constant +1.5.. difference with predicted +: supported; persistent equal: contradicted (TOST)
    by = {(x.claim.split(" | ")[1], x.count): x.verdict for x in decided}
    assert by["lambda > 0", "minima"] == "supported"
    assert by["lambda > 0", "persistent"] == "contradicted"
    assert S.stated_mismatches(decided, {("a - b | lambda > 0", "minima"): "supported"}) == []
    assert S.stated_mismatches(decided, {("a - b | lambda > 0", "minima"): "undecided"})


def test_bound_prediction_reads_the_sign_and_refuses_a_change():
    t = _table()
    assert S.bound_prediction(t, "log10_khovanskii", A, B) == 1
    assert S.bound_prediction(t, "log10_khovanskii", B, A) == -1
    t["log10_khovanskii"] = np.where(t["samples"] == 8, 1.0, -1.0) * (t["activation"] == "a")
    with pytest.raises(ValueError, match="changes"):
        S.bound_prediction(t, "log10_khovanskii", A, B)


def test_lambda_strata_keep_lambda_zero_apart():
    t = _table()
    names = [s.name for s in S.lambda_strata(t, "activation")]
    assert names == ["lambda > 0, activation a", "lambda = 0, activation a",
                     "lambda > 0, activation b", "lambda = 0, activation b"]  # fmt: skip
    assert S.lambda_strata(t)[0].where == {"l2": [1e-3, 1e-2]}


def test_quality_table_fractions_and_cpu_median():
    t = _table()
    rows = S.quality_table(t, S.lambda_strata(t))
    pos, zero = rows
    assert pos["fallback"] == 0.0 and zero["fallback"] == pytest.approx(1 / 4)
    assert zero["tree_converged"] == 0.0 and pos["tree_converged"] == 1.0
    assert pos["saturated"] == pytest.approx(5 / 6) and pos["cpu_median"] == pytest.approx(3.5)
    assert pos["found_1"] == pytest.approx(0.5) and pos["found_2"] == 0.0
    report = S.quality_report(rows)
    assert "lambda = 0: fallback merges 25% > 10%" in report
    t["saturated_1"] = np.zeros_like(t["saturated_1"])
    report = S.quality_report(S.quality_table(t, S.lambda_strata(t)))
    assert (
        "lambda > 0: saturated_1 in 0% of cells < 80% (a class of index 1 found in 50%)" in report
    )


def test_robustness_spread_and_missing_tables(tmp_path):
    t = _table()
    spread = S.robustness_spread(t, {"activation": "a", "l2": 1e-3, "samples": 8}, ["n_crit_0"])
    values = 10 ** (0.5 + 0.1 * np.arange(6))
    assert spread["n_crit_0"] == pytest.approx((values[0], np.median(values), values[-1], 6))
    assert S.robustness_spread(None, {}, ["n_crit_0"]) == {}
    table, why = S.load_claim_table(tmp_path / "none")
    assert table is None and "no table" in why
    (tmp_path / "results.csv").write_text("measurement,seed\nmerge_tree,0\n")
    table, why = S.load_claim_table(tmp_path)
    assert table is None and "merge_tree" in why


def test_dataset_means_and_power_summary():
    from scipy import stats

    from lossbounds.experiments.inference import detectable_effect

    t = S.select(_table(), activation="a", l2=1e-3)
    means = S.dataset_means(t, "n_crit_0", ("samples",))
    v = 0.5 + 0.1 * np.arange(6)
    half = stats.t.ppf(0.975, 5) * v.std(ddof=1) / math.sqrt(6)
    assert means[(8,)][:4] == pytest.approx((v.mean(), v.mean() - half, v.mean() + half, 6))
    # a setting whose count is undefined in more than MAX_UNDEFINED of its cells is not shown
    t["n_crit_0"] = np.where((t["samples"] == 8) & (t["seed"] < 2), np.nan, t["n_crit_0"])
    means = S.dataset_means(t, "n_crit_0", ("samples",))
    assert 2 / 6 > S.MAX_UNDEFINED and np.isnan(means[(8,)][0]) and means[(8,)][3] == 0
    assert means[(32,)][3] == 6
    text = S.power_summary([], n=20)
    assert f"{detectable_effect(20) * 0.15:.3f}" in text and "pilot" in text


def test_plots_name_every_series():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lossbounds.plot import plot_dataset_means, plot_quality

    t = _table()
    ax = plot_quality(S.quality_table(t, S.lambda_strata(t)))
    labels = [x.get_text() for x in ax.get_legend().get_texts()]
    assert "fallback merges / merges" in labels and "target: saturated >= 80%" in labels
    means = S.dataset_means(S.select(t, l2=1e-3), "n_crit_0", ("activation", "samples"))
    ax = plot_dataset_means(means, [8, 32], labels={("a",): "arm a", ("b",): "arm b"})
    labels = [x.get_text() for x in ax.get_legend().get_texts()]
    assert {"arm a", "arm b", "hollow: unrefined merges (upper bound)"} <= set(labels)
    plt.close("all")


def test_spec_bounds_and_prediction_table_read_the_spec():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    b = S.spec_bounds(root / "sweeps" / "claims_l2.toml")
    # 1-4-1 and 2-4-1 networks: N = 3h + 1 + n h = 13 and 17 (hand count)
    assert sorted(set(b["n_params"].tolist())) == [13, 17]
    # lambda does not enter the format (beta >= 2): one bound for every lambda
    comp = S.Comparison("1e-2 vs 0", {"l2": 1e-2}, {"l2": 0.0})
    assert S.bound_prediction(b, "log10_khovanskii", comp.a, comp.b) == 0
    text = S.prediction_table(b, [comp, S.Comparison("m", {"samples": 40}, {"samples": 8})])
    assert "a = b; a = b" in text and "a > b; a > b" in text


def test_full_counts_are_masked_by_the_old_reason_not_by_value():
    # rows of the old core (|G| > limit, reason "group order ... > exact_limit") left a full
    # count defined (0) where no class exists: masking every such row keeps a zero of a
    # large-group arm from entering alone
    t = _table()
    t["log10_group_order"] = np.where(t["activation"] == "a", math.log10(2304), 0.0)
    t["n_crit_1_full"] = np.where(t["activation"] == "a", np.where(t["seed"] % 2, np.nan, 0.0), 2.0)
    t["full_undefined"] = np.where(t["activation"] == "a", "group order 2304 > exact_limit 512", "")
    masked = S.mask_group_limit(t, "n_crit_1_full", exact_limit=512)
    assert np.all(np.isnan(masked["n_crit_1_full"][t["activation"] == "a"]))
    assert np.all(masked["n_crit_1_full"][t["activation"] == "b"] == 2.0)
    (test,) = S.run_family(t, [S.Comparison("a - b", A, B)], [S.Stratum("l2>0", {"l2": [1e-3, 1e-2]})],
                           MARGINS, counts=["n_crit_1_full"])  # fmt: skip
    assert test.verdict == S.UNDEFINED
    # rows of the new core (stabiliser search: |G| > limit, counts defined) keep their values
    t["n_crit_1_full"] = np.where(t["activation"] == "a", 2304.0, 2.0)
    t["full_undefined"] = np.full(len(t["seed"]), "")
    kept = S.mask_group_limit(t, "n_crit_1_full", exact_limit=512)
    assert np.all(kept["n_crit_1_full"][t["activation"] == "a"] == 2304.0)
    # a degenerate class is not a group limit: its row is left as measured
    t["full_undefined"] = np.where(t["activation"] == "a", "degenerate class of index 1", "")
    assert np.all(S.mask_group_limit(t, "n_crit_1_full")["n_crit_1_full"] == t["n_crit_1_full"])
    # without the reason column the mask falls back to |G| > limit
    del t["full_undefined"]
    by_order = S.mask_group_limit(t, "n_crit_1_full", exact_limit=512)
    assert np.all(np.isnan(by_order["n_crit_1_full"][t["activation"] == "a"]))
    assert np.all(by_order["n_crit_1_full"][t["activation"] == "b"] == 2.0)


def test_persistent_lowest_drops_fallback_bars_and_the_report_marks_fragile_verdicts():
    t = _table(n_seeds=8)
    # arm a: 3 or 4 bars, all but one from fallback merges; arm b: 1 bar, refined
    a = t["activation"] == "a"
    t["persistent_minima_2"] = np.where(a, 3.0 + t["seed"] % 2, 1.0)
    t["n_fallback"] = np.where(a, t["persistent_minima_2"] - 1, 0)
    t["persistent_minima_2"][0] = 0.0  # a cell without minima keeps 0
    low = S.persistent_lowest(t)
    assert low["persistent_minima_2"][0] == 0.0 and np.all(low["persistent_minima_2"][1:] == 1.0)
    assert low["n_crit_0_full"] is t["n_crit_0_full"]  # every other column untouched
    t["persistent_minima_2"][0] = 3.0
    comp, strata = (
        [S.Comparison("a - b", A, B, predicted=0)],
        [S.Stratum("l2>0", {"l2": [1e-3, 1e-2]})],
    )
    measured = S.decide_family(S.run_family(t, comp, strata, MARGINS), 0.05)
    lowest = S.decide_family(S.run_family(S.persistent_lowest(t), comp, strata, MARGINS), 0.05)
    text = S.sensitivity_report(measured, lowest)
    # as measured a has 3-4 times b's bars (contradicted); with the fallback bars dropped they are equal
    assert "contradicted" in text and "supported" in text and text.splitlines()[1].endswith("*")
