"""Sweep specs: the TOML format, its checks, and the grid of cells it describes.

A *sweep spec* (a TOML file, read with the standard library's ``tomllib``)
has these top-level keys:

``measurement``
    A registered measurement (:data:`~lossbounds.experiments.measurements.MEASUREMENTS`):
    ``"census"`` (the default), ``"bounds"`` or ``"merge_tree"``; one per sweep.
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

The keys are the cell inputs (:data:`~lossbounds.experiments.cell.INPUTS`)
and the options of the measurement. A key may be set in only one of
``[fixed]``, ``[axes]`` and ``[[cases]]``; unset keys take their defaults
(an optional option set nowhere is not recorded); ``width`` and ``samples``
have none.
"""

from __future__ import annotations

import collections
import itertools
import tomllib
from dataclasses import dataclass
from pathlib import Path

from lossbounds._checks import check_int
from lossbounds.experiments.cell import INPUTS, architecture, cell_key, teacher_architecture
from lossbounds.experiments.measurements import MEASUREMENTS, TIMES, Measurement

__all__ = ["SweepSpec", "parse_spec", "load_spec"]

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
        the measurement's options (an optional one only where the spec sets
        it) and ``measurement`` (its name), in grid order: cases vary
        slowest, then the axes in file order.
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
        m, first = self.measurement, self.cells[0]
        options = [k for k in m.options if k in first]
        return ["cell", "measurement", *INPUTS, *options, *m.outputs, *TIMES]


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
    """Check every key is known, set in one place only, required keys set.

    Returns the accepted options and the set of keys the spec sets.
    """
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
        if opt.default is None and not opt.optional and key not in seen:
            raise ValueError(f"{where}: {key!r} must be set in [fixed], [axes] or [[cases]]")
    return accepted, set(seen)


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
        if cell["dataset"] in ("teacher", "make_teacher"):
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
    accepted, seen = _check_keys(fixed, axes, cases, meas.options, where)
    base = {k: opt.default for k, opt in accepted.items() if not opt.optional or k in seen}
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
