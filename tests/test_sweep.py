"""Sweeps: spec validation, grid and keys, the resumable results table, dask and the CLI."""

import hashlib
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from lossbounds.cli import main
from lossbounds.experiments import cell as C
from lossbounds.experiments import measurements as M
from lossbounds.experiments.cell import architecture, cell_key
from lossbounds.experiments.measurements import Measurement, measurement, run_cell
from lossbounds.experiments.run import run_sweep
from lossbounds.experiments.spec import load_spec, parse_spec
from lossbounds.experiments.table import read_results
from lossbounds.landscape.layout import ParamLayout

ROOT = Path(__file__).resolve().parents[1]


def _bounds_spec(**extra):
    """A cheap grid: 2 widths x 3 seeds, one deep case and one shallow case (12 cells)."""
    data = {
        "measurement": "bounds",
        "fixed": {"samples": 5},
        "axes": {"width": [2, 3], "seed": [0, 1, 2]},
        "cases": [{"hidden_layers": 1}, {"hidden_layers": 2}],
    }
    data.update(extra)
    return parse_spec(data, "cheap")


def _write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


# ---------------------------------------------------------------- grid and keys


def test_grid_is_the_product_of_axes_and_cases_in_order():
    spec = _bounds_spec()
    assert len(spec.cells) == 12
    got = [(c["hidden_layers"], c["width"], c["seed"]) for c in spec.cells]
    want = [(k, h, s) for k in (1, 2) for h in (2, 3) for s in (0, 1, 2)]
    assert got == want
    # unset keys take their defaults, fixed keys their value
    assert {c["activation"] for c in spec.cells} == {"tanh"}
    assert {c["samples"] for c in spec.cells} == {5}
    assert {c["measurement"] for c in spec.cells} == {"bounds"}


def test_cell_key_is_the_hash_of_the_canonical_json():
    cell = {"width": 3, "measurement": "bounds", "l2": 0.001, "activation": "tanh"}
    canonical = '{"activation":"tanh","l2":0.001,"measurement":"bounds","width":3}'
    assert cell_key(cell) == hashlib.sha256(canonical.encode()).hexdigest()[:16]
    assert cell_key(dict(reversed(list(cell.items())))) == cell_key(cell)
    assert cell_key({**cell, "width": 4}) != cell_key(cell)


def test_keys_are_stable_and_unique():
    a, b = _bounds_spec(), _bounds_spec()
    assert a.keys == b.keys and len(set(a.keys)) == len(a.keys)
    # axis order in the file changes the grid order, not the keys
    c = parse_spec(
        {
            "measurement": "bounds",
            "fixed": {"samples": 5},
            "axes": {"seed": [0, 1, 2], "width": [2, 3]},
            "cases": [{"hidden_layers": 1}, {"hidden_layers": 2}],
        },
        "cheap",
    )
    assert set(c.keys) == set(a.keys) and c.keys != a.keys


def test_integer_and_float_values_give_one_key():
    a = parse_spec({"measurement": "bounds", "fixed": {"width": 2, "samples": 5, "l2": 0}}, "a")
    b = parse_spec({"measurement": "bounds", "fixed": {"width": 2, "samples": 5, "l2": 0.0}}, "b")
    assert a.keys == b.keys


def test_example_spec_is_valid():
    spec = load_spec(ROOT / "sweeps" / "example.toml")
    assert spec.name == "example" and spec.measurement.name == "census"
    assert len(spec.cells) == 48


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"grid": {}}, r"unknown top-level key\(s\) \['grid'\]"),
        ({"fixed": {"widht": 2}}, r"unknown key 'widht' in \[fixed\]; accepted: dataset"),
        ({"axes": {"width": []}}, r"\[axes\] width must be a non-empty list"),
        ({"axes": {"width": 2}}, r"\[axes\] width must be a non-empty list"),
        ({"fixed": {"width": 0}}, r"width must be an integer >= 1, got 0"),
        ({"fixed": {"width": 2.5}}, r"width must be an integer >= 1, got 2.5"),
        ({"fixed": {"width": True}}, r"width must be an integer >= 1, got True"),
        ({"fixed": {"l2": -1.0}}, r"l2 must be a finite number >= 0"),
        ({"fixed": {"skip": "dense"}}, r"skip must be one of 'none', 'identity', 'projection'"),
        (
            {"fixed": {"dataset": "mnist"}},
            r"dataset must be one of 'teacher_student', 'regression'",
        ),
        ({"fixed": {"activation": "relu"}}, r"activation"),
        ({"fixed": {"skip": "identity"}}, r"skip='identity'.*hidden_layers >= 2"),
        ({"measurement": "nope"}, r"measurement must be one of .*census"),
        (
            {"measurement": "census", "fixed": {"output": "sigmoid", "loss": "bce"}},
            r"the census needs loss 'mse' \(least squares\), got 'bce'",
        ),
        ({"fixed": {"n_starts": 4}}, r"unknown key 'n_starts'"),
        ({"axes": {"seed": [1, 1]}}, r"the grid holds a cell twice"),
        ({"cases": []}, r"\[\[cases\]\] must be a non-empty list of tables"),
        ({"fixed": "x"}, r"\[fixed\] must be a table"),
        ({"name": 3}, r"name must be a non-empty string"),
    ],
)
def test_bad_spec_raises(data, match):
    spec = {"measurement": "bounds", "fixed": {"width": 2, "samples": 5}}
    for key, value in data.items():
        merge = key == "fixed" and isinstance(value, dict)
        spec[key] = {**spec["fixed"], **value} if merge else value
    with pytest.raises(ValueError, match=match):
        parse_spec(spec, "bad")


def test_key_set_twice_or_missing_raises():
    with pytest.raises(ValueError, match=r"'width' is set in both \[fixed\] and \[axes\]"):
        parse_spec({"fixed": {"width": 2, "samples": 5}, "axes": {"width": [3]}}, "bad")
    with pytest.raises(ValueError, match=r"'samples' must be set in \[fixed\], \[axes\]"):
        parse_spec({"fixed": {"width": 2}}, "bad")


def test_load_spec_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"missing.toml': cannot read it"):
        load_spec(tmp_path / "missing.toml")
    bad = _write(tmp_path / "bad.toml", "measurement = \n")
    with pytest.raises(ValueError, match=r"bad.toml': invalid TOML"):
        load_spec(bad)


# ---------------------------------------------------------------- the table


def test_one_row_per_cell_with_inputs_and_outputs(tmp_path, capsys):
    spec = _bounds_spec()
    report = run_sweep(spec, tmp_path, workers=0)
    assert (report.n_cells, report.n_before, report.n_computed) == (12, 0, 12)
    cols = read_results(tmp_path)
    assert list(cols) == spec.columns
    assert sorted(cols["cell"]) == sorted(spec.keys)
    by_key = dict(zip(cols["cell"], range(12), strict=True))
    for cell, key in zip(spec.cells, spec.keys, strict=True):
        j = by_key[key]
        assert cols["width"][j] == cell["width"] and cols["seed"][j] == cell["seed"]
        h, k = cell["width"], cell["hidden_layers"]
        # one input: 2h (first layer) + (k - 1)(h^2 + h) (hidden to hidden) + h + 1 (output)
        assert cols["n_params"][j] == 2 * h + (k - 1) * (h * h + h) + h + 1
    assert cols["log10_zell_expression"].dtype == np.float64 and cols["n_params"].dtype == np.int64
    assert np.all(cols["seconds"] >= 0) and np.all(cols["cpu_seconds"] >= 0)


def test_finished_sweep_computes_nothing_and_says_so(tmp_path, capsys):
    spec = _bounds_spec()
    run_sweep(spec, tmp_path, workers=0)
    before = (tmp_path / "results.csv").read_bytes()
    capsys.readouterr()
    report = run_sweep(spec, tmp_path, workers=0)
    assert report.n_computed == 0 and report.n_before == 12
    assert "all 12 cells are in" in capsys.readouterr().out
    assert (tmp_path / "results.csv").read_bytes() == before


def _flaky(n_ok):
    """A 'bounds' stand-in that dies (KeyboardInterrupt) after ``n_ok`` cells."""
    calls = []
    real = M.MEASUREMENTS["bounds"]

    def func(cell):
        if len(calls) == n_ok:
            raise KeyboardInterrupt
        calls.append(cell_key(cell))
        return real.func(cell)

    return Measurement("bounds", func, real.outputs, real.options), calls


def test_interrupted_sweep_resumes_with_one_row_per_cell(tmp_path, monkeypatch):
    flaky, calls = _flaky(5)
    monkeypatch.setitem(M.MEASUREMENTS, "bounds", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(_bounds_spec(), tmp_path, workers=0, progress=False)
    assert len(calls) == 5 and len(read_results(tmp_path)["cell"]) == 5
    monkeypatch.undo()
    spec = _bounds_spec()
    report = run_sweep(spec, tmp_path, workers=0, progress=False)
    assert (report.n_before, report.n_computed) == (5, 7)
    keys = read_results(tmp_path)["cell"]
    assert len(keys) == 12 and sorted(keys) == sorted(spec.keys)
    assert run_sweep(spec, tmp_path, workers=0, progress=False).n_computed == 0


def test_partial_last_row_is_dropped_and_recomputed(tmp_path):
    spec = _bounds_spec()
    run_sweep(spec, tmp_path, workers=0, progress=False)
    path = tmp_path / "results.csv"
    text = path.read_text()
    path.write_text(text[: len(text) - 20])  # a row cut mid-write, no newline
    report = run_sweep(spec, tmp_path, workers=0, progress=False)
    assert report.n_computed == 1
    lines = path.read_text().splitlines()
    assert len(lines) == 13 and all(len(ln.split(",")) == len(spec.columns) for ln in lines)
    assert sorted(read_results(path)["cell"]) == sorted(spec.keys)


def test_killed_process_loses_only_the_cell_in_flight(tmp_path):
    """A hard exit (no cleanup runs) after 4 cells: 4 durable rows, then resume."""
    script = f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from lossbounds import experiments as sweep
        real = sweep.MEASUREMENTS["bounds"].func
        done = []
        def dying(cell):
            if len(done) == 4:
                os._exit(9)
            done.append(1)
            return real(cell)
        sweep.MEASUREMENTS["bounds"] = sweep.Measurement(
            "bounds", dying, sweep.MEASUREMENTS["bounds"].outputs)
        spec = sweep.parse_spec({{"measurement": "bounds", "fixed": {{"samples": 5}},
                                  "axes": {{"width": [2, 3, 4], "seed": [0, 1]}}}}, "k")
        sweep.run_sweep(spec, {str(tmp_path)!r}, workers=0, progress=False)
    """
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT)
    assert proc.returncode == 9
    assert len(read_results(tmp_path)["cell"]) == 4
    spec = parse_spec(
        {
            "measurement": "bounds",
            "fixed": {"samples": 5},
            "axes": {"width": [2, 3, 4], "seed": [0, 1]},
        },
        "k",
    )
    assert run_sweep(spec, tmp_path, workers=0, progress=False).n_computed == 2
    assert sorted(read_results(tmp_path)["cell"]) == sorted(spec.keys)


def _fails_on_width_3(monkeypatch):
    real = M.MEASUREMENTS["bounds"]

    def func(cell):
        if cell["width"] == 3:
            raise ArithmeticError("no,\ngood")
        return real.func(cell)

    monkeypatch.setitem(M.MEASUREMENTS, "bounds", Measurement("bounds", func, real.outputs))


def test_failed_cells_are_listed_skipped_and_retried(tmp_path, monkeypatch):
    _fails_on_width_3(monkeypatch)
    report = run_sweep(_bounds_spec(), tmp_path, workers=0, progress=False)
    assert (report.n_computed, report.n_failed) == (6, 6)
    assert set(read_results(tmp_path)["width"]) == {2}
    failures = read_results(tmp_path / "failures.csv")
    assert len(failures["cell"]) == 6 and set(failures["error"]) == {"ArithmeticError: no,"}
    monkeypatch.undo()
    spec = _bounds_spec()
    report = run_sweep(spec, tmp_path, workers=0, progress=False)
    assert (report.n_before, report.n_computed, report.n_failed) == (6, 6, 0)
    assert sorted(read_results(tmp_path)["cell"]) == sorted(spec.keys)
    assert not (tmp_path / "failures.csv").exists()


def test_cli_exits_1_when_cells_fail(tmp_path, capsys, monkeypatch):
    _fails_on_width_3(monkeypatch)
    spec = _write(
        tmp_path / "s.toml",
        'measurement = "bounds"\n[fixed]\nsamples = 5\n[axes]\nwidth = [2, 3]\n',
    )
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--workers", "0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("lossbounds sweep: 1 of 2 cells failed; see ")


def test_table_of_another_measurement_is_refused(tmp_path):
    run_sweep(_bounds_spec(), tmp_path, workers=0, progress=False)
    census = parse_spec({"fixed": {"width": 2, "samples": 5}}, "c")
    with pytest.raises(ValueError, match=r"has columns .* use another --out directory"):
        run_sweep(census, tmp_path, workers=0, progress=False)


def test_rows_of_other_cells_are_kept_and_counted(tmp_path):
    run_sweep(_bounds_spec(), tmp_path, workers=0, progress=False)
    smaller = parse_spec(
        {"measurement": "bounds", "fixed": {"samples": 5, "width": 2, "seed": 0}}, "s"
    )
    report = run_sweep(smaller, tmp_path, workers=0, progress=False)
    assert (report.n_cells, report.n_computed, report.n_foreign) == (1, 0, 11)
    assert len(read_results(tmp_path)["cell"]) == 12


def test_bad_workers_raises(tmp_path):
    with pytest.raises(ValueError, match=r"workers must be an integer >= 0, got -1"):
        run_sweep(_bounds_spec(), tmp_path, workers=-1)


# ---------------------------------------------------------------- measurements


def test_hits_summary_and_chao1():
    s = M._hits_summary(np.array([5, 1, 1, 2]))
    assert (s["hits_best"], s["hits_max"], s["singletons"], s["doubletons"]) == (5, 5, 2, 1)
    assert s["chao1"] == pytest.approx(4 + 2 * 1 / (2 * 2))
    assert M._hits_summary(np.array([], dtype=int))["chao1"] == 0


def test_census_cell():
    spec = parse_spec(
        {
            "fixed": {"width": 2, "samples": 12, "l2": 1e-3, "n_starts": 4, "lm_iter": 20},
            "axes": {"dataset": ["teacher_student", "regression"]},
        },
        "tiny",
    )
    for cell in spec.cells:
        row = run_cell(cell)
        assert row["cell"] == cell_key(cell) and row["n_params"] == 7
        assert 0 <= row["distinct"] <= row["strict"] <= 4
        assert row["strict"] + row["not_critical"] <= 4
        assert row["chao1"] >= row["distinct"]
        # tanh, h = 2: permutations and sign flips, |G| = 2^2 * 2! (flips keep ||theta||)
        assert row["log10_group_order"] == pytest.approx(math.log10(8))
        assert row["log10_khovanskii"] < row["log10_zell_expression"]
        if row["distinct"]:
            assert row["best_loss"] <= row["worst_loss"]
    teacher = [run_cell(c)["teacher_loss"] for c in spec.cells]
    assert np.isfinite(teacher[0]) and np.isnan(teacher[1])


def test_census_rows_are_reproducible():
    cell = parse_spec({"fixed": {"width": 2, "samples": 12, "n_starts": 3, "lm_iter": 10}}, "r")
    a, b = (run_cell(cell.cells[0]) for _ in range(2))
    for row in (a, b):
        row.pop("seconds"), row.pop("cpu_seconds")
    assert a == pytest.approx(b, nan_ok=True)


def test_run_cell_uses_one_torch_thread_and_restores():
    before = torch.get_num_threads()
    seen = []
    real = M.MEASUREMENTS["bounds"]

    def spy(cell):
        seen.append(torch.get_num_threads())
        return real.func(cell)

    cell = _bounds_spec().cells[0]
    M.MEASUREMENTS["bounds"] = Measurement("bounds", spy, real.outputs)
    try:
        run_cell(cell)
    finally:
        M.MEASUREMENTS["bounds"] = real
    assert seen == [1] and torch.get_num_threads() == before


def test_measurement_returning_wrong_keys_raises(monkeypatch):
    real = M.MEASUREMENTS["bounds"]
    monkeypatch.setitem(
        M.MEASUREMENTS, "bounds", Measurement("bounds", lambda c: {"x": 1}, real.outputs)
    )
    with pytest.raises(ValueError, match=r"returned keys \['x'\], declared"):
        run_cell(_bounds_spec().cells[0])


def test_registering_twice_or_clashing_columns_raises():
    with pytest.raises(ValueError, match=r"measurement 'bounds' is already registered"):
        measurement("bounds", outputs=("a",))(lambda c: {})
    with pytest.raises(ValueError, match=r"column names repeat: \['width'\]"):
        measurement("clash", outputs=("width",))(lambda c: {})
    assert "clash" not in M.MEASUREMENTS


# ---------------------------------------------------------------- dask


def test_one_dask_worker_gives_the_in_process_rows(tmp_path, monkeypatch):
    # registered in this process only: the worker gets the function with each cell
    square = Measurement("square", lambda cell: {"w2": cell["width"] ** 2}, ("w2",))
    monkeypatch.setitem(M.MEASUREMENTS, "square", square)
    spec = parse_spec(
        {"measurement": "square", "fixed": {"samples": 5}, "axes": {"width": [2, 3, 4]}}, "d"
    )
    run_sweep(spec, tmp_path / "local", workers=0, progress=False)
    report = run_sweep(spec, tmp_path / "dask", workers=1, progress=False)
    assert report.n_computed == 3
    a, b = read_results(tmp_path / "local"), read_results(tmp_path / "dask")
    ia, ib = np.argsort(a["cell"]), np.argsort(b["cell"])
    for col in spec.columns[:-2]:
        assert np.array_equal(a[col][ia], b[col][ib]), col
    assert np.array_equal(b["w2"], b["width"] ** 2)


# ---------------------------------------------------------------- command line


def test_cli_bad_spec_is_one_line_exit_2(tmp_path, capsys):
    bad = _write(tmp_path / "bad.toml", 'measurement = "bounds"\n[axes]\nwidth = []\n')
    assert main(["sweep", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("lossbounds sweep: error:") and "[axes] width" in err[0]


def test_cli_runs_then_resumes(tmp_path, capsys):
    spec = _write(
        tmp_path / "s.toml",
        """
        measurement = "bounds"
        [fixed]
        samples = 5
        [axes]
        width = [2, 3]
        """,
    )
    out = str(tmp_path / "o")
    assert main(["sweep", str(spec), "--out", out, "--workers", "0", "--quiet"]) == 0
    assert len(read_results(out)["cell"]) == 2
    assert main(["sweep", str(spec), "--out", out, "--workers", "0"]) == 0
    assert "nothing to compute" in capsys.readouterr().out


# ---------------------------------------------------------------- teacher dataset, merge trees


def _teacher_spec(measurement="bounds", **fixed):
    """Students differing in width, depth, activation, skip and l2, one teacher (8 cells)."""
    return parse_spec(
        {
            "measurement": measurement,
            "fixed": {"dataset": "teacher", "samples": 12, "teacher_width": 3, **fixed},
            "axes": {"seed": [0, 1]},
            "cases": [
                {"width": 2, "hidden_layers": 1, "activation": "tanh", "l2": 0.0},
                {"width": 3, "hidden_layers": 2, "activation": "gelu", "l2": 1e-3},
                {"width": 2, "hidden_layers": 2, "activation": "sigmoid", "skip": "identity"},
                {"width": 5, "hidden_layers": 3, "activation": "erf", "skip": "projection"},
            ],
        },
        "teacher",
    )


def test_teacher_dataset_is_the_same_for_every_student():
    cells = _teacher_spec().cells
    data = [(c["seed"], C.problem(c)[1]) for c in cells]
    for seed in (0, 1):
        same = [d for s, d in data if s == seed]
        assert len(same) == 4
        for d in same[1:]:
            np.testing.assert_array_equal(d.X, same[0].X)
            np.testing.assert_array_equal(d.y, same[0].y)
    a, b = (d for s, d in data[:2])
    assert a.X.shape == (12, 1) and not np.array_equal(a.y, b.y)  # the seed changes it
    # "teacher_student" draws a teacher of the student's own architecture
    own = [C.problem({**c, "dataset": "teacher_student"})[1].y for c in cells[:4:2]]
    assert not np.array_equal(own[0], own[1])


def test_teacher_dataset_follows_the_teacher_inputs():
    cell = _teacher_spec().cells[0]
    base = C.make_data(cell)
    for key, value in (("teacher_width", 5), ("teacher_layers", 2), ("teacher_activation", "erf")):
        other = C.make_data({**cell, key: value})
        np.testing.assert_array_equal(other.X, base.X)  # inputs come first from the seed
        assert not np.allclose(other.y, base.y)
    t = C.teacher_architecture(cell)
    assert (t.width, t.hidden_layers, t.activation) == (3, 1, "tanh")
    assert base.theta.shape == (3 + 3 + 3 + 1,)


def test_bad_teacher_raises():
    with pytest.raises(ValueError, match="teacher_width must be an integer"):
        _teacher_spec(teacher_width=0)
    with pytest.raises(ValueError, match="activation"):
        _teacher_spec(teacher_activation="relu")


def _merge_spec(**fixed):
    data = {
        "measurement": "merge_tree",
        "fixed": {"dataset": "teacher", "width": 1, "samples": 10, "l2": 1e-2, **fixed},
    }
    data["fixed"].setdefault("n_starts", 6)
    return parse_spec(data, "tiny_merge")


def test_merge_tree_cell():
    spec = _merge_spec(noise=0.1)
    row = run_cell(spec.cells[0])
    assert set(spec.columns) == set(row)
    data = C.make_data(spec.cells[0])
    assert row["loss_scale"] == pytest.approx(np.var(data.y))
    # n = 1, h = 1: W, b, v, c; tanh with l2: one sign flip, |G| = 2
    assert row["n_params"] == 4 and row["log10_group_order"] == pytest.approx(math.log10(2))
    assert row["log10_khovanskii"] < row["log10_zell_expression"]
    assert 1 <= row["n_minima"] <= row["chao1"] + row["n_minima"]
    assert row["hits_best"] + row["n_rejected"] <= 6 and row["hits_max"] <= 6
    assert 1 <= row["b0_01"] <= row["n_minima"] and 1 <= row["b0_10"] <= row["n_minima"]
    assert 1 <= row["n_long_bars"] <= row["n_minima"] and row["saturated"] in (0, 1)
    # the lowest minimum lies below the loss of the parameters at the origin
    assert 0 <= row["best_loss"] <= C.problem(spec.cells[0])[2](np.zeros((1, 4)))[0]


def test_merge_tree_options_are_checked_and_change_the_key():
    with pytest.raises(ValueError, match="n_images must be an integer"):
        _merge_spec(n_images=0)
    a, b = _merge_spec().keys[0], _merge_spec(n_starts=7).keys[0]
    assert a != b
    with pytest.raises(ValueError, match="measurement must be one of .*merge_tree"):
        parse_spec({"measurement": "merge", "fixed": {"width": 1, "samples": 3}}, "x")


def test_subset_runs_a_small_live_sweep(tmp_path):
    spec = load_spec(ROOT / "sweeps" / "claims_depth_width.toml")
    small = spec.subset(4, seed=[0, 1], samples=8, width=[4, 2], l2=1e-2, teacher_activation="tanh")
    assert len(small.cells) == 4 and set(small.keys) <= set(spec.keys)
    assert {(c["width"], c["hidden_layers"], c["seed"]) for c in small.cells} == {
        (4, 1, 0),
        (4, 1, 1),
        (2, 2, 0),
        (2, 2, 1),
    }
    report = run_sweep(small, tmp_path, workers=0, progress=False)
    assert (report.n_computed, report.n_failed) == (4, 0)
    table = read_results(tmp_path)
    assert sorted(table["cell"]) == sorted(small.keys)
    np.testing.assert_array_equal(table["n_params"], [13, 13, 13, 13])
    assert run_sweep(small, tmp_path, workers=0, progress=False).n_computed == 0


def test_subset_errors():
    spec = _teacher_spec()
    with pytest.raises(ValueError, match="unknown key 'colour'"):
        spec.subset(colour="red")
    with pytest.raises(ValueError, match="no cell"):
        spec.subset(width=9)
    with pytest.raises(ValueError, match="n_cells"):
        spec.subset(0)


_ODD = {"tanh", "arctan", "erf"}


@pytest.mark.parametrize("name", ["depth_width", "activations", "l2", "skips"])
def test_claim_specs_follow_the_design(name):
    # issue 20's design: 20 datasets, three lambda including 0, m from below N to 2N or more,
    # 64 starts with error control on; two teachers (one not odd) for depth/width and
    # activations; n = 2 inputs in the l2 claim
    spec = load_spec(ROOT / "sweeps" / f"claims_{name}.toml")
    cells = spec.cells
    assert spec.measurement.name == "critical_points"
    assert {c["dataset"] for c in cells} == {"make_teacher"}
    assert len({c["seed"] for c in cells}) >= 20
    assert {0.0} < {c["l2"] for c in cells} and len({c["l2"] for c in cells}) >= 3
    for c in cells:
        assert c["n_starts"] >= 64 and c["check_bands"] >= 1 and c["max_rounds"] >= 2
    n = {
        key: ParamLayout(architecture(c)).n_params for key, c in zip(spec.keys, cells, strict=True)
    }
    by_arch: dict = {}
    for key, c in zip(spec.keys, cells, strict=True):
        by_arch.setdefault(n[key], set()).add(c["samples"])
    for n_params, ms in by_arch.items():
        assert min(ms) < n_params and max(ms) >= 2 * n_params
    teachers = {c["teacher_activation"] for c in cells}
    if name in ("depth_width", "activations"):
        assert len(teachers) >= 2 and teachers - _ODD
    if name == "l2":
        assert {c["inputs"] for c in cells} == {1, 2}


@pytest.mark.parametrize(
    "name", ["claims_depth_width", "claims_activations", "claims_l2", "claims_skips",
             "barcodes_depth_width", "robustness"]
)  # fmt: skip
def test_committed_table_rows_are_cells_of_its_spec(name):
    spec = load_spec(ROOT / "sweeps" / f"{name}.toml")
    table = read_results(ROOT / "results" / name)
    assert len(table["cell"]) == len(set(table["cell"])) > 0
    assert set(table["cell"]) <= set(spec.keys)
    assert list(table) == spec.columns
    assert np.all(table["n_fallback"] <= table["n_merges"])
    assert np.all(table["persistent_minima_1"] <= table["persistent_minima_3"])
    assert np.all(np.isin(table["saturated"], (0, 1)))


# ---------------------------------------------------------------- merge options and rows


def test_merge_tree_options_are_the_fields_of_merge_options():
    from dataclasses import fields

    from lossbounds.topology.connectivity import MergeOptions

    names = {f.name for f in fields(MergeOptions)} - {"threads", "progress"}
    assert set(M.MEASUREMENTS["merge_tree"].options) == names | {
        "n_starts",
        "start_seed",
        "start_scale",
    }
    # a field the spec does not set is not recorded; one it sets is, with MergeOptions' check
    assert "neb_steps" not in _merge_spec().cells[0]
    spec = _merge_spec(neb_steps=50)
    assert spec.cells[0]["neb_steps"] == 50 and "neb_steps" in spec.columns
    assert spec.keys[0] != _merge_spec().keys[0]
    with pytest.raises(ValueError, match="neb_tol must be a finite number > 0"):
        _merge_spec(neb_tol=0.0)
    with pytest.raises(ValueError, match="unknown key 'threads'"):
        _merge_spec(threads=2)


@pytest.mark.parametrize(
    "name", ["claims_depth_width", "claims_activations", "claims_l2", "claims_skips",
             "barcodes_depth_width", "robustness"]
)  # fmt: skip
def test_claim_specs_write_out_the_merge_options_of_their_tables(name):
    """Every table is measured with error control on and the same refinement caps (not the defaults)."""
    cell = load_spec(ROOT / "sweeps" / f"{name}.toml").cells[0]
    written = {"max_rounds": 2, "check_bands": 1, "saddle_steps": 300, "saddle_budget": 12000}
    assert {k: cell[k] for k in written} == written


def test_cell_from_row_rebuilds_the_cell_of_a_committed_row():
    spec = load_spec(ROOT / "sweeps" / "claims_l2.toml")
    table = read_results(ROOT / "results" / "claims_l2")
    i = int(np.flatnonzero((table["l2"] == 1e-3) & (table["seed"] == 3))[0])
    cell = M.cell_from_row(table, i)
    assert cell in spec.cells and cell_key(cell) == table["cell"][i]
    assert all(type(v) in (str, int, float) for v in cell.values())
    arch, data, surface = C.problem(cell)
    shape = (table["samples"][i], table["inputs"][i])
    assert (surface.n_params, data.X.shape) == (table["n_params"][i], shape)
    assert float(np.var(data.y)) == pytest.approx(table["loss_scale"][i], rel=1e-12)


def test_cell_from_row_refuses_a_row_that_is_not_its_cell():
    row = run_cell(_bounds_spec().cells[0])
    assert M.cell_from_row(row) == _bounds_spec().cells[0]
    with pytest.raises(ValueError, match="is not the key"):
        M.cell_from_row({**row, "width": 7})
    with pytest.raises(ValueError, match="column 'samples'"):
        M.cell_from_row({k: v for k, v in row.items() if k != "samples"})
    with pytest.raises(ValueError, match="measurement must be one of"):
        M.cell_from_row({**row, "measurement": "nope"})
    with pytest.raises(ValueError, match="width must be an integer >= 1"):
        M.cell_from_row({**row, "width": 0})
