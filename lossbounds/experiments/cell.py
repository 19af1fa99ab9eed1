"""What a sweep cell is: its inputs, its key, and the problem it poses.

A *cell* is a dict: ``measurement`` (a name), the inputs of :data:`INPUTS`
and the options of its measurement. :func:`problem` turns it into an
architecture, a seeded dataset and a float64 loss surface, so every
measurement shares one definition of a cell.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lossbounds._checks import check_choice, check_int, check_nonnegative, check_positive
from lossbounds.landscape.data import make_regression, make_teacher, make_teacher_student
from lossbounds.landscape.layout import ParamLayout
from lossbounds.landscape.surface import LossSurface
from lossbounds.landscape.symmetry import SymmetryGroup
from lossbounds.theory.architecture import Architecture
from lossbounds.theory.bounds import bound_summary
from lossbounds.topology.options import MergeOptions

__all__ = [
    "Option",
    "INPUTS",
    "cell_key",
    "architecture",
    "teacher_architecture",
    "make_data",
    "problem",
    "START_OPTIONS",
    "seeded_starts",
    "MERGE_OPTIONS",
    "merge_options",
    "size_columns",
]


@dataclass(frozen=True)
class Option:
    """A cell input: its default and its check ``(name, value) -> value``.

    Attributes
    ----------
    default : object
        Value of cells whose spec does not set it; None: the spec must set it.
    check : callable
        ``check(name, value)`` returns the value (normalised) or raises
        ValueError naming ``name``.
    optional : bool
        False: every cell records it (a column of the table, part of the key).
        True: cells record it only when their spec sets it somewhere; otherwise
        the measurement uses ``default`` and the key does not depend on it.
    """

    default: object
    check: Callable
    optional: bool = False


def positive_int(name, value):
    """Check an integer >= 1 (an :class:`Option` check)."""
    return check_int(name, value, 1)


def nonnegative_int(name, value):
    """Check an integer >= 0 (an :class:`Option` check)."""
    return check_int(name, value, 0)


def _choice(*allowed):
    return functools.partial(check_choice, allowed=allowed)


def _name(name, value):
    """Check a non-empty string and lower-case it (activation names)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value.lower()


#: The inputs every cell has, whatever its measurement.
INPUTS: dict[str, Option] = {
    "dataset": Option(
        "teacher_student", _choice("teacher_student", "regression", "teacher", "make_teacher")
    ),
    "inputs": Option(1, positive_int),
    "width": Option(None, positive_int),
    "hidden_layers": Option(1, positive_int),
    "activation": Option("tanh", _name),
    "output": Option("linear", _choice("linear", "sigmoid")),
    "loss": Option("mse", _choice("mse", "bce")),
    "skip": Option("none", _choice("none", "identity", "projection")),
    "samples": Option(None, positive_int),
    "seed": Option(0, nonnegative_int),
    "noise": Option(0.01, check_nonnegative),
    "l2": Option(0.0, check_nonnegative),
    "teacher_width": Option(4, positive_int),
    "teacher_layers": Option(1, positive_int),
    "teacher_activation": Option("tanh", _name),
}


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


def architecture(cell: dict) -> Architecture:
    """Return the cell's architecture (:meth:`Architecture.from_flat`; l2 term on if l2 > 0)."""
    return Architecture.from_flat(cell)


def teacher_architecture(cell: dict) -> Architecture:
    """Return the teacher of a ``dataset = "teacher"`` cell (its own width, depth, activation).

    ``Architecture(inputs, teacher_width, teacher_layers, samples,
    activation=teacher_activation)`` with a linear output, MSE, no l2 and no
    skip: it does not depend on the student.
    """
    teacher = {
        "inputs": cell["inputs"],
        "samples": cell["samples"],
        "width": cell["teacher_width"],
        "hidden_layers": cell["teacher_layers"],
        "activation": cell["teacher_activation"],
    }
    return Architecture.from_flat(teacher)


def make_data(cell: dict):
    """Return the seeded dataset of a cell (see :func:`problem`)."""
    m, noise, seed = cell["samples"], cell["noise"], cell["seed"]
    if cell["dataset"] == "teacher":
        return make_teacher_student(teacher_architecture(cell), m, noise=noise, seed=seed)
    if cell["dataset"] == "make_teacher":
        return make_teacher(
            m, seed, n_inputs=cell["inputs"], teacher_width=cell["teacher_width"],
            teacher_layers=cell["teacher_layers"], teacher_activation=cell["teacher_activation"],
            noise=noise,
        )  # fmt: skip
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
      differ only in the student see the same ``X`` and ``y`` for a given
      ``seed`` and ``samples``, as paired comparisons need;
    - ``"make_teacher"``: :func:`lossbounds.landscape.data.make_teacher` with
      the cell's ``teacher_*`` settings: one teacher per seed, drawn apart from
      the inputs, and data nested in ``samples`` (the redesigned claim sweeps);
    - ``"regression"``: ``make_regression(samples, inputs, noise, seed)``.

    Parameters
    ----------
    cell : dict
        A cell of a sweep spec (or :func:`lossbounds.experiments.measurements.cell_from_row`).

    Returns
    -------
    arch : lossbounds.theory.architecture.Architecture
    data : lossbounds.landscape.data.Dataset
    surface : lossbounds.landscape.surface.LossSurface
        With the cell's ``l2`` coefficient.
    """
    arch = architecture(cell)
    data = make_data(cell)
    return arch, data, LossSurface(arch, data.X, data.y, l2=cell["l2"])


#: Options of the seeded starts of the census, the merge tree and the critical points.
START_OPTIONS = {
    "n_starts": Option(32, positive_int),
    "start_seed": Option(0, nonnegative_int),
    "start_scale": Option(2.0, check_positive),
}


def seeded_starts(cell: dict, arch, stream: int) -> np.ndarray:
    """Return ``ParamLayout(arch).init`` starts (n_starts, N), seeded [seed, start_seed, stream]."""
    rng = np.random.default_rng([cell["seed"], cell["start_seed"], stream])
    return ParamLayout(arch).init(rng, scale=cell["start_scale"], n_points=cell["n_starts"])


#: MergeOptions fields that are run-time settings, not part of a cell: a sweep
#: runs each cell on one torch thread without progress bars.
RUN_TIME = ("threads", "progress")


def _check_merge_option(name, value):
    """Check one MergeOptions field as MergeOptions itself does."""
    return getattr(MergeOptions(**{name: value}), name)


#: The merge tree's options, one per field of MergeOptions (its defaults, its checks);
#: a cell records only those its spec sets.
MERGE_OPTIONS = {
    f.name: Option(getattr(MergeOptions(), f.name), _check_merge_option, optional=True)
    for f in dataclasses.fields(MergeOptions)
    if f.name not in RUN_TIME
}


def merge_options(cell: dict) -> dict:
    """Return the :class:`~lossbounds.topology.connectivity.MergeOptions` fields a merge-tree cell sets."""
    return {k: cell[k] for k in MERGE_OPTIONS if k in cell}


def size_columns(arch, group: SymmetryGroup) -> dict:
    """``n_params``, ``chain_length``, the two bounds (log10) and log10 |G| of a cell's architecture."""
    bounds = bound_summary(arch)
    return {
        "n_params": int(bounds["n_params"]),
        "chain_length": int(bounds["chain_length"]),
        "log10_khovanskii": bounds["log10_critical_points"],
        "log10_zell_expression": bounds["log10_zell_expression"],
        "log10_group_order": math.log10(group.order),
    }
