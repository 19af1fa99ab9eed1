"""Plots of pre-registered claim tests: estimates, family intervals, predictions, verdicts."""

from __future__ import annotations

import numpy as np

from lossbounds.plot.core import new_axis

__all__ = ["VERDICT_COLORS", "plot_claim_tests", "plot_quality", "plot_dataset_means"]

#: Colour of each verdict.
VERDICT_COLORS = {"supported": "C2", "contradicted": "C3", "undecided": "0.45"}
_PREDICTION = {1: "bound: +", -1: "bound: -", 0: "bound: ="}


def plot_claim_tests(tests, ax=None, xlabel="effect", alpha=0.05):
    """Estimates with their family-wise intervals, the bound's prediction and the verdict.

    Parameters
    ----------
    tests : sequence of lossbounds.experiments.verdicts.ClaimTest
        Decided tests (:func:`lossbounds.experiments.verdicts.decide`) of kind
        "difference" or "slope"; one row each, top to bottom.
    ax : matplotlib.axes.Axes, optional
    xlabel : str
    alpha : float
        Family-wise level: intervals at ``1 - alpha / family_size`` (Bonferroni,
        the interval that matches Holm's first step).

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If a test is undecided by :func:`decide` or is a rank correlation.
    """
    tests = list(tests)
    if any(t.verdict is None or t.effect is None for t in tests):
        raise ValueError("tests must be decided difference or slope tests (verdicts.decide)")
    ax = new_axis(ax, figsize=(7.0, 0.35 * len(tests) + 1.2))
    seen = set()
    for row, t in enumerate(tests):
        y = len(tests) - 1 - row
        low, high = t.interval(alpha)
        color = VERDICT_COLORS[t.verdict]
        label = t.verdict if t.verdict not in seen else None
        seen.add(t.verdict)
        ax.errorbar(t.estimate, y, xerr=[[t.estimate - low], [high - t.estimate]], fmt="o",
                    color=color, capsize=3, label=label)  # fmt: skip
        if t.margin is not None:
            ax.plot([-t.margin, t.margin], [y, y], color="0.6", lw=6, alpha=0.35, zorder=0)
        ax.annotate(_PREDICTION[t.predicted], (1.0, y), xycoords=("axes fraction", "data"),
                    xytext=(4, 0), textcoords="offset points", va="center", fontsize="small")  # fmt: skip
    ax.plot([], [], color="0.6", lw=6, alpha=0.35, label="TOST margin (pre-registered)")
    ax.axvline(0.0, color="k", lw=0.8)
    ax.set_yticks(range(len(tests)))
    ax.set_yticklabels([f"{t.claim}: {t.count}, {t.space}" for t in reversed(tests)],
                       fontsize="small")  # fmt: skip
    ax.set_xlabel(xlabel)
    size = tests[0].family_size if tests else 1
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.16, 1.0),
              title=f"verdict (Holm, {size} p-values);\nintervals at 1 - {alpha}/{size}")  # fmt: skip
    ax.grid(True, axis="x", alpha=0.3)
    return ax


_QUALITY = {
    "fallback": "fallback merges / merges",
    "saturated": "saturated: minima",
    "saturated_1": "saturated: index 1",
    "saturated_2": "saturated: index 2",
    "saturated_tree": "saturated: merge tree",
    "tree_converged": "merge tree converged",
}


def plot_quality(rows, ax=None, fallback_target=0.10, saturated_target=0.80):
    """Refinement and saturation per stratum, with the targets.

    Parameters
    ----------
    rows : sequence of dict
        :func:`lossbounds.experiments.suite.quality_table` rows.
    ax : matplotlib.axes.Axes, optional
    fallback_target, saturated_target : float
        Drawn as dashed lines (fallback at most, saturation at least).

    Returns
    -------
    matplotlib.axes.Axes
    """
    rows = list(rows)
    ax = new_axis(ax, figsize=(max(6.0, 1.6 * len(rows) + 2), 3.8))
    width = 0.8 / len(_QUALITY)
    for j, (key, label) in enumerate(_QUALITY.items()):
        xs = [i + (j - (len(_QUALITY) - 1) / 2) * width for i in range(len(rows))]
        ax.bar(xs, [r[key] for r in rows], width, color=f"C{j}", label=label)
    ax.axhline(fallback_target, color="C0", ls="--", lw=1,
               label=f"target: fallback <= {fallback_target:.0%}")  # fmt: skip
    ax.axhline(saturated_target, color="k", ls="--", lw=1,
               label=f"target: saturated >= {saturated_target:.0%}")  # fmt: skip
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([f"{r['stratum'].replace(', ', chr(10))}\n({r['cells']} cells)" for r in rows],
                       fontsize="small")  # fmt: skip
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("fraction")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def plot_dataset_means(means, x, labels=None, ax=None, xlabel="m (samples)", ylabel="log10 count"):
    """Per-setting means of log10 counts over datasets against ``x``, with 95 % t intervals.

    Parameters
    ----------
    means : dict
        ``{(group..., x): (mean, low, high, n, fallback)}`` as
        :func:`lossbounds.experiments.suite.dataset_means` returns it with ``x`` last in ``by``.
    x : sequence
        The x values in plotting order (points of a group are offset slightly so
        their intervals stay visible).
    labels : dict, optional
        Group (tuple) -> legend label (default: the group's values); its order fixes
        each group's colour, so panels showing different subsets stay comparable.
    ax : matplotlib.axes.Axes, optional
    xlabel, ylabel : str

    Returns
    -------
    matplotlib.axes.Axes
        Hollow markers: settings with an unrefined (band-maximum) merge, whose
        thresholded counts are upper bounds.
    """
    ax = new_axis(ax, figsize=(6.0, 3.8))
    groups = sorted({k[:-1] for k in means})
    order = [*(labels or {}), *(g for g in groups if g not in (labels or {}))]
    xs = list(x)
    for g in groups:
        j = order.index(g)
        pts = [(i + 0.06 * (j - (len(order) - 1) / 2), means[(*g, v)]) for i, v in enumerate(xs)
               if (*g, v) in means and np.isfinite(means[(*g, v)][0])]  # fmt: skip
        if not pts:
            continue
        px = np.array([p for p, _ in pts])
        m = np.array([[e[0], e[1], e[2]] for _, e in pts])
        label = (labels or {}).get(g, ", ".join(map(str, g)))
        ax.errorbar(px, m[:, 0], yerr=[m[:, 0] - m[:, 1], m[:, 2] - m[:, 0]], color=f"C{j % 10}",
                    capsize=3, label=label, marker="none")  # fmt: skip
        for xp, (_, e) in zip(px, pts, strict=True):
            ax.plot([xp], [e[0]], "o", color=f"C{j % 10}", mfc="white" if e[4] else f"C{j % 10}")
    ax.plot([], [], "o", color="0.4", mfc="white", label="hollow: unrefined merges (upper bound)")
    ax.set_xticks(range(len(xs)))
    ax.set_xticklabels([str(v) for v in xs])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(True, axis="y", alpha=0.3)
    return ax
