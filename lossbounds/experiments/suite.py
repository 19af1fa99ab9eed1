"""The claim families of notebooks 05-08 on the ``critical_points`` tables, stratified by lambda.

A claim table of the measurement ``critical_points`` has, per cell, the counts of
critical points by Morse index modulo the symmetry group ``G`` (``n_crit_0..2``),
orbit-weighted in the full space (``n_crit_*_full``, NaN where a class is
degenerate) and the thresholded count ``persistent_minima_2`` (H0 bars with
persistence >= 1e-2 var(y)). This module turns such a table into a notebook's
*family* of pre-registered tests (``sweeps/MARGINS.toml``):

- :class:`Stratum`: rows analysed together. The lambda = 0 cells are their own
  stratum (degenerate minima: full counts undefined, merge trees not converged),
  never pooled with lambda > 0, whose values are averaged within each dataset;
  a notebook crosses them with the teacher activation or the number of inputs;
- :class:`Comparison`: arm ``a`` against arm ``b`` on the same datasets (the
  other design columns matched), the difference of ``log10`` counts averaged
  within each dataset, divided by ``scale`` (e.g. ``log2`` of the ratio of the two
  m: a slope per doubling), tested across datasets by a paired t
  (:func:`lossbounds.experiments.inference.paired_effect`) and by TOST at the
  pre-registered margin; the prediction is the sign of the bound column;
- :func:`run_family` builds every test of a notebook (:class:`ClaimTest`),
  marking those that cannot be run: too few datasets in the table
  (:data:`INCOMPLETE`) or a count undefined (:data:`UNDEFINED`);
  :func:`decide_family` applies Holm over the p-values of the tests that ran;
- :func:`family_report`, :func:`verdict_table` and :func:`stated_mismatches`
  print the tests and verdicts and check them against the ones a notebook states;
- :func:`quality_table`, :func:`robustness_spread` and :func:`power_summary`:
  fallback merges, saturation, convergence and CPU time per stratum; the spread
  of every count over start seeds and scales; what the datasets can detect.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lossbounds.experiments.claims import select
from lossbounds.experiments.inference import (
    detectable_effect,
    format_effect,
    paired_effect,
    tost,
    tost_power,
)
from lossbounds.experiments.table import RESULTS_FILE, read_results
from lossbounds.experiments.verdicts import ClaimTest, decide

__all__ = [
    "MEASUREMENT",
    "MIN_DATASETS",
    "MAX_UNDEFINED",
    "INCOMPLETE",
    "UNDEFINED",
    "COUNTS",
    "MODULO_G",
    "DESIGN",
    "Stratum",
    "Comparison",
    "load_claim_table",
    "lambda_strata",
    "log10_count",
    "matched_differences",
    "mask_group_limit",
    "bound_prediction",
    "spec_bounds",
    "prediction_table",
    "run_family",
    "decide_family",
    "family_report",
    "verdict_table",
    "verdict_record",
    "stated_mismatches",
    "persistent_lowest",
    "sensitivity_report",
    "dataset_means",
    "quality_table",
    "quality_report",
    "robustness_spread",
    "power_summary",
]

#: The measurement whose columns this module reads.
MEASUREMENT = "critical_points"
#: Fewest datasets per arm for a test to run.
MIN_DATASETS = 5
#: Largest fraction of a test's cells whose full-space count may be undefined. A count is
#: undefined where a class is degenerate, so whether a cell enters depends on what it holds
#: (e.g. a cell without index-2 points is always defined): beyond this fraction the defined
#: cells are a selection on the outcome and the test is UNDEFINED. Set after the lambda = 0
#: skips table (a slope on 33 of 120 cells); at lambda > 0 no test leaves out more than 11 %.
MAX_UNDEFINED = 0.25
#: Verdict of a test whose table is missing or holds fewer than MIN_DATASETS datasets.
INCOMPLETE = "undecided (table incomplete)"
#: Verdict of a test whose count is undefined (NaN; the table's ``full_undefined`` says why:
#: degenerate classes, or a group too large for exact orbit sizes) on too many datasets.
UNDEFINED = "undecided (count undefined)"
#: The counts with verdicts: column -> (label, space, offset, the bound column predicting them).
COUNTS = {
    "n_crit_0_full": ("minima", "full space", 0.0, "log10_khovanskii"),
    "n_crit_1_full": ("index-1", "full space", 1.0, "log10_khovanskii"),
    "n_crit_2_full": ("index-2", "full space", 1.0, "log10_khovanskii"),
    "persistent_minima_2": ("persistent", "thresholded", 0.0, "log10_zell_expression"),
}
#: The counts modulo G (described, not tested): column -> offset.
MODULO_G = {"n_crit_0": 0.0, "n_crit_1": 1.0, "n_crit_2": 1.0}
#: Columns that define a cell besides its dataset (those present in a table are matched).
DESIGN = (
    "inputs", "width", "hidden_layers", "activation", "skip", "teacher_activation", "l2",
    "samples", "start_seed", "start_scale",
)  # fmt: skip
_MARGIN_KEYS = {"n_crit_0_full": "n_crit_0", "n_crit_1_full": "n_crit_1",
                "n_crit_2_full": "n_crit_2"}  # fmt: skip


@dataclass(frozen=True)
class Stratum:
    """Rows of a table analysed together.

    Attributes
    ----------
    name : str
        Printed with each test (e.g. "lambda > 0, teacher tanh").
    where : dict
        Column -> value or list of values (:func:`lossbounds.experiments.claims.select`).
    note : str
        What limits the stratum (e.g. "merge trees not converged"), printed with its tests.
    """

    name: str
    where: dict
    note: str = ""


@dataclass(frozen=True)
class Comparison:
    """One claim: ``log10 count(a) - log10 count(b)`` on the same datasets, per ``scale``.

    Attributes
    ----------
    claim : str
        The claim in words (e.g. "2x2 - 4x1, equal units").
    a, b : dict
        Column -> value of the two arms; every other design column is matched.
    predicted : int or None
        +1, -1 or 0 (no difference); None: the sign of the count's bound column, a - b.
    scale : float
        The difference is divided by it (``log2(m_a / m_b)``: a slope per doubling).
    margin : str or None
        Key of the TOST margin in the notebook's MARGINS section; None: the count's own.
    kind : {"difference", "slope"}
        How the estimate reads.
    note : str
        What limits the claim (printed with its tests, after the stratum's note).
    """

    claim: str
    a: dict
    b: dict
    predicted: int | None = None
    scale: float = 1.0
    margin: str | None = None
    kind: str = "difference"
    note: str = ""


def load_claim_table(path, measurement: str = MEASUREMENT) -> tuple[dict | None, str]:
    """Read a claim table if it exists and is of ``measurement``; else None and why.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``results.csv`` or the folder holding one.
    measurement : str
        The measurement the table must hold (the ``measurement`` column).

    Returns
    -------
    (dict or None, str)
        The table (or None) and a one-line description ("n cells, k datasets" or the reason).
    """
    path = Path(path)
    file = path / RESULTS_FILE if path.is_dir() or not path.suffix else path
    name = Path(*file.parts[-3:])  # results/<sweep>/results.csv: no machine-specific prefix
    if not file.is_file():
        return None, f"no table at {name}"
    table = read_results(file)
    if not table or "measurement" not in table or len(table["measurement"]) == 0:
        return None, f"{name} holds no rows"
    kinds = sorted(set(np.asarray(table["measurement"]).tolist()))
    if kinds != [measurement]:
        return None, f"{name} holds measurement {kinds}, not {measurement!r}"
    n_sets = len(set(np.asarray(table["seed"]).tolist()))
    return table, f"{len(table['measurement'])} cells, {n_sets} datasets"


def lambda_strata(table: Mapping | None, by: str | None = None, levels=None) -> list[Stratum]:
    """Return the strata lambda > 0 (values averaged within a dataset) and lambda = 0, crossed with ``by``.

    Parameters
    ----------
    table : dict or None
        A claim table (its positive l2 values form the first stratum); None: 1e-3 and 1e-2.
    by : str, optional
        A column crossed with the lambda strata (e.g. ``teacher_activation``).
    levels : sequence, optional
        The values of ``by`` (default: those in the table).
    """
    if table is None:
        positive = [1e-3, 1e-2]
    else:
        positive = sorted({float(v) for v in np.asarray(table["l2"]).tolist() if v > 0})
    lam = [
        ("lambda > 0", {"l2": positive}, ""),
        ("lambda = 0", {"l2": 0.0}, "lambda = 0: degenerate minima, merge trees not converged"),
    ]
    if by is None:
        return [Stratum(n, w, note) for n, w, note in lam]
    if levels is None:
        levels = sorted(set(np.asarray(table[by]).tolist())) if table is not None else []
    short = {"teacher_activation": "teacher"}.get(by, by)
    return [Stratum(f"{n}, {short} {v}", {**w, by: v}, note) for v in levels for n, w, note in lam]


def log10_count(values, offset: float = 0.0) -> np.ndarray:
    """``log10(values + offset)``; NaN where undefined (NaN) or below 1 (log counts need >= 1)."""
    v = np.asarray(values, dtype=np.float64) + float(offset)
    out = np.full(v.shape, np.nan)
    ok = np.isfinite(v) & (v >= 1)
    out[ok] = np.log10(v[ok])
    return out


def _keys(rows: Mapping, match: Sequence[str]) -> list[tuple]:
    keys = list(zip(*(np.asarray(rows[c]).tolist() for c in ("seed", *match)), strict=True))
    if len(set(keys)) < len(keys):
        raise ValueError(f"an arm has several rows per (seed, {', '.join(match)})")
    return keys


def _match_columns(table: Mapping, a: Mapping, b: Mapping) -> tuple[str, ...]:
    return tuple(c for c in DESIGN if c in table and c not in a and c not in b)


def matched_differences(table: Mapping, column: str, a: Mapping, b: Mapping, offset=0.0):
    """Per-dataset mean of ``log10 count(a) - log10 count(b)`` over matched cells.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, int, int)
        The datasets with at least one finite pair, their mean differences,
        the number of datasets with matched rows (finite or not) and the number of
        cells (rows of both arms) behind the finite pairs.
    """
    match = _match_columns(table, a, b)
    ra, rb = select(table, **dict(a)), select(table, **dict(b))
    va = dict(zip(_keys(ra, match), log10_count(ra[column], offset), strict=True))
    vb = dict(zip(_keys(rb, match), log10_count(rb[column], offset), strict=True))
    common = sorted(set(va) & set(vb))
    matched = len({k[0] for k in common})
    pairs = [(k[0], va[k] - vb[k]) for k in common if np.isfinite(va[k] - vb[k])]
    seeds = sorted({s for s, _ in pairs})
    means = np.array([np.mean([d for s, d in pairs if s == seed]) for seed in seeds])
    return np.asarray(seeds), means, matched, 2 * len(pairs)


def bound_prediction(table: Mapping, bound: str, a: Mapping, b: Mapping) -> int:
    """Sign of ``bound(a) - bound(b)`` over the matched cells; ValueError if it changes.

    Bound columns within 1e-9 (relative) count as equal (0).
    """
    match = _match_columns(table, a, b)
    ra, rb = select(table, **dict(a)), select(table, **dict(b))
    xa = dict(zip(_keys(ra, match), np.asarray(ra[bound], dtype=float), strict=True))
    xb = dict(zip(_keys(rb, match), np.asarray(rb[bound], dtype=float), strict=True))
    common = set(xa) & set(xb)
    if not common:
        raise ValueError(f"a {dict(a)} and b {dict(b)} share no matched cell")
    signs = set()
    for k in common:
        d = xa[k] - xb[k]
        signs.add(0 if abs(d) <= 1e-9 * max(1.0, abs(xa[k]), abs(xb[k])) else int(np.sign(d)))
    if len(signs) != 1:
        raise ValueError(f"the sign of {bound}(a) - {bound}(b) changes across cells: {signs}")
    return signs.pop()


def spec_bounds(spec_path) -> dict[str, np.ndarray]:
    """Return the bound columns of every setting of a sweep spec, as a table with one dataset.

    Columns: the design columns of the spec, ``seed`` (the first), ``n_params``,
    ``log10_khovanskii``, ``log10_zell_expression`` and ``log10_group_order``
    (:func:`lossbounds.theory.bounds.bound_summary`), so that predictions and
    hypotheses exist before (and without) the measured table.
    """
    from lossbounds.experiments.cell import architecture
    from lossbounds.experiments.spec import load_spec
    from lossbounds.theory.bounds import bound_summary

    cells = load_spec(spec_path).cells
    first = min(c["seed"] for c in cells)
    cells = [c for c in cells if c["seed"] == first]
    cols = [c for c in ("seed", *DESIGN) if c in cells[0]]
    out = {c: np.array([cell[c] for cell in cells]) for c in cols}
    summaries = [bound_summary(architecture(cell)) for cell in cells]
    for col, key in (("n_params", "n_params"), ("log10_khovanskii", "log10_critical_points"),
                     ("log10_zell_expression", "log10_zell_expression"),
                     ("log10_group_order", "log10_group_order")):  # fmt: skip
        out[col] = np.array([float(s[key]) for s in summaries])
    return out


def _spread(table, column, a, b) -> tuple[float, float]:
    match = _match_columns(table, a, b)
    ra, rb = select(table, **dict(a)), select(table, **dict(b))
    xa = dict(zip(_keys(ra, match), np.asarray(ra[column], dtype=float), strict=True))
    xb = dict(zip(_keys(rb, match), np.asarray(rb[column], dtype=float), strict=True))
    d = [xa[k] - xb[k] for k in set(xa) & set(xb)]
    return (min(d), max(d)) if d else (math.nan, math.nan)


def prediction_table(bounds: Mapping, comparisons: Sequence[Comparison]) -> str:
    """Per comparison: the bound differences a - b (log10, range over cells) and the prediction.

    Columns: Khovanskii's bound on non-degenerate critical points (predicts the
    full-space counts of critical points), Zell's expression with C = 1 (the
    shape of the bound on the Betti numbers of sublevel sets: predicts the
    thresholded count), ``log10 |G|`` (the symmetry lower bound: every minimum
    with a free orbit stands for |G| minima) and N.
    """
    lines = [f"{'claim':<34}{'d log10 Khovanskii':>22}{'d log10 Zell (C=1)':>22}"
             f"{'d log10 |G|':>18}{'d N':>6}  prediction (critical points; persistent)"]  # fmt: skip
    word = {1: "a > b", -1: "a < b", 0: "a = b"}
    for c in comparisons:
        k, z, g, n = (_spread(bounds, col, c.a, c.b) for col in
                      ("log10_khovanskii", "log10_zell_expression", "log10_group_order", "n_params"))  # fmt: skip
        if c.predicted is not None:
            pred = f"{word[c.predicted]} (stated)"
        else:
            pk = bound_prediction(bounds, "log10_khovanskii", c.a, c.b)
            pz = bound_prediction(bounds, "log10_zell_expression", c.a, c.b)
            pred = f"{word[pk]}; {word[pz]}"
        lines.append(f"{c.claim:<34}{k[0]:>+10.1f} .. {k[1]:>+8.1f}{z[0]:>+10.1f} .. {z[1]:>+8.1f}"
                     f"{g[0]:>+9.2f} .. {g[1]:>+5.2f}{n[0]:>+6.0f}  {pred}")  # fmt: skip
    return "\n".join(lines)


def mask_group_limit(table: Mapping, column: str, exact_limit: int | None = None) -> dict:
    """Set a full-space count to NaN in every row measured without the group's orbit sizes.

    Rows measured before the stabiliser search (SymmetryGroup.stabiliser_order)
    left the full counts of a group with |G| > ``exact_limit`` NaN, except a
    count of 0 (no class to weight): its missingness depended on its value.
    Those rows say so in ``full_undefined`` (``"group order G > exact_limit L"``,
    as do rows of tied groups above the limit, whose counts are still
    undefined); masking every such row removes that selection. Rows measured
    with the stabiliser search keep their values. A table without
    ``full_undefined`` is masked by |G| (``log10_group_order`` > ``exact_limit``).

    Parameters
    ----------
    table : dict
        A claim table with ``full_undefined`` (or ``log10_group_order``).
    column : str
        A full-space count column.
    exact_limit : int, optional
        Only for a table without ``full_undefined``. Default:
        :class:`lossbounds.topology.options.MergeOptions`'s ``exact_limit``.

    Returns
    -------
    dict
        A copy of ``table`` with ``column`` masked.
    """
    out = dict(table)
    if "full_undefined" in table:
        why = np.asarray(table["full_undefined"], dtype=str)
        over = np.array([_GROUP_LIMIT.match(r) is not None for r in why], dtype=bool)
        out[column] = np.where(over, np.nan, np.asarray(table[column], dtype=float))
        return out
    from lossbounds.topology.options import MergeOptions

    limit = MergeOptions().exact_limit if exact_limit is None else int(exact_limit)
    orders = np.rint(10 ** np.asarray(table["log10_group_order"], dtype=float))
    out[column] = np.where(orders > limit, np.nan, np.asarray(table[column], dtype=float))
    return out


#: The ``full_undefined`` reason of a row whose full counts were not measured (group too large).
_GROUP_LIMIT = re.compile(r"group order \d+ > exact_limit \d+")


def _why_undefined(rows, column, comp) -> str:
    """Return the ``full_undefined`` reasons of the arms' NaN cells, most frequent first."""
    if "full_undefined" not in rows:
        return "NaN"
    arms = [select(rows, **dict(arm)) for arm in (comp.a, comp.b)]
    why = [w for r in arms for w, v in zip(r["full_undefined"].tolist(), r[column].tolist(),
                                         strict=True) if not np.isfinite(v)]  # fmt: skip
    return "; ".join(sorted(set(why), key=lambda w: -why.count(w))) or "NaN"


def _mostly_undefined(values: np.ndarray) -> bool:
    """Whether more than :data:`MAX_UNDEFINED` of ``values`` are undefined (not finite)."""
    return bool(np.sum(~np.isfinite(values)) > MAX_UNDEFINED * values.size)


def _one_test(table, comp, stratum, column, margins, bound_sign):
    label, space, offset, bound = COUNTS[column]
    claim = f"{comp.claim} | {stratum.name}"
    margin = margins[comp.margin or _MARGIN_KEYS.get(column, column)]
    base = dict(claim=claim, count=label, space=space, kind=comp.kind, margin=margin)
    rows = select(table, **stratum.where) if table is not None else None
    if rows is not None and column in rows and space == "full space":
        rows = mask_group_limit(rows, column)
    predicted = comp.predicted
    if predicted is None:
        predicted = bound_sign.get((comp.claim, bound))
    seeds, means, matched, cells = (
        matched_differences(rows, column, comp.a, comp.b, offset)
        if rows is not None and len(rows["seed"]) and column in rows
        else ((), (), 0, 0)
    )
    if matched < MIN_DATASETS or predicted is None:
        return ClaimTest(**base, predicted=predicted or 0, estimate=math.nan, effect=None,
                         p_difference=math.nan, verdict=INCOMPLETE, n_cells=cells,
                         note=f"{matched} datasets")  # fmt: skip
    if len(seeds) < MIN_DATASETS:
        return ClaimTest(**base, predicted=predicted, estimate=math.nan, effect=None,
                         p_difference=math.nan, verdict=UNDEFINED, n_cells=cells,
                         note=f"defined on {len(seeds)} of {matched} datasets: "
                         + _why_undefined(rows, column, comp))  # fmt: skip
    arms = [np.asarray(select(rows, **dict(arm))[column], dtype=float) for arm in (comp.a, comp.b)]
    undefined, total = sum(int(np.sum(~np.isfinite(v))) for v in arms), sum(v.size for v in arms)
    if _mostly_undefined(np.concatenate(arms)):
        return ClaimTest(**base, predicted=predicted, estimate=math.nan, effect=None,
                         p_difference=math.nan, verdict=UNDEFINED, n_cells=cells,
                         note=f"{undefined} of {total} cells undefined (> {MAX_UNDEFINED:.0%}): "
                         + _why_undefined(rows, column, comp))  # fmt: skip
    effect = paired_effect(np.asarray(means) / comp.scale)
    left_out = (f"{undefined} of {total} cells undefined, left out: "
                + _why_undefined(rows, column, comp)) if undefined else ""  # fmt: skip
    return ClaimTest(**base, predicted=predicted, estimate=effect.estimate, effect=effect,
                     p_difference=effect.pvalue(),
                     p_equivalence=tost(effect, -margin, margin).pvalue, n_cells=cells,
                     note="; ".join(n for n in (stratum.note, comp.note, left_out) if n))  # fmt: skip


def run_family(
    table: Mapping | None, comparisons: Sequence[Comparison], strata: Sequence[Stratum],
    margins: Mapping, counts: Sequence[str] = tuple(COUNTS), bounds: Mapping | None = None,
) -> list[ClaimTest]:  # fmt: skip
    """Every test of a notebook: each stratum x comparison x count, in that order.

    Parameters
    ----------
    table : dict or None
        The claim table (None: missing; every test is :data:`INCOMPLETE`).
    comparisons : sequence of Comparison
    strata : sequence of Stratum
    margins : dict
        The notebook's section of ``sweeps/MARGINS.toml``.
    counts : sequence of str
        Columns of :data:`COUNTS`.
    bounds : dict, optional
        Where the predictions are read (e.g. :func:`spec_bounds`: fixed by the spec,
        known without the table); default the table.

    Returns
    -------
    list of ClaimTest
        Undecided (``verdict`` None) where the test ran; :data:`INCOMPLETE` or
        :data:`UNDEFINED` (no p-value) where it could not.
    """
    unknown = [c for c in counts if c not in COUNTS]
    if unknown:
        raise ValueError(f"counts must be columns of COUNTS {list(COUNTS)}, got {unknown}")
    signs = {}
    source = table if bounds is None else bounds
    if source is not None:
        for comp in comparisons:
            for bound in {COUNTS[c][3] for c in counts}:
                try:
                    signs[comp.claim, bound] = bound_prediction(source, bound, comp.a, comp.b)
                except ValueError:
                    pass  # arms not in the table yet: the test is incomplete
    return [
        _one_test(table, comp, stratum, column, margins, signs)
        for stratum in strata
        for comp in comparisons
        for column in counts
    ]


def decide_family(tests: Sequence[ClaimTest], alpha: float = 0.05) -> list[ClaimTest]:
    """Holm over the p-values of the tests that ran; the others keep their verdict."""
    tests = list(tests)
    ran = [i for i, t in enumerate(tests) if t.verdict is None]
    if not ran:
        return tests
    decided = decide([tests[i] for i in ran], alpha)
    for i, t in zip(ran, decided, strict=True):
        tests[i] = t
    size = decided[0].family_size
    return [t if t.family_size else replace(t, family_size=size) for t in tests]


def family_report(tests: Sequence[ClaimTest], alpha: float = 0.05) -> str:
    """Fixed-format table: claim | stratum, count, bound's sign, datasets, cells, estimate, p, verdict."""
    sign = {1: "+", -1: "-", 0: "="}
    w = max([30, *(len(t.claim) + 2 for t in tests)])
    lines = [f"{'claim | stratum':<{w}}{'count':<12}{'bound':>6}{'sets':>6}{'cells':>7}  "
             f"{'estimate [family interval]':<28}{'p diff':>8}{'p TOST':>8}  verdict"]  # fmt: skip
    for t in tests:
        if t.effect is None:
            est, pd, pe, n = "-", "-", "-", "-"
        else:
            est = format_effect(t.estimate, *t.interval(alpha))
            pd, pe = f"{t.p_difference_adj:.3f}", f"{t.p_equivalence_adj:.3f}"
            n = str(t.effect.n_clusters)
        note = f" ({t.note})" if t.note else ""
        lines.append(f"{t.claim:<{w}}{t.count:<12}{sign[t.predicted]:>6}{n:>6}{t.n_cells:>7}  "
                     f"{est:<28}{pd:>8}{pe:>8}  {t.verdict}{note}")  # fmt: skip
    size = max((t.family_size for t in tests), default=0)
    lines.append(f"(Holm over {size} p-values; intervals at 1 - {alpha}/{max(size, 1)}; "
                 "log10 counts: 0.176 is a factor 1.5)")  # fmt: skip
    return "\n".join(lines)


def verdict_record(tests: Sequence[ClaimTest]) -> dict[tuple[str, str], str]:
    """``(claim | stratum, count) -> verdict`` of every test."""
    return {(t.claim, t.count): t.verdict for t in tests}


def verdict_table(tests: Sequence[ClaimTest]) -> str:
    """One row per claim and stratum, one column per count: the verdicts (short forms)."""
    short = {INCOMPLETE: "incomplete", UNDEFINED: "undefined"}
    counts = list(dict.fromkeys(t.count for t in tests))
    record = verdict_record(tests)
    w = max([30, *(len(t.claim) + 2 for t in tests)])
    lines = [f"{'claim | stratum':<{w}}" + "".join(f"{c:<14}" for c in counts)]
    for claim in dict.fromkeys(t.claim for t in tests):
        cells = [
            short.get(record.get((claim, c), "-"), record.get((claim, c), "-")) for c in counts
        ]
        lines.append(f"{claim:<{w}}" + "".join(f"{v:<14}" for v in cells))
    lines.append("(incomplete: fewer than 5 datasets in the table; undefined: the full-space "
                 "count is NaN on too many datasets (the report says why); both are undecided)")  # fmt: skip
    return "\n".join(lines)


def persistent_lowest(table: Mapping | None) -> dict | None:
    """Return the table with the thresholded count at its lowest: every fallback bar dropped.

    A fallback merge's level is an unrefined band maximum, an upper bound on the
    true merge level, so its bar's persistence is an upper bound too and could be
    0. ``persistent_minima_2`` becomes ``max(1, persistent_minima_2 - n_fallback)``
    (0 where the cell has no minimum): a lower bound on the count with every
    fallback bar at persistence 0, as the table holds no per-bar flags. Running a
    claim family on it and on the table as measured brackets what the upper-bound
    deaths allow. None (no table) gives None.
    """
    if table is None:
        return None
    out = dict(table)
    p = np.asarray(table["persistent_minima_2"], dtype=float)
    low = np.maximum(1.0, p - np.asarray(table["n_fallback"], dtype=float))
    out["persistent_minima_2"] = np.where(p > 0, low, p)
    return out


def sensitivity_report(measured: Sequence[ClaimTest], lowest: Sequence[ClaimTest],
                       count: str = "persistent") -> str:  # fmt: skip
    """Side by side, per claim: ``count``'s estimate and verdict as measured and at its lowest.

    ``measured`` and ``lowest`` are decided families of the same comparisons and strata,
    on the table and on :func:`persistent_lowest` of it. A verdict that differs between
    the two rests on the upper-bound deaths: marked ``*``.
    """
    low = {t.claim: t for t in lowest if t.count == count}
    w = max([30, *(len(t.claim) + 2 for t in measured)])
    lines = [f"{'claim | stratum':<{w}}{'as measured':>30}{'fallback bars dropped':>32}"]
    for t in (t for t in measured if t.count == count):
        u = low[t.claim]
        cells = [f"{x.estimate:+.2f} {x.verdict}" if x.effect else str(x.verdict) for x in (t, u)]
        mark = "" if t.verdict == u.verdict else "  *"
        lines.append(f"{t.claim:<{w}}{cells[0]:>30}{cells[1]:>32}{mark}")
    lines.append("(* the verdict changes: it rests on upper-bound deaths, fallback merges)")
    return "\n".join(lines)


def stated_mismatches(tests: Sequence[ClaimTest], stated: Mapping) -> list[str]:
    """Where a stated verdict ``{(claim | stratum, count): verdict}`` differs from the computed one."""
    record = verdict_record(tests)
    return [f"{k}: stated {v!r}, computed {record.get(k)!r}" for k, v in stated.items()
            if record.get(k) != v]  # fmt: skip


def dataset_means(table: Mapping, column: str, by: Sequence[str], offset: float = 0.0) -> dict:
    """Per setting (``by``): mean of ``log10(count + offset)`` over datasets with its t interval.

    The cells of one dataset within a setting are averaged first. Returns
    ``{setting: (mean, low, high, n_datasets, fallback)}`` with ``fallback`` True
    when a cell of the setting has an unrefined (band-maximum) merge. A setting
    whose count is undefined (NaN) in more than :data:`MAX_UNDEFINED` of its cells
    has a NaN mean and ``n_datasets`` 0, as its tests have no estimate.
    """
    from scipy import stats

    values = log10_count(table[column], offset)
    keys = list(zip(*(np.asarray(table[c]).tolist() for c in by), strict=True))
    seeds = np.asarray(table["seed"])
    fall = np.asarray(table["n_fallback"], dtype=float) if "n_fallback" in table else None
    out = {}
    for key in sorted(set(keys)):
        rows = np.array([k == key for k in keys])
        if _mostly_undefined(values[rows]):
            out[key] = (math.nan, math.nan, math.nan, 0, False)
            continue
        per = [np.nanmean(values[rows & (seeds == s)]) for s in np.unique(seeds[rows])
               if np.any(np.isfinite(values[rows & (seeds == s)]))]  # fmt: skip
        n = len(per)
        mean = float(np.mean(per)) if n else math.nan
        half = float(stats.t.ppf(0.975, n - 1) * np.std(per, ddof=1) / math.sqrt(n)) if n > 1 else 0
        fb = bool(fall is not None and np.nansum(fall[rows]) > 0)
        out[key] = (mean, mean - half, mean + half, n, fb)
    return out


def quality_table(table: Mapping, strata: Sequence[Stratum]) -> list[dict]:
    """Per stratum: cells, fallback fraction, saturated fractions, tree convergence, CPU time.

    Returns
    -------
    list of dict
        Keys: ``stratum``, ``cells``, ``fallback`` (sum n_fallback / sum n_merges),
        ``saturated``, ``saturated_1``, ``saturated_2``, ``saturated_tree``,
        ``tree_converged``, ``found_1``, ``found_2`` (fractions of cells; ``found_i``:
        at least one class of index i, which ``saturated_i`` needs), ``cpu_median`` (median
        ``cpu_process_seconds``); strata without rows are left out.
    """
    out = []
    for s in strata:
        rows = select(table, **s.where)
        n = len(rows["seed"])
        if n == 0:
            continue
        merges = float(np.sum(rows["n_merges"]))
        row = {"stratum": s.name, "cells": n,
               "fallback": float(np.sum(rows["n_fallback"])) / merges if merges else 0.0}  # fmt: skip
        for c in ("saturated", "saturated_1", "saturated_2", "saturated_tree", "tree_converged"):
            row[c] = float(np.mean(np.asarray(rows[c], dtype=float)))
        for i in (1, 2):  # saturation of an index needs a class of it: how often one was found
            row[f"found_{i}"] = float(np.mean(np.asarray(rows[f"n_crit_{i}"]) > 0))
        row["cpu_median"] = float(np.median(rows["cpu_process_seconds"]))
        out.append(row)
    return out


def quality_report(rows: Sequence[Mapping], fallback_target=0.10, saturated_target=0.80) -> str:
    """Print :func:`quality_table` rows and name every target not met."""
    sat = ("saturated", "saturated_1", "saturated_2", "saturated_tree", "tree_converged")
    w = max([24, *(len(r["stratum"]) + 2 for r in rows)])
    lines = [f"{'stratum':<{w}}{'cells':>6}{'fallback':>9}" + "".join(f"{c:>15}" for c in sat)
             + f"{'cpu s (median)':>16}"]  # fmt: skip
    misses = []
    for r in rows:
        lines.append(f"{r['stratum']:<{w}}{r['cells']:>6}{r['fallback']:>9.2f}"
                     + "".join(f"{r[c]:>15.2f}" for c in sat) + f"{r['cpu_median']:>16.1f}")  # fmt: skip
        if r["fallback"] > fallback_target:
            misses.append(
                f"{r['stratum']}: fallback merges {r['fallback']:.0%} > {fallback_target:.0%}"
            )
        for c in sat[:3]:
            if r[c] < saturated_target:
                why = ""
                if c != sat[0]:  # saturation of index i needs a class of it
                    why = f" (a class of index {c[-1]} found in {r['found_' + c[-1]]:.0%})"
                misses.append(
                    f"{r['stratum']}: {c} in {r[c]:.0%} of cells < {saturated_target:.0%}{why}"
                )
    lines.append("targets not met:" if misses else "every target met")
    lines += [f"  {m}" for m in misses]
    return "\n".join(lines)


def robustness_spread(table: Mapping | None, where: Mapping, columns: Sequence[str]) -> dict:
    """Spread of each count over the runs of one cell (start seeds x start scales).

    Returns
    -------
    dict
        column -> (min, median, max, runs); empty when the table or the cell is missing.
    """
    if table is None:
        return {}
    rows = select(table, **dict(where))
    if len(rows["seed"]) == 0:
        warnings.warn(f"robustness: no run of the cell {dict(where)}", stacklevel=2)
        return {}
    out = {}
    for c in columns:
        v = np.asarray(rows[c], dtype=float)
        v = v[np.isfinite(v)]
        out[c] = (float(v.min()), float(np.median(v)), float(v.max()), int(v.size)) if v.size else (
            math.nan, math.nan, math.nan, 0)  # fmt: skip
    return out


def power_summary(tests: Sequence[ClaimTest], n: int = 20, alpha: float = 0.05,
                  pilot_sd: float = 0.15, margin: float = 0.176) -> str:  # fmt: skip
    """Say what ``n`` datasets detect, from the SD of the tests' per-dataset differences.

    The SD is the median over the tests that ran (``pilot_sd``, the pilot value of
    ``sweeps/MARGINS.toml``, when none ran). Reports the detectable effect (power
    0.8, two-sided paired t) at ``alpha`` and at Holm's first step ``alpha / k``
    (``k`` the family's p-values) and the TOST power at ``margin`` when the true
    difference is 0.
    """
    ran = [t for t in tests if t.effect is not None and t.effect.se > 0]
    if ran:
        sd = float(np.median([t.effect.se * math.sqrt(t.effect.n_clusters) for t in ran]))
        k = max(t.family_size for t in ran)
        source = f"median SD of the per-dataset differences of the {len(ran)} tests that ran"
    else:
        sd, k = float(pilot_sd), max(2 * len(tests), 1)
        source = "pilot SD of sweeps/MARGINS.toml (no test ran)"
    d1, dk = detectable_effect(n, alpha), detectable_effect(n, alpha / k)
    p1, pk = tost_power(margin / sd, n, alpha), tost_power(margin / sd, n, alpha / k)
    return (f"{source}: {sd:.3f} (log10). With {n} datasets a paired t detects {d1 * sd:.3f} "
            f"(d = {d1:.2f} SD) at alpha {alpha} and {dk * sd:.3f} (d = {dk:.2f} SD) at Holm's "
            f"first step (alpha/{k}), with power 0.8. TOST at the margin {margin:.3f} "
            f"({margin / sd:.2f} SD) has power >= {p1:.2f} at alpha {alpha} and >= {pk:.2f} at "
            f"alpha/{k} when the true difference is 0.")  # fmt: skip
