"""Plot of the barcode statistic r per architecture: datasets, means, r0, upper-bound deaths."""

from __future__ import annotations

import numpy as np

from lossbounds.plot.core import new_axis

__all__ = ["plot_barcode_r"]


def _mean_interval(r: np.ndarray, confidence: float):
    """Mean and its t interval across datasets (None for the interval with fewer than 2)."""
    from lossbounds.experiments.inference import paired_effect

    if r.size < 2:
        return float(r.mean()), None
    e = paired_effect(r)
    return e.estimate, e.interval(confidence)


def plot_barcode_r(archs, r0: float, ax=None, confidence: float = 0.95, seed: int = 0):
    """Per-dataset r of each architecture against log2 N, the mean with its interval, and r0.

    Parameters
    ----------
    archs : sequence of lossbounds.experiments.barcodes.ArchitectureR
        From :func:`~lossbounds.experiments.barcodes.per_dataset_r`.
    r0 : float
        The pre-registered level of "low in the loss range" (a dashed line).
    ax : matplotlib.axes.Axes, optional
    confidence : float
        Level of the t interval of the mean across datasets (error bars).
    seed : int
        Seed of the horizontal jitter of the dataset points.

    Returns
    -------
    matplotlib.axes.Axes
        Filled dots: datasets whose r rests on verified saddles only; open
        red dots: datasets with an unrefined band maximum among their deaths
        (r is then an upper bound). Each architecture is annotated with its
        upper-bound deaths out of its finite bars and its cells without a finite bar
        out of its cells.
    """
    ax = new_axis(ax, figsize=(6.5, 4.0))
    rng = np.random.default_rng(seed)
    labels = {"ver": "dataset, deaths verified", "up": "dataset, some death an upper bound (r too)"}
    for i, a in enumerate(archs):
        x = np.log2(a.n_params)
        xs = x + rng.uniform(-0.06, 0.06, a.r.size)
        v, u = a.verified, ~a.verified
        ax.plot(xs[v], a.r[v], "o", ms=4, color="C0", alpha=0.6, label=labels.pop("ver", None)
                if v.any() else None)  # fmt: skip
        ax.plot(xs[u], a.r[u], "o", ms=5, mfc="none", color="C3", alpha=0.8,
                label=labels.pop("up", None) if u.any() else None)  # fmt: skip
        if a.r.size:
            mean, ci = _mean_interval(a.r, confidence)
            err = None if ci is None else [[mean - ci[0]], [ci[1] - mean]]
            ax.errorbar(x + 0.12, mean, yerr=err, fmt="s", color="k", capsize=4, ms=6)
        text = (f"{a.label}\nupper bounds {a.n_fallback}/{a.n_merges}\nno bar {a.n_undefined}/{a.n_cells}"
                if a.n_cells else f"{a.label}\nnot in the table")  # fmt: skip
        ax.annotate(text,
                    (x, 1.0), xycoords=("data", "axes fraction"), xytext=(0, -4 - 30 * (i % 2)),
                    textcoords="offset points", ha="center", va="top", fontsize="x-small")  # fmt: skip
    xs = [float(np.log2(a.n_params)) for a in archs]
    if xs:
        ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
        ax.set_xticks(sorted(set(xs)), [f"{2**x:.0f}" for x in sorted(set(xs))])
    ax.plot([], [], "s", color="k", label=f"mean over datasets, {confidence:.0%} t interval")
    ax.axhline(r0, color="C2", ls="--", lw=1.2, label=f"r0 = {r0:g} (pre-registered)")
    ax.set_xlabel("N (parameters, log2 scale)")
    ax.set_ylabel("r = median (death - L*) / (L_start - L*)")
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.grid(True, alpha=0.3)
    return ax
