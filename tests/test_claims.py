"""Tests of lossbounds.experiments.claims on small synthetic tables whose answers are known by construction."""

import numpy as np
import pytest

from lossbounds.experiments import claims

SPEC = """
name = "tiny"
measurement = "bounds"

[fixed]
inputs = 1
activation = "tanh"

[axes]
samples = [4, 8, 16]
seed = [0, 1]

[[cases]]
width = 2
hidden_layers = 1

[[cases]]
width = 1
hidden_layers = 2

[[cases]]
width = 3
hidden_layers = 1
"""


def _table(rows):
    """A claim table from a list of dicts (columns as numpy arrays)."""
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


@pytest.fixture
def pairs():
    """Two architectures on 6 datasets (seed x samples), rows shuffled; deep = shallow + 1."""
    rows = []
    for seed in range(3):
        for m in (10, 20):
            base = seed + m / 10
            rows.append(dict(width=4, hidden_layers=1, seed=seed, samples=m, y=base, bound=5.0))
            rows.append(dict(width=2, hidden_layers=2, seed=seed, samples=m, y=base + 1, bound=7.0))
    order = np.random.default_rng(3).permutation(len(rows))
    return _table([rows[i] for i in order])


def test_select_and_groups(pairs):
    deep = claims.select(pairs, width=2)
    assert set(deep["hidden_layers"].tolist()) == {2} and deep["y"].size == 6
    both = claims.select(pairs, width=[2, 4], samples=10)
    assert both["y"].size == 6 and set(both["samples"].tolist()) == {10}
    assert claims.select(pairs, width=99)["y"].size == 0
    g = claims.groups(pairs, ("width", "samples"))
    assert list(g) == [(2, 10), (2, 20), (4, 10), (4, 20)]
    for (w, m), rows in g.items():
        assert np.all(pairs["width"][rows] == w) and np.all(pairs["samples"][rows] == m)
        assert rows.size == 3


def test_cell_estimates_are_the_per_setting_means(pairs):
    est = claims.cell_estimates(pairs, "y", ("width", "samples"))
    got = {(e.setting["width"], e.setting["samples"]): e for e in est}
    # y = seed + m/10 (+1 for the deep net), seeds 0, 1, 2: mean seed = 1
    assert got[(4, 10)].estimate.value == pytest.approx(2.0)
    assert got[(2, 20)].estimate.value == pytest.approx(4.0)
    for e in est:
        assert e.n == 3 and e.estimate.low <= e.estimate.value <= e.estimate.high
        assert isinstance(e.setting["width"], int)


def test_cell_estimates_of_a_constant_column_and_too_few_rows(pairs):
    est = claims.cell_estimates(pairs, "bound", ("width",))
    assert [(e.estimate.low, e.estimate.high) for e in est] == [(7.0, 7.0), (5.0, 5.0)]
    with pytest.raises(ValueError, match="at least 2"):
        claims.cell_estimates(pairs, "y", ("width", "samples", "seed"))
    with pytest.raises(ValueError, match="not in the table"):
        claims.cell_estimates(pairs, "nope", ("width",))


def test_bound_vs_measured_orders_settings():
    rows = []
    for k, (bound, level) in enumerate([(1.0, 2.0), (2.0, 1.0), (3.0, 5.0), (4.0, 9.0)]):
        for seed in range(3):
            rows.append(dict(arch=k, seed=seed, bound=bound, y=level + seed, z=-level - seed))
    table = _table(rows)
    # means 3, 2, 6, 10 against bounds 1..4: ranks (2, 1, 3, 4) -> rho = 1 - 6*2/(4*15) = 0.8
    r = claims.bound_vs_measured(table, "bound", "y", ("arch",))
    assert r.rho.value == pytest.approx(0.8) and r.rho.n == 4
    assert claims.bound_vs_measured(table, "bound", "z", ("arch",)).rho.value == pytest.approx(-0.8)
    with pytest.raises(ValueError, match="varies within setting"):
        claims.bound_vs_measured(table, "y", "bound", ("arch",))


def test_shrink_spec_replaces_keys_everywhere():
    data = {
        "name": "x",
        "fixed": {"seed": 0, "l2": 0.1},
        "axes": {"samples": [1, 2, 3]},
        "cases": [{"width": 2, "samples": 9}, {"width": 2, "samples": 8}, {"width": 3}],
    }
    out = claims.shrink_spec(data, {"samples": [4, 5], "seed": 7}, cases=2)
    assert out["fixed"] == {"l2": 0.1, "seed": 7}
    assert out["axes"] == {"samples": [4, 5]}
    assert out["cases"] == [{"width": 2}]  # the two kept cases coincide once samples is removed
    assert data["axes"] == {"samples": [1, 2, 3]} and out["name"] == "x"
    picked = claims.shrink_spec(data, {}, cases=[2, 0])
    assert picked["cases"] == [{"width": 3}, {"width": 2, "samples": 9}]
    for bad in (0, [3], [], "1"):
        with pytest.raises(ValueError, match="cases must be"):
            claims.shrink_spec(data, {}, cases=bad)


def test_quick_table_runs_a_small_sweep_and_load_table_reads_it(tmp_path):
    spec = tmp_path / "tiny.toml"
    spec.write_text(SPEC)
    table = claims.quick_table(spec, tmp_path / "out", {"samples": [4, 8]}, cases=2)
    assert table["cell"].size == 8
    assert sorted(set(table["samples"].tolist())) == [4, 8]
    assert set(claims.groups(table, ("width", "hidden_layers"))) == {(2, 1), (1, 2)}
    again = claims.load_table(tmp_path / "out", required=("log10_khovanskii",))
    assert sorted(again["cell"].tolist()) == sorted(table["cell"].tolist())
    with pytest.raises(ValueError, match="max_cells"):
        claims.quick_table(spec, tmp_path / "big", {}, max_cells=8)
    with pytest.raises(ValueError, match="required column"):
        claims.load_table(tmp_path / "out", required=("n_minima",))
    with pytest.raises(ValueError, match="no results table"):
        claims.load_table(tmp_path / "missing")


def test_common_datasets_checks_the_paired_design(pairs):
    assert claims.common_datasets(pairs, ("width", "samples")) == [(0,), (1,), (2,)]
    both = claims.common_datasets(pairs, ("width",), pair_on=("seed", "samples"))
    assert len(both) == 6 and both[0] == (0, 10)
    uneven = claims.select(pairs, seed=[0, 1])
    uneven = {k: np.concatenate([v, pairs[k][pairs["seed"] == 2][:1]]) for k, v in uneven.items()}
    with pytest.raises(ValueError, match="other datasets"):
        claims.common_datasets(uneven, ("width", "samples"))
    with pytest.raises(ValueError, match="twice"):
        claims.common_datasets(pairs, ("width",))


def test_stale_bounds_flags_changed_rows(tmp_path):
    spec = tmp_path / "tiny.toml"
    spec.write_text(SPEC)
    table = claims.quick_table(spec, tmp_path / "out", {"samples": [4, 8]}, cases=2)
    assert claims.stale_bounds(table) == []
    edited = {k: v.copy() for k, v in table.items()}
    edited["log10_khovanskii"][3] *= 1.001
    edited["n_params"][5] += 1
    assert claims.stale_bounds(edited) == sorted({table["cell"][3], table["cell"][5]})
    with pytest.raises(ValueError, match="none of the bound columns"):
        claims.stale_bounds(
            {k: v for k, v in table.items() if not k.startswith(("log10", "n_", "ch"))}
        )


def test_lambda_0_of_a_centred_dataset_by_hand():
    # mean(y) = 0: c = 0 and u = -2 (mean(y x), mean(y)) = (-2, 0) whatever lambda, so lambda_0 = 1
    from lossbounds.experiments.claims import lambda_0, symmetric_point_u

    X, y = np.array([[1.0], [-1.0]]), np.array([1.0, -1.0])
    np.testing.assert_allclose(symmetric_point_u(X, y, 0.3), [-2.0, 0.0])
    assert lambda_0(X, y) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="u\\(0\\) = 0"):
        lambda_0(np.array([[1.0], [1.0]]), np.array([0.0, 0.0]))


def test_row_cell_returns_one_row_as_plain_values():
    from lossbounds.experiments.claims import row_cell

    table = {"seed": np.array([0, 1]), "l2": np.array([0.0, 1e-3]), "cell": np.array(["a", "b"])}
    cell = row_cell(table, seed=1)
    assert cell == {"seed": 1, "l2": 1e-3, "cell": "b"} and type(cell["seed"]) is int
    with pytest.raises(ValueError, match="selects 2 rows"):
        row_cell(table, seed=[0, 1])
