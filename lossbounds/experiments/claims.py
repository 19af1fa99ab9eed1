"""The paper's claims, measured: per-setting estimates, rank correlations, tables and helpers.

A *claim table* is the results table of a sweep (:func:`lossbounds.experiments.table.read_results`):
one row per cell, the cell's inputs as columns (``width``, ``hidden_layers``,
``activation``, ``samples``, ``seed``, ...) and the measurement's outputs. This
module describes such a table with :mod:`lossbounds.experiments.stats`:

- :func:`cell_estimates`: per setting (the rows sharing the values of the
  columns ``by``, i.e. the same cell but for its ``seed``), the mean of a
  measured column with a bootstrap interval over the seeds;
- :func:`bound_vs_measured`: Spearman's rank correlation, with its bootstrap
  interval, between a bound column and the per-setting mean of a measured
  column across all settings of the table (descriptive).

The claims themselves are tested by :mod:`lossbounds.experiments.verdicts`,
with the dataset as the cluster (a table's rows are not independent: one
dataset gives a row per m and per setting).

Around them: :func:`load_table`, :func:`select` and :func:`groups` read and
slice a table; :func:`common_datasets` checks that every setting was measured
on the same datasets (the paired design) and :func:`stale_bounds` that the
bound columns are what the library computes now. :func:`quick_table` runs a
shrunken version of a sweep spec live (in this process, into a folder), so
notebooks read the committed table at full size and exercise the whole
pipeline in quick mode; :func:`row_cell` turns a row back into its cell.
:func:`lambda_0`, :func:`symmetric_point` and :func:`symmetric_point_u`
describe the symmetric point of a one-hidden-layer tanh network under an
l2 term (notebook 07).

A table is a ``dict`` of equal-length 1-D numpy arrays (column name to values).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lossbounds.experiments.cell import architecture
from lossbounds.experiments.run import run_sweep
from lossbounds.experiments.spec import parse_spec
from lossbounds.experiments.stats import (
    Estimate,
    RankCorrelation,
    bootstrap_ci,
    spearman_ci,
)
from lossbounds.experiments.table import RESULTS_FILE, read_results
from lossbounds.theory.bounds import bound_summary

__all__ = [
    "load_table",
    "select",
    "groups",
    "common_datasets",
    "stale_bounds",
    "CellEstimate",
    "cell_estimates",
    "bound_vs_measured",
    "shrink_spec",
    "quick_table",
    "row_cell",
    "symmetric_point",
    "symmetric_point_u",
    "lambda_0",
]


def _n_rows(table: Mapping) -> int:
    """Count the rows of ``table``; ValueError when it is not a table of equal columns."""
    if not isinstance(table, Mapping) or not table:
        raise ValueError("table must be a non-empty dict of column name to 1-D array")
    sizes = {np.asarray(v).shape for v in table.values()}
    if len(sizes) != 1 or len(next(iter(sizes))) != 1:
        raise ValueError(f"table columns must be 1-D arrays of one length, got shapes {sizes}")
    return next(iter(sizes))[0]


def _columns(table: Mapping, names, what: str = "column") -> tuple[str, ...]:
    """``names`` as a tuple of existing column names; ValueError naming the missing ones."""
    names = (names,) if isinstance(names, str) else tuple(names)
    missing = [c for c in names if c not in table]
    if missing:
        raise ValueError(f"{what} {missing} not in the table; columns: {', '.join(table)}")
    return names


def _scalar(value):
    """Return a numpy scalar as the plain Python value (settings print and compare cleanly)."""
    return value.item() if isinstance(value, np.generic) else value


def load_table(path, required: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Read a claim table written by a sweep.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``results.csv`` or the sweep's output folder holding one.
    required : sequence of str
        Columns the caller needs.

    Returns
    -------
    dict of str to numpy.ndarray
        As :func:`lossbounds.experiments.table.read_results` returns it (int64, float64
        or str columns, rows in file order).

    Raises
    ------
    ValueError
        If the file does not exist, holds no rows, or lacks a required column.
    """
    path = Path(path)
    file = path / RESULTS_FILE if path.is_dir() else path
    if not file.is_file():
        raise ValueError(f"path: no results table at {str(file)!r}")
    table = read_results(file)
    if not table or _n_rows(table) == 0:
        raise ValueError(f"path: the table {str(file)!r} holds no rows")
    _columns(table, required, "required column(s)")
    return table


def select(table: Mapping, **where) -> dict[str, np.ndarray]:
    """Select the rows of ``table`` whose columns equal the given values.

    Parameters
    ----------
    table : dict of str to numpy.ndarray
        A claim table.
    **where
        ``column=value`` (one value) or ``column=[v1, v2, ...]`` (any of them).

    Returns
    -------
    dict of str to numpy.ndarray
        The same columns, the matching rows in table order (possibly none).

    Raises
    ------
    ValueError
        If a column is not in the table.
    """
    n = _n_rows(table)
    _columns(table, list(where))
    keep = np.ones(n, dtype=bool)
    for col, value in where.items():
        values = value if isinstance(value, list | tuple | np.ndarray) else [value]
        keep &= np.isin(np.asarray(table[col]), values)
    return {k: np.asarray(v)[keep] for k, v in table.items()}


def groups(table: Mapping, by: Sequence[str]) -> dict[tuple, np.ndarray]:
    """Row indices of each setting: the distinct value combinations of the columns ``by``.

    Parameters
    ----------
    table : dict of str to numpy.ndarray
        A claim table.
    by : sequence of str
        Columns defining a setting (e.g. ``("width", "hidden_layers", "samples")``).

    Returns
    -------
    dict of tuple to numpy.ndarray
        Setting (values in the order of ``by``) to the int indices of its rows,
        settings sorted by their values.

    Raises
    ------
    ValueError
        If a column is not in the table.
    """
    _n_rows(table)
    by = _columns(table, by, "grouping column(s)")
    keys = list(zip(*(np.asarray(table[c]).tolist() for c in by), strict=True))
    out: dict[tuple, list[int]] = {}
    for i, key in enumerate(keys):
        out.setdefault(key, []).append(i)
    return {k: np.asarray(out[k]) for k in sorted(out)}


def common_datasets(table: Mapping, by: Sequence[str], pair_on=("seed",)) -> list[tuple]:
    """Return the datasets every setting was measured on, checking the paired design.

    Parameters
    ----------
    table : dict of str to numpy.ndarray
        A claim table.
    by : sequence of str
        Columns defining a setting.
    pair_on : sequence of str
        Columns identifying a dataset within a setting (default the seed).

    Returns
    -------
    list of tuple
        The sorted ``pair_on`` values, the same for every setting.

    Raises
    ------
    ValueError
        If a column is missing, or two settings were measured on different
        datasets or on one dataset twice.
    """
    pair_on = _columns(table, pair_on, "pair_on column(s)")
    seen = None
    for key, rows in groups(table, by).items():
        sets = list(zip(*(np.asarray(table[c])[rows].tolist() for c in pair_on), strict=True))
        if len(set(sets)) < len(sets):
            raise ValueError(f"table: setting {key} holds a dataset {pair_on} twice")
        if seen is not None and set(sets) != seen:
            raise ValueError(f"table: setting {key} was measured on other datasets than the others")
        seen = set(sets)
    return sorted(seen)


_BOUND_COLUMNS = {
    "n_params": "n_params",
    "chain_length": "chain_length",
    "log10_khovanskii": "log10_critical_points",
    "log10_zell_expression": "log10_zell_expression",
    "log10_zell": "log10_zell_expression",
}


def stale_bounds(table: Mapping, rtol: float = 1e-12) -> list[str]:
    """Cells whose bound columns differ from what the library computes for them now.

    Parameters
    ----------
    table : dict of str to numpy.ndarray
        A claim table with the sweep's input columns (``inputs``, ``width``,
        ``hidden_layers``, ``samples``, ``activation``, ``output``, ``loss``,
        ``skip``, ``l2``) and any of ``n_params``, ``chain_length``,
        ``log10_khovanskii``, ``log10_zell_expression``, ``log10_zell``.
    rtol : float
        Relative tolerance of the comparison.

    Returns
    -------
    list of str
        The ``cell`` keys of the stale rows (empty when the table is current).

    Raises
    ------
    ValueError
        If an input column is missing or the table has no bound column.
    """
    inputs = ("inputs", "width", "hidden_layers", "samples", "activation", "output", "loss")
    _columns(table, ("cell", *inputs, "skip", "l2"), "input column(s)")
    present = [c for c in _BOUND_COLUMNS if c in table]
    if not present:
        raise ValueError(f"table has none of the bound columns {list(_BOUND_COLUMNS)}")
    stale = []
    for rows in groups(table, (*inputs, "skip", "l2")).values():
        cell = {k: _scalar(np.asarray(table[k])[rows[0]]) for k in (*inputs, "skip", "l2")}
        now = bound_summary(architecture(cell))
        for col in present:
            ok = np.isclose(np.asarray(table[col], dtype=float)[rows], now[_BOUND_COLUMNS[col]],
                            rtol=rtol, atol=0.0)  # fmt: skip
            stale.extend(np.asarray(table["cell"])[rows][~ok].tolist())
    return sorted(set(stale))


@dataclass(frozen=True)
class CellEstimate:
    """The estimate of one measured column in one setting, over its seeds.

    Attributes
    ----------
    setting : dict
        Column name to value for the columns that define the setting.
    estimate : lossbounds.experiments.stats.Estimate
        The statistic over the seeds with its bootstrap interval; ``n`` seeds.
    """

    setting: dict
    estimate: Estimate

    @property
    def n(self) -> int:
        """Number of seeds (rows) behind the estimate."""
        return self.estimate.n


def cell_estimates(
    table: Mapping,
    column: str,
    by: Sequence[str],
    statistic: str = "mean",
    confidence: float = 0.95,
    seed: int = 0,
) -> list[CellEstimate]:
    """Per-setting estimate of a measured column with a bootstrap interval over the seeds.

    Parameters
    ----------
    table : dict of str to numpy.ndarray
        A claim table.
    column : str
        The measured column (numbers; a 0/1 column gives a fraction).
    by : sequence of str
        Columns defining a setting; the rows of a setting are its seeds.
    statistic : {"mean", "median"}
        Statistic of :func:`lossbounds.experiments.stats.bootstrap_ci`.
    confidence : float
        Two-sided interval level.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    list of CellEstimate
        One per setting, in the order of :func:`groups`.

    Raises
    ------
    ValueError
        If a column is missing, a setting has fewer than two rows, or a value
        is not finite.
    """
    _columns(table, column, "measured column")
    values = np.asarray(table[column], dtype=np.float64)
    by = _columns(table, by, "grouping column(s)")
    out = []
    for key, rows in groups(table, by).items():
        setting = dict(zip(by, (_scalar(k) for k in key), strict=True))
        if rows.size < 2:
            raise ValueError(f"table: setting {setting} has {rows.size} row; at least 2 needed")
        est = bootstrap_ci(values[rows], statistic, confidence=confidence, seed=seed)
        out.append(CellEstimate(setting, est))
    return out


def bound_vs_measured(
    table: Mapping,
    bound: str,
    measured: str,
    by: Sequence[str],
    *,
    confidence: float = 0.95,
    seed: int = 0,
) -> RankCorrelation:
    """Spearman's rank correlation between a bound and a measured complexity across settings.

    Parameters
    ----------
    table : dict of str to numpy.ndarray
        A claim table: one row per cell.
    bound : str
        Column of the bound (e.g. ``log10_khovanskii``), one value per setting.
    measured : str
        The measured column; its mean over the seeds of each setting is used.
    by : sequence of str
        Columns defining a setting (all inputs but the seed).
    confidence : float
        Level of the bootstrap interval (resampling settings).
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    lossbounds.experiments.stats.RankCorrelation
        rho over the settings, its interval and the p-value of rho = 0.

    Raises
    ------
    ValueError
        If a column is missing, the bound differs between rows of one setting,
        fewer than 3 settings exist, or either side is constant.
    """
    _columns(table, [bound, measured])
    b = np.asarray(table[bound], dtype=np.float64)
    y = np.asarray(table[measured], dtype=np.float64)
    xs, ys = [], []
    for key, rows in groups(table, by).items():
        if np.ptp(b[rows]) > 1e-9 * max(1.0, np.abs(b[rows]).max()):
            raise ValueError(f"bound {bound!r} varies within setting {key}; add columns to by")
        xs.append(b[rows[0]])
        ys.append(y[rows].mean())
    return spearman_ci(xs, ys, confidence=confidence, seed=seed)


def _pick_cases(kept: list, cases) -> list:
    """Return the entries of ``kept`` chosen by ``cases`` (see :func:`shrink_spec`)."""
    if cases is None:
        return kept
    if isinstance(cases, int) and not isinstance(cases, bool) and cases >= 1:
        return kept[:cases]
    if isinstance(cases, Sequence) and cases and not isinstance(cases, str):
        if all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(kept) for i in cases
        ):
            return [kept[i] for i in cases]
    raise ValueError(
        f"cases must be a positive integer or a non-empty sequence of positions "
        f"0..{len(kept) - 1}, got {cases!r}"
    )


def shrink_spec(data: Mapping, overrides: Mapping, cases=None) -> dict:
    """Return a sweep spec (the parsed TOML) with some keys replaced and fewer cases.

    Parameters
    ----------
    data : dict
        A spec as :func:`lossbounds.experiments.spec.parse_spec` takes it.
    overrides : dict
        Key to value: a list becomes an axis, anything else a fixed value; the
        key is removed from wherever the spec set it (``[fixed]``, ``[axes]``,
        every ``[[cases]]``).
    cases : int or sequence of int, optional
        An int keeps the first ``cases`` entries of ``[[cases]]``; a sequence
        keeps the entries at those (0-based) positions, in that order.

    Returns
    -------
    dict
        A new spec; ``data`` is not modified.

    Raises
    ------
    ValueError
        If ``cases`` is not a positive integer or a sequence of valid positions.
    """
    fixed = {k: v for k, v in data.get("fixed", {}).items() if k not in overrides}
    axes = {k: v for k, v in data.get("axes", {}).items() if k not in overrides}
    kept = [{k: v for k, v in c.items() if k not in overrides} for c in data.get("cases", [{}])]
    kept = _pick_cases(kept, cases)
    for key, value in overrides.items():
        (axes if isinstance(value, list) else fixed)[key] = value
    out = {k: v for k, v in data.items() if k not in ("fixed", "axes", "cases")}
    out.update(fixed=fixed, axes=axes)
    unique = [dict(t) for t in dict.fromkeys(tuple(sorted(c.items())) for c in kept)]
    if unique != [{}]:
        out["cases"] = unique
    return out


def quick_table(
    spec_path,
    out,
    overrides: Mapping,
    cases=None,
    max_cells: int = 8,
) -> dict[str, np.ndarray]:
    """Run a shrunken sweep spec live, one cell at a time in this process, and read its table.

    Parameters
    ----------
    spec_path : str or pathlib.Path
        A TOML sweep spec (e.g. ``sweeps/claims_depth_width.toml``).
    out : str or pathlib.Path
        Output folder of the small sweep (e.g. a temporary directory).
    overrides : dict
        Keys to replace, as :func:`shrink_spec` takes them (e.g.
        ``{"seed": [0, 1], "samples": [8, 16]}`` and smaller measurement options).
    cases : int or sequence of int, optional
        Which entries of ``[[cases]]`` to keep, as :func:`shrink_spec` takes it.
    max_cells : int
        Refuse a shrunken grid with more cells than this.

    Returns
    -------
    dict of str to numpy.ndarray
        The table, as :func:`load_table` reads it.

    Raises
    ------
    ValueError
        If the spec is invalid, the grid has more than ``max_cells`` cells, or
        a cell fails.
    """
    path = Path(spec_path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"spec_path: cannot read a TOML spec at {str(path)!r}: {exc}") from None
    spec = parse_spec(shrink_spec(data, overrides, cases), path.stem, where=f"quick {path.name}")
    if len(spec.cells) > max_cells:
        raise ValueError(
            f"the shrunken spec has {len(spec.cells)} cells, more than max_cells={max_cells}"
        )
    report = run_sweep(spec, out, workers=0, progress=False)
    if report.n_failed:
        raise ValueError(f"{report.n_failed} cell(s) of the quick sweep failed; see {out}")
    return load_table(report.path)


def row_cell(table: Mapping, **where) -> dict:
    """Return the one row of ``table`` selected by ``where`` as a cell (plain Python values).

    The result is what :func:`lossbounds.experiments.cell.problem` takes to
    rebuild the cell's architecture, dataset and surface.

    Raises
    ------
    ValueError
        If ``where`` selects no row or several.
    """
    rows = select(table, **where)
    n = _n_rows(rows) if rows else 0
    if n != 1:
        raise ValueError(f"where={where} selects {n} rows; exactly one is needed")
    return {k: _scalar(np.asarray(v)[0]) for k, v in rows.items()}


def symmetric_point_u(X, y, lam: float) -> np.ndarray:
    """Return ``u(lam) = (2/m) sum_k (c - y_k) (x_k, 1)`` with ``c = mean(y) / (1 + lam)``.

    At the symmetric point of a one-hidden-layer tanh network (all weights 0,
    output bias ``c``) the Hessian of the data term couples each unit's output
    weight with its input weights and bias through ``u`` (``tanh'(0) = 1``), so
    its smallest eigenvalue with the l2 term is ``2 lam - |u(lam)|``.

    Returns
    -------
    numpy.ndarray, shape (n + 1,)
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    c = y.mean() / (1.0 + lam)
    return 2.0 * np.mean((c - y)[:, None] * np.hstack([X, np.ones((len(y), 1))]), axis=0)


def symmetric_point(surface, y, lam: float) -> np.ndarray:
    """Return the symmetric point: every parameter 0 but the output bias ``mean(y) / (1 + lam)``."""
    theta = np.zeros(surface.n_params)
    theta[surface.layout.blocks["c"].start] = float(np.mean(y)) / (1.0 + lam)
    return theta


def lambda_0(X, y) -> float:
    """Return the root of ``2 lam = |u(lam)|``: the symmetric point is a strict minimum above it.

    Raises
    ------
    ValueError
        If there is no root in [0, 1e3] (``u`` identically zero: the point is
        a minimum for every lam > 0).
    """
    from scipy.optimize import brentq

    def gap(lam):
        return 2.0 * lam - np.linalg.norm(symmetric_point_u(X, y, lam))

    if gap(0.0) >= 0:
        raise ValueError("u(0) = 0: the symmetric point is a minimum for every lam > 0")
    return float(brentq(gap, 0.0, 1e3, xtol=1e-14))
