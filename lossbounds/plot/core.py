"""Plot helpers and the one function that saves figures.

Every plot function takes ``ax=None`` (a new figure is made when omitted),
draws, and returns the axis. None calls ``plt.show()`` or changes global
matplotlib style.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lossbounds._checks import check_int

__all__ = [
    "figures_dir",
    "in_kernel",
    "save_figure",
    "new_axis",
    "plot_bound_curves",
    "plot_bound_terms",
    "plot_bound_gap",
    "plot_diagram",
    "plot_barcode",
    "plot_betti_curve",
    "plot_segment_scans",
    "plot_orbit_slice",
    "plot_estimates",
    "plot_paired_tests",
    "plot_bound_vs_measured",
]


def figures_dir() -> Path:
    """Return the directory where figures are written.

    ``LOSSBOUNDS_FIGURES`` wins when set; otherwise the ``figures/`` folder of
    the project checkout that contains the working directory (found by walking
    up to the first folder holding ``pyproject.toml``); otherwise
    ``./figures``.
    """
    env = os.environ.get("LOSSBOUNDS_FIGURES")
    if env:
        return Path(env)
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "lossbounds").is_dir():
            return folder / "figures"
    return here / "figures"


def in_kernel() -> bool:
    """Return True when called inside a running IPython kernel (a notebook).

    Only an interactive shell with a kernel counts: a terminal IPython session
    or a plain script returns False. IPython is never imported here.
    """
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def save_figure(
    fig,
    stem: str,
    formats=("pdf", "png"),
    dpi: int = 150,
    display: bool | None = None,
    display_dpi: int = 80,
) -> list[Path]:
    """Save ``fig`` as ``figures/<stem>.<fmt>`` for each format, and show it in a notebook.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to save.
    stem : str
        File name without extension, by convention ``NN_name`` where ``NN`` is
        the notebook number (e.g. ``"02_width_growth"``).
    formats : sequence of str
        File formats; default PDF (for papers) and PNG (for the README).
    dpi : int
        Resolution of raster formats.
    display : bool or None
        Embed the figure in the notebook as a PNG output. None (default): when
        running in an IPython kernel (:func:`in_kernel`), whatever the
        matplotlib backend (``make test`` uses Agg, where nothing displays by
        itself). In a kernel the figure is then closed in pyplot, so that the
        inline backend or a later ``plt.show()`` does not show it twice.
    display_dpi : int
        Resolution of the embedded PNG (modest, to keep committed notebooks
        small); the files in ``figures/`` use ``dpi``.

    Returns
    -------
    list of pathlib.Path
        The files written (relative paths are never returned; the list is not
        printed by notebooks so outputs stay machine-independent).

    Raises
    ------
    ValueError
        For a stem with a directory part, an unknown format, or a ``display_dpi`` below 1.
    """
    if not stem or "/" in stem or "\\" in stem:
        raise ValueError(f"stem must be a plain file name without directories, got {stem!r}")
    allowed = {"pdf", "png", "svg"}
    bad = [f for f in formats if f not in allowed]
    if bad:
        raise ValueError(f"formats must be among {sorted(allowed)}, got {bad}")
    check_int("display_dpi", display_dpi, minimum=1)
    out = figures_dir()
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = out / f"{stem}.{fmt}"
        # Fixed metadata keeps PDFs byte-stable across runs (no timestamps).
        metadata = (
            {"CreationDate": None} if fmt == "pdf" else {"Software": None} if fmt == "png" else None
        )
        fig.savefig(path, dpi=dpi, bbox_inches="tight", metadata=metadata)
        paths.append(path)
    if in_kernel() if display is None else display:
        _display_png(fig, display_dpi)
    return paths


def _display_png(fig, dpi: int) -> None:
    """Emit ``fig`` as one ``image/png`` output of the running kernel and close it in pyplot.

    The PNG is reduced to a 256-colour palette (no dithering), about three times smaller
    than matplotlib's RGBA output, with no metadata, so re-executing a notebook gives
    the same bytes.
    """
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image
    from IPython.display import display as ipython_display
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    rgba = PILImage.open(buffer).convert("RGBA")
    flat = PILImage.alpha_composite(PILImage.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    small = io.BytesIO()
    flat.quantize(256, method=PILImage.Quantize.MEDIANCUT, dither=PILImage.Dither.NONE).save(
        small, format="PNG", optimize=True
    )
    ipython_display(Image(data=small.getvalue(), format="png"))
    plt.close(fig)


def new_axis(ax=None, figsize=(5.0, 3.6)):
    """Return ``ax`` or a fresh axis on a new figure of size ``figsize``."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


# ---------------------------------------------------------------------------
# bounds (notebooks 02 and 03)
# ---------------------------------------------------------------------------
__all__ += [
    "plot_bound_curves",
    "plot_zell_khovanskii",
    "plot_bound_terms",
    "plot_bound_gap",
]


def plot_bound_curves(
    x, curves: dict, ax=None, xlabel="", ylabel="log10 B", logy=False, markers=True
):
    """One line per bound against a size variable.

    Parameters
    ----------
    x : array_like of shape (k,)
        The size variable (width, depth, samples, ...); shown on a log axis.
    curves : dict of str -> array_like of shape (k,)
        Label -> values (typically log10 of a bound).
    ax : matplotlib.axes.Axes, optional
    xlabel, ylabel : str
    logy : bool
        Log-scale y axis (a log10 of log10 B plot when the values are log10 B).
    markers : bool
        Draw a marker at each point.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import numpy as np

    ax = new_axis(ax)
    for label, y in curves.items():
        ax.plot(np.asarray(x), np.asarray(y), marker="o" if markers else None, ms=3, label=label)
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_zell_khovanskii(x, series: dict, ax=None, title="", xlabel=""):
    """Zell's expression (solid, dots) and Khovanskii's bound (dashed, crosses) per setting.

    Parameters
    ----------
    x : array_like of shape (k,)
        The size variable, on a log axis.
    series : dict of str -> (array_like, array_like)
        Setting label -> (log10 of Zell's expression with C = 1, log10 of
        Khovanskii's bound), each of shape (k,); one colour per setting.
    ax : matplotlib.axes.Axes, optional
    title, xlabel : str

    Returns
    -------
    matplotlib.axes.Axes
        Log-log axes (log10 of the values on a log axis).
    """
    import matplotlib.pyplot as plt

    ax = new_axis(ax)
    colors = plt.cm.tab10.colors
    for j, (label, (z, k)) in enumerate(series.items()):
        color = colors[j % len(colors)]
        ax.plot(x, z, "-", marker="o", ms=3, color=color, label=f"Zell expression (C = 1), {label}")
        ax.plot(x, k, "--", lw=1, marker="x", ms=5, color=color, label=f"Khovanskii bound, {label}")
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="log10 of the value", title=title)
    ax.legend(fontsize=6.5)
    return ax


def plot_bound_terms(labels, terms, ax=None, names=("sign", "chain", "degree"), ylabel="log2 term"):
    """Draw grouped bars of the three terms of a log2 bound, on a log axis.

    Parameters
    ----------
    labels : sequence of str, length k
        One label per architecture.
    terms : sequence of lossbounds.theory.bounds.BoundTerms, length k
        Their decompositions (scalar floats).
    ax : matplotlib.axes.Axes, optional
    names : tuple of str
        Which terms to draw and in what order.
    ylabel : str

    Returns
    -------
    matplotlib.axes.Axes
    """
    import numpy as np

    ax = new_axis(ax)
    k, width = len(labels), 0.8 / len(names)
    pos = np.arange(k)
    for j, name in enumerate(names):
        vals = [max(float(getattr(t, name)), 1e-300) for t in terms]
        ax.bar(pos + (j - (len(names) - 1) / 2) * width, vals, width, label=name)
    ax.set_yscale("log")
    ax.set_xticks(pos)
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize="small")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")
    return ax


def plot_bound_gap(
    x,
    upper,
    order,
    ax=None,
    xlabel="",
    labels=("Zell expression (C = 1)", "|G| (group order)"),
    extra=None,
    certified=None,
    legend_loc="best",
):
    """Plot an upper-bound expression and the symmetry group's order (log10) against a size.

    Nothing is shaded between the curves: the group's order is a lower
    bound on b0(S_c) only at levels just above a certified strict minimum
    (docs/symmetry.md, section 7), not at every level.

    Parameters
    ----------
    x : array_like of shape (k,)
    upper, order : array_like of shape (k,)
        log10 of the upper-bound expression and of |G| (both > 0).
    ax : matplotlib.axes.Axes, optional
    xlabel : str
    labels : tuple of str
        Legend labels of the upper and the group-order curves.
    extra : dict of str -> array_like of shape (k,), optional
        Further log10 curves (e.g. Khovanskii's bound), one legend entry each.
    certified : array_like of bool, shape (k,), optional
        Where the lower bound b0 >= |G| is certified (a strict minimum with
        a free orbit and m >= N); those points get filled markers labelled
        "|G|: certified lower bound on b0". None: nowhere.
    legend_loc : str
        Legend position (matplotlib ``loc``), e.g. where no curve runs.

    Returns
    -------
    matplotlib.axes.Axes
        y axis is log10 of the value on a log scale (a log10 log10 plot).

    Raises
    ------
    ValueError
        If the arrays do not all have shape (k,).
    """
    import numpy as np

    x, upper, order = (np.asarray(a, dtype=float) for a in (x, upper, order))
    extra = {label: np.asarray(y, dtype=float) for label, y in (extra or {}).items()}
    mask = np.zeros(x.shape, bool) if certified is None else np.asarray(certified, dtype=bool)
    if x.ndim != 1 or any(a.shape != x.shape for a in (upper, order, mask, *extra.values())):
        raise ValueError(
            f"x, upper, order, certified and every extra curve must have shape (k,), "
            f"got x of shape {x.shape}"
        )
    ax = new_axis(ax)
    ax.plot(x, upper, marker="o", ms=3, label=labels[0])
    for label, y in extra.items():
        ax.plot(x, y, ls="--", lw=1, label=label)  # often on top of the upper curve
    ax.plot(x, order, marker="^", ms=4, mfc="none", label=labels[1])
    if mask.any():
        ax.plot(
            x[mask], order[mask], "^", ms=7, color="k", label="|G|: certified lower bound on b0"
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("log10 of the value")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small", loc=legend_loc)
    return ax


# --- persistence (lossbounds.topology.persistence) -----------------------------------

__all__ += ["plot_diagram", "plot_barcode", "plot_betti_curve"]


def _inf_level(diagrams, inf_level):
    import numpy as np

    if inf_level is not None:
        return float(inf_level)
    finite = [d[np.isfinite(d)] for d in diagrams if len(d)]
    finite = np.concatenate(finite) if finite else np.zeros(1)
    lo, hi = float(finite.min()), float(finite.max())
    return hi + 0.1 * max(hi - lo, 1e-12)


def plot_diagram(diagrams, ax=None, dims=None, inf_level=None, markersize=12):
    """Plot a persistence diagram: one marker per bar at (birth, death), all dimensions.

    Parameters
    ----------
    diagrams : list of ndarray, each of shape (k_i, 2)
        As returned by :mod:`lossbounds.topology.persistence`.
    ax : matplotlib axis, optional
    dims : sequence of int, optional
        Dimensions to draw (default all).
    inf_level : float, optional
        Height of the dashed line labelled "inf" on which infinite bars are
        drawn as triangles (their own legend entry); default slightly above
        the largest finite value.
    markersize : float

    Returns
    -------
    matplotlib axis
    """
    import numpy as np

    ax = new_axis(ax)
    dims = range(len(diagrams)) if dims is None else dims
    top = _inf_level(diagrams, inf_level)
    finite_all = np.concatenate([np.asarray(d)[np.isfinite(d)] for d in diagrams] + [[top]])
    lo = float(finite_all.min())
    for k in dims:
        d = np.asarray(diagrams[k], dtype=float).reshape(-1, 2)
        inf = ~np.isfinite(d[:, 1])
        dots = ax.scatter(
            d[~inf, 0],
            d[~inf, 1],
            s=markersize,
            alpha=0.7,
            label=f"H{k}: {int(np.sum(~inf))} finite",
        )
        if inf.any():
            ax.scatter(
                d[inf, 0], np.full(int(inf.sum()), top), s=3 * markersize, marker="^",
                color=dots.get_facecolor()[0], label=f"H{k}: {int(inf.sum())} infinite (never dies)",
            )  # fmt: skip
    ax.plot([lo, top], [lo, top], color="0.5", lw=0.8)
    ax.axhline(top, color="0.5", ls="--", lw=0.8, label="death = inf (drawn at this height)")
    ax.text(lo, top, "inf", va="bottom", fontsize=8, color="0.4")
    ax.set_xlabel("birth")
    ax.set_ylabel("death")
    ax.legend(fontsize=8, loc="lower right")
    return ax


def plot_barcode(diagrams, ax=None, dims=None, inf_level=None, max_bars=None):
    """Barcode: one horizontal segment per bar, grouped by dimension.

    Parameters
    ----------
    diagrams : list of ndarray, each of shape (k_i, 2)
    ax : matplotlib axis, optional
    dims : sequence of int, optional
        Dimensions to draw (default all).
    inf_level : float, optional
        Where infinite bars stop (drawn with an arrow marker); default
        slightly above the largest finite value.
    max_bars : int, optional
        Keep only the ``max_bars`` longest bars of each dimension (the title
        says how many were hidden).

    Returns
    -------
    matplotlib axis
    """
    import numpy as np

    ax = new_axis(ax)
    dims = range(len(diagrams)) if dims is None else dims
    top = _inf_level(diagrams, inf_level)
    y = 0
    hidden = 0
    for k in dims:
        d = np.asarray(diagrams[k], dtype=float).reshape(-1, 2)
        if max_bars is not None and len(d) > max_bars:
            keep = np.argsort(-(d[:, 1] - d[:, 0]), kind="stable")[:max_bars]
            hidden += len(d) - max_bars
            d = d[np.sort(keep)]
        ends = np.where(np.isfinite(d[:, 1]), d[:, 1], top)
        color = f"C{k}"
        ys = y + np.arange(len(d))
        ax.hlines(ys, d[:, 0], ends, color=color, lw=1.5, label=f"H{k}")
        inf_rows = ~np.isfinite(d[:, 1])
        ax.plot(ends[inf_rows], ys[inf_rows], ">", color=color, ms=4)
        y += len(d) + 1
    ax.set_yticks([])
    ax.set_xlabel("level c")
    if hidden:
        ax.set_title(f"{hidden} shorter bars not shown", fontsize=8)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def plot_betti_curve(diagrams, levels, ax=None, min_persistence=0.0, dims=None, label=""):
    """Betti numbers of the sublevel sets as a step function of the level.

    Parameters
    ----------
    diagrams : list of ndarray, each of shape (k_i, 2)
    levels : array_like, shape (L,)
        Levels at which to evaluate (sorted).
    ax : matplotlib axis, optional
    min_persistence : float
        Bars shorter than this are discarded (see
        :func:`lossbounds.topology.diagrams.betti_numbers`).
    dims : sequence of int, optional
    label : str
        Prefix of the legend entries (``f"{label}b{k}"``), to tell curves
        drawn on the same axis apart.

    Returns
    -------
    matplotlib axis
    """
    import numpy as np

    from lossbounds.topology.diagrams import betti_curve

    ax = new_axis(ax)
    levels = np.asarray(levels, dtype=float)
    curve = betti_curve(diagrams, levels, min_persistence=min_persistence)
    dims = range(curve.shape[1]) if dims is None else dims
    for k in dims:
        ax.step(levels, curve[:, k], where="post", label=f"{label}b{k}")
    ax.set_xlabel("level c")
    ax.set_ylabel("Betti number")
    ax.legend(fontsize=8)
    return ax


# --- symmetry orbits (notebook 09) --------------------------------------------

__all__ += ["plot_segment_scans", "plot_orbit_slice"]


def plot_segment_scans(ts, values, baseline=0.0, level=None, ax=None, floor=1e-12, label=None):
    """Loss minus a baseline along straight segments, one curve per segment, log y axis.

    Parameters
    ----------
    ts : array_like, shape (R,)
        Position along each segment (0 at its start, 1 at its end).
    values : array_like, shape (S, R)
        Loss at ``R`` points of each of ``S`` segments.
    baseline : float
        Subtracted before plotting (e.g. the minimum L*); values closer than
        ``floor`` to it are drawn at ``floor`` (a log axis has no zero).
    level : float, optional
        A level c drawn as a dashed horizontal line at ``c - baseline``.
    ax : matplotlib axis, optional
    floor : float
        Smallest value drawn (> 0).
    label : str, optional
        Legend label of the first curve (the others are unlabelled).

    Returns
    -------
    matplotlib axis
    """
    import numpy as np

    ts = np.asarray(ts, dtype=float)
    vals = np.asarray(values, dtype=float)
    if ts.ndim != 1 or vals.ndim != 2 or vals.shape[1] != ts.shape[0]:
        raise ValueError(
            f"values must have shape (S, R) with R = len(ts) = {ts.shape[0] if ts.ndim == 1 else ts.shape}, "
            f"got ts {ts.shape} and values {vals.shape}"
        )
    if not (np.isfinite(floor) and floor > 0):
        raise ValueError(f"floor must be a finite number > 0, got {floor!r}")
    ax = new_axis(ax)
    shifted = np.maximum(vals - baseline, floor)
    for i, row in enumerate(shifted):
        ax.plot(ts, row, color="C0", lw=0.8, alpha=0.6, label=label if i == 0 else None)
    if level is not None:
        ax.axhline(
            max(level - baseline, floor),
            color="C3",
            ls="--",
            lw=1,
            label=f"c - L* = {level - baseline:.1e}",
        )
    ax.set_yscale("log")
    ax.set_xlabel("position t along the segment")
    ax.set_ylabel("L - L*")
    ax.legend(fontsize=8)
    return ax


def plot_orbit_slice(
    slice_,
    baseline,
    level=None,
    points=None,
    ax=None,
    floor=1e-12,
    n_levels=24,
    axis_labels=("a (along d1)", "b (along d2)"),
):
    """Plot a 2-D slice as filled contours of log10(L - baseline), a sublevel boundary and points.

    Parameters
    ----------
    slice_ : lossbounds.topology.slices.PlaneSlice
        ``values[i, j]`` at the slice coordinates ``(a, b) = (alphas[i], betas[j])``
        of ``center + a d1 + b d2`` (the attribute names are PlaneSlice's; the
        axes are not named alpha/beta, which denote the chain and loss degrees).
    baseline : float
        Subtracted before taking log10 (e.g. L*); values below ``baseline +
        floor`` are drawn at ``floor``.
    level : float, optional
        Draw the boundary of the sublevel set ``{L <= level}`` (one white contour).
    points : array_like, shape (p, 2), optional
        Slice coordinates ``(a, b)`` to mark (e.g. the orbit points).
    ax : matplotlib axis, optional
    floor : float
        Smallest value of ``L - baseline`` drawn (> 0).
    n_levels : int
        Number of filled contour levels.
    axis_labels : tuple of str
        Labels of the x axis (first direction) and the y axis (second).

    Returns
    -------
    matplotlib axis
    """
    import numpy as np

    vals = np.asarray(slice_.values, dtype=float)
    a, b = np.asarray(slice_.alphas, dtype=float), np.asarray(slice_.betas, dtype=float)
    if vals.shape != (a.shape[0], b.shape[0]):
        raise ValueError(
            f"slice_.values must have shape (len(alphas), len(betas)), got {vals.shape}"
        )
    if not (np.isfinite(floor) and floor > 0):
        raise ValueError(f"floor must be a finite number > 0, got {floor!r}")
    ax = new_axis(ax)
    logv = np.log10(np.maximum(vals - baseline, floor))
    cs = ax.contourf(a, b, logv.T, levels=n_levels, cmap="viridis")
    ax.figure.colorbar(cs, ax=ax, label="log10(L - L*)")
    if level is not None and vals.min() <= level <= vals.max():
        ax.contour(a, b, vals.T, levels=[level], colors="w", linewidths=1.2)
    if points is not None:
        p = np.asarray(points, dtype=float).reshape(-1, 2)
        # hollow markers: the islands around the points stay visible
        ax.plot(p[:, 0], p[:, 1], "o", mfc="none", mec="r", ms=10, mew=1.2, label="orbit points")
        ax.legend(fontsize=8, loc="upper right")
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    return ax


# ---------------------------------------------------------------------------
# claims: estimates over seeds, paired tests, bound against measurement (notebooks 05-08)
# ---------------------------------------------------------------------------
__all__ += ["plot_estimates", "plot_paired_tests", "plot_bound_vs_measured"]


def _outside_legend(ax, title=None):
    """Put the legend to the right of the axes, so it never covers data."""
    ax.legend(fontsize="small", title=title, loc="upper left", bbox_to_anchor=(1.02, 1.0))


def _setting_label(values, keys) -> str:
    return ", ".join(f"{k} = {v}" for k, v in zip(keys, values, strict=True))


def _errors(v):
    """Asymmetric error bars of rows (value, low, high)."""
    return [v[:, 0] - v[:, 1], v[:, 2] - v[:, 0]]


def plot_estimates(
    estimates, x: str, group=(), ax=None, labels=None, ylabel="", logx=True, spread=0.015
):
    """Per-setting estimates with their intervals against one input, one line per group.

    Parameters
    ----------
    estimates : sequence of lossbounds.experiments.claims.CellEstimate
        Estimates whose ``setting`` holds ``x`` and the ``group`` columns.
    x : str
        The input on the horizontal axis (e.g. ``"samples"``).
    group : sequence of str
        Columns whose values define one line each (e.g. ``("width", "hidden_layers")``).
    ax : matplotlib.axes.Axes, optional
    labels : dict, optional
        Group values (a tuple) to the legend label; default ``"width = 4, ..."``.
    ylabel : str
        Label of the measured quantity.
    logx : bool
        Log-scale horizontal axis.
    spread : float
        Horizontal offset between lines (a fraction of a decade when ``logx``,
        else of the x range), so intervals at one x do not hide each other.

    Returns
    -------
    matplotlib.axes.Axes
        Points are the estimates, bars their intervals; the legend (right of
        the axes) names every line and the interval level.

    Raises
    ------
    ValueError
        If ``estimates`` is empty.
    """
    import numpy as np

    if not estimates:
        raise ValueError("estimates must hold at least one CellEstimate")
    ax = new_axis(ax)
    group = tuple(group)
    lines: dict[tuple, list] = {}
    for e in estimates:
        lines.setdefault(tuple(e.setting[k] for k in group), []).append(e)
    xs_all = np.array([e.setting[x] for e in estimates], dtype=float)
    width = 1.0 if logx else max(float(np.ptp(xs_all)), 1.0)
    for j, (key, items) in enumerate(sorted(lines.items())):
        items = sorted(items, key=lambda e: e.setting[x])
        xs = np.array([e.setting[x] for e in items], dtype=float)
        shift = (j - (len(lines) - 1) / 2) * spread * width
        xs = xs * 10**shift if logx else xs + shift
        v = np.array([[e.estimate.value, e.estimate.low, e.estimate.high] for e in items])
        label = (labels or {}).get(key) or _setting_label(key, group) or ylabel
        ax.errorbar(
            xs, v[:, 0], yerr=_errors(v),
            marker="o", ms=4, capsize=3, label=label,
        )  # fmt: skip
    if logx:
        ax.set_xscale("log")
        ax.minorticks_off()
    ticks = np.unique(xs_all)
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    level = round(100 * estimates[0].estimate.confidence)
    _outside_legend(ax, title=f"mean over seeds, {level} % interval")
    return ax


def plot_paired_tests(tests: dict, ax=None, xlabel="mean difference a - b"):
    """Forest plot of paired comparisons: mean difference, its interval and the p-value.

    Parameters
    ----------
    tests : dict of str to lossbounds.experiments.stats.PairedTest
        Label of each comparison ("a vs b") to its test; drawn top to bottom.
    ax : matplotlib.axes.Axes, optional
    xlabel : str
        Label of the difference axis.

    Returns
    -------
    matplotlib.axes.Axes
        One row per comparison, the p-value and sign counts in its tick label;
        a vertical line at zero difference.

    Raises
    ------
    ValueError
        If ``tests`` is empty.
    """
    import numpy as np

    if not tests:
        raise ValueError("tests must hold at least one PairedTest")
    ax = new_axis(ax)
    names = list(tests)
    pos = np.arange(len(names))[::-1]
    d = np.array([[t.mean_difference.value, t.mean_difference.low, t.mean_difference.high]
                  for t in tests.values()])  # fmt: skip
    level = round(100 * next(iter(tests.values())).mean_difference.confidence)
    ax.errorbar(
        d[:, 0], pos, xerr=_errors(d), fmt="o", capsize=3,
        label=f"mean difference, {level} % interval",
    )  # fmt: skip
    ax.axvline(0.0, color="k", lw=0.8, ls="--", label="no difference")
    ticks = [
        f"{n}\np = {t.pvalue:.2g} ({t.greater}>, {t.less}<, {t.ties}=)" for n, t in tests.items()
    ]
    ax.set_yticks(pos)
    ax.set_yticklabels(ticks, fontsize="small")
    ax.set_xlabel(xlabel)
    ax.grid(True, axis="x", alpha=0.3)
    _outside_legend(ax)
    return ax


def plot_bound_vs_measured(
    bound,
    estimates,
    ax=None,
    correlation=None,
    groups=None,
    xlabel="log10 bound",
    ylabel="measured",
    logx=False,
    title=None,
):
    """Measured complexity (mean and interval per setting) against a bound's value.

    Parameters
    ----------
    bound : array_like, shape (k,)
        The bound of each setting (e.g. log10 of Khovanskii's bound).
    estimates : sequence of lossbounds.experiments.claims.CellEstimate or lossbounds.experiments.stats.Estimate
        The measured estimate of each setting, in the order of ``bound``.
    ax : matplotlib.axes.Axes, optional
    correlation : lossbounds.experiments.stats.RankCorrelation, optional
        Spearman's rho over all points, shown in the axes title.
    groups : sequence of str, optional
        A label per point; points with one label are one series in the
        legend (e.g. ``"m = 12"``). Default: one series, "settings".
    xlabel, ylabel : str
    logx : bool
        Log-scale horizontal axis with plain tick labels (not for a bound
        that is already a log10).
    title : str, optional
        Axes title; replaces the one made from ``correlation``.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``bound``, ``estimates`` and ``groups`` differ in length.
    """
    import numpy as np
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    est = [getattr(e, "estimate", e) for e in estimates]
    x = np.asarray(bound, dtype=float)
    names = np.asarray(["settings"] * len(est) if groups is None else list(groups), dtype=str)
    if x.shape != (len(est),) or names.shape != (len(est),):
        raise ValueError(
            f"bound and groups must have one value per estimate ({len(est)}), "
            f"got {x.shape} and {names.shape}"
        )
    ax = new_axis(ax)
    v = np.array([[e.value, e.low, e.high] for e in est])
    for name in dict.fromkeys(names.tolist()):
        sel = names == name
        ax.errorbar(x[sel], v[sel, 0], yerr=_errors(v[sel]), fmt="o", ms=4, capsize=2, label=name)
    if title is not None:
        ax.set_title(title, fontsize="medium")
    elif correlation is not None:
        r = correlation.rho
        interval = (
            f" [{r.low:.2f}, {r.high:.2f}]" if np.isfinite([r.low, r.high]).all() else ""
        )  # an undefined bootstrap interval (tied resamples) is left out, never shown as nan
        ax.set_title(f"Spearman rho = {r.value:.2f}{interval}", fontsize="medium")
    if logx:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    level = round(100 * est[0].confidence) if est else 95
    _outside_legend(ax, title=f"mean over seeds, {level} % interval")
    return ax
