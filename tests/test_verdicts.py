"""Claim tests clustered by dataset, in both spaces, with Holm and verdicts (hand-built tables)."""

import math
from pathlib import Path

import numpy as np
import pytest

from lossbounds.experiments import verdicts as V

ROOT = Path(__file__).resolve().parents[1]


def _table():
    # two settings on 4 datasets x 2 values of m; |G| = 10 for "a", 1 for "b"
    rows = []
    counts_a = {
        (0, 6): 2,
        (0, 12): 4,
        (1, 6): 1,
        (1, 12): 2,
        (2, 6): 4,
        (2, 12): 4,
        (3, 6): 2,
        (3, 12): 1,
    }
    for (seed, m), c in counts_a.items():
        rows.append(("a", seed, m, c, 1.0))
        rows.append(("b", seed, m, 1, 0.0))
    cols = list(zip(*rows, strict=True))
    return {
        "arch": np.array(cols[0]), "seed": np.array(cols[1]), "samples": np.array(cols[2]),
        "n_minima": np.array(cols[3]), "log10_group_order": np.array(cols[4]),
        "bound": np.where(np.array(cols[0]) == "a", 2.0, 1.0),
    }  # fmt: skip


def test_paired_claim_averages_over_m_within_each_dataset():
    mod, full = V.paired_claim(_table(), "n_minima", {"arch": "a"}, {"arch": "b"}, 1, claim="a-b")
    per_seed = np.log10([math.sqrt(8), math.sqrt(2), 4.0, math.sqrt(2)])  # mean of log10 over m
    assert mod.estimate == pytest.approx(per_seed.mean())
    assert mod.effect.df == 3 and mod.effect.se == pytest.approx(per_seed.std(ddof=1) / 2)
    assert full.estimate == pytest.approx(per_seed.mean() + 1.0)  # log10 |G| shift, free orbits
    assert full.effect.se == pytest.approx(mod.effect.se) and not full.same


def test_same_group_marks_the_full_space_test_as_a_repeat():
    t = _table()
    t["log10_group_order"] = np.zeros_like(t["log10_group_order"])
    mod, full = V.paired_claim(t, "n_minima", {"arch": "a"}, {"arch": "b"}, 1, claim="a-b")
    assert full.same and full.estimate == pytest.approx(mod.estimate)
    decided = V.decide([mod, full])
    assert decided[0].family_size == 1  # the repeat does not enter the family
    assert decided[1].p_difference_adj == decided[0].p_difference_adj
    assert decided[1].verdict == decided[0].verdict


def test_slope_claim_on_a_noiseless_doubling():
    t = {
        "seed": np.repeat([0, 1, 2], 3), "samples": np.tile([4, 8, 16], 3),
        "n_minima": np.tile([1, 2, 4], 3) * np.repeat([1, 2, 3], 3),
        "log10_group_order": np.zeros(9),
    }  # fmt: skip
    mod, full = V.slope_claim(t, "n_minima", {}, 1, claim="growth")
    assert mod.estimate == pytest.approx(math.log10(2)) and mod.effect.se < 1e-8
    assert full.same
    assert V.decide([mod, full])[0].verdict == "supported"


def test_decide_applies_holm_over_difference_and_equivalence_pvalues():
    mod, full = V.paired_claim(
        _table(), "n_minima", {"arch": "a"}, {"arch": "b"}, -1, claim="a-b", margin=0.176
    )
    out = V.decide([mod, full])
    raw = [mod.p_difference, mod.p_equivalence, full.p_difference, full.p_equivalence]
    order = np.argsort(raw)
    expected = np.maximum.accumulate([min(1, (4 - k) * raw[i]) for k, i in enumerate(order)])
    adjusted = np.empty(4)
    adjusted[order] = expected
    got = [out[0].p_difference_adj, out[0].p_equivalence_adj, out[1].p_difference_adj,
           out[1].p_equivalence_adj]  # fmt: skip
    np.testing.assert_allclose(got, adjusted)
    assert out[1].verdict == "contradicted"  # full space: +1.28 in log10, far from the predicted -
    assert "contradicted" in V.report(out)


def test_rank_claim_exact_pvalue_in_both_spaces():
    # 4 settings whose mean counts follow the bound: rho = 1, exact p = 2 / 4!
    t = {
        "arch": np.repeat(list("abcd"), 2), "seed": np.tile([0, 1], 4),
        "bound": np.repeat([1.0, 2.0, 3.0, 4.0], 2), "n_minima": np.repeat([1, 2, 3, 5], 2),
        "log10_group_order": np.repeat([3.0, 2.0, 1.0, 0.0], 2),
    }  # fmt: skip
    mod, full = V.rank_claim(t, "n_minima", "bound", ("arch",), claim="order")
    assert mod.estimate == pytest.approx(1.0) and mod.p_difference == pytest.approx(2 / 24)
    # full space: 1000, 200, 30, 5 -> the reverse order
    assert full.estimate == pytest.approx(-1.0) and not full.same


def test_counts_below_one_need_an_offset():
    t = _table()
    t["n_minima"] = t["n_minima"] - 1
    with pytest.raises(ValueError, match="offset"):
        V.log_counts(t, "n_minima", "modulo G")
    assert np.all(np.isfinite(V.log_counts(t, "n_minima", "modulo G", offset=1)))
    with pytest.raises(ValueError, match="space"):
        V.log_counts(t, "n_minima", "quotient")


def test_margins_are_pre_registered_for_every_claim():
    margins = V.load_margins(ROOT / "sweeps" / "MARGINS.toml")
    assert margins["tests"]["correction"] == "holm" and margins["tests"]["alpha"] == 0.05
    for claim in ("depth_width", "activations", "l2", "skips"):
        for count in ("n_minima", "n_minima_full", "n_long_bars", "n_crit_0", "n_crit_1"):
            assert margins[claim][count] == pytest.approx(math.log10(1.5), abs=5e-4)
    # slope margins: a factor 1.5 over the design's range of m
    assert margins["depth_width"]["slope_m"] == pytest.approx(math.log10(1.5) / 3, abs=5e-4)
    assert margins["depth_width"]["slope_m_next"] == pytest.approx(math.log10(1.5) / 2, abs=5e-4)
    assert 0 < margins["barcodes"]["r0"] < 1
    with pytest.raises(ValueError, match="path"):
        V.load_margins(ROOT / "no-such-file.toml")


def test_bound_sign_is_constant_over_m_or_refused():
    t = _table()
    assert V.bound_sign(t, "bound", {"arch": "a"}, {"arch": "b"}) == 1
    assert V.bound_sign(t, "bound", {"arch": "b"}, {"arch": "b"}) == 0
    t["bound"] = np.where(t["samples"] == 6, -1.0, 1.0) * np.where(t["arch"] == "a", 1.0, 0.0)
    with pytest.raises(ValueError, match="changes sign"):
        V.bound_sign(t, "bound", {"arch": "a"}, {"arch": "b"})


def test_plot_claim_tests_draws_one_row_per_test():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lossbounds.plot import plot_claim_tests

    tests = V.decide(
        V.paired_claim(
            _table(), "n_minima", {"arch": "a"}, {"arch": "b"}, 1, claim="a-b", margin=0.2
        )
    )
    ax = plot_claim_tests(tests, xlabel="log10 ratio")
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "a-b: n_minima, full space", "a-b: n_minima, modulo G"
    ]  # fmt: skip
    assert ax.get_legend() is not None and ax.get_xlabel() == "log10 ratio"
    with pytest.raises(ValueError, match="decided"):
        plot_claim_tests(
            V.paired_claim(_table(), "n_minima", {"arch": "a"}, {"arch": "b"}, 1, claim="x")
        )
    plt.close("all")
