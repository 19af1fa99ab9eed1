"""The ``"critical_points"`` sweep measurement: critical points by Morse index and the merge tree.

For one cell, on its loss surface modulo the l2-aware symmetry group G and
from one set of seeded starts:

- :func:`~lossbounds.topology.critical.critical_points` (Newton on
  ``grad f = 0`` from the starts, no descent) gives the classes modulo G by
  Morse index (``n_crit_0..2``), their orbit-weighted full-space counts
  (``n_crit_*_full``) and the saturation of each index;
- :func:`~lossbounds.topology.connectivity.merge_tree` (descent, then bands
  between minima) gives the H0 barcode: persistent minima at three
  thresholds, merges, fallbacks and the barcode statistic of
  ``sweeps/MARGINS.toml`` ``[barcodes]``.

Importing :mod:`lossbounds.experiments.measurements` registers it.
"""

from __future__ import annotations

import math
import time

import numpy as np

from lossbounds.experiments.cell import Option, problem
from lossbounds.experiments.measurements import (
    _MERGE_OPTIONS,
    _START_OPTIONS,
    _starts,
    measurement,
    merge_options,
    size_columns,
)
from lossbounds.landscape.symmetry import SymmetryGroup
from lossbounds.topology.connectivity import merge_tree
from lossbounds.topology.critical import critical_points
from lossbounds.topology.options import MergeOptions

__all__ = ["PERSISTENCE", "CRITICAL_OUTPUTS", "critical_columns", "barcode_columns"]

#: Persistence thresholds of ``persistent_minima_1..3``, in units of var(y).
PERSISTENCE = (1e-1, 1e-2, 1e-3)

#: Output columns of the ``"critical_points"`` measurement, in table order.
CRITICAL_OUTPUTS = (
    "n_params",
    "chain_length",
    "log10_khovanskii",
    "log10_zell_expression",
    "log10_group_order",
    "loss_scale",
    "n_crit_0",
    "n_crit_1",
    "n_crit_2",
    "n_crit_0_full",
    "n_crit_1_full",
    "n_crit_2_full",
    "full_undefined",
    "n_degenerate",
    "n_newton_failed",
    "singletons_0",
    "saturated",
    "saturated_1",
    "saturated_2",
    "n_minima",
    "n_saddles",
    "saturated_tree",
    "persistent_minima_1",
    "persistent_minima_2",
    "persistent_minima_3",
    "n_merges",
    "n_fallback",
    "tree_converged",
    "best_loss",
    "start_loss",
    "barcode_r",
    "cpu_process_seconds",
)

#: Options of the measurement: the seeded starts (64 by default) and the MergeOptions
#: fields; ``check_bands`` and ``max_rounds`` are recorded in every row.
_OPTIONS = {
    **_START_OPTIONS,
    **_MERGE_OPTIONS,
    "n_starts": Option(64, _START_OPTIONS["n_starts"].check),
    "check_bands": Option(MergeOptions().check_bands, _MERGE_OPTIONS["check_bands"].check),
    "max_rounds": Option(MergeOptions().max_rounds, _MERGE_OPTIONS["max_rounds"].check),
}


def _flat_no_singleton(curve: np.ndarray, hits: np.ndarray) -> int:
    """1 when ``hits`` is not empty, ``curve`` gained nothing over its second half, and no hit is 1."""
    S = len(curve)
    flat = S >= 2 and curve[-1] == curve[S // 2 - 1]
    return int(hits.size > 0 and flat and not np.any(hits == 1))


def _saturated(cp, index: int) -> int:
    """1 when the starts found a class of this index, none new over their second half, none hit once.

    A start set that reached no class of the index is not evidence that
    there is none: 0 then.
    """
    return _flat_no_singleton(cp.saturation(index), cp.hits[cp.index == index])


def _full_reason(cp, full: np.ndarray, exact_limit: int) -> str:
    """Why a full-space count of index 0..2 is NaN ("" when all three are defined)."""
    if np.isfinite(full).all():
        return ""
    if cp.group_order > exact_limit:
        return f"group order {cp.group_order} > exact_limit {exact_limit}"
    bad = [k for k in range(len(full)) if not np.isfinite(full[k])]
    return "degenerate class of index " + ",".join(map(str, bad))


def critical_columns(cp, exact_limit: int) -> dict:
    """Columns of a :class:`~lossbounds.topology.critical.CriticalPoints` (indices 0, 1, 2).

    ``n_crit_k``: classes modulo G of Morse index k; ``n_crit_k_full``:
    their orbit sizes summed (NaN when a class of index k is degenerate or
    |G| exceeds ``exact_limit``; ``full_undefined`` says which);
    ``n_degenerate``: classes with a zero Hessian eigenvalue;
    ``saturated`` (index 0), ``saturated_1``, ``saturated_2``: 1 when at
    least one class of the index was found, no new one appeared over the
    second half of the starts and none was hit by a single start.
    """
    pad = np.zeros(3)
    counts, full = cp.counts(), cp.counts(full=True)
    n, f = pad.copy(), pad.copy()
    n[: min(3, len(counts))] = counts[:3]
    f[: min(3, len(full))] = full[:3]
    return {
        **{f"n_crit_{k}": int(n[k]) for k in range(3)},
        **{f"n_crit_{k}_full": float(f[k]) for k in range(3)},
        "full_undefined": _full_reason(cp, f, exact_limit),
        "n_degenerate": int(np.sum(cp.nullity > 0)),
        "n_newton_failed": int(sum(cp.rejected.values())),
        "singletons_0": int(np.sum(cp.hits[cp.index == 0] == 1)),
        "saturated": _saturated(cp, 0),
        "saturated_1": _saturated(cp, 1),
        "saturated_2": _saturated(cp, 2),
    }


def barcode_columns(tree, scale: float, start_loss: float) -> dict:
    """Barcode columns of a merge tree (``scale`` = var(y), ``start_loss`` = median loss at the starts).

    ``persistent_minima_i``: H0 bars (the infinite ones included) with
    persistence >= ``PERSISTENCE[i - 1] * scale``; ``n_merges``: finite bars;
    ``n_fallback``: finite bars whose death is an unrefined band maximum;
    ``n_minima``: minima (components) modulo G found by descent; ``n_saddles``:
    distinct refined index-1 saddles of the bands modulo G; ``saturated_tree``: the
    saturation test of ``saturated`` on the minima the descents reached;
    ``barcode_r``: median over finite bars of ``(death - L*) / (start_loss - L*)``
    with ``L*`` the lowest minimum (NaN without a finite bar or a minimum).
    """
    k = len(tree.minima_values)
    best = float(tree.minima_values.min()) if k else math.nan
    dgm = tree.diagram()
    deaths = dgm[np.isfinite(dgm[:, 1]), 1]
    refined = tree.refined
    pers = tree.n_persistent(list(PERSISTENCE), scale) if k else np.zeros(3, int)
    span = start_loss - best
    r = float(np.median((deaths - best) / span)) if deaths.size and span > 0 else math.nan
    return {
        "n_minima": int(k),
        "n_saddles": int(tree.n_saddles),
        "saturated_tree": _flat_no_singleton(tree.saturation, tree.hits[tree.hits > 0]),
        **{f"persistent_minima_{i + 1}": int(pers[i]) for i in range(3)},
        "n_merges": int(deaths.size),
        "n_fallback": int(np.sum(~refined)),
        "tree_converged": int(tree.converged),
        "best_loss": best,
        "start_loss": float(start_loss),
        "barcode_r": r,
    }


@measurement("critical_points", outputs=CRITICAL_OUTPUTS, options=_OPTIONS)
def _critical_points(cell: dict) -> dict:
    """Critical points by index and the merge tree of the cell, modulo its l2-aware group.

    Starts: ``ParamLayout(arch).init(rng, start_scale, n_starts)`` with
    ``rng = default_rng([seed, start_seed, 3])``, the same for both parts;
    :func:`critical_points` and :func:`merge_tree` with the MergeOptions
    fields the spec sets. ``start_loss`` is the median loss at the starts,
    ``loss_scale`` var(y); ``cpu_process_seconds`` the process CPU time of
    the cell (``time.process_time``: every thread of the worker).
    """
    cpu = time.process_time()
    arch, data, surface = problem(cell)
    group = SymmetryGroup(arch, l2=cell["l2"])
    starts = _starts(cell, arch, 3)
    opts = merge_options(cell)
    cp = critical_points(surface, starts, group=group, **opts)
    tree = merge_tree(surface, starts, group=group, seed=cell["seed"], **opts)
    scale = float(np.var(data.y))
    start_loss = float(np.median(surface(starts)))
    exact = opts.get("exact_limit", MergeOptions().exact_limit)
    out = {
        **size_columns(arch, group),
        "loss_scale": scale,
        **critical_columns(cp, exact),
        **barcode_columns(tree, scale, start_loss),
    }
    out["cpu_process_seconds"] = time.process_time() - cpu
    return out
