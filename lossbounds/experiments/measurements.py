"""Measurements of sweep cells: the registry, one cell's row, and the built-in three.

A measurement is a function ``cell -> dict`` registered with
:func:`measurement` under a name, with its output columns and its options.
:func:`run_cell` measures one cell into its row of the results table;
:func:`cell_from_row` turns a row back into its cell.

Built in: ``"bounds"`` (format and bounds of the architecture), ``"census"``
(basin census modulo G) and ``"merge_tree"`` (merge tree modulo G, whose
options are the fields of :class:`~lossbounds.topology.connectivity.MergeOptions`);
``"critical_points"`` (critical points by Morse index and the merge tree) lives in
:mod:`lossbounds.experiments.critical_cell` and is registered here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from lossbounds.experiments import critical_cell as _critical_cell
from lossbounds.experiments.cell import (
    INPUTS,
    MERGE_OPTIONS,
    START_OPTIONS,
    Option,
    architecture,
    cell_key,
    merge_options,
    nonnegative_int,
    positive_int,
    problem,
    seeded_starts,
    size_columns,
)
from lossbounds.landscape.newton import torch_threads
from lossbounds.landscape.optimize import basin_census
from lossbounds.landscape.symmetry import SymmetryGroup
from lossbounds.theory.bounds import bound_summary
from lossbounds.topology.connectivity import chao1, merge_tree

__all__ = [
    "Measurement",
    "MEASUREMENTS",
    "TIMES",
    "measurement",
    "run_cell",
    "cell_from_row",
]


@dataclass(frozen=True)
class Measurement:
    """A named measurement: ``func(cell) -> dict`` with the keys ``outputs``.

    Attributes
    ----------
    name : str
        Registry name.
    func : callable
        Takes a cell (dict of inputs and options), returns a dict whose keys
        are exactly ``outputs`` (numbers or strings).
    outputs : tuple of str
        Output column names, in table order.
    options : dict of str to Option
        Measurement-specific cell inputs.
    check : callable or None
        ``check(cell)`` raises ValueError for a cell the measurement cannot
        take; called on every cell when a spec is parsed.
    """

    name: str
    func: Callable
    outputs: tuple
    options: dict = field(default_factory=dict)
    check: Callable | None = None


#: Timing columns every row ends with.
TIMES = ("seconds", "cpu_seconds")

#: Registered measurements by name.
MEASUREMENTS: dict[str, Measurement] = {}


def measurement(name: str, outputs, options=None, check=None):
    """Register ``func(cell) -> dict`` as the measurement ``name`` (a decorator).

    For example::

        @measurement("mine", outputs=("n_params",), options={"k": Option(4, positive_int)})
        def _mine(cell):
            arch, data, surface = problem(cell)
            return {"n_params": surface.n_params}

    Parameters
    ----------
    name : str
        Registry name (the spec's ``measurement``).
    outputs : sequence of str
        Output columns; must not clash with the inputs, the options,
        ``cell``, ``seconds`` or ``cpu_seconds``.
    options : dict of str to Option, optional
        Measurement options (cell inputs of this measurement only).
    check : callable, optional
        ``check(cell)`` raising ValueError for cells the measurement cannot take.

    Returns
    -------
    callable
        The decorator; it returns the function unchanged.

    Raises
    ------
    ValueError
        If ``name`` is taken or a column name clashes.
    """
    options = dict(options or {})
    outputs = tuple(outputs)

    def register(func):
        if name in MEASUREMENTS:
            raise ValueError(f"measurement {name!r} is already registered")
        names = ["cell", "measurement", *INPUTS, *options, *outputs, *TIMES]
        clash = sorted({n for n in names if names.count(n) > 1})
        if clash:
            raise ValueError(f"measurement {name!r}: column names repeat: {clash}")
        MEASUREMENTS[name] = Measurement(name, func, outputs, options, check)
        return func

    return register


def _one_torch_thread():
    """Run the body with one torch thread (workers share the cores), then restore."""
    return torch_threads(1)


def run_cell(cell: dict, measurement: Measurement | None = None) -> dict:
    """Measure one cell: its row of the results table.

    Parameters
    ----------
    cell : dict
        A cell of a :class:`~lossbounds.experiments.spec.SweepSpec`.
    measurement : Measurement, optional
        The measurement to run; default the one registered under
        ``cell["measurement"]``. Passing it lets dask workers run a
        measurement registered only in the calling process (e.g. in a notebook).

    Returns
    -------
    dict
        ``cell`` (the key), the inputs, the outputs, ``seconds`` (wall time)
        and ``cpu_seconds`` (CPU time of this thread).

    Raises
    ------
    ValueError
        If the measurement returns other keys than it declares, or fails
        with a ValueError (the message then names the cell key). Other
        errors of the measurement propagate.
    """
    meas = MEASUREMENTS[cell["measurement"]] if measurement is None else measurement
    key = cell_key(cell)
    start, cpu = time.perf_counter(), time.thread_time()
    with _one_torch_thread():
        try:
            out = meas.func(cell)
        except ValueError as exc:
            raise ValueError(f"cell {key} ({meas.name}): {exc}") from None
    if set(out) != set(meas.outputs):
        raise ValueError(
            f"measurement {meas.name!r} returned keys {sorted(out)}, "
            f"declared {sorted(meas.outputs)}"
        )
    wall, cpu = time.perf_counter() - start, time.thread_time() - cpu
    return {"cell": key, **cell, **out, "seconds": wall, "cpu_seconds": cpu}


def _plain(value):
    """Return a numpy scalar as the python value it holds (str, int or float)."""
    return value.item() if isinstance(value, np.generic) else value


def cell_from_row(row: Mapping, index: int | None = None) -> dict:
    """Return the cell that a results-table row was measured on.

    ``problem(cell_from_row(row))`` rebuilds the row's architecture,
    dataset and loss surface.

    Parameters
    ----------
    row : mapping
        Column -> value of one row; or, with ``index``, a table (column ->
        array, as :func:`lossbounds.experiments.table.read_results` gives it).
    index : int, optional
        Row of the table ``row`` to take.

    Returns
    -------
    dict
        ``measurement``, every input and the measurement's recorded options,
        as python values checked as a spec checks them.

    Raises
    ------
    ValueError
        If the measurement is not registered, a required input is missing,
        a value fails its check, or the row's ``cell`` key is not the key of
        the rebuilt cell (the row was written by another version of the cell).
    """
    if index is not None:
        row = {k: v[index] for k, v in row.items()}
    row = {k: _plain(v) for k, v in row.items()}
    name = row.get("measurement")
    if name not in MEASUREMENTS:
        raise ValueError(f"row: measurement must be one of {', '.join(MEASUREMENTS)}, got {name!r}")
    options = MEASUREMENTS[name].options
    cell = {"measurement": name}
    for key, opt in {**INPUTS, **options}.items():
        if key in row:
            cell[key] = opt.check(key, row[key])
        elif not opt.optional:
            raise ValueError(f"row: the column {key!r} of a {name!r} cell is missing")
    if "cell" in row and cell_key(cell) != row["cell"]:
        raise ValueError(
            f"row: its key {row['cell']!r} is not the key {cell_key(cell)!r} of the cell "
            "its columns describe (a table of another version?)"
        )
    return cell


@measurement(
    "bounds",
    outputs=(
        "n_params",
        "chain_length",
        "chain_degree",
        "loss_degree",
        "log10_zell_expression",
        "log10_khovanskii",
        "log10_group_order",
    ),
)
def _bounds(cell: dict) -> dict:
    """Format and bounds of the cell's architecture (no data, no torch)."""
    s = bound_summary(architecture(cell))
    return {
        **{k: s[k] for k in ("n_params", "chain_length", "chain_degree", "loss_degree")},
        "log10_zell_expression": s["log10_zell_expression"],
        "log10_khovanskii": s["log10_critical_points"],
        "log10_group_order": s["log10_group_order"],
    }


_CENSUS_OUTPUTS = (
    "n_params",
    "strict",
    "not_critical",
    "distinct",
    "best_loss",
    "worst_loss",
    "teacher_loss",
    "hits_best",
    "hits_max",
    "singletons",
    "doubletons",
    "chao1",
    "log10_group_order",
    "log10_zell_expression",
    "log10_khovanskii",
)


def _hits_summary(hits: np.ndarray) -> dict:
    """Hit statistics of the distinct minima and the bias-corrected Chao1 richness estimate.

    Chao1 = S + f1 (f1 - 1) / (2 (f2 + 1)) with S distinct minima, f1 of
    them hit once and f2 twice: an estimate of how many minima the start
    distribution reaches, S itself when every minimum was hit at least twice.
    """
    f1, f2 = int(np.sum(hits == 1)), int(np.sum(hits == 2))
    return {
        "hits_best": int(hits[0]) if hits.size else 0,
        "hits_max": int(hits.max()) if hits.size else 0,
        "singletons": f1,
        "doubletons": f2,
        "chao1": chao1(hits),
    }


def _least_squares(cell: dict) -> None:
    """Refuse losses other than least squares (the census minimises least squares)."""
    if cell["loss"] != "mse":
        raise ValueError(f"the census needs loss 'mse' (least squares), got {cell['loss']!r}")


@measurement(
    "census",
    outputs=_CENSUS_OUTPUTS,
    check=_least_squares,
    options={
        **START_OPTIONS,
        "lm_iter": Option(50, positive_int),
        "newton_iter": Option(60, nonnegative_int),
    },
)
def _census(cell: dict) -> dict:
    """Basin census of the cell: distinct strict minima modulo G from seeded starts.

    Starts: ``ParamLayout(arch).init(rng, start_scale, n_starts)`` with
    ``rng = default_rng([seed, start_seed, 1])``; then
    :func:`lossbounds.landscape.optimize.basin_census` (l2-aware group).
    """
    arch, data, surface = problem(cell)
    starts = seeded_starts(cell, arch, 1)
    res = basin_census(surface, starts, lm_iter=cell["lm_iter"], newton_iter=cell["newton_iter"])
    losses = res.distinct_losses
    bounds = bound_summary(arch)
    teacher = math.nan if data.theta is None else float(surface(data.theta[None])[0])
    return {
        "n_params": int(surface.n_params),
        "strict": int(len(res.strict)),
        "not_critical": int(np.sum(res.minima.labels == "not_critical")),
        "distinct": res.n_distinct,
        "best_loss": float(losses[0]) if losses.size else math.nan,
        "worst_loss": float(losses[-1]) if losses.size else math.nan,
        "teacher_loss": teacher,
        **_hits_summary(res.hits),
        "log10_group_order": math.log10(res.group_order),
        "log10_zell_expression": bounds["log10_zell_expression"],
        "log10_khovanskii": bounds["log10_critical_points"],
    }


_MERGE_OUTPUTS = (
    "n_params",
    "chain_length",
    "log10_khovanskii",
    "log10_zell_expression",
    "log10_group_order",
    "best_loss",
    "loss_scale",
    "n_minima",
    "chao1",
    "n_saddles",
    "b0_01",
    "b0_10",
    "n_long_bars",
    "saturated",
    "hits_best",
    "hits_max",
    "singletons",
    "doubletons",
    "n_rejected",
    "n_bands",
    "n_fallback",
)


def _tree_summary(tree, scale: float) -> dict:
    """Return the measured columns of a merge tree (``scale`` the loss scale, var(y))."""
    S, k = len(tree.start_minimum), len(tree.minima_values)
    hit = tree.hits[tree.hits > 0]
    sat = tree.saturation
    best = float(tree.minima_values.min()) if k else math.nan
    dgm = tree.diagram()
    finite = np.isfinite(dgm[:, 1])
    long = int(np.sum(dgm[finite, 1] - dgm[finite, 0] >= 0.01 * scale)) + int(np.sum(~finite))
    b0 = tree.betti0([best + 0.01 * scale, best + 0.1 * scale]) if k else np.zeros(2, int)
    flat = S >= 2 and sat[-1] == sat[S // 2 - 1]
    return {
        "best_loss": best,
        "n_minima": k,
        "chao1": float(tree.chao1),
        "n_saddles": int(tree.n_saddles),
        "b0_01": int(b0[0]),
        "b0_10": int(b0[1]),
        "n_long_bars": long,
        "saturated": int(k > 0 and (flat or math.isclose(tree.chao1, hit.size))),
        **{k_: v for k_, v in _hits_summary(hit).items() if k_ != "chao1"},
        "n_rejected": int(sum(tree.rejected.values())),
        "n_bands": int(len(tree.saddles.values)),
        "n_fallback": int(np.sum(tree.saddles.fallback)),
    }


@measurement(
    "merge_tree",
    outputs=_MERGE_OUTPUTS,
    options={**START_OPTIONS, **MERGE_OPTIONS},
)
def _merge_tree(cell: dict) -> dict:
    """Merge tree of the cell's loss surface modulo its symmetry group (l2-aware).

    Starts: ``ParamLayout(arch).init(rng, start_scale, n_starts)`` with
    ``rng = default_rng([seed, start_seed, 2])``; then
    :func:`lossbounds.topology.connectivity.merge_tree` with the
    MergeOptions fields the spec sets (the others at MergeOptions' defaults). Levels are relative to the
    loss scale ``var(y)``: ``b0_01`` and ``b0_10`` are b0 of the sublevel
    sets at ``L* + 0.01 var(y)`` and ``L* + 0.1 var(y)`` (``L*`` the lowest
    minimum found); ``n_long_bars`` counts the finite bars of persistence at
    least ``0.01 var(y)`` plus the infinite one. ``saturated`` is 1 when no
    new minimum appeared over the second half of the starts or when Chao1
    equals the number of minima hit from the starts. Without a strict
    minimum (e.g. ``l2 = 0``, where descents end at degenerate points)
    ``best_loss`` is NaN and the counts are 0.
    """
    arch, data, surface = problem(cell)
    group = SymmetryGroup(arch, l2=cell["l2"])
    starts = seeded_starts(cell, arch, 2)
    tree = merge_tree(surface, starts, group=group, seed=cell["seed"], **merge_options(cell))
    scale = float(np.var(data.y))
    return {**size_columns(arch, group), "loss_scale": scale, **_tree_summary(tree, scale)}


# "critical_points" lives in its own module (it imports only lossbounds.experiments.cell).
measurement(
    "critical_points",
    outputs=_critical_cell.CRITICAL_OUTPUTS,
    options=_critical_cell.OPTIONS,
)(_critical_cell.measure_critical_points)
