"""Plot helpers and the one function that saves figures.

Every plot function takes ``ax=None`` (a new figure is made when omitted),
draws, and returns the axis. None calls ``plt.show()`` or changes global
matplotlib style.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["figures_dir", "save_figure", "new_axis"]


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


def save_figure(fig, stem: str, formats=("pdf", "png"), dpi: int = 150) -> list[Path]:
    """Save ``fig`` as ``figures/<stem>.<fmt>`` for each format.

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

    Returns
    -------
    list of pathlib.Path
        The files written (relative paths are never returned; the list is not
        printed by notebooks so outputs stay machine-independent).
    """
    if not stem or "/" in stem or "\\" in stem:
        raise ValueError(f"stem must be a plain file name without directories, got {stem!r}")
    allowed = {"pdf", "png", "svg"}
    bad = [f for f in formats if f not in allowed]
    if bad:
        raise ValueError(f"formats must be among {sorted(allowed)}, got {bad}")
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
    return paths


def new_axis(ax=None, figsize=(5.0, 3.6)):
    """Return ``ax`` or a fresh axis on a new figure of size ``figsize``."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax
