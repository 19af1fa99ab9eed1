"""The barcode claim of Barannikov et al. as a pre-registered check on a barcode table.

Barannikov et al. (arXiv:1912.00043, 2012.15834) report that the H0 barcodes
of local minima of small networks lie low in the loss range and move lower as
depth and width grow. ``sweeps/MARGINS.toml`` ``[barcodes]`` fixes the
statistic before the table: per cell, ``barcode_r`` is the median over its
finite H0 bars of ``(death - L*) / (L_start - L*)`` (NaN for a cell with no
finite bar: one basin, r undefined). This module tests it, the dataset
(``seed``) being the cluster:

- :func:`per_dataset_r`: per architecture, r averaged over m within each
  dataset (undefined cells left out and counted);
- claim 1 (:func:`level_tests`): per architecture, one-sided t of the mean
  over datasets against ``r0`` (predicted below);
- claim 2 (:func:`slope_test`): slope of the per-(dataset, architecture) r in
  ``log2 n_params``, cluster-robust by dataset, predicted negative, TOST at
  ``+-slope_r``;
- :func:`decide_barcodes`: Holm over the family, then the verdicts of
  ``[verdicts]``; an architecture (or claim 2) with fewer than
  ``min_datasets`` datasets is "undecided (table incomplete)";
- :func:`deaths_summary` and :func:`sensitivity`: the fraction of cells with
  no finite bar and of deaths that are unrefined band maxima (upper bounds),
  and the claims on the cells whose deaths are all verified and with every
  cell holding an upper-bound death moved to its lowest possible r (0);
- :func:`full_space_barcode` (exploratory, not pre-registered): a cell's
  barcode columns from a merge tree *without* the symmetry group, where the
  copies of a minimum are distinct minima with their own bars, as in the
  barcodes of Barannikov et al.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from lossbounds.experiments.claims import groups
from lossbounds.experiments.inference import (
    Effect,
    adjust_pvalues,
    claim_verdict,
    clustered_slope,
    paired_effect,
    tost,
)

__all__ = [
    "ARCHITECTURE",
    "BARCODE_COLUMNS",
    "INCOMPLETE",
    "UNDEFINED",
    "ArchitectureR",
    "BarcodeTest",
    "spec_architectures",
    "per_dataset_r",
    "level_tests",
    "slope_test",
    "decide_barcodes",
    "barcode_claims",
    "report_barcodes",
    "deaths_summary",
    "bounded_r",
    "SENSITIVITY",
    "sensitivity",
    "full_space_barcode",
]

#: Columns that define an architecture of the barcode table.
ARCHITECTURE = ("width", "hidden_layers")
#: Columns the analysis reads.
BARCODE_COLUMNS = ("seed", "samples", *ARCHITECTURE, "n_params", "barcode_r", "n_merges",
                   "n_fallback")  # fmt: skip
#: Verdict of a test whose table holds fewer datasets than the analysis needs.
INCOMPLETE = "undecided (table incomplete)"
#: Verdict of a test with enough datasets in the table but too few with a defined r
#: (cells with one basin modulo G have no finite bar).
UNDEFINED = "undecided (too few finite bars)"


@dataclass(frozen=True)
class ArchitectureR:
    """Per-dataset r of one architecture (averaged over m, undefined cells left out).

    Attributes
    ----------
    architecture : tuple of int
        ``(width, hidden_layers)``.
    n_params : int
        N of the student.
    datasets : numpy.ndarray, shape (g,)
        The datasets with at least one cell of defined r, sorted.
    table_datasets : numpy.ndarray, shape (t,)
        Every dataset of the architecture in the table (t >= g), sorted.
    r : numpy.ndarray, shape (g,)
        Mean over m of the defined ``barcode_r`` of each dataset.
    verified : numpy.ndarray of bool, shape (g,)
        Every death behind the dataset's r is a verified saddle (``n_fallback`` 0).
    n_cells, n_undefined : int
        Cells of the architecture, and those with no finite bar (r NaN).
    n_merges, n_fallback : int
        Finite bars over its cells, and those whose death is an upper bound.
    """

    architecture: tuple
    n_params: int
    datasets: np.ndarray
    table_datasets: np.ndarray
    r: np.ndarray
    verified: np.ndarray
    n_cells: int
    n_undefined: int
    n_merges: int
    n_fallback: int

    @property
    def label(self) -> str:
        """``"<width>x<depth>"``, e.g. ``"4x1"``."""
        return f"{self.architecture[0]}x{self.architecture[1]}"


@dataclass(frozen=True)
class BarcodeTest:
    """One pre-registered test of the barcode claims.

    Attributes
    ----------
    claim : str
        What is tested, e.g. ``"claim 1: 4x1 (N = 13)"``.
    kind : {"level", "slope"}
        Mean r against ``null`` (claim 1) or the slope of r in log2 N (claim 2).
    predicted : int
        -1: below ``null`` (level) or negative (slope).
    null : float
        r0 (level) or 0 (slope).
    effect : Effect or None
        Mean r or slope with its SE (None: too few datasets).
    n_datasets : int
        Datasets behind it (with a defined r).
    n_table : int
        Datasets in the table, defined r or not (claim 2: the fewest of any architecture).
    p : float or None
        Level: one-sided t p-value in the direction found (the pre-registered
        one-sided test and its mirror); slope: two-sided.
    p_equivalence : float or None
        TOST p-value at ``+-margin`` (slope only).
    margin : float or None
        The pre-registered TOST margin.
    p_adj, p_equivalence_adj : float or None
        Holm-adjusted (set by :func:`decide_barcodes`).
    verdict : str or None
        "supported", "contradicted", "undecided", :data:`INCOMPLETE` or :data:`UNDEFINED`.
    family_size : int
        p-values in the Holm family.
    """

    claim: str
    kind: str
    predicted: int
    null: float
    effect: Effect | None
    n_datasets: int
    n_table: int
    p: float | None = None
    p_equivalence: float | None = None
    margin: float | None = None
    p_adj: float | None = None
    p_equivalence_adj: float | None = None
    verdict: str | None = None
    family_size: int = 0

    @property
    def complete(self) -> bool:
        """The test ran (enough datasets)."""
        return self.effect is not None

    def not_run(self, min_datasets: int) -> str:
        """Why the test did not run: :data:`INCOMPLETE` or :data:`UNDEFINED` ("" when it ran)."""
        if self.complete:
            return ""
        return INCOMPLETE if self.n_table < min_datasets else UNDEFINED


def _arch_r(rows: Mapping, key: tuple, column: str, cluster: str) -> ArchitectureR:
    r = np.asarray(rows[column], dtype=np.float64)
    seeds = np.asarray(rows[cluster])
    fallback = np.asarray(rows["n_fallback"], dtype=np.int64)
    ok = np.isfinite(r)
    labels = np.unique(seeds[ok])
    means = np.array([r[ok & (seeds == s)].mean() for s in labels])
    verified = np.array([not np.any(fallback[ok & (seeds == s)] > 0) for s in labels], dtype=bool)
    n_params = np.unique(np.asarray(rows["n_params"]))
    if n_params.size != 1:
        raise ValueError(f"table: architecture {key} has several n_params {n_params.tolist()}")
    return ArchitectureR(
        tuple(int(k) for k in key), int(n_params[0]), labels, np.unique(seeds), means, verified,
        int(r.size),
        int(np.sum(~ok)), int(np.sum(rows["n_merges"])), int(np.sum(fallback)),
    )  # fmt: skip


def spec_architectures(spec_path) -> dict[tuple, int]:
    """Every ``(width, hidden_layers)`` of a sweep spec with its N (``ParamLayout.n_params``)."""
    from lossbounds.experiments.cell import architecture
    from lossbounds.experiments.spec import load_spec
    from lossbounds.landscape.layout import ParamLayout

    out = {}
    for cell in load_spec(spec_path).cells:
        key = tuple(int(cell[c]) for c in ARCHITECTURE)
        if key not in out:
            out[key] = int(ParamLayout(architecture(cell)).n_params)
    return out


def _absent(key: tuple, n_params: int) -> ArchitectureR:
    """Return an architecture of the design that has no cell in the table."""
    empty = np.zeros(0)
    return ArchitectureR(tuple(int(k) for k in key), int(n_params), empty.astype(int),
                         empty.astype(int), empty, empty.astype(bool), 0, 0, 0, 0)  # fmt: skip


def per_dataset_r(
    table: Mapping, column: str = "barcode_r", by: Sequence[str] = ARCHITECTURE,
    cluster: str = "seed", expected: Mapping | None = None,
) -> list[ArchitectureR]:  # fmt: skip
    """Per architecture, r averaged over m within each dataset.

    Parameters
    ----------
    table : dict of str to numpy.ndarray
        A barcode table with :data:`BARCODE_COLUMNS` (``column`` in place of ``barcode_r``).
    column : str
        The per-cell r (NaN: no finite bar).
    by : sequence of str
        Columns of an architecture.
    cluster : str
        The dataset column.
    expected : dict, optional
        The design's architectures (``by`` values) -> N, e.g. from
        :func:`spec_architectures`: those without a row in the table enter
        with no dataset (their tests: :data:`INCOMPLETE`).

    Returns
    -------
    list of ArchitectureR
        Sorted by ``n_params`` then by ``by``.

    Raises
    ------
    ValueError
        If a column is missing, the table is empty, an architecture has several
        N, or one of ``expected`` has another N (or is not in it) in the table.
    """
    missing = [c for c in (*BARCODE_COLUMNS, column, *by, cluster) if c not in table]
    if missing:
        raise ValueError(f"table lacks the column(s) {sorted(set(missing))}")
    rows_of = groups(table, by)
    if not rows_of:
        raise ValueError("table holds no rows")
    out = [
        _arch_r({k: np.asarray(v)[rows] for k, v in table.items()}, key, column, cluster)
        for key, rows in rows_of.items()
    ]
    if expected is not None:
        expected = {tuple(int(v) for v in k): int(n) for k, n in expected.items()}
        bad = [a.architecture for a in out if expected.get(a.architecture) != a.n_params]
        if bad:
            raise ValueError(f"table: architectures {bad} are not in expected with their N")
        seen = {a.architecture for a in out}
        out += [_absent(k, n) for k, n in expected.items() if k not in seen]
    return sorted(out, key=lambda a: (a.n_params, a.architecture))


def _check_min(min_datasets) -> int:
    if isinstance(min_datasets, bool) or not isinstance(min_datasets, int) or min_datasets < 2:
        raise ValueError(f"min_datasets must be an integer >= 2, got {min_datasets!r}")
    return min_datasets


def level_tests(archs: Sequence[ArchitectureR], r0: float, min_datasets: int = 5) -> list:
    """Claim 1: per architecture, the mean over datasets of r against ``r0`` (predicted below).

    Returns one :class:`BarcodeTest` per architecture; its ``p`` is the
    one-sided t p-value in the direction of the estimate (below ``r0``: the
    pre-registered test; above: its mirror, "significantly above"). With
    fewer than ``min_datasets`` datasets the test is not run (``effect`` None).
    """
    _check_min(min_datasets)
    if not (np.isfinite(r0) and r0 > 0):
        raise ValueError(f"r0 must be a finite number > 0, got {r0!r}")
    out = []
    for a in archs:
        claim = f"claim 1: {a.label} (N = {a.n_params})"
        n, n_table = int(a.r.size), int(a.table_datasets.size)
        if n < min_datasets:
            out.append(BarcodeTest(claim, "level", -1, float(r0), None, n, n_table))
            continue
        effect = paired_effect(a.r)
        side = "smaller" if effect.estimate <= r0 else "larger"
        p = effect.pvalue(side, null=float(r0))
        out.append(BarcodeTest(claim, "level", -1, float(r0), effect, n, n_table, p))
    return out


def _common(sets) -> list:
    """Sorted intersection of the label arrays ``sets`` (empty for none)."""
    out = None
    for labels in sets:
        out = set(labels.tolist()) if out is None else out & set(labels.tolist())
    return sorted(out or ())


def slope_test(
    archs: Sequence[ArchitectureR], margin: float, min_datasets: int = 5, balanced: bool = False
) -> BarcodeTest:
    """Claim 2: slope of r in ``log2 n_params``, cluster-robust by dataset.

    One row per (dataset, architecture) with a defined r: the per-dataset r
    of :func:`per_dataset_r` (undefined cells left out, as pre-registered),
    over the architectures with at least ``min_datasets`` such datasets
    (those whose claim 1 test runs: a slope is not carried by a handful of rows).
    OLS with a cluster-robust SE by dataset
    (:func:`~lossbounds.experiments.inference.clustered_slope`), two-sided
    p-value, TOST at ``+-margin``. ``balanced``: only the datasets with a
    defined r in every architecture that has one anywhere.

    Not run (``effect`` None) when an architecture has fewer than
    ``min_datasets`` datasets in the table (``n_table`` is the fewest), or
    fewer than two distinct N enter.
    """
    _check_min(min_datasets)
    if not (np.isfinite(margin) and margin > 0):
        raise ValueError(f"margin must be a finite number > 0, got {margin!r}")
    n_table = min((a.table_datasets.size for a in archs), default=0)
    used = [a for a in archs if a.r.size >= min_datasets]
    keep = _common(a.datasets for a in used) if balanced else None
    y, x, c = [], [], []
    for a in used:
        rows = np.ones(a.r.size, bool) if keep is None else np.isin(a.datasets, keep)
        y += a.r[rows].tolist()
        x += [float(np.log2(a.n_params))] * int(rows.sum())
        c += a.datasets[rows].tolist()
    n = len(set(c))
    claim = "claim 2: slope in log2 N" + (" (balanced)" if balanced else "")
    if n_table < min_datasets or n < min_datasets or len(set(x)) < 2:
        return BarcodeTest(claim, "slope", -1, 0.0, None, n, int(n_table), margin=float(margin))
    effect = clustered_slope(y, x, c)
    p_eq = tost(effect, -margin, margin).pvalue
    return BarcodeTest(claim, "slope", -1, 0.0, effect, n, int(n_table), effect.pvalue(), p_eq,
                       float(margin))  # fmt: skip


def decide_barcodes(
    tests: Sequence[BarcodeTest], alpha: float = 0.05, min_datasets: int = 5
) -> list[BarcodeTest]:
    """Holm over every p-value of the tests that ran, then each verdict.

    The verdicts of ``MARGINS.toml`` ``[verdicts]``
    (:func:`~lossbounds.experiments.inference.claim_verdict` with the
    predicted sign): significant in the predicted direction after Holm:
    "supported"; in the other direction, or (claim 2) equivalent to 0 within
    the margin: "contradicted"; else "undecided". Tests that did not run:
    :data:`INCOMPLETE` (fewer than ``min_datasets`` datasets in the table) or
    :data:`UNDEFINED` (enough datasets, too few with a finite bar).
    """
    tests = list(tests)
    slots = []
    for i, t in enumerate(tests):
        if t.complete:
            slots.append((i, "p", t.p))
            if t.p_equivalence is not None:
                slots.append((i, "e", t.p_equivalence))
    adj = {}
    if slots:
        adjusted = adjust_pvalues([p for *_, p in slots], "holm", alpha)
        adj = {(i, k): float(p) for (i, k, _), p in zip(slots, adjusted, strict=True)}
    out = []
    for i, t in enumerate(tests):
        if not t.complete:
            out.append(replace(t, verdict=t.not_run(min_datasets), family_size=len(slots)))
            continue
        p, pe = adj[i, "p"], adj.get((i, "e"))
        v = claim_verdict(t.predicted, t.effect.estimate - t.null, p, pe, alpha)
        out.append(replace(t, p_adj=p, p_equivalence_adj=pe, verdict=v, family_size=len(slots)))
    return out


def barcode_claims(
    table: Mapping, margins: Mapping, alpha: float = 0.05, column: str = "barcode_r",
    min_datasets: int = 5, expected: Mapping | None = None,
) -> list[BarcodeTest]:  # fmt: skip
    """Claims 1 (one test per architecture) and 2, decided together (one Holm family).

    ``margins`` is the ``[barcodes]`` section of ``MARGINS.toml`` (``r0``,
    ``slope_r``); ``expected`` as :func:`per_dataset_r` takes it.
    """
    archs = per_dataset_r(table, column, expected=expected)
    tests = [*level_tests(archs, margins["r0"], min_datasets),
             slope_test(archs, margins["slope_r"], min_datasets)]  # fmt: skip
    return decide_barcodes(tests, alpha, min_datasets)


def _pformat(p: float) -> str:
    """Format a p-value in 3 decimals, ``"<0.001"`` below 0.001."""
    return "<0.001" if p < 1e-3 else f"{p:.3f}"


def report_barcodes(tests: Sequence[BarcodeTest], alpha: float = 0.05) -> str:
    """Fixed-format table: claim, datasets, estimate [family interval], null, Holm p, TOST p, verdict."""
    tests = list(tests)
    size = max([t.family_size for t in tests] + [1])
    lines = [f"{'claim':<28}{'datasets':>9}{'with r':>7}  {'estimate [family interval]':<31}{'null':>7}"
             f"{'p (Holm)':>10}{'p TOST':>9}  verdict"]  # fmt: skip
    for t in tests:
        if t.complete:
            low, high = t.effect.interval(1 - alpha / size)
            est = f"{t.effect.estimate:+.2e} [{low:+.2e}, {high:+.2e}]"
            p = _pformat(t.p_adj)
        else:
            est, p = "-", "-"
        pe = "-" if t.p_equivalence_adj is None else _pformat(t.p_equivalence_adj)
        lines.append(f"{t.claim:<28}{t.n_table:>9}{t.n_datasets:>7}  {est:<31}{t.null:>7.3f}{p:>10}{pe:>9}  "
                     f"{t.verdict}")  # fmt: skip
    if not any(t.complete for t in tests):
        lines.append("(no test ran: too few datasets)")
        return "\n".join(lines)
    lines.append(f"(Holm over {size} p-values; intervals at 1 - {alpha}/{size}; level: mean r over "
                 "datasets, one-sided t; slope: r per doubling of N, cluster-robust)")  # fmt: skip
    return "\n".join(lines)


def deaths_summary(table: Mapping) -> dict:
    """Fractions of cells without a finite bar and of deaths that are band maxima (upper bounds).

    Returns
    -------
    dict
        ``cells``, ``undefined`` (cells with r NaN), ``undefined_fraction``,
        ``merges`` (finite bars), ``fallback`` (upper-bound deaths),
        ``fallback_fraction`` (NaN without a finite bar), ``cells_with_fallback``
        (cells with at least one upper-bound death, among the cells of defined r).
    """
    r = np.asarray(table["barcode_r"], dtype=np.float64)
    merges = int(np.sum(table["n_merges"]))
    fallback = np.asarray(table["n_fallback"], dtype=np.int64)
    if r.size == 0:
        raise ValueError("table holds no rows")
    ok = np.isfinite(r)
    return {
        "cells": int(r.size),
        "undefined": int(np.sum(~ok)),
        "undefined_fraction": float(np.mean(~ok)),
        "merges": merges,
        "fallback": int(fallback.sum()),
        "fallback_fraction": float(fallback.sum() / merges) if merges else float("nan"),
        "cells_with_fallback": int(np.sum(ok & (fallback > 0))),
    }


def bounded_r(table: Mapping) -> dict:
    """Return the table with two columns that bound r where deaths are upper bounds.

    ``barcode_r_verified``: r where every death of the cell is a verified
    saddle (``n_fallback`` 0), NaN elsewhere (left out like an undefined r).
    ``barcode_r_lowest``: r where every death is verified, 0 where one is an
    unrefined band maximum: such a death bounds the true merge level from
    above and no death lies below L*, so 0 is the lowest r such a cell can
    have (the table holds no per-bar births or verified flags to tighten it).
    Undefined r stays NaN in both.
    """
    out = {k: np.asarray(v) for k, v in table.items()}
    r = np.asarray(table["barcode_r"], dtype=np.float64)
    upper = np.asarray(table["n_fallback"]) > 0
    out["barcode_r_verified"] = np.where(upper, np.nan, r)
    out["barcode_r_lowest"] = np.where(upper & np.isfinite(r), 0.0, r)
    return out


#: The columns of :func:`sensitivity`, by name.
SENSITIVITY = {
    "as measured": "barcode_r",
    "verified cells only": "barcode_r_verified",
    "upper-bound cells at r = 0": "barcode_r_lowest",
}


def sensitivity(
    table: Mapping, margins: Mapping, alpha: float = 0.05, min_datasets: int = 5,
    expected: Mapping | None = None,
) -> dict[str, list[BarcodeTest]]:  # fmt: skip
    """Claims 1 and 2 as measured and at both ends of what upper-bound deaths allow.

    Returns
    -------
    dict
        :data:`SENSITIVITY` name -> the decided tests of :func:`barcode_claims`
        on that column of :func:`bounded_r` (each its own Holm family).
    """
    bounded = bounded_r(table)
    return {
        name: barcode_claims(bounded, margins, alpha, col, min_datasets, expected)
        for name, col in SENSITIVITY.items()
    }


def full_space_barcode(cell: Mapping) -> dict:
    """Return a cell's barcode columns from its merge tree in the full space (no symmetry group).

    The ``"critical_points"`` measurement builds the tree modulo the group G,
    where the up to |G| copies of a minimum are one minimum: a cell with one
    class has no finite bar. Here the same starts (``ParamLayout(arch).init``
    seeded ``[seed, start_seed, 3]``) and MergeOptions build the tree of
    ``R^N``, whose finite bars include the merges of the copies found.

    Parameters
    ----------
    cell : dict
        A ``"critical_points"`` cell, e.g. ``cell_from_row(table, i)``.

    Returns
    -------
    dict
        :func:`~lossbounds.experiments.critical_cell.barcode_columns` of the
        full-space tree (``barcode_r``, ``n_minima``, ``n_merges``,
        ``n_fallback``, ...) and ``cpu_process_seconds``.
    """
    import time

    from lossbounds.experiments.cell import merge_options, problem, seeded_starts
    from lossbounds.experiments.critical_cell import barcode_columns
    from lossbounds.topology.connectivity import merge_tree

    cpu = time.process_time()
    cell = dict(cell)
    arch, data, surface = problem(cell)
    starts = seeded_starts(cell, arch, 3)
    tree = merge_tree(surface, starts, seed=cell["seed"], **merge_options(cell))
    out = barcode_columns(tree, float(np.var(data.y)), float(np.median(surface(starts))))
    out["cpu_process_seconds"] = time.process_time() - cpu
    return out
