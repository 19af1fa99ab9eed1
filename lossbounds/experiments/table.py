"""The results table of a sweep: an append-only CSV, one durable row per finished cell.

Rows are appended by one process only, each flushed and fsync'ed, so a killed
sweep loses at most the cells in flight; a partial last line (a row
interrupted mid-write) is cut off when the table is reopened. A row with the
wrong number of fields is not read: :func:`read_results` and a resumed sweep
warn, naming the file and the line.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import warnings
from pathlib import Path

import numpy as np

from lossbounds.experiments.cell import cell_key

__all__ = ["RESULTS_FILE", "FAILURES_FILE", "ResultsTable", "record_failure", "read_results"]

#: The results table of a sweep folder: one row per finished cell.
RESULTS_FILE = "results.csv"
#: The cells of a sweep folder whose measurement raised (key, error, inputs).
FAILURES_FILE = "failures.csv"


def _repair_tail(path: Path) -> None:
    """Cut a partial last line (a row interrupted mid-write) off the file."""
    with open(path, "rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)


def _append_line(path: Path, values) -> None:
    """Append one CSV line (values as ``str`` gives them) and make it durable (fsync)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    with open(path, "a", newline="") as f:
        f.write(buf.getvalue())
        f.flush()
        os.fsync(f.fileno())


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Return the header and the complete rows of a CSV file; warn about malformed rows.

    A row whose number of fields differs from the header's is left out with
    a ``UserWarning`` naming the file and its line number (1-based, the
    header is line 1).
    """
    with open(path, newline="") as f:
        reader = csv.reader(f)
        rows = [(reader.line_num, r) for r in reader if r]
    if not rows:
        raise ValueError(f"{path}: the table is empty (no header)")
    header = rows[0][1]
    good, bad = [], []
    for line, r in rows[1:]:
        (good if len(r) == len(header) else bad).append((line, r))
    for line, r in bad:
        warnings.warn(
            f"{path}, line {line}: {len(r)} fields, the header has {len(header)}; row left out",
            UserWarning,
            stacklevel=3,
        )
    return header, [r for _, r in good]


class ResultsTable:
    """Append-only CSV: header ``columns``, one fsync'ed row per finished cell.

    Parameters
    ----------
    path : pathlib.Path
        The table; created with its header if missing or empty, else its
        partial last line is cut off and its header checked.
    columns : list of str
        The header a sweep writes.

    Attributes
    ----------
    keys : set of str
        ``cell`` keys of the rows in the table.

    Raises
    ------
    ValueError
        If the existing table has other columns.
    """

    def __init__(self, path: Path, columns: list[str]):
        self.path, self.columns = Path(path), list(columns)
        self.keys: set[str] = set()
        if self.path.exists():
            _repair_tail(self.path)
        if not self.path.exists() or self.path.stat().st_size == 0:
            _append_line(self.path, self.columns)
            return
        header, rows = _read_rows(self.path)
        if header != self.columns:
            raise ValueError(
                f"{self.path} has columns {header}, this sweep writes {self.columns}: "
                "use another --out directory"
            )
        self.keys = {r[0] for r in rows}

    def append(self, row: dict) -> None:
        """Write one row (keys ``columns``) and make it durable."""
        _append_line(self.path, [row[c] for c in self.columns])
        self.keys.add(row["cell"])


def record_failure(path: Path, cell: dict, exc: BaseException) -> None:
    """Append one line to ``failures.csv``: key, error (type and first line), inputs as JSON."""
    if not path.exists():
        _append_line(path, ["cell", "error", "inputs"])
    message = (str(exc).splitlines() or [""])[0][:500]
    inputs = json.dumps(cell, sort_keys=True)
    _append_line(path, [cell_key(cell), f"{type(exc).__name__}: {message}", inputs])


def read_results(path) -> dict[str, np.ndarray]:
    """Read a results table as columns.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``results.csv`` or the sweep's output directory.

    Returns
    -------
    dict of str to numpy.ndarray
        One array per column, rows in file order: int64 when every value of
        the column is an integer, float64 when every value is a number
        (``nan`` included), str otherwise; ``cell`` is always str. Malformed
        rows are left out with a warning naming the file and line.
    """
    path = Path(path)
    header, rows = _read_rows(path / RESULTS_FILE if path.is_dir() else path)
    out = {}
    for j, name in enumerate(header):
        values = [r[j] for r in rows]
        out[name] = np.array(values, dtype=str)
        if name == "cell":
            continue
        for kind in (int, float):
            with contextlib.suppress(ValueError):
                out[name] = np.array([kind(v) for v in values], dtype=kind)
                break
    return out
