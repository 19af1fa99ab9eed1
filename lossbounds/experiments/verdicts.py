"""Pre-registered claim tests on claim tables, clustered by dataset, with Holm and verdicts.

A notebook states a *family* of claims; each claim is one test on a claim table
(see :mod:`lossbounds.experiments.claims`):

- :func:`paired_claim`: setting ``a`` against setting ``b`` on the same datasets.
  Per row the count enters as ``log10(count)``; rows are paired on ``match``
  (the dataset and m), the paired differences are averaged over m within each
  dataset, and the mean over datasets is a paired t effect
  (:func:`lossbounds.experiments.inference.paired_effect`): the dataset is the
  cluster, never the (dataset, m) cell.
- :func:`slope_claim`: within one setting, the slope of ``log10(count)`` in a
  transformed input (``log2 m``, ``log10 lambda``), with a cluster-robust
  standard error (:func:`lossbounds.experiments.inference.clustered_slope`).
- :func:`rank_claim`: Spearman's rho between a bound column and the mean
  count of each setting, with an exact permutation p-value (few settings).

Each claim is tested on two counts: modulo the symmetry group ``G`` (the
table's column) and *orbit-weighted* (``count x |G|`` from the
``log10_group_order`` column: the full-space count if every orbit is free, an
approximation of what the bound counts). A full-space test equal to its
modulo-G test (the same |G| on both sides) is marked ``same`` and enters the
family once. :func:`decide` applies Holm's correction over the whole family
(difference and equivalence p-values together) and returns each claim's verdict
(:func:`lossbounds.experiments.inference.claim_verdict`); :func:`report` prints
them in one fixed format. :func:`load_margins` reads the pre-registered TOST
margins (``sweeps/MARGINS.toml``); :func:`claim_table` loads a committed table
at full size or runs a shrunken sweep live in quick mode.
"""

from __future__ import annotations

import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lossbounds.config import quick_mode
from lossbounds.experiments.claims import groups, load_table, quick_table, select
from lossbounds.experiments.inference import (
    Effect,
    adjust_pvalues,
    claim_verdict,
    clustered_slope,
    format_effect,
    paired_effect,
    rank_correlation,
    tost,
)

__all__ = [
    "SPACES",
    "ClaimTest",
    "claim_table",
    "load_margins",
    "log_counts",
    "paired_claim",
    "slope_claim",
    "rank_claim",
    "decide",
    "report",
    "bound_sign",
]

#: The two counts every claim is tested on.
SPACES = ("modulo G", "full space")
_TRANSFORMS = {"log2": np.log2, "log10": np.log10, "identity": lambda x: x}


@dataclass(frozen=True)
class ClaimTest:
    """One pre-registered test of a claim on one count.

    Attributes
    ----------
    claim : str
        What is claimed, in words (e.g. "2x2 - 4x1, equal units").
    count : str
        The count column (e.g. ``n_minima``).
    space : {"modulo G", "full space"}
        The count modulo G, or orbit-weighted (x |G|, assuming free orbits).
    kind : {"difference", "slope", "rank"}
        Paired log10 difference, clustered slope, or rank correlation.
    predicted : {1, -1, 0}
        The sign the bound predicts; 0: no difference.
    estimate : float
        The effect (log10 ratio, slope, or rho).
    effect : Effect or None
        Estimate, SE and df (None for a rank correlation).
    p_difference : float
        Two-sided p-value of "no effect".
    p_equivalence : float or None
        TOST p-value with ``margin`` (None without a margin).
    margin : float or None
        The pre-registered equivalence margin (on the estimate's scale).
    same : bool
        A full-space test identical to its modulo-G test (not counted twice).
    p_difference_adj, p_equivalence_adj : float or None
        Holm-adjusted p-values over the family (set by :func:`decide`).
    verdict : str or None
        "supported", "contradicted" or "undecided" (set by :func:`decide`).
    family_size : int
        Number of p-values in the Holm family (set by :func:`decide`).
    n_cells : int
        Cells (table rows) behind the test (0: not recorded).
    note : str
        What limits the test (e.g. a stratum whose merge trees did not converge).
    """

    claim: str
    count: str
    space: str
    kind: str
    predicted: int
    estimate: float
    effect: Effect | None
    p_difference: float
    p_equivalence: float | None = None
    margin: float | None = None
    same: bool = False
    p_difference_adj: float | None = None
    p_equivalence_adj: float | None = None
    verdict: str | None = None
    family_size: int = 0
    n_cells: int = 0
    note: str = ""

    def interval(self, alpha: float = 0.05) -> tuple[float, float]:
        """Bonferroni interval at level ``1 - alpha / family_size`` (NaN for a rank test)."""
        if self.effect is None:
            return float("nan"), float("nan")
        return self.effect.interval(1 - alpha / max(self.family_size, 1))


def claim_table(name: str, root, quick: Mapping, cases=None, max_cells: int = 12) -> dict:
    """Load the committed table ``results/<name>``; in quick mode run a shrunken sweep live.

    Parameters
    ----------
    name : str
        Sweep name: ``root/results/<name>`` and ``root/sweeps/<name>.toml``.
    root : str or pathlib.Path
        The repository root.
    quick : dict
        Overrides of the quick sweep (:func:`lossbounds.experiments.claims.shrink_spec`).
    cases : int or sequence of int, optional
        ``[[cases]]`` kept in quick mode.
    max_cells : int
        Largest quick grid allowed.
    """
    root = Path(root)
    if not quick_mode():
        return load_table(root / "results" / name)
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as out:
        spec = root / "sweeps" / f"{name}.toml"
        return quick_table(spec, out, quick, cases=cases, max_cells=max_cells)


def load_margins(path) -> dict:
    """Read the pre-registered margins (a TOML file such as ``sweeps/MARGINS.toml``)."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"path: cannot read margins from {str(path)!r}: {exc}") from None


def log_counts(table: Mapping, count: str, space: str, offset: float = 0.0) -> np.ndarray:
    """``log10(count + offset)`` per row, plus ``log10 |G|`` in the full space.

    ``offset`` is 0 for counts that are at least 1 (minima, persistent minima)
    and 1 for counts that may be 0 (saddles); ``count + offset`` must be >= 1.
    """
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    values = np.asarray(table[count], dtype=np.float64) + float(offset)
    if values.size and values.min() < 1:
        raise ValueError(
            f"{count} + offset must be >= 1 in every row compared (log counts); "
            "drop the other rows or use offset=1"
        )
    out = np.log10(values)
    if space == "full space":
        out = out + np.asarray(table["log10_group_order"], dtype=np.float64)
    return out


def _paired_rows(table, a, b, match):
    """Rows of ``a`` and ``b`` matched on ``match``: two index arrays into ``select`` results."""
    ra, rb = select(table, **a), select(table, **b)
    keys_a = list(zip(*(ra[c].tolist() for c in match), strict=True))
    keys_b = list(zip(*(rb[c].tolist() for c in match), strict=True))
    if len(set(keys_a)) < len(keys_a) or len(set(keys_b)) < len(keys_b):
        raise ValueError(f"a setting has several rows per {match}; add columns to a and b")
    common = sorted(set(keys_a) & set(keys_b))
    if len(common) < 2:
        raise ValueError(f"a and b share {len(common)} rows on {match}; at least 2 needed")
    ia = np.array([keys_a.index(k) for k in common])
    ib = np.array([keys_b.index(k) for k in common])
    return ra, rb, ia, ib


def paired_claim(
    table: Mapping, count: str, a: Mapping, b: Mapping, predicted: int, *, claim: str,
    margin: float | None = None, match: Sequence[str] = ("seed", "samples"),
    cluster: str = "seed", offset: float = 0.0,
) -> list[ClaimTest]:  # fmt: skip
    """Test ``log10 count(a) - log10 count(b)``, averaged over m per dataset, in both spaces.

    Returns
    -------
    list of ClaimTest
        Modulo G, then full space; TOST against ``-margin, +margin`` when a margin is given.
    """
    ra, rb, ia, ib = _paired_rows(table, dict(a), dict(b), tuple(match))
    clusters = np.asarray(ra[cluster])[ia]
    out = []
    for space in SPACES:
        d = log_counts(ra, count, space, offset)[ia] - log_counts(rb, count, space, offset)[ib]
        labels = np.unique(clusters)
        per_cluster = np.array([d[clusters == c].mean() for c in labels])
        effect = paired_effect(per_cluster)
        same = space == "full space" and bool(
            np.array_equal(ra["log10_group_order"][ia], rb["log10_group_order"][ib])
        )
        out.append(_test(claim, count, space, "difference", predicted, effect, margin, same))
    return out


def slope_claim(
    table: Mapping, count: str, where: Mapping, predicted: int, *, claim: str,
    x: str = "samples", transform: str = "log2", margin: float | None = None,
    cluster: str = "seed", offset: float = 0.0,
) -> list[ClaimTest]:  # fmt: skip
    """Slope of ``log10 count`` in ``transform(x)`` within the rows ``where``, clustered by dataset."""
    if transform not in _TRANSFORMS:
        raise ValueError(f"transform must be one of {sorted(_TRANSFORMS)}, got {transform!r}")
    rows = select(table, **dict(where))
    xs = _TRANSFORMS[transform](np.asarray(rows[x], dtype=np.float64))
    out = []
    for space in SPACES:
        effect = clustered_slope(log_counts(rows, count, space, offset), xs, rows[cluster])
        same = space == "full space" and np.ptp(rows["log10_group_order"]) == 0
        out.append(_test(claim, count, space, "slope", predicted, effect, margin, same))
    return out


def rank_claim(
    table: Mapping, count: str, bound: str, by: Sequence[str], predicted: int = 1, *, claim: str
) -> list[ClaimTest]:
    """Spearman's rho between ``bound`` and the mean count of each setting (exact p-value)."""
    out = []
    for space in SPACES:
        values = 10 ** log_counts(table, count, space)
        xs, ys, orders = [], [], []
        for rows in groups(table, by).values():
            xs.append(float(np.asarray(table[bound])[rows[0]]))
            ys.append(float(values[rows].mean()))
            orders.append(float(np.asarray(table["log10_group_order"])[rows[0]]))
        rho, p = rank_correlation(xs, ys)
        same = space == "full space" and np.ptp(orders) == 0
        out.append(ClaimTest(claim, count, space, "rank", predicted, rho, None, p, same=same))
    return out


def _test(claim, count, space, kind, predicted, effect, margin, same) -> ClaimTest:
    p_eq = None if margin is None else tost(effect, -margin, margin).pvalue
    return ClaimTest(
        claim, count, space, kind, predicted, effect.estimate, effect,
        effect.pvalue(), p_eq, margin, same,
    )  # fmt: skip


def decide(tests: Sequence[ClaimTest], alpha: float = 0.05) -> list[ClaimTest]:
    """Holm over the family (every distinct difference and TOST p-value), then each verdict.

    Tests marked ``same`` take the adjusted p-values and the verdict of the
    modulo-G test they repeat (the one just before them in ``tests``).
    """
    tests = list(tests)
    slots = []
    for i, t in enumerate(tests):
        if not t.same:
            slots.append((i, "d", t.p_difference))
            if t.p_equivalence is not None:
                slots.append((i, "e", t.p_equivalence))
    if not slots:
        raise ValueError("tests must hold at least one test")
    adjusted = adjust_pvalues([p for *_, p in slots], "holm", alpha)
    adj = {(i, k): float(p) for (i, k, _), p in zip(slots, adjusted, strict=True)}
    out = []
    for i, t in enumerate(tests):
        j = i - 1 if t.same else i
        if t.same and (j < 0 or tests[j].space != "modulo G" or tests[j].claim != t.claim):
            raise ValueError(f"test {i} is marked same but does not follow its modulo-G test")
        pd, pe = adj[j, "d"], adj.get((j, "e"))
        v = claim_verdict(t.predicted, t.estimate, pd, pe, alpha)
        out.append(replace(t, p_difference_adj=pd, p_equivalence_adj=pe, verdict=v,
                           family_size=len(slots)))  # fmt: skip
    return out


def report(tests: Sequence[ClaimTest], alpha: float = 0.05) -> str:
    """Fixed-format table: claim, count, space, prediction, estimate [Bonferroni interval], Holm p, verdict."""
    sign = {1: "+", -1: "-", 0: "= (TOST)"}
    w = max([34, *(len(t.claim) + 2 for t in tests)])
    lines = [
        f"{'claim':<{w}}{'count':<12}{'space':<11}{'bound':>9}  {'estimate [family interval]':<28}"
        f"{'p diff':>9}{'p TOST':>9}  verdict"
    ]
    for t in tests:
        low, high = t.interval(alpha)
        est = format_effect(t.estimate, low, high) if t.effect else f"rho {t.estimate:+.2f}"
        pe = "-" if t.p_equivalence_adj is None else f"{t.p_equivalence_adj:.3f}"
        note = " (= modulo G: same |G|)" if t.same else ""
        lines.append(
            f"{t.claim:<{w}}{t.count:<12}{t.space:<11}{sign[t.predicted]:>9}  {est:<28}"
            f"{t.p_difference_adj:>9.3f}{pe:>9}  {t.verdict}{note}"
        )
    lines.append(f"(Holm over {tests[0].family_size} p-values; intervals at 1 - {alpha}/"
                 f"{tests[0].family_size}; log10 counts: a difference of 0.18 is a factor 1.5)")  # fmt: skip
    return "\n".join(lines)


def bound_sign(table: Mapping, bound: str, a: Mapping, b: Mapping, over: str = "samples") -> int:
    """Sign of ``bound(a) - bound(b)`` (the prediction), checked to be the same at every ``over``.

    Returns
    -------
    int
        +1, -1, or 0 where the bound columns are equal at every value of ``over``.

    Raises
    ------
    ValueError
        If the sign changes with ``over`` (no single prediction).
    """
    ra, rb = select(table, **dict(a)), select(table, **dict(b))
    signs = set()
    for value in np.unique(ra[over]).tolist():
        xa = np.unique(select(ra, **{over: value})[bound])
        xb = np.unique(select(rb, **{over: value})[bound])
        if xa.size != 1 or xb.size != 1:
            raise ValueError(f"{bound} is not one number per setting at {over} = {value}")
        signs.add(int(np.sign(float(xa[0]) - float(xb[0]))))
    if len(signs) != 1:
        raise ValueError(f"the sign of {bound} changes sign with {over}: {sorted(signs)}")
    return signs.pop()
