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

The registry (:mod:`lossbounds.experiments.measurements`) registers it.
"""

from __future__ import annotations

import math
import time

import numpy as np

from lossbounds.experiments.cell import (
    MERGE_OPTIONS,
    START_OPTIONS,
    Option,
    merge_options,
    problem,
    seeded_starts,
    size_columns,
)
from lossbounds.landscape.newton import orbit_weights, saturation_curve
from lossbounds.landscape.symmetry import SymmetryGroup
from lossbounds.topology.connectivity import merge_tree
from lossbounds.topology.critical import critical_points
from lossbounds.topology.options import MergeOptions, parse_options

__all__ = [
    "PERSISTENCE",
    "CRITICAL_OUTPUTS",
    "OPTIONS",
    "measure_critical_points",
    "seed_points",
    "critical_columns",
    "barcode_columns",
]

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
OPTIONS = {
    **START_OPTIONS,
    **MERGE_OPTIONS,
    "n_starts": Option(64, START_OPTIONS["n_starts"].check),
    "check_bands": Option(MergeOptions().check_bands, MERGE_OPTIONS["check_bands"].check),
    "max_rounds": Option(MergeOptions().max_rounds, MERGE_OPTIONS["max_rounds"].check),
}


def _flat_no_singleton(curve: np.ndarray, hits: np.ndarray) -> int:
    """1 when ``hits`` is not empty, ``curve`` gained nothing over its second half, and no hit is 1."""
    S = len(curve)
    flat = S >= 2 and curve[-1] == curve[S // 2 - 1]
    return int(hits.size > 0 and flat and not np.any(hits == 1))


def _saturated(cp, index: int, rows: slice) -> int:
    """1 when the seeds ``rows`` reached a class of this index, none new over their second half, none once.

    A seed set that reached no class of the index is not evidence that
    there is none: 0 then.
    """
    assign = cp.assignment(index)[rows]
    hits = np.bincount(assign[assign >= 0]) if np.any(assign >= 0) else np.zeros(0, int)
    return _flat_no_singleton(saturation_curve(assign), hits[hits > 0])


def _full_reason(group, full: np.ndarray, exact_limit: int) -> str:
    """Why a full-space count of index 0..2 is NaN ("" when all three are defined).

    Above ``exact_limit`` an untied group's orbit sizes come from the
    stabiliser search, so only a tied group (identity skips) is undefined there.
    """
    if np.isfinite(full).all():
        return ""
    if group.tied and group.order > exact_limit:
        return f"group order {group.order} > exact_limit {exact_limit}"
    bad = [k for k in range(len(full)) if not np.isfinite(full[k])]
    return "degenerate class of index " + ",".join(map(str, bad))


def seed_points(starts: np.ndarray, tree) -> tuple[np.ndarray, slice]:
    """Seeds of the index-1 and index-2 search: the starts, the tree's minima, its band tops.

    Newton on ``grad f = 0`` from random starts seldom converges to a low
    index; from the merge tree's band tops (refined saddles or the highest
    images) it reaches the index-1 saddles. Returns the seeds (S + k + E, d)
    and the slice of the band tops.
    """
    seeds = np.concatenate([starts, tree.minima, tree.saddles.points])
    first = len(starts) + len(tree.minima)
    return seeds, slice(first, len(seeds))


def critical_columns(cp, tree, group, opts: MergeOptions, bands: slice) -> dict:
    """Return the counts by Morse index 0, 1, 2, modulo G and in full space, and their saturation.

    Index 0: the merge tree's minima (components modulo G; descents from the
    starts), their orbit sizes summed for ``n_crit_0_full`` and ``saturated``
    (the starts' descents found no new minimum over their second half and
    none once). Indices 1 and 2: the classes of ``cp`` (Newton from
    :func:`seed_points`); ``saturated_1`` is the test over the band tops,
    ``saturated_2`` over every seed. ``n_crit_k_full`` is NaN when a class is
    degenerate or a tied group exceeds ``exact_limit`` (``full_undefined`` says which).
    """
    n, f = np.zeros(3), np.zeros(3)
    n[0] = len(tree.minima_values)
    f[0] = np.sum(orbit_weights(tree.minima, tree.nullity, group, opts))
    counts, full = cp.counts(), cp.counts(full=True)
    top = min(3, len(counts))
    n[1:top], f[1:top] = counts[1:top], full[1:top]
    hits0 = tree.hits[tree.hits > 0]
    return {
        **{f"n_crit_{k}": int(n[k]) for k in range(3)},
        **{f"n_crit_{k}_full": float(f[k]) for k in range(3)},
        "full_undefined": _full_reason(group, f, opts.exact_limit),
        "n_degenerate": int(np.sum(tree.nullity > 0) + np.sum(cp.nullity[cp.index > 0] > 0)),
        "n_newton_failed": int(sum(cp.rejected.values())),
        "singletons_0": int(np.sum(hits0 == 1)),
        "saturated": _flat_no_singleton(tree.saturation, hits0),
        "saturated_1": _saturated(cp, 1, bands),
        "saturated_2": _saturated(cp, 2, slice(None)),
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


def measure_critical_points(cell: dict) -> dict:
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
    starts = seeded_starts(cell, arch, 3)
    opts = merge_options(cell)
    tree = merge_tree(surface, starts, group=group, seed=cell["seed"], **opts)
    seeds, bands = seed_points(starts, tree)
    cp = critical_points(surface, seeds, group=group, **opts)
    scale = float(np.var(data.y))
    start_loss = float(np.median(surface(starts)))
    out = {
        **size_columns(arch, group),
        "loss_scale": scale,
        **critical_columns(cp, tree, group, parse_options(opts), bands),
        **barcode_columns(tree, scale, start_loss),
    }
    out["cpu_process_seconds"] = time.process_time() - cpu
    return out
