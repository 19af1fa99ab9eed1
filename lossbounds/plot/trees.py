"""Disconnectivity graphs of merge trees."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import LineCollection

from lossbounds.plot.core import new_axis

__all__ = ["plot_merge_tree", "plot_death_agreement"]


def _leaf_order(n: int, children: dict, roots: list, height: dict) -> dict:
    """Place every tree node on the x axis: leaves in depth-first order, parents centred."""
    x, pos = {}, 0
    for root in sorted(roots, key=lambda r: height[r]):
        stack = [root]
        while stack:
            node = stack.pop()
            if node < n:
                x[node], pos = float(pos), pos + 1
            else:  # lower child first
                a, b = sorted(children[node], key=lambda c: height[c])
                stack.extend([b, a])
    for node in sorted(children):  # children are created before parents
        a, b = children[node]
        x[node] = 0.5 * (x[a] + x[b])
    return x


def plot_merge_tree(tree, ax=None, color="C0"):
    """Draw a disconnectivity graph: each minimum's line rises to where its component merges.

    Merges whose level is not a verified index-1 saddle (a band maximum, an
    upper bound of the merge level; ``MergeTree.edge_refined`` False) are
    marked with open red triangles.

    Parameters
    ----------
    tree : lossbounds.topology.connectivity.MergeTree
    ax : matplotlib axis, optional
    color : str
        Colour of the tree.

    Returns
    -------
    matplotlib axis
    """
    ax = new_axis(ax)
    values = tree.minima_values
    n = len(values)
    _, merges, roots = tree.merges()
    height = {i: float(v) for i, v in enumerate(values)}
    children = {}
    for i, (a, b, level, _) in enumerate(merges):
        height[n + i], children[n + i] = level, (a, b)
    x = _leaf_order(n, children, roots, height)
    span = max(height.values()) - min(height.values()) if height else 1.0
    top = max(height.values(), default=0.0) + 0.08 * (span or 1.0)
    segs = [[(x[c], height[c]), (x[c], height[p])] for p, ch in children.items() for c in ch]
    segs += [[(x[a], height[p]), (x[b], height[p])] for p, (a, b) in children.items()]
    segs += [[(x[r], height[r]), (x[r], top)] for r in roots]
    ax.add_collection(LineCollection(segs, colors=color, linewidths=0.8, label="merge tree"))
    ax.plot([x[i] for i in range(n)], values, "v", ms=3, color=color, label="minima")
    verified = getattr(tree, "edge_refined", None)
    if verified is not None and len(verified) == len(tree.edges):
        upper = [n + i for i, m in enumerate(merges) if not verified[m[3]]]
        if upper:  # a band maximum: the merge level is an upper bound
            ax.plot(
                [x[p] for p in upper],
                [height[p] for p in upper],
                "^",
                ms=5,
                mfc="none",
                color="C3",
                label="merge at a band maximum (upper bound)",
            )
    ax.set_xlim(-1, max(n, 1))
    ax.set_ylim(min(values, default=0.0) - 0.04 * (span or 1.0), top)
    ax.set_xticks([])
    ax.set_xlabel("minima (tree order)")
    ax.set_ylabel("level c")
    # below the axes: a legend inside would cover the tree's top
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize="small")
    return ax


def plot_death_agreement(got, reference, label: str, ax=None):
    """Plot the finite deaths of a measured H0 diagram against a reference diagram's.

    Rows are matched in diagram order (sorted by birth, then death).

    Parameters
    ----------
    got, reference : numpy.ndarray, shape (r, 2)
        Diagrams with the same rows (e.g. :meth:`MergeTree.diagram` and an exact one).
    label : str
        Name of the reference (x-axis label).
    ax : matplotlib axis, optional

    Returns
    -------
    matplotlib axis
    """
    ax = new_axis(ax)
    fin = np.isfinite(reference[:, 1])
    ax.plot(reference[fin, 1], got[fin, 1], "o", ms=4, label="finite bars")
    lo, hi = reference[fin, 1].min(), reference[fin, 1].max()
    ax.plot([lo, hi], [lo, hi], "k:", lw=1, label="equal")
    ax.set_xlabel(f"death, {label}")
    ax.set_ylabel("death, merge tree")
    ax.legend(fontsize="small")
    return ax
