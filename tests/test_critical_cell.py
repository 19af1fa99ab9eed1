"""The "critical_points" sweep measurement: its columns, its saturation test, its full-space counts."""

import math
import warnings

import numpy as np
import pytest

from lossbounds.experiments import measurements as M
from lossbounds.experiments.cell import architecture, problem
from lossbounds.experiments.measurements import run_cell
from lossbounds.experiments.spec import parse_spec
from lossbounds.landscape.symmetry import SymmetryGroup
from lossbounds.topology.critical import critical_points

#: Columns issue 20 asks of every claim table.
ISSUE_COLUMNS = (
    "seed", "n_crit_0", "n_crit_1", "n_crit_2", "n_crit_0_full", "n_crit_1_full",
    "n_crit_2_full", "full_undefined", "persistent_minima_1", "persistent_minima_2",
    "persistent_minima_3", "n_merges", "n_fallback", "saturated", "saturated_1", "saturated_2",
    "n_starts", "check_bands", "max_rounds", "teacher_activation", "inputs", "l2", "samples",
    "n_params", "n_minima", "n_saddles", "saturated_tree", "best_loss", "start_loss", "barcode_r", "log10_khovanskii",
    "log10_zell_expression", "cpu_process_seconds",
)  # fmt: skip


def _cell(**kw):
    data = {
        "measurement": "critical_points",
        "fixed": {
            "dataset": "make_teacher", "width": 2, "samples": 8, "l2": 1e-2,
            "n_starts": 16, "check_bands": 1, "max_rounds": 2, **kw,
        },
    }  # fmt: skip
    return parse_spec(data, "tiny").cells[0]


def _row(cell):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # empty index classes warn
        return run_cell(cell)


def _points(cell, arch, surface):
    """critical_points of the cell from the measurement's starts (stream 3), 200 Newton steps."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        group = SymmetryGroup(arch, l2=cell["l2"])
        return critical_points(surface, M._starts(cell, arch, 3), group=group, newton_steps=200)


def test_columns_present_and_consistent():
    spec = parse_spec({"measurement": "critical_points", "fixed": {"width": 2, "samples": 8}}, "c")
    missing = [c for c in ISSUE_COLUMNS if c not in spec.columns]
    assert not missing
    cell = _cell()
    row = _row(cell)
    assert set(spec.columns) - {"dataset"} <= set(row) | {"dataset"}
    assert row["n_starts"] == 16 and row["check_bands"] == 1 and row["max_rounds"] == 2
    # persistence thresholds 1e-1 > 1e-2 > 1e-3: nested counts, the infinite bar always counts
    assert (
        1 <= row["persistent_minima_1"] <= row["persistent_minima_2"] <= row["persistent_minima_3"]
    )
    assert row["persistent_minima_3"] <= row["n_minima"]
    assert 0 <= row["n_fallback"] <= row["n_merges"] <= row["n_minima"] - 1
    assert row["cpu_process_seconds"] > 0
    # the median loss at the starts lies above the lowest minimum found
    assert row["start_loss"] > row["best_loss"]


def test_saturated_can_fail():
    # 4 starts on a 1-4-1 network: Newton reaches a new class (or one hit once) from the
    # second half of the starts, so the test must say "not saturated".
    cell = _cell(width=4, n_starts=4, l2=1e-2, newton_steps=200)
    row = _row(cell)
    arch, _, surface = problem(cell)
    cp = _points(cell, arch, surface)
    # the definition by hand: flat over the second half and no class of index 0 hit once
    first_half = {int(a) for a in cp.start_point[:2] if a >= 0 and cp.index[a] == 0}
    all_ = {int(a) for a in cp.start_point if a >= 0 and cp.index[a] == 0}
    singles = int(np.sum(cp.hits[cp.index == 0] == 1))
    assert row["singletons_0"] == singles
    assert row["saturated"] == int(bool(all_) and first_half == all_ and singles == 0)
    assert row["saturated"] == 0  # the index-0 class was hit once


def _stabiliser(theta, tol=1e-6):
    """|Stab(theta)| in the group of a 1-2-1 tanh network, by hand.

    The 8 elements (pi, s1, s2) map the hidden units u_i = (w_i, b_i, v_i) to
    s_i u_pi(i) and keep the output bias (tanh is odd, so a flip negates all three).
    """
    u = np.array([[theta[i], theta[2 + i], theta[4 + i]] for i in range(2)])
    fixed = 0
    for perm in ((0, 1), (1, 0)):
        for s in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
            image = np.array([s[i] * u[perm[i]] for i in range(2)])
            fixed += bool(np.abs(image - u).max() <= tol * (1 + np.abs(u).max()))
    return fixed


def test_full_counts_are_group_order_times_classes_on_free_orbits():
    cell = _cell(n_starts=32, newton_steps=200, samples=6)
    arch = architecture(cell)
    assert SymmetryGroup(arch, l2=cell["l2"]).order == 8  # 2! permutations x 2^2 sign flips
    row = _row(cell)
    _, _, surface = problem(cell)
    cp = _points(cell, arch, surface)
    stab = np.array([_stabiliser(p) for p in cp.points])
    assert (cp.nullity == 0).all()
    free = stab == 1
    # the case: at least one index whose classes are all free orbits
    all_free = [k for k in range(3) if np.any(cp.index == k) and free[cp.index == k].all()]
    assert all_free
    for k in range(3):
        assert row[f"n_crit_{k}"] == int(np.sum(cp.index == k))
        assert row[f"n_crit_{k}_full"] == np.sum(8 // stab[cp.index == k])
    for k in all_free:
        assert row[f"n_crit_{k}_full"] == 8 * row[f"n_crit_{k}"]
    assert row["full_undefined"] == ""
    assert math.isclose(row["log10_group_order"], math.log10(8))


def test_full_counts_undefined_above_exact_limit():
    row = _row(_cell(exact_limit=4, newton_steps=200, samples=6, n_starts=32))
    found = [k for k in range(3) if row[f"n_crit_{k}"] > 0]
    assert found
    assert all(math.isnan(row[f"n_crit_{k}_full"]) for k in found)
    assert row["full_undefined"].startswith("group order 8 > exact_limit 4")


@pytest.mark.parametrize("bad", [{"n_starts": 0}, {"max_rounds": 0}])
def test_bad_options_name_the_option(bad):
    key = next(iter(bad))
    with pytest.raises(ValueError, match=key):
        _cell(**bad)


def test_saturation_curve_without_any_class():
    # f(x) = x_1 + x_2 has no critical point: every start is rejected, the curve stays at 0
    def linear(X):
        return X.sum(dim=1)

    with pytest.warns(UserWarning, match="no critical point"):
        cp = critical_points(linear, np.zeros((5, 2)) + np.arange(5.0)[:, None])
    assert cp.saturation(0).tolist() == [0] * 5


def test_nothing_found_is_not_saturated():
    # one Newton step from the starts: no start converges, so no index can be called saturated
    row = _row(_cell(newton_steps=1))
    assert row["n_newton_failed"] == row["n_starts"]
    assert row["saturated"] == row["saturated_1"] == row["saturated_2"] == 0
