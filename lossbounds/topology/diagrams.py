"""Summaries of persistence diagrams: Betti numbers, bar counts, distances.

A *diagram list* is a list of ``(k, 2)`` float64 arrays, one per homology
dimension ``0..maxdim`` (as returned by :mod:`lossbounds.topology.persistence`); row
``(b, d)`` is a class of the sublevel sets born at level ``b`` and killed at
``d`` (``d = inf`` for classes that never die).
"""

from __future__ import annotations

import numpy as np

from lossbounds._checks import check_nonnegative, check_positive

__all__ = [
    "betti_numbers",
    "persistent_betti_numbers",
    "betti_curve",
    "sampled_window",
    "windowed_betti",
    "count_long_bars",
    "total_persistence",
    "diagram_distance",
]


def _as_diagram_list(diagrams, name: str = "diagrams") -> list[np.ndarray]:
    if isinstance(diagrams, np.ndarray):
        raise ValueError(
            f"{name} must be a list of (k, 2) arrays, one per homology dimension; "
            "wrap a single diagram as [dgm]"
        )
    try:
        out = [np.asarray(d, dtype=np.float64).reshape(-1, 2) for d in diagrams]
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a list of (k, 2) arrays: {err}") from None
    if not out:
        raise ValueError(f"{name} must hold at least one diagram (dimension 0)")
    for dim, d in enumerate(out):
        if np.isnan(d).any():
            raise ValueError(f"{name}[{dim}] contains NaN")
        if (d[:, 1] < d[:, 0]).any():
            raise ValueError(f"{name}[{dim}] has a bar with death < birth")
        if np.isinf(d[:, 0]).any():
            raise ValueError(f"{name}[{dim}] has an infinite birth")
    return out


def _check_level(name: str, c) -> np.ndarray:
    arr = np.asarray(c, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite real numbers, got {c!r}")
    return arr


def betti_numbers(diagrams, c: float, min_persistence: float = 0.0) -> np.ndarray:
    """Betti numbers of the sublevel set at level ``c``, read off the diagrams.

    A class counts at ``c`` when ``birth <= c < death``. With
    ``min_persistence = eps > 0`` bars with ``death - birth < eps`` are
    discarded first: the estimate "at level c after discarding bars shorter
    than eps" that ignores sampling noise (short bars) at the cost of also
    ignoring real features smaller than eps.

    Every finite ``c`` is accepted: below the smallest birth the result is
    all zeros (empty sublevel set); above every finite death it is the count
    of infinite bars, i.e. the Betti numbers of the whole sampled complex
    (the box or grid), which says nothing about the function beyond the
    samples.

    Parameters
    ----------
    diagrams : list of ndarray, each of shape (k_i, 2)
        Diagrams for dimensions 0..maxdim.
    c : float
        Level (finite).
    min_persistence : float
        Discard bars shorter than this (>= 0).

    Returns
    -------
    ndarray, shape (maxdim + 1,), int64
    """
    return betti_curve(diagrams, [c], min_persistence=min_persistence)[0]


def persistent_betti_numbers(diagrams, low: float, high: float) -> np.ndarray:
    """Count persistent Betti numbers: classes alive at ``low`` that survive to ``high``.

    Counts bars with ``birth <= low`` and ``death > high`` (``low <= high``):
    the rank of the map from the homology of the sublevel set at ``low`` to
    that at ``high``. With ``low = c - delta`` and ``high = c + delta`` it is
    the robust estimate of the Betti numbers at ``c`` used in notebook 04:
    sampling noise makes short bars *near* ``c`` (a few samples just below
    ``c`` joined only through samples just above it); they are excluded,
    while every true class of a function whose sublevel topology does not
    change on ``[c - 2 delta, c + 2 delta]`` is kept once the sampling error
    is below ``delta``. Unlike discarding bars shorter than ``eps``
    (``betti_numbers(..., min_persistence=eps)``) it also rejects long noise
    bars that are born just below ``c`` and die well above it.

    Parameters
    ----------
    diagrams : list of ndarray, each of shape (k_i, 2)
    low, high : float
        Finite levels, ``low <= high``.

    Returns
    -------
    ndarray, shape (maxdim + 1,), int64
    """
    dgms = _as_diagram_list(diagrams)
    lo = float(_check_level("low", low))
    hi = float(_check_level("high", high))
    if lo > hi:
        raise ValueError(f"low must be <= high, got low={lo}, high={hi}")
    return np.array([int(np.sum((d[:, 0] <= lo) & (d[:, 1] > hi))) for d in dgms], dtype=np.int64)


def sampled_window(values, c: float, rho: float = 0.4) -> float | None:
    """Return the half-width ``delta = rho * (c - min(values))`` of the estimate at level c.

    Parameters
    ----------
    values : array_like
        Function values at the samples.
    c : float
        The level.
    rho : float
        Fraction of the gap between the lowest sample and ``c`` (> 0).

    Returns
    -------
    float or None
        None when no sample lies below ``c`` (the sublevel set is unsampled).
    """
    rho = check_positive("rho", rho)
    gap = float(c) - float(np.min(values))
    return rho * gap if gap > 0 else None


def windowed_betti(diagrams, values, c: float, rho: float = 0.4) -> tuple:
    """Estimate the Betti numbers of S_c from samples: beta^{c - delta, c + delta}.

    ``delta`` is :func:`sampled_window`; the estimate is
    :func:`persistent_betti_numbers` over ``[c - delta, c + delta]``.

    Parameters
    ----------
    diagrams : list of ndarray
        Sublevel persistence of the sampled function, one diagram per dimension.
    values : array_like
        Function values at the samples.
    c : float
        The level.
    rho : float
        As in :func:`sampled_window`.

    Returns
    -------
    tuple of int
        One number per dimension; all 0 when no sample lies below ``c``.
    """
    delta = sampled_window(values, c, rho)
    if delta is None:
        return (0,) * len(diagrams)
    return tuple(persistent_betti_numbers(diagrams, c - delta, c + delta).tolist())


def betti_curve(diagrams, levels, min_persistence: float = 0.0) -> np.ndarray:
    """Betti numbers at each of ``levels`` (see :func:`betti_numbers`).

    Parameters
    ----------
    diagrams : list of ndarray, each of shape (k_i, 2)
    levels : array_like, shape (L,)
        Finite levels.
    min_persistence : float
        Discard bars shorter than this.

    Returns
    -------
    ndarray, shape (L, maxdim + 1), int64
    """
    dgms = _as_diagram_list(diagrams)
    lv = _check_level("levels", levels).reshape(-1)
    eps = check_nonnegative("min_persistence", min_persistence)
    out = np.zeros((lv.shape[0], len(dgms)), dtype=np.int64)
    for dim, d in enumerate(dgms):
        d = d[d[:, 1] - d[:, 0] >= eps]
        births = np.sort(d[:, 0])
        deaths = np.sort(d[:, 1])
        # alive at c: born at or before c, minus those already dead at c
        out[:, dim] = np.searchsorted(births, lv, side="right") - np.searchsorted(
            deaths, lv, side="right"
        )
    return out


def count_long_bars(diagrams, threshold: float) -> np.ndarray:
    """Count the bars of length ``>= threshold`` per dimension (infinite bars count).

    ``threshold=np.inf`` counts the essential (never dying) classes only.

    Parameters
    ----------
    diagrams : list of ndarray, each of shape (k_i, 2)
    threshold : float
        ``>= 0``; ``inf`` allowed.

    Returns
    -------
    ndarray, shape (maxdim + 1,), int64
    """
    dgms = _as_diagram_list(diagrams)
    if np.isnan(threshold) or threshold < 0:
        raise ValueError(f"threshold must be a number >= 0 (inf allowed), got {threshold!r}")
    return np.array([int(np.sum(d[:, 1] - d[:, 0] >= threshold)) for d in dgms], dtype=np.int64)


def total_persistence(
    diagrams, p: float = 1.0, infinite: str = "exclude", cap: float | None = None
) -> np.ndarray:
    """Sum of ``(death - birth) ** p`` over the bars of each dimension.

    Infinite bars would make the sum infinite, so they are handled
    explicitly by ``infinite``:

    - ``"exclude"`` (default): sum over finite bars only (count the infinite
      ones with :func:`count_long_bars` if needed);
    - ``"cap"``: an infinite death is replaced by ``cap`` (e.g. the largest
      sampled value), which must be >= every birth;
    - ``"raise"``: ValueError if any bar is infinite.

    Parameters
    ----------
    diagrams : list of ndarray, each of shape (k_i, 2)
    p : float
        Exponent, > 0.
    infinite : {"exclude", "cap", "raise"}
    cap : float, optional
        Required with ``infinite="cap"``.

    Returns
    -------
    ndarray, shape (maxdim + 1,), float64
    """
    dgms = _as_diagram_list(diagrams)
    if not (np.isfinite(p) and p > 0):
        raise ValueError(f"p must be a finite number > 0, got {p!r}")
    if infinite not in ("exclude", "cap", "raise"):
        raise ValueError(f"infinite must be 'exclude', 'cap' or 'raise', got {infinite!r}")
    if infinite == "cap" and (cap is None or not np.isfinite(cap)):
        raise ValueError(f"cap must be a finite number when infinite='cap', got {cap!r}")
    out = np.zeros(len(dgms))
    for dim, d in enumerate(dgms):
        inf_rows = ~np.isfinite(d[:, 1])
        if infinite == "raise" and inf_rows.any():
            raise ValueError(
                f"diagram {dim} has {int(inf_rows.sum())} infinite bar(s) (infinite='raise')"
            )
        deaths = d[:, 1].copy()
        if infinite == "cap":
            if (d[inf_rows, 0] > cap).any():
                raise ValueError(
                    f"cap={cap} is below the birth of an infinite bar in dimension {dim}"
                )
            deaths[inf_rows] = cap
        else:
            deaths[inf_rows] = d[inf_rows, 0]  # length 0: excluded
        out[dim] = float(np.sum((deaths - d[:, 0]) ** p))
    return out


def diagram_distance(d1, d2, metric: str = "bottleneck"):
    """Bottleneck or 1-Wasserstein distance between persistence diagrams.

    persim computes the finite parts (bottleneck with the L-infinity ground
    metric; Wasserstein with p = 1 and the Euclidean ground metric, as persim
    defines them). persim silently drops infinite bars with only a warning,
    so they are handled here: an infinite bar can only be matched to an
    infinite bar, at cost ``|birth1 - birth2|``; the optimal matching of two
    such sets of equal size pairs them in order of birth. Different numbers
    of infinite bars give distance ``inf``. The total is the max (bottleneck)
    or the sum (Wasserstein) of the finite and infinite parts.

    Parameters
    ----------
    d1, d2 : ndarray of shape (k, 2), or lists of them (one per dimension)
        Two single diagrams, or two diagram lists of equal length.
    metric : {"bottleneck", "wasserstein"}

    Returns
    -------
    float, or ndarray of shape (maxdim + 1,) for diagram lists
    """
    if metric not in ("bottleneck", "wasserstein"):
        raise ValueError(f"metric must be 'bottleneck' or 'wasserstein', got {metric!r}")
    single1 = isinstance(d1, np.ndarray)
    single2 = isinstance(d2, np.ndarray)
    if single1 != single2:
        raise ValueError("d1 and d2 must both be single (k, 2) arrays or both lists of diagrams")
    if single1:
        a = _as_diagram_list([d1], "d1")[0]
        b = _as_diagram_list([d2], "d2")[0]
        return _one_distance(a, b, metric)
    l1 = _as_diagram_list(d1, "d1")
    l2 = _as_diagram_list(d2, "d2")
    if len(l1) != len(l2):
        raise ValueError(
            f"d1 and d2 must have the same number of dimensions, got {len(l1)} and {len(l2)}"
        )
    return np.array([_one_distance(a, b, metric) for a, b in zip(l1, l2, strict=True)])


def _one_distance(a: np.ndarray, b: np.ndarray, metric: str) -> float:
    import persim

    ia, ib = ~np.isfinite(a[:, 1]), ~np.isfinite(b[:, 1])
    if ia.sum() != ib.sum():
        return float("inf")
    inf_cost = np.abs(np.sort(a[ia, 0]) - np.sort(b[ib, 0]))
    fa, fb = a[~ia], b[~ib]
    if fa.shape[0] == 0 and fb.shape[0] == 0:
        finite = 0.0
    elif metric == "bottleneck":
        finite = float(persim.bottleneck(fa, fb))
    else:
        finite = float(persim.wasserstein(fa, fb))
    if metric == "bottleneck":
        return max(finite, float(inf_cost.max(initial=0.0)))
    return finite + float(inf_cost.sum())
