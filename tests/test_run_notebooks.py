"""The notebook runner behind `make figures`: executes in place, stops at a failure."""

import subprocess
import sys
from pathlib import Path

import nbformat

RUNNER = Path(__file__).resolve().parents[1] / "scripts" / "run_notebooks.py"


def _write(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def _run(*args):
    return subprocess.run(
        [sys.executable, str(RUNNER), *map(str, args)], capture_output=True, text=True, check=False
    )


def test_runner_executes_in_order_and_stops_at_first_failure(tmp_path):
    _write(tmp_path / "01_ok.ipynb", "x = 6 * 7", "print(x)")
    _write(tmp_path / "02_bad.ipynb", "raise RuntimeError('boom from cell')")
    _write(tmp_path / "03_never.ipynb", "print('should not run')")
    proc = _run(tmp_path)
    assert proc.returncode != 0
    assert "FAILED" in proc.stderr and "02_bad.ipynb" in proc.stderr
    assert "boom from cell" in proc.stderr
    assert "[1/3]" in proc.stdout and "[2/3]" in proc.stdout and "03_never" not in proc.stdout
    ran = nbformat.read(tmp_path / "01_ok.ipynb", as_version=4)
    assert ran.cells[1].outputs[0]["text"] == "42\n"
    assert [c.execution_count for c in ran.cells] == [1, 2]
    assert all("execution" not in c.metadata for c in ran.cells)  # no timing stamps
    never = nbformat.read(tmp_path / "03_never.ipynb", as_version=4)
    assert never.cells[0].outputs == []
    # the failing notebook itself is left untouched; partial outputs go beside it
    assert (tmp_path / "02_bad.failed.ipynb").exists()
    assert nbformat.read(tmp_path / "02_bad.ipynb", as_version=4).cells[0].outputs == []


def test_runner_rejects_missing_target(tmp_path):
    proc = _run(tmp_path / "nope.ipynb")
    assert proc.returncode != 0
    assert "neither a notebook nor a folder" in proc.stderr
