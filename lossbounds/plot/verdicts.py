"""Plots of pre-registered claim tests: estimates, family intervals, predictions, verdicts."""

from __future__ import annotations

from lossbounds.plot.core import new_axis

__all__ = ["VERDICT_COLORS", "plot_claim_tests"]

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
