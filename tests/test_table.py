"""The results table: durable rows, repaired tails, and warnings for malformed rows."""

import warnings

import numpy as np
import pytest

from lossbounds.experiments.run import run_sweep
from lossbounds.experiments.spec import parse_spec
from lossbounds.experiments.table import ResultsTable, read_results


def _spec():
    data = {"measurement": "bounds", "fixed": {"samples": 5}, "axes": {"width": [2, 3, 4]}}
    return parse_spec(data, "tiny")


def test_malformed_row_warns_naming_file_and_line(tmp_path):
    run_sweep(_spec(), tmp_path, workers=0, progress=False)
    path = tmp_path / "results.csv"
    with open(path, "a") as f:
        f.write("deadbeef,bounds,3\n")  # a row of 3 fields: line 5 (header, 3 rows, this)
    with pytest.warns(UserWarning, match=rf"{path}, line 5: 3 fields") as caught:
        table = read_results(tmp_path)
    assert len(caught) == 1
    assert len(table["cell"]) == 3 and "deadbeef" not in table["cell"]
    # a resumed sweep warns too, and recomputes nothing
    with pytest.warns(UserWarning, match=r"line 5"):
        report = run_sweep(_spec(), tmp_path, workers=0, progress=False)
    assert report.n_computed == 0


def test_well_formed_table_reads_without_warnings(tmp_path):
    run_sweep(_spec(), tmp_path, workers=0, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = read_results(tmp_path)
    np.testing.assert_array_equal(table["width"], [2, 3, 4])
    assert table["width"].dtype == np.int64 and table["cell"].dtype.kind == "U"


def test_partial_tail_is_cut_and_other_header_refused(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("cell,a\nk1,1\nk2,")  # killed mid-row
    table = ResultsTable(path, ["cell", "a"])
    assert table.keys == {"k1"} and path.read_text() == "cell,a\nk1,1\n"
    with pytest.raises(ValueError, match="has columns"):
        ResultsTable(path, ["cell", "b"])


def test_empty_file_gets_a_header(tmp_path):
    path = tmp_path / "results.csv"
    path.touch()
    ResultsTable(path, ["cell", "a"]).append({"cell": "k", "a": 2})
    assert path.read_text() == "cell,a\nk,2\n"
