"""The "critical_points" sweep measurement: its columns, its saturation test, its full-space counts."""

import math
import warnings

import numpy as np
import pytest

from lossbounds.experiments.cell import architecture, merge_options, problem, seeded_starts
from lossbounds.experiments.critical_cell import seed_points
from lossbounds.experiments.measurements import run_cell
from lossbounds.experiments.spec import parse_spec
from lossbounds.landscape.symmetry import SymmetryGroup
from lossbounds.topology.connectivity import merge_tree
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


def _search(cell, arch, surface):
    """The measurement by hand: merge tree of the starts (stream 3), then Newton from its seeds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        group = SymmetryGroup(arch, l2=cell["l2"])
        starts = seeded_starts(cell, arch, 3)
        opts = merge_options(cell)
        tree = merge_tree(surface, starts, group=group, seed=cell["seed"], **opts)
        seeds, bands = seed_points(starts, tree)
        return tree, critical_points(surface, seeds, group=group, **opts), bands


def _saturated_by_hand(assign):
    """No new class over the second half of the starts, none hit once, at least one found."""
    half = len(assign) // 2
    found = [int(a) for a in assign if a >= 0]
    hits = np.bincount(found) if found else np.zeros(0, int)
    first = {int(a) for a in assign[:half] if a >= 0}
    return int(bool(found) and first == set(found) and not np.any(hits[hits > 0] == 1))


@pytest.mark.parametrize(("l2", "expected"), [(0.0, 0), (1e-2, 1)])
def test_saturated_follows_its_definition_both_ways(l2, expected):
    # lambda = 0: 16 starts descend to many degenerate minima, some reached once (not
    # saturated); lambda = 1e-2: every start reaches the one minimum (saturated)
    cell = _cell(width=4, samples=8, l2=l2)
    row = _row(cell)
    arch, _, surface = problem(cell)
    tree, _, _ = _search(cell, arch, surface)
    assert row["saturated"] == _saturated_by_hand(tree.start_minimum) == expected
    assert row["singletons_0"] == int(np.sum(tree.hits == 1))


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


def test_full_counts_are_group_order_over_stabiliser():
    cell = _cell(n_starts=32, samples=6)
    arch = architecture(cell)
    assert SymmetryGroup(arch, l2=cell["l2"]).order == 8  # 2! permutations x 2^2 sign flips
    row = _row(cell)
    _, _, surface = problem(cell)
    tree, cp, _ = _search(cell, arch, surface)
    assert (tree.nullity == 0).all() and (cp.nullity == 0).all()
    points = [tree.minima, cp.points[cp.index == 1], cp.points[cp.index == 2]]
    assert len(points[0]) >= 1 and len(points[1]) >= 1  # the case exercises both sources
    for k in range(3):
        stab = np.array([_stabiliser(p) for p in points[k]], dtype=int)
        assert row[f"n_crit_{k}"] == len(points[k])
        assert row[f"n_crit_{k}_full"] == np.sum(8 // stab)
    assert row["full_undefined"] == ""
    assert math.isclose(row["log10_group_order"], math.log10(8))


def test_full_counts_above_exact_limit_come_from_the_stabiliser_search():
    # exact_limit = 4 < |G| = 8: no orbit is enumerated, the orbit sizes are |G| // |Stab|
    # of the layer-by-layer search; compared with the stabilisers counted by hand
    cell = _cell(exact_limit=4, samples=6, n_starts=32)
    row = _row(cell)
    arch, _, surface = problem(cell)
    tree, cp, _ = _search(cell, arch, surface)
    assert (tree.nullity == 0).all() and (cp.nullity == 0).all()
    points = [tree.minima, cp.points[cp.index == 1], cp.points[cp.index == 2]]
    assert sum(len(p) for p in points) >= 1
    for k in range(3):
        stab = np.array([_stabiliser(p) for p in points[k]], dtype=int)
        assert row[f"n_crit_{k}_full"] == np.sum(8 // stab)
    assert row["full_undefined"] == ""


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
    # one Newton step from the seeds: no random start converges, and an index no seed
    # reached cannot be called saturated
    row = _row(_cell(newton_steps=1))
    assert row["n_newton_failed"] >= row["n_starts"]
    for k in (1, 2):
        if row[f"n_crit_{k}"] == 0:
            assert row[f"saturated_{k}"] == 0


def test_full_reason_names_the_group_limit_only_for_tied_groups():
    from lossbounds.experiments.critical_cell import _full_reason
    from lossbounds.theory.architecture import Architecture

    tied = SymmetryGroup(Architecture(2, 3, 2, 5, activation="tanh", skip="identity"))  # 48
    untied = SymmetryGroup(Architecture(2, 3, 2, 5, activation="tanh"))  # (2^3 3!)^2 = 2304
    nan = np.array([np.nan, 0.0, np.nan])
    assert _full_reason(tied, nan, 4) == "group order 48 > exact_limit 4"
    assert _full_reason(untied, nan, 4) == "degenerate class of index 0,2"
    assert _full_reason(untied, np.zeros(3), 4) == ""
