"""Sweeps: a grid of cells, each measured once, into one resumable results table.

A *sweep spec* (a TOML file, read with the standard library's ``tomllib``)
describes a grid of *cells*. A cell is one network on one dataset with one
measurement: the inputs of :data:`INPUTS` (``dataset``, ``inputs``,
``width``, ``hidden_layers``, ``activation``, ``output``, ``loss``,
``skip``, ``samples``, ``seed``, ``noise``, ``l2``, and ``teacher_width``,
``teacher_layers``, ``teacher_activation`` of the ``"teacher"`` dataset, see
:func:`problem`) plus the options of the chosen measurement. A spec has
these top-level keys:

``measurement``
    Name of a registered measurement (:data:`MEASUREMENTS`): ``"census"``
    (the default), ``"bounds"`` or ``"merge_tree"``; one per sweep.
``name``, ``description``
    Optional strings (``name`` defaults to the file's stem).
``[fixed]``
    Keys with one value for every cell.
``[axes]``
    Keys with a non-empty list of values; the grid is their product.
``[[cases]]``
    Optional list of tables, each an explicit combination of keys (e.g.
    matched deep/shallow pairs); the grid is the product of the axes with
    the list of cases.

A key may be set in only one of ``[fixed]``, ``[axes]`` and ``[[cases]]``;
unset keys take their defaults; ``width`` and ``samples`` have none.

Each cell has a stable key, :func:`cell_key` (a hash of the canonical JSON
of all its inputs and the measurement's name), stored in the column
``cell``. :func:`run_sweep` writes one row per finished cell to
``OUT/results.csv``: the key, the inputs, the measurement's outputs, the
cell's wall time ``seconds`` and its CPU time ``cpu_seconds`` (of the thread
that ran it; below ``seconds`` when other processes compete for the cores).
Rows are appended by the calling process only, each flushed and fsync'ed,
so a killed sweep loses at most the cells in flight; a restarted sweep
computes only the cells whose key is not in the table yet.

Cells run on a ``dask.distributed`` cluster (a LocalCluster of
single-threaded worker processes, or any running scheduler) or one by one
in the calling process; each cell runs with one torch thread.

Adding a measurement
--------------------
Register a function ``cell -> dict`` with :func:`measurement`, naming its
output columns and its options (default and check), e.g.::

    @measurement("merge_tree", outputs=("n_params", "b0_median"),
                 options={"n_points": Option(4096, _positive_int)})
    def _merge_tree(cell):
        arch, data, surface = problem(cell)
        ...
        return {"n_params": surface.n_params, "b0_median": ...}

:func:`problem` builds the architecture, the seeded dataset and the loss
surface of a cell, so measurements share one definition of a cell.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import hashlib
import io
import itertools
import json
import logging
import math
import os
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from lossbounds._checks import check_int, check_nonnegative
from lossbounds.landscape.data import make_regression, make_teacher_student
from lossbounds.landscape.layout import ParamLayout
from lossbounds.landscape.optimize import basin_census
from lossbounds.landscape.surface import LossSurface
from lossbounds.landscape.symmetry import SymmetryGroup
from lossbounds.theory.architecture import Architecture
from lossbounds.theory.bounds import bound_summary
from lossbounds.topology.connectivity import merge_tree

__all__ = [
    "INPUTS",
    "MEASUREMENTS",
    "Option",
    "Measurement",
    "measurement",
    "SweepSpec",
    "parse_spec",
    "load_spec",
    "cell_key",
    "architecture",
    "teacher_architecture",
    "make_data",
    "problem",
    "run_cell",
    "SweepReport",
    "run_sweep",
    "read_results",
]

RESULTS_FILE = "results.csv"
FAILURES_FILE = "failures.csv"


# ---------------------------------------------------------------- value checks


def _positive_int(name, value):
    return check_int(name, value, 1)


def _nonnegative_int(name, value):
    return check_int(name, value, 0)


def _nonnegative_float(name, value):
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return check_nonnegative(name, value)


def _positive_float(name, value):
    value = _nonnegative_float(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def _choice(*allowed):
    def check(name, value):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        return value

    return check


def _string(name, value):
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value.lower()


@dataclass(frozen=True)
class Option:
    """A cell input: its default (None: required) and its check ``(name, value) -> value``."""

    default: object
    check: Callable


#: The inputs every cell has, whatever its measurement.
INPUTS: dict[str, Option] = {
    "dataset": Option("teacher_student", _choice("teacher_student", "regression", "teacher")),
    "inputs": Option(1, _positive_int),
    "width": Option(None, _positive_int),
    "hidden_layers": Option(1, _positive_int),
    "activation": Option("tanh", _string),
    "output": Option("linear", _choice("linear", "sigmoid")),
    "loss": Option("mse", _choice("mse", "bce")),
    "skip": Option("none", _choice("none", "identity", "projection")),
    "samples": Option(None, _positive_int),
    "seed": Option(0, _nonnegative_int),
    "noise": Option(0.01, _nonnegative_float),
    "l2": Option(0.0, _nonnegative_float),
    "teacher_width": Option(4, _positive_int),
    "teacher_layers": Option(1, _positive_int),
    "teacher_activation": Option("tanh", _string),
}


# ---------------------------------------------------------------- registry


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
_TIMES = ("seconds", "cpu_seconds")

#: Registered measurements by name.
MEASUREMENTS: dict[str, Measurement] = {}


def measurement(name: str, outputs, options=None, check=None):
    """Register ``func(cell) -> dict`` as the measurement ``name`` (a decorator).

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
        names = ["cell", "measurement", *INPUTS, *options, *outputs, *_TIMES]
        clash = sorted({n for n in names if names.count(n) > 1})
        if clash:
            raise ValueError(f"measurement {name!r}: column names repeat: {clash}")
        MEASUREMENTS[name] = Measurement(name, func, outputs, options, check)
        return func

    return register


# ---------------------------------------------------------------- the spec

_TOP_LEVEL = ("name", "description", "measurement", "fixed", "axes", "cases")


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep spec (see the module docstring for the file format).

    Attributes
    ----------
    name : str
        The spec's ``name``, else the file's stem.
    measurement : Measurement
        The one measurement of every cell.
    cells : list of dict
        Every cell of the grid, each a dict of all inputs (:data:`INPUTS`),
        the measurement's options and ``measurement`` (its name), in grid
        order: cases vary slowest, then the axes in file order.
    description : str
        Free text of the spec.
    """

    name: str
    measurement: Measurement
    cells: list
    description: str = ""

    @property
    def keys(self) -> list[str]:
        """:func:`cell_key` of every cell, in grid order."""
        return [cell_key(c) for c in self.cells]

    def subset(self, n_cells: int | None = None, **where) -> SweepSpec:
        """Return a smaller spec: the first ``n_cells`` cells matching ``where``.

        For a quick live version of a committed spec, e.g. in a notebook::

            spec = load_spec("sweeps/claims_depth_width.toml")
            small = spec.subset(4, seed=0, samples=12, width=[4, 2])
            report = run_sweep(small, out_dir, workers=0, progress=False)
            table = read_results(report.path)

        The cells keep their keys, so their rows can be compared with (or
        appended to) the full table.

        Parameters
        ----------
        n_cells : int or None
            Keep at most this many cells (>= 1), in grid order; None keeps all.
        **where
            Input or option names, each with a value or a list of values a
            cell must have.

        Returns
        -------
        SweepSpec
            The matching cells, with this spec's name, measurement and description.

        Raises
        ------
        ValueError
            If a name is not a column of the spec, ``n_cells`` is not a
            positive integer, or no cell matches.
        """
        known = ["measurement", *INPUTS, *self.measurement.options]
        for key in where:
            if key not in known:
                raise ValueError(f"subset: unknown key {key!r}; accepted: {', '.join(known)}")
        allowed = {k: v if isinstance(v, list | tuple) else [v] for k, v in where.items()}
        cells = [c for c in self.cells if all(c[k] in vs for k, vs in allowed.items())]
        if n_cells is not None:
            cells = cells[: check_int("n_cells", n_cells, 1)]
        if not cells:
            raise ValueError(f"subset: no cell of sweep {self.name!r} matches {where}")
        return SweepSpec(self.name, self.measurement, cells, self.description)

    @property
    def columns(self) -> list[str]:
        """Columns of the results table, in order."""
        m = self.measurement
        return ["cell", "measurement", *INPUTS, *m.options, *m.outputs, *_TIMES]


def _table(data, section, where):
    value = data.get(section, {})
    if not isinstance(value, dict):
        raise ValueError(f"{where}: [{section}] must be a table, got {value!r}")
    return value


def _sections(data: dict, where: str):
    """Return fixed (dict), axes (dict of lists), cases (list of dicts), checked for shape."""
    unknown = sorted(set(data) - set(_TOP_LEVEL))
    if unknown:
        raise ValueError(
            f"{where}: unknown top-level key(s) {unknown}; accepted: {', '.join(_TOP_LEVEL)}"
        )
    fixed, axes = _table(data, "fixed", where), _table(data, "axes", where)
    for key, values in axes.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"{where}: [axes] {key} must be a non-empty list, got {values!r}")
    cases = data.get("cases", [{}])
    if not isinstance(cases, list) or not cases or not all(isinstance(c, dict) for c in cases):
        raise ValueError(f"{where}: [[cases]] must be a non-empty list of tables, got {cases!r}")
    return fixed, axes, cases


def _check_keys(fixed, axes, cases, options, where):
    """Every key known, set in one place only, required keys set."""
    accepted = {**INPUTS, **options}
    places = [("[fixed]", fixed), ("[axes]", axes)] + [("[[cases]]", c) for c in cases]
    seen = {}
    for place, table in places:
        for key in table:
            if key not in accepted:
                raise ValueError(
                    f"{where}: unknown key {key!r} in {place}; accepted: {', '.join(accepted)}"
                )
            if seen.get(key, place) != place:
                raise ValueError(f"{where}: {key!r} is set in both {seen[key]} and {place}")
            seen[key] = place
    for key, opt in accepted.items():
        if opt.default is None and key not in seen:
            raise ValueError(f"{where}: {key!r} must be set in [fixed], [axes] or [[cases]]")
    return accepted


def _check_value(accepted, key, value, where):
    try:
        return accepted[key].check(key, value)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _check_cell(cell: dict, meas: Measurement, where: str) -> None:
    """Refuse a cell whose architecture (or teacher) is invalid, or that ``meas`` cannot take.

    E.g. a skip with one hidden layer, or a census of a BCE loss.
    """
    try:
        architecture(cell)
        if cell["dataset"] == "teacher":
            teacher_architecture(cell)
        if meas.check is not None:
            meas.check(cell)
    except ValueError as exc:
        shown = {k: cell[k] for k in ("width", "hidden_layers", "activation", "skip", "loss")}
        raise ValueError(f"{where}: cell {shown}: {exc}") from None


def parse_spec(data: dict, name: str, where: str | None = None) -> SweepSpec:
    """Validate a spec given as a dict (the parsed TOML) and expand its grid.

    Parameters
    ----------
    data : dict
        Top-level keys ``measurement``, ``name``, ``description``, ``fixed``,
        ``axes``, ``cases`` (see the module docstring).
    name : str
        Name used when ``data`` has no ``name``.
    where : str, optional
        Prefix of error messages (default: the name).

    Returns
    -------
    SweepSpec

    Raises
    ------
    ValueError
        One line naming the offending key: unknown keys, a key set twice,
        empty axes, bad values, invalid architectures, repeated cells.
    """
    where = where or f"sweep spec {name!r}"
    fixed, axes, cases = _sections(data, where)
    mname = data.get("measurement", "census")
    if mname not in MEASUREMENTS:
        raise ValueError(
            f"{where}: measurement must be one of {', '.join(MEASUREMENTS)}, got {mname!r}"
        )
    meas = MEASUREMENTS[mname]
    accepted = _check_keys(fixed, axes, cases, meas.options, where)
    base = {k: opt.default for k, opt in accepted.items()}
    base.update({k: _check_value(accepted, k, v, where) for k, v in fixed.items()})
    axes = {k: [_check_value(accepted, k, v, where) for v in vs] for k, vs in axes.items()}
    cells = []
    for case in cases:
        case = {k: _check_value(accepted, k, v, where) for k, v in case.items()}
        for combo in itertools.product(*axes.values()):
            cell = {"measurement": mname, **base, **case, **dict(zip(axes, combo, strict=True))}
            _check_cell(cell, meas, where)
            cells.append(cell)
    counts = collections.Counter(cell_key(c) for c in cells)
    if len(counts) < len(cells):
        dup = next(c for c in cells if counts[cell_key(c)] > 1)
        raise ValueError(f"{where}: the grid holds a cell twice (repeated axis values?): {dup}")
    spec_name = data.get("name", name)
    if not isinstance(spec_name, str) or not spec_name:
        raise ValueError(f"{where}: name must be a non-empty string, got {spec_name!r}")
    return SweepSpec(spec_name, meas, cells, str(data.get("description", "")))


def load_spec(path) -> SweepSpec:
    """Read and validate a TOML sweep spec.

    Parameters
    ----------
    path : str or pathlib.Path
        The spec file; its stem is the default sweep name.

    Returns
    -------
    SweepSpec
        As :func:`parse_spec` returns it.

    Raises
    ------
    ValueError
        If the file is missing, is not valid TOML, or the spec is invalid
        (see :func:`parse_spec`); one line naming the file.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ValueError(f"sweep spec {str(path)!r}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"sweep spec {str(path)!r}: invalid TOML: {exc}") from None
    return parse_spec(data, path.stem, where=f"sweep spec {str(path)!r}")


def cell_key(cell: dict) -> str:
    """Stable key of a cell: the first 16 hex digits of the SHA-256 of its canonical JSON.

    Parameters
    ----------
    cell : dict
        Inputs (str, int or float values), including ``measurement``.

    Returns
    -------
    str
        16 lower-case hex digits; equal cells (whatever the key order) give
        equal keys on every machine.
    """
    text = json.dumps(cell, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- one cell


def architecture(cell: dict):
    """Return the cell's :class:`~lossbounds.theory.architecture.Architecture` (l2 term on if l2 > 0)."""
    return Architecture(
        n_inputs=cell["inputs"],
        width=cell["width"],
        hidden_layers=cell["hidden_layers"],
        n_samples=cell["samples"],
        activation=cell["activation"],
        output=cell["output"],
        loss=cell["loss"],
        l2=cell["l2"] > 0,
        skip=None if cell["skip"] == "none" else cell["skip"],
    )


def teacher_architecture(cell: dict):
    """Return the teacher of a ``dataset = "teacher"`` cell (its own width, depth, activation).

    ``Architecture(inputs, teacher_width, teacher_layers, samples,
    activation=teacher_activation)`` with a linear output and no skip; it does
    not depend on the student's ``width``, ``hidden_layers``, ``activation``,
    ``skip`` or ``l2``.
    """
    teacher = {
        "width": cell["teacher_width"],
        "hidden_layers": cell["teacher_layers"],
        "activation": cell["teacher_activation"],
        **{"output": "linear", "loss": "mse", "l2": 0.0, "skip": "none"},
    }
    return architecture({**cell, **teacher})


def make_data(cell: dict):
    """Return the seeded dataset of a cell (see :func:`problem`)."""
    m, noise, seed = cell["samples"], cell["noise"], cell["seed"]
    if cell["dataset"] == "teacher":
        return make_teacher_student(teacher_architecture(cell), m, noise=noise, seed=seed)
    if cell["dataset"] == "teacher_student":
        return make_teacher_student(architecture(cell), m, noise=noise, seed=seed)
    return make_regression(m, cell["inputs"], noise=noise, seed=seed)


def problem(cell: dict):
    """Architecture, seeded dataset and float64 loss surface of a cell.

    The dataset is

    - ``"teacher_student"``: ``make_teacher_student(arch, samples, noise,
      seed)``, a teacher of the student's own architecture (so it changes
      with the student);
    - ``"teacher"``: ``make_teacher_student(teacher, samples, noise, seed)``
      with the fixed teacher of :func:`teacher_architecture`: cells that
      differ only in the student (width, depth, activation, skip, ``l2``,
      measurement options) see exactly the same ``X`` and ``y`` for a given
      ``seed`` and ``samples``, as paired comparisons need;
    - ``"regression"``: ``make_regression(samples, inputs, noise, seed)``.

    The surface has the cell's ``l2`` coefficient.

    Parameters
    ----------
    cell : dict
        A cell of a :class:`SweepSpec`.

    Returns
    -------
    arch : lossbounds.theory.architecture.Architecture
    data : lossbounds.landscape.data.Dataset
    surface : lossbounds.landscape.surface.LossSurface
    """
    arch = architecture(cell)
    data = make_data(cell)
    return arch, data, LossSurface(arch, data.X, data.y, l2=cell["l2"])


@contextlib.contextmanager
def _one_torch_thread():
    """Run the body with one torch thread (workers share the cores), then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_cell(cell: dict, measurement: Measurement | None = None) -> dict:
    """Measure one cell: its row of the results table.

    Parameters
    ----------
    cell : dict
        A cell of a :class:`SweepSpec`.
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


# ---------------------------------------------------------------- measurements


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
        "chao1": hits.size + f1 * (f1 - 1) / (2 * (f2 + 1)),
    }


#: Options of the seeded starts of the census and the merge tree.
_START_OPTIONS = {
    "n_starts": Option(32, _positive_int),
    "start_seed": Option(0, _nonnegative_int),
    "start_scale": Option(2.0, _positive_float),
}


def _starts(cell: dict, arch, stream: int) -> np.ndarray:
    """Return ``ParamLayout(arch).init`` starts (n_starts, N), seeded [seed, start_seed, stream]."""
    rng = np.random.default_rng([cell["seed"], cell["start_seed"], stream])
    return ParamLayout(arch).init(rng, scale=cell["start_scale"], n_points=cell["n_starts"])


def _least_squares(cell: dict) -> None:
    """Refuse losses other than least squares (the census minimises least squares)."""
    if cell["loss"] != "mse":
        raise ValueError(f"the census needs loss 'mse' (least squares), got {cell['loss']!r}")


@measurement(
    "census",
    outputs=_CENSUS_OUTPUTS,
    check=_least_squares,
    options={
        **_START_OPTIONS,
        "lm_iter": Option(50, _positive_int),
        "newton_iter": Option(60, _nonnegative_int),
    },
)
def _census(cell: dict) -> dict:
    """Basin census of the cell: distinct strict minima modulo G from seeded starts.

    Starts: ``ParamLayout(arch).init(rng, start_scale, n_starts)`` with
    ``rng = default_rng([seed, start_seed, 1])``; then
    :func:`lossbounds.landscape.optimize.basin_census` (l2-aware group).
    """
    arch, data, surface = problem(cell)
    starts = _starts(cell, arch, 1)
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
    options={
        **_START_OPTIONS,
        "lm_steps": Option(100, _positive_int),
        "n_neighbors": Option(4, _positive_int),
        "max_rounds": Option(1, _positive_int),
        "n_images": Option(12, _positive_int),
        "check_bands": Option(0, _nonnegative_int),
    },
)
def _merge_tree(cell: dict) -> dict:
    """Merge tree of the cell's loss surface modulo its symmetry group (l2-aware).

    Starts: ``ParamLayout(arch).init(rng, start_scale, n_starts)`` with
    ``rng = default_rng([seed, start_seed, 2])``; then
    :func:`lossbounds.topology.connectivity.merge_tree` with the options
    ``lm_steps``, ``n_neighbors``, ``max_rounds``, ``n_images`` and
    ``check_bands`` (the others at their defaults). Levels are relative to the
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
    starts = _starts(cell, arch, 2)
    names = ("lm_steps", "n_neighbors", "max_rounds", "n_images", "check_bands")
    tree = merge_tree(
        surface, starts, group=group, seed=cell["seed"], **{k: cell[k] for k in names}
    )
    bounds = bound_summary(arch)
    scale = float(np.var(data.y))
    return {
        "n_params": int(surface.n_params),
        "chain_length": int(bounds["chain_length"]),
        "log10_khovanskii": bounds["log10_critical_points"],
        "log10_zell_expression": bounds["log10_zell_expression"],
        "log10_group_order": math.log10(group.order),
        "loss_scale": scale,
        **_tree_summary(tree, scale),
    }


# ---------------------------------------------------------------- the table


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
    """Header and complete rows of a CSV file."""
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r]
    return rows[0], [r for r in rows[1:] if len(r) == len(rows[0])]


class _ResultsTable:
    """Append-only CSV: header ``columns``, one fsync'ed row per finished cell."""

    def __init__(self, path: Path, columns: list[str]):
        self.path, self.columns = path, columns
        self.keys: set[str] = set()
        if path.exists():
            _repair_tail(path)
        if not path.exists() or path.stat().st_size == 0:
            _append_line(path, columns)
            return
        header, rows = _read_rows(path)
        if header != columns:
            raise ValueError(
                f"{path} has columns {header}, this sweep writes {columns}: "
                "use another --out directory"
            )
        self.keys = {r[0] for r in rows}

    def append(self, row: dict) -> None:
        """Write one row (keys ``columns``) and make it durable."""
        _append_line(self.path, [row[c] for c in self.columns])
        self.keys.add(row["cell"])


def _record_failure(path: Path, cell: dict, exc: BaseException) -> None:
    """One line of ``failures.csv``: key, error (type and first line), inputs as JSON."""
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
        (``nan`` included), str otherwise; ``cell`` is always str.
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


# ---------------------------------------------------------------- running


@dataclass(frozen=True)
class SweepReport:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    path : pathlib.Path
        The results table.
    n_cells : int
        Cells in the spec.
    n_before : int
        Of those, already in the table when the run started.
    n_computed : int
        Computed and written by this run.
    n_failed : int
        Cells whose measurement raised in this run; listed in
        ``failures.csv`` beside the table, not in the table (a re-run retries them).
    n_foreign : int
        Rows of the table whose key is not a cell of this spec (kept).
    """

    path: Path
    n_cells: int
    n_before: int
    n_computed: int
    n_failed: int
    n_foreign: int


def _in_process(cells, meas):
    """Yield ``(cell, row or exception)`` computing the cells one by one here."""
    for cell in cells:
        try:
            yield cell, run_cell(cell, meas)
        except Exception as exc:  # recorded; the sweep goes on
            yield cell, exc


def _cluster(stack, workers, scheduler):
    """Return a dask Client on a new LocalCluster (closed with ``stack``) or on ``scheduler``."""
    import dask
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        return stack.enter_context(Client(scheduler))
    # no dashboard, so no statistical profiler interrupting the cells every 10 ms
    with dask.config.set({"distributed.worker.profile.enabled": False}):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    stack.enter_context(cluster)
    return stack.enter_context(Client(cluster))


def _on_dask(cells, meas, workers, scheduler):
    """Yield ``(cell, row or exception)`` as the cells finish on a dask cluster."""
    from dask.distributed import as_completed

    with contextlib.ExitStack() as stack:
        client = _cluster(stack, workers, scheduler)
        futures = client.map(run_cell, cells, measurement=meas, pure=False)
        cell_of = {f.key: c for f, c in zip(futures, cells, strict=True)}
        try:
            for fut in as_completed(futures):
                try:
                    outcome = fut.result()
                except Exception as exc:  # recorded; the sweep goes on
                    outcome = exc
                yield cell_of[fut.key], outcome
                fut.release()
        finally:
            client.cancel(futures)


def _compute(spec, todo, out, workers, scheduler, progress, table, before) -> int:
    """Run the cells ``todo``, append their rows; return how many failed."""
    failures = out / FAILURES_FILE
    failures.unlink(missing_ok=True)
    if scheduler is None and workers == 0:
        outcomes = _in_process(todo, spec.measurement)
    else:
        outcomes = _on_dask(todo, spec.measurement, workers, scheduler)
    failed = 0
    total = len(spec.cells)
    with tqdm(total=total, initial=before, unit="cell", disable=not progress) as bar:
        for cell, outcome in outcomes:
            if isinstance(outcome, Exception):
                failed += 1
                _record_failure(failures, cell, outcome)
                bar.set_postfix(failed=failed)
            else:
                table.append(outcome)
            bar.update()
    return failed


def run_sweep(
    spec, out, workers: int | None = None, scheduler: str | None = None, progress: bool = True
) -> SweepReport:
    """Compute the cells of ``spec`` missing from ``out/results.csv`` and append their rows.

    Parameters
    ----------
    spec : SweepSpec or str or pathlib.Path
        A spec or the path of a TOML spec file.
    out : str or pathlib.Path
        Output directory (created if missing); the table is ``out/results.csv``.
    workers : int or None
        Worker processes of a local ``dask.distributed`` cluster (one thread
        each); None for one per CPU core; 0 runs the cells one by one in this
        process (no dask). Ignored when ``scheduler`` is given.
    scheduler : str or None
        Address of a running dask scheduler (e.g. ``"tcp://host:8786"`` of a
        dask-jobqueue SLURMCluster) to run the cells on.
    progress : bool
        A tqdm bar counting cells, and one status line before and after.

    Returns
    -------
    SweepReport
        A cell whose measurement raises does not stop the sweep: it is
        counted in ``n_failed`` and listed in ``out/failures.csv`` (key,
        error, inputs), which each run rewrites.

    Raises
    ------
    ValueError
        For an invalid spec, a bad ``workers`` or a table written with other
        columns.

    Notes
    -----
    Local workers are spawned processes that import the main module: a
    script that calls this with ``workers >= 1`` must guard its entry point
    with ``if __name__ == "__main__":``.
    """
    spec = spec if isinstance(spec, SweepSpec) else load_spec(spec)
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    workers = check_int("workers", workers, 0)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = _ResultsTable(out / RESULTS_FILE, spec.columns)
    keys = spec.keys
    todo = [c for c, k in zip(spec.cells, keys, strict=True) if k not in table.keys]
    before, foreign = len(keys) - len(todo), len(table.keys - set(keys))
    say = print if progress else (lambda *a, **k: None)
    if not todo:
        say(f"sweep {spec.name}: all {len(keys)} cells are in {table.path}; nothing to compute")
        return SweepReport(table.path, len(keys), before, 0, 0, foreign)
    say(f"sweep {spec.name}: {len(keys)} cells, {before} done, {len(todo)} to compute")
    failed = _compute(spec, todo, out, workers, scheduler, progress, table, before)
    say(f"sweep {spec.name}: wrote {len(todo) - failed} rows to {table.path}")
    if failed:
        say(f"sweep {spec.name}: {failed} cells failed, see {out / FAILURES_FILE}")
    return SweepReport(table.path, len(keys), before, len(todo) - failed, failed, foreign)
