"""Sublevel-set persistent homology of sampled functions (loss values).

A *diagram list* is a list of ``(k, 2)`` float64 arrays, one per homology
dimension ``0..maxdim``; row ``(b, d)`` is a class born when the sublevel set
``{f <= c}`` first contains it (``c = b``) and killed at ``c = d`` (``d = inf``
for classes that never die). Rows are sorted by birth, then death; bars of
length zero are dropped. Summaries and distances: :mod:`lossbounds.topology.diagrams`.

Grids -- :func:`grid_persistence`
    Exact cubical persistence of values on a 2D or 3D grid (Cubical Ripser).
    ``construction="vertex"`` (V-construction): grid points are vertices, a
    cell enters at the max of its corners; components use 4-connectivity in
    2D (6 in 3D). ``construction="top"`` (T-construction): grid points are
    pixels (voxels), a face enters at the min of the pixels containing it;
    components use 8-connectivity in 2D (26 in 3D). Two low pixels touching
    only diagonally are two components under "vertex" and one under "top".
    :func:`grid_graph` builds a graph whose lower-star flag complex gives the
    same H0 and H1 (an independent engine for checks).

Scattered samples -- :func:`sample_persistence`
    A neighbourhood graph (:func:`neighbourhood_graph`: kNN, radius or
    Delaunay) carries the lower-star filtration (a vertex enters at its value,
    an edge at the max of its ends). H0 is exact for the graph (union-find on
    the minimum spanning tree, elder rule); H1 and H2 are those of the graph's
    flag complex, computed by ripser (:func:`graph_persistence`), an estimate
    of the sublevel sets' homology only as good as the sampling and the
    neighbourhood. Filtration values are replaced by ranks before ripser
    (float32) sees them and mapped back; graphs with more than
    :func:`ripser_max_vertices` vertices are refused before ripser is called.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import cKDTree

from lossbounds._checks import check_nonnegative

__all__ = [
    "grid_persistence",
    "grid_graph",
    "neighbourhood_graph",
    "graph_persistence",
    "sample_persistence",
    "ripser_max_vertices",
    "default_k",
    "elder_rule",
]

_CONSTRUCTIONS = ("vertex", "top")
# ripser packs a simplex index and an 8-bit coefficient into 64 signed bits.
_RIPSER_MAX_INDEX = 2**55 - 1


# ----------------------------------------------------------------------------
# input checks
# ----------------------------------------------------------------------------


def _check_maxdim(maxdim, upper: int, why: str) -> int:
    if isinstance(maxdim, bool) or not isinstance(maxdim, (int, np.integer)):
        raise ValueError(f"maxdim must be an integer in 0..{upper} ({why}), got {maxdim!r}")
    if not 0 <= int(maxdim) <= upper:
        raise ValueError(f"maxdim must be in 0..{upper} ({why}), got {maxdim}")
    return int(maxdim)


def _check_finite(name: str, arr: np.ndarray) -> None:
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN; drop or replace those samples first")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains +-inf; use a large finite value instead")


def _sorted_diagram(dgm) -> np.ndarray:
    """Return ``dgm`` as a (k, 2) float64 array without zero-length bars, sorted."""
    dgm = np.asarray(dgm, dtype=np.float64).reshape(-1, 2)
    dgm = dgm[dgm[:, 1] > dgm[:, 0]]
    order = np.lexsort((dgm[:, 1], dgm[:, 0]))
    return np.ascontiguousarray(dgm[order])


# ----------------------------------------------------------------------------
# grids: cubical persistence (Cubical Ripser)
# ----------------------------------------------------------------------------


def grid_persistence(
    values,
    maxdim: int = 1,
    construction: str = "vertex",
    min_persistence: float = 0.0,
) -> list[np.ndarray]:
    """Exact sublevel-set persistence of a function sampled on a 2D or 3D grid.

    Computed by Cubical Ripser (``cripser`` for the vertex construction,
    ``tcripser`` for the top construction) over Z/2; subsets of R^2 and R^3
    have torsion-free homology, so the diagrams hold over any field.

    Parameters
    ----------
    values : array_like, shape (n1, n2) or (n1, n2, n3)
        Finite function values on the grid, each side at least 2.
    maxdim : int
        Highest homology dimension returned, ``0 <= maxdim <= values.ndim - 1``.
    construction : {"vertex", "top"}
        "vertex" (default): grid points are vertices, 4-connectivity in 2D /
        6-connectivity in 3D. "top": grid points are pixels/voxels,
        8-connectivity in 2D / 26-connectivity in 3D. See the module docstring.
    min_persistence : float
        Bars of length ``<= min_persistence`` (>= 0) are not reported; the
        default 0 drops only zero-length bars.

    Returns
    -------
    list of ndarray, each of shape (k_i, 2), float64
        Diagrams for dimensions 0..maxdim; deaths are ``inf`` for classes
        that never die (one H0 bar per grid, born at the global minimum).

    Raises
    ------
    ValueError
        If ``values`` is not a finite 2D/3D grid with at least 2 points per
        axis, or ``maxdim``, ``construction`` or ``min_persistence`` is out of
        range.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim not in (2, 3):
        raise ValueError(f"values must be a 2D or 3D grid, got an array of shape {arr.shape}")
    if min(arr.shape) < 2:
        raise ValueError(f"values must have at least 2 points along each axis, got {arr.shape}")
    _check_finite("values", arr)
    maxdim = _check_maxdim(maxdim, arr.ndim - 1, f"a {arr.ndim}D grid")
    if construction not in _CONSTRUCTIONS:
        raise ValueError(f"construction must be one of {_CONSTRUCTIONS}, got {construction!r}")
    min_persistence = check_nonnegative("min_persistence", min_persistence)
    return _cripser_diagrams(arr, maxdim, construction, float(min_persistence))


def _cripser_diagrams(arr, maxdim: int, construction: str, min_persistence: float):
    """Cubical Ripser diagrams in this module's format (see :func:`grid_persistence`)."""
    if construction == "vertex":
        import cripser as engine
    else:
        import tcripser as engine
    # rows: dim, birth, death, then birth and death cell coordinates
    pairs = engine.computePH(np.ascontiguousarray(arr), maxdim=maxdim)
    dims = pairs[:, 0].astype(np.int64)
    bars = pairs[:, 1:3].astype(np.float64)
    # essential classes come back with death = DBL_MAX
    bars[bars[:, 1] >= np.finfo(np.float64).max, 1] = np.inf
    keep = (bars[:, 1] - bars[:, 0]) > min_persistence
    return [_sorted_diagram(bars[(dims == k) & keep]) for k in range(maxdim + 1)]


def _check_prime(name: str, p) -> int:
    from sympy import isprime

    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or not isprime(int(p)):
        raise ValueError(f"{name} must be a prime, got {p!r}")
    return int(p)


def grid_graph(values, construction: str = "vertex"):
    """Graph of a grid whose lower-star flag complex matches :func:`grid_persistence`.

    For ``construction="top"`` the graph is the 8- (2D) or 26- (3D)
    neighbour graph of the pixels with lower-star edge values; its flag
    complex is the nerve of the closed pixels (every clique lies in a 2x2(x2)
    block, whose pixels share a corner), so persistence agrees in every
    dimension. For ``construction="vertex"`` the graph is the 4- (6-)
    neighbour graph plus one diagonal per unit square whose value is the max
    of the square's four corners: the diagonal and the two triangles it
    creates enter exactly when the cubical square does, so H0 and H1 agree
    (H2 of 3D grids does not: cubes are not filled).

    Parameters
    ----------
    values : array_like, shape (n1, n2) or (n1, n2, n3)
        Grid values (at least 2 points per axis).
    construction : {"vertex", "top"}
        As in :func:`grid_persistence`.

    Returns
    -------
    vertex_values : ndarray, shape (n,)
        ``values`` flattened in C order (vertex ``i`` is grid index
        ``np.unravel_index(i, shape)``).
    edges : ndarray, shape (m, 2), int64
        Undirected edges ``u < v``.
    edge_values : ndarray, shape (m,)
        Filtration value of each edge.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim not in (2, 3) or min(arr.shape) < 2:
        raise ValueError(
            f"values must be a 2D or 3D grid with >= 2 points per axis, got {arr.shape}"
        )
    if construction not in _CONSTRUCTIONS:
        raise ValueError(f"construction must be one of {_CONSTRUCTIONS}, got {construction!r}")
    _check_finite("values", arr)
    idx = np.arange(arr.size).reshape(arr.shape)
    nd = arr.ndim
    us, vs, ws = [], [], []

    def shifted(a, offset):
        # a[x] paired with a[x + offset] for every x where both exist
        src = tuple(slice(max(0, -o), a.shape[i] - max(0, o)) for i, o in enumerate(offset))
        dst = tuple(slice(max(0, o), a.shape[i] - max(0, -o)) for i, o in enumerate(offset))
        return a[src], a[dst]

    if construction == "top":
        offsets = [o for o in np.ndindex(*(3,) * nd) if any(x != 1 for x in o)]
        offsets = [tuple(x - 1 for x in o) for o in offsets]
        # keep one of each +-offset pair
        offsets = [o for o in offsets if o > tuple(-x for x in o)]
        for o in offsets:
            iu, iv = shifted(idx, o)
            fu, fv = shifted(arr, o)
            us.append(iu.ravel())
            vs.append(iv.ravel())
            ws.append(np.maximum(fu, fv).ravel())
    else:
        for axis in range(nd):
            o = tuple(1 if i == axis else 0 for i in range(nd))
            iu, iv = shifted(idx, o)
            fu, fv = shifted(arr, o)
            us.append(iu.ravel())
            vs.append(iv.ravel())
            ws.append(np.maximum(fu, fv).ravel())
        for a1 in range(nd):
            for a2 in range(a1 + 1, nd):
                e1 = tuple(1 if i == a1 else 0 for i in range(nd))
                e2 = tuple(1 if i == a2 else 0 for i in range(nd))
                diag = tuple(x + y for x, y in zip(e1, e2, strict=True))
                iu, iv = shifted(idx, diag)
                # the square's four corners: x, x+e1, x+e2, x+e1+e2
                f00, f11 = shifted(arr, diag)
                f10 = arr[tuple(slice(e1[i], arr.shape[i] - diag[i] + e1[i]) for i in range(nd))]
                f01 = arr[tuple(slice(e2[i], arr.shape[i] - diag[i] + e2[i]) for i in range(nd))]
                us.append(iu.ravel())
                vs.append(iv.ravel())
                ws.append(np.maximum(np.maximum(f00, f11), np.maximum(f10, f01)).ravel())
    u = np.concatenate(us)
    v = np.concatenate(vs)
    edges = np.stack([np.minimum(u, v), np.maximum(u, v)], axis=1).astype(np.int64)
    return arr.ravel().copy(), edges, np.concatenate(ws)


# ----------------------------------------------------------------------------
# graphs: union-find H0 and ripser flag-complex persistence
# ----------------------------------------------------------------------------


def ripser_max_vertices(maxdim: int) -> int:
    """Largest vertex count ripser can index at ``maxdim`` without aborting.

    ripser builds a table of binomial coefficients ``C(i, maxdim + 2)`` for
    ``i <= n`` and throws (aborting the Python process) once one exceeds its
    55-bit simplex index: at ``maxdim=1`` that is ``n`` of about 600,000.

    Parameters
    ----------
    maxdim : int
        Homology dimension passed to ripser (>= 1).

    Returns
    -------
    int
        The exact largest admissible ``n``.
    """
    maxdim = _check_maxdim(maxdim, 10, "ripser dimensions")
    k = maxdim + 2
    lo, hi = k, 2
    while math.comb(hi, k) <= _RIPSER_MAX_INDEX:
        hi *= 2
    while hi - lo > 1:  # invariant: C(lo, k) fits, C(hi, k) does not
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if math.comb(mid, k) <= _RIPSER_MAX_INDEX else (lo, mid)
    return lo


def elder_rule(birth, u, v) -> tuple[list[tuple[int, int, int]], list[int]]:
    """Union-find with the elder rule over the edges ``(u[e], v[e])`` in the given order.

    The package's one elder rule: when an edge joins two components, the one
    born later (larger ``birth``, ties: larger vertex index) dies and the
    older one absorbs it.

    Parameters
    ----------
    birth : sequence, shape (n,)
        Birth key of every vertex (comparable values: floats or ranks).
    u, v : sequence of int, shape (e,)
        Edge ends, visited in this order (sort them by level first).

    Returns
    -------
    merges : list of (edge, survivor, dying)
        One per edge that joined two components: its position in ``u``, and
        the root vertices (the oldest vertex of each component) that
        survived and died.
    roots : list of int
        Root vertex of every component left at the end, ascending.
    """
    n = len(birth)
    parent = list(range(n))
    merges = []

    def find(a: int) -> int:
        while parent[a] != a:  # path halving
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for e, (a, b) in enumerate(zip(u, v, strict=True)):
        ra, rb = find(int(a)), find(int(b))
        if ra == rb:
            continue
        if (birth[rb], rb) < (birth[ra], ra):  # the older component absorbs the younger
            ra, rb = rb, ra
        merges.append((e, ra, rb))
        parent[rb] = ra
    return merges, [i for i in range(n) if parent[i] == i]


def _h0_union_find(n: int, u: np.ndarray, v: np.ndarray, er: np.ndarray, vr: np.ndarray):
    """H0 pairs (in rank units) by the elder rule on a minimum spanning tree.

    ``vr`` are vertex ranks, ``er`` edge ranks (``>=`` ranks of both ends).
    Returns births and deaths as rank arrays (death -1 for infinite bars).
    """
    if u.shape[0] == 0:
        return vr.copy(), np.full(n, -1, dtype=np.int64)
    # weights rank + 1 > 0: scipy treats zero weights as missing edges
    graph = sparse.csr_matrix((er.astype(np.float64) + 1.0, (u, v)), shape=(n, n))
    tree = minimum_spanning_tree(graph).tocoo()
    order = np.argsort(tree.data, kind="stable")
    tw = (tree.data[order] - 1.0).astype(np.int64)
    birth = vr.tolist()
    merges, roots = elder_rule(birth, tree.row[order].tolist(), tree.col[order].tolist())
    bars_b = [birth[dying] for _, _, dying in merges] + [birth[r] for r in roots]
    bars_d = [int(tw[e]) for e, _, _ in merges] + [-1] * len(roots)
    return np.asarray(bars_b, dtype=np.int64), np.asarray(bars_d, dtype=np.int64)


def _from_ranks(table: np.ndarray, births, deaths, infinite) -> np.ndarray:
    out = np.empty((len(births), 2))
    out[:, 0] = table[births]
    out[:, 1] = np.where(infinite, np.inf, table[np.where(infinite, 0, deaths)])
    return _sorted_diagram(out)


def graph_persistence(
    values,
    edges,
    maxdim: int = 1,
    edge_values=None,
    coeff: int = 2,
) -> list[np.ndarray]:
    """Compute persistence of the lower-star filtration of a graph (flag complex above H0).

    H0 is computed by our own union-find on a minimum spanning tree (elder
    rule: when two components merge, the one with the higher minimum dies).
    H1 and H2 are computed by ripser on the flag (clique) complex of the
    graph -- a triangle enters with its last edge -- through a sparse
    distance matrix with the vertex values on its diagonal.

    Filtration values are replaced by integer ranks before either engine
    sees them and mapped back afterwards: ripser stores float32, whose
    integers are exact up to 2**24, so no two distinct float64 values can
    merge. Ties are broken by index (for lower-star filtrations), which only
    adds zero-length bars; those are dropped.

    Parameters
    ----------
    values : array_like, shape (n,)
        Finite vertex values (birth of each vertex), ``n >= 2``.
    edges : array_like, shape (m, 2), int
        Undirected edges between vertex indices; duplicates and both
        orientations are allowed; self-loops are not.
    maxdim : int
        Highest homology dimension, 0..2. ``maxdim >= 1`` calls ripser and
        requires ``n <= ripser_max_vertices(maxdim)`` (checked before the
        call: past it ripser aborts the process).
    edge_values : array_like, shape (m,), optional
        Filtration value of each edge; default (lower star) is the max of its
        two ends. Must be ``>=`` the values of both ends.
    coeff : int
        Prime coefficient field for ripser.

    Returns
    -------
    list of ndarray, each of shape (k_i, 2), float64
        Diagrams for dimensions 0..maxdim, deaths ``inf`` when never killed.
    """
    vals = np.asarray(values, dtype=np.float64)
    if vals.ndim != 1:
        raise ValueError(f"values must be one-dimensional (n,), got shape {vals.shape}")
    n = vals.shape[0]
    if n < 2:
        raise ValueError(f"values must hold at least 2 samples, got {n}")
    _check_finite("values", vals)
    maxdim = _check_maxdim(maxdim, 2, "graph persistence computes H0, H1, H2")
    e = _check_edges(edges, n)
    coeff = _check_prime("coeff", coeff)
    u = np.minimum(e[:, 0], e[:, 1]).astype(np.int64)
    v = np.maximum(e[:, 0], e[:, 1]).astype(np.int64)
    table, vr, er = _filtration_ranks(vals, u, v, edge_values)
    u, v, er = _dedup_edges(u, v, er, n)
    hb, hd = _h0_union_find(n, u, v, er, vr)
    dgms = [_from_ranks(table, hb, hd, hd < 0)]
    if maxdim == 0:
        return dgms
    return dgms + _ripser_diagrams(table, vr, u, v, er, maxdim, coeff)


def _check_edges(edges, n: int) -> np.ndarray:
    e = np.asarray(edges)
    if e.size == 0:
        e = np.zeros((0, 2), dtype=np.int64)
    if e.ndim != 2 or e.shape[1] != 2 or not np.issubdtype(e.dtype, np.integer):
        raise ValueError(f"edges must be an integer array of shape (m, 2), got {e.dtype} {e.shape}")
    if e.shape[0] and (e.min() < 0 or e.max() >= n):
        raise ValueError(f"edges must index vertices 0..{n - 1}")
    if (e[:, 0] == e[:, 1]).any():
        raise ValueError("edges must not contain self-loops (u == v)")
    return e


def _filtration_ranks(vals, u, v, edge_values):
    """Sorted distinct filtration values ``table`` and the ranks of vertices and edges in it.

    Lower star (``edge_values=None``): ties between vertex values are broken by
    index, so ``table`` may repeat a value (such ties only add zero-length bars).
    """
    n = vals.shape[0]
    if edge_values is None:
        order = np.argsort(vals, kind="stable")
        vr = np.empty(n, dtype=np.int64)
        vr[order] = np.arange(n)
        return vals[order], vr, np.maximum(vr[u], vr[v])
    w = np.asarray(edge_values, dtype=np.float64)
    if w.shape != (u.shape[0],):
        raise ValueError(f"edge_values must have shape ({u.shape[0]},), got {w.shape}")
    _check_finite("edge_values", w)
    if (w < np.maximum(vals[u], vals[v])).any():
        raise ValueError("edge_values must be >= the values of both ends of each edge")
    table, inv = np.unique(np.concatenate([vals, w]), return_inverse=True)
    inv = inv.astype(np.int64)
    return table, inv[:n], inv[n:]


def _dedup_edges(u, v, er, n: int):
    """Each undirected edge ``u < v`` once, with its smallest rank."""
    key = u * n + v
    if key.shape[0] <= 1 or (np.diff(key) > 0).all():
        return u, v, er
    order = np.lexsort((er, key))
    key, u, v, er = key[order], u[order], v[order], er[order]
    first = np.ones(key.shape[0], dtype=bool)
    first[1:] = key[1:] != key[:-1]
    return u[first], v[first], er[first]


def _ripser_diagrams(table, vr, u, v, er, maxdim: int, coeff: int) -> list[np.ndarray]:
    """Diagrams of dimensions 1..maxdim of the flag complex, by ripser on ranks."""
    n = vr.shape[0]
    limit = ripser_max_vertices(maxdim)
    if n > limit:
        raise ValueError(
            f"ripser cannot index {n} vertices at maxdim={maxdim} (limit {limit}); "
            "use maxdim=0 (union-find, no limit) or subsample"
        )
    if table.shape[0] >= 2**24:
        raise ValueError(
            f"too many distinct filtration values ({table.shape[0]} >= 2**24) for ripser's float32"
        )
    from ripser import ripser

    # 1-based ranks keep ripser's diagonal (vertex birth) entries nonzero
    rows = np.concatenate([np.arange(n), u])
    cols = np.concatenate([np.arange(n), v])
    data = np.concatenate([vr, er]).astype(np.float64) + 1.0
    dm = sparse.coo_matrix((data, (rows, cols)), shape=(n, n))
    res = ripser(dm, distance_matrix=True, maxdim=maxdim, coeff=int(coeff))
    out = []
    for dgm in res["dgms"][1:]:
        dgm = np.asarray(dgm, dtype=np.float64).reshape(-1, 2)
        infinite = ~np.isfinite(dgm[:, 1])
        births = np.rint(dgm[:, 0]).astype(np.int64) - 1
        deaths = np.rint(np.where(infinite, 1.0, dgm[:, 1])).astype(np.int64) - 1
        out.append(_from_ranks(table, births, deaths, infinite))
    return out


# ----------------------------------------------------------------------------
# scattered samples
# ----------------------------------------------------------------------------


def default_k(maxdim: int) -> int:
    """Default neighbour count: 10 for ``maxdim == 0``, 40 for ``maxdim >= 1``.

    H0 needs only a connected, local graph; H1 also needs a flag complex
    without holes of its own (notebook 04 validates k = 40 in R^2..R^4).
    """
    return 10 if int(maxdim) == 0 else 40


def _check_graph_method(method, k, radius, knn_device) -> None:
    """Raise ``ValueError`` for an unknown ``method`` or an argument it does not use."""
    if method not in ("knn", "radius", "delaunay"):
        raise ValueError(f"method must be 'knn', 'radius' or 'delaunay', got {method!r}")
    if method != "knn" and k is not None:
        raise ValueError(f"k is only used by method='knn', got k={k} with method={method!r}")
    if method != "radius" and radius is not None:
        raise ValueError(f"radius is only used by method='radius', got method={method!r}")
    if method != "knn" and knn_device is not None:
        raise ValueError(f"knn_device is only used by method='knn', got method={method!r}")


def neighbourhood_graph(
    points,
    k: int | None = None,
    radius: float | None = None,
    method: str = "knn",
    symmetrize: str = "union",
    approx: float = 0.0,
    workers: int = -1,
    max_edges: int = 50_000_000,
    knn_device=None,
) -> np.ndarray:
    """Neighbourhood graph of a point cloud.

    Parameters
    ----------
    points : array_like, shape (n, d)
        Sample locations (Euclidean metric; rescale axes beforehand if their
        units differ).
    k : int, optional
        ``method="knn"``: neighbours of each point, ``1 <= k < n``
        (default 10).
    radius : float, optional
        ``method="radius"``: join every pair closer than ``radius``.
    method : {"knn", "radius", "delaunay"}
        "knn" (cKDTree k nearest neighbours), "radius" (cKDTree pairs), or
        "delaunay" (edges of scipy's Delaunay triangulation, d <= 3 only; its
        flag complex contains the triangulation of the convex hull of the
        points, so it has no holes of its own).
    symmetrize : {"union", "mutual"}
        kNN only: keep ``{i, j}`` when j is among i's neighbours *or* (union,
        default) *and* (mutual) i is among j's.
    approx : float
        kNN only: cKDTree's ``eps``; each reported neighbour is within
        ``(1 + approx)`` times the true k-th neighbour distance; 0 is exact.
    workers : int
        Threads for the tree queries (default ``-1``: all cores).
    max_edges : int
        Radius graphs with more edges raise ValueError rather than exhaust
        memory.
    knn_device : None, str or torch.device
        kNN only. None (default): cKDTree on the host. A device ("cpu",
        "cuda", "cuda:N", "auto"; see :func:`lossbounds.landscape.devices.resolve_device`):
        exact float64 pairwise distances in chunks of query rows and
        ``torch.topk`` on that device; the same edges as cKDTree with
        ``approx=0`` when no two distances from a point tie (``approx`` and
        ``workers`` are then unused). Chunks halve on running out of GPU memory.

    Returns
    -------
    ndarray, shape (m, 2), int64
        Undirected edges ``u < v``, each once, sorted.

    Raises
    ------
    ValueError
        For bad points, k, radius, method, symmetrize or approx, ``knn_device``
        with a method other than "knn", or an unknown or unavailable ``knn_device``.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2:
        raise ValueError(f"points must have shape (n, d), got {pts.shape}")
    n, d = pts.shape
    if n < 2:
        raise ValueError(f"points must hold at least 2 samples, got {n}")
    _check_finite("points", pts)
    _check_graph_method(method, k, radius, knn_device)
    if method == "delaunay":
        return _delaunay_edges(pts)
    if method == "radius":
        return _radius_edges(pts, radius, max_edges)
    if symmetrize not in ("union", "mutual"):
        raise ValueError(f"symmetrize must be 'union' or 'mutual', got {symmetrize!r}")
    approx = check_nonnegative("approx", approx)
    if k is None:
        k = min(default_k(0), n - 1)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < n:
        raise ValueError(f"k must be an integer with 1 <= k < n = {n}, got {k!r}")
    mutual = symmetrize == "mutual"
    if knn_device is not None:
        return _knn_edges_torch(pts, int(k), knn_device, mutual=mutual)
    return _knn_edges(pts, int(k), float(approx), workers, mutual=mutual)


def _delaunay_edges(pts: np.ndarray) -> np.ndarray:
    n, d = pts.shape
    if not 2 <= d <= 3:
        raise ValueError(f"method='delaunay' needs points in R^2 or R^3, got d={d}")
    from itertools import combinations

    from scipy.spatial import Delaunay

    simp = Delaunay(pts).simplices.astype(np.int64)
    pairs = np.concatenate([simp[:, [i, j]] for i, j in combinations(range(d + 1), 2)])
    return _unique_edges(pairs[:, 0], pairs[:, 1], n)


def _radius_edges(pts: np.ndarray, radius, max_edges: int) -> np.ndarray:
    if radius is None or not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a finite number > 0 for method='radius', got {radius!r}")
    pairs = cKDTree(pts).query_pairs(float(radius), output_type="ndarray")
    if pairs.shape[0] > max_edges:
        raise ValueError(f"radius={radius} gives {pairs.shape[0]} edges > max_edges={max_edges}")
    return _unique_edges(pairs[:, 0], pairs[:, 1], pts.shape[0])


def _knn_edges(pts: np.ndarray, k: int, approx: float, workers: int, mutual: bool):
    # Query in the tree's leaf order, on a tree rebuilt over the points so sorted:
    # consecutive queries then touch nearby memory.
    order = cKDTree(pts).indices.astype(np.int64)
    sorted_pts = pts[order]
    _, nbr = cKDTree(sorted_pts).query(sorted_pts, k=k + 1, eps=approx, workers=workers)
    src = np.repeat(order, k + 1)
    dst = order[nbr.astype(np.int64).ravel()]
    keep = src != dst  # drop each point itself (duplicates may swap order)
    return _unique_edges(src[keep], dst[keep], pts.shape[0], mutual=mutual)


def _knn_edges_torch(pts: np.ndarray, k: int, device, mutual: bool) -> np.ndarray:
    """Find kNN edges from exact float64 distances and ``torch.topk`` on ``device`` (row chunks)."""
    import torch

    from lossbounds.landscape.devices import evaluate_chunked, pairwise_chunk_rows, resolve_device

    dev = resolve_device(device)
    X = torch.as_tensor(pts, dtype=torch.float64, device=dev)
    n = X.shape[0]

    def nearest(start: int, stop: int) -> np.ndarray:
        # Differences, not the |x|^2 + |y|^2 - 2 x.y expansion: no cancellation, so
        # the order of the distances is that of cKDTree's exact ones.
        dist = torch.cdist(X[start:stop], X, compute_mode="donot_use_mm_for_euclid_dist")
        return dist.topk(k + 1, dim=1, largest=False, sorted=True).indices.cpu().numpy()

    rows = pairwise_chunk_rows(dev, n)
    nbr = np.concatenate(
        [idx for _, _, idx in evaluate_chunked(nearest, n, rows, device=dev)]
    ).astype(np.int64)
    src = np.repeat(np.arange(n, dtype=np.int64), k + 1)
    dst = nbr.ravel()
    keep = src != dst  # drop each point itself (duplicates may swap order)
    return _unique_edges(src[keep], dst[keep], n, mutual=mutual)


def _unique_edges(a, b, n: int, mutual: bool = False) -> np.ndarray:
    lo = np.minimum(a, b).astype(np.int64)
    hi = np.maximum(a, b).astype(np.int64)
    key, counts = np.unique(lo * n + hi, return_counts=True)
    if mutual:
        key = key[counts >= 2]
    return np.column_stack([key // n, key % n])


def sample_persistence(
    points,
    values,
    maxdim: int = 1,
    k: int | None = None,
    radius: float | None = None,
    method: str = "knn",
    symmetrize: str = "union",
    approx: float = 0.0,
    too_large: str = "raise",
    max_vertices: int | None = None,
    seed: int = 0,
    workers: int = -1,
    knn_device=None,
) -> list[np.ndarray]:
    """Sublevel-set persistence estimated from scattered samples of a function.

    Builds :func:`neighbourhood_graph` on ``points`` and returns
    :func:`graph_persistence` of its lower-star filtration by ``values``:
    H0 exact for the graph (union-find), H1 and H2 those of the flag complex
    (ripser). Infinite bars in dimensions >= 1 are holes of the whole
    complex; for samples of a box they are artefacts of a too sparse graph
    (count them with ``count_long_bars(dgms, np.inf)``).

    Parameters
    ----------
    points : array_like, shape (n, d)
        Sample locations, ``n >= 2``, finite.
    values : array_like, shape (n,)
        Function values at the samples, finite (NaN raises).
    maxdim : int
        Highest homology dimension, 0..2.
    k, radius, method, symmetrize, approx
        Neighbourhood, see :func:`neighbourhood_graph`. Default: union kNN
        with ``k = default_k(maxdim)`` (10 for H0 only, 40 otherwise).
    too_large : {"raise", "subsample"}
        What to do when ``maxdim >= 1`` and ``n`` exceeds ``max_vertices``:
        raise ValueError (default) or keep a uniformly random subset of
        ``max_vertices`` samples (drawn with ``seed``) for *all* dimensions,
        so the diagrams describe one complex.
    max_vertices : int, optional
        Cap for ripser; default and upper limit ``ripser_max_vertices(maxdim)``.
        Ignored when ``maxdim == 0`` (no limit).
    seed : int
        Seed of the subsample.
    workers : int
        Threads for the kNN queries (default ``-1``: all cores).
    knn_device : None, str or torch.device
        None (default): the kNN graph from cKDTree; a device ("cpu", "cuda",
        "auto", ...): from chunked distances and top-k on that device, see
        :func:`neighbourhood_graph`.

    Returns
    -------
    list of ndarray, each of shape (k_i, 2), float64
        Diagrams for dimensions 0..maxdim.
    """
    pts = np.asarray(points, dtype=np.float64)
    vals = np.asarray(values, dtype=np.float64)
    if pts.ndim != 2:
        raise ValueError(f"points must have shape (n, d), got {pts.shape}")
    if vals.shape != (pts.shape[0],):
        raise ValueError(
            f"values must have shape (n,) = ({pts.shape[0]},) to match points, got {vals.shape}"
        )
    if pts.shape[0] < 2:
        raise ValueError(f"points must hold at least 2 samples, got {pts.shape[0]}")
    _check_finite("values", vals)
    maxdim = _check_maxdim(maxdim, 2, "sample persistence computes H0, H1, H2")
    if too_large not in ("raise", "subsample"):
        raise ValueError(f"too_large must be 'raise' or 'subsample', got {too_large!r}")
    if maxdim >= 1:
        keep = _ripser_subset(pts.shape[0], maxdim, max_vertices, too_large, seed)
        pts, vals = pts[keep], vals[keep]
    if method == "knn" and k is None:
        k = min(default_k(maxdim), pts.shape[0] - 1)
    edges = neighbourhood_graph(
        pts,
        k=k,
        radius=radius,
        method=method,
        symmetrize=symmetrize,
        approx=approx,
        workers=workers,
        knn_device=knn_device,
    )
    return graph_persistence(vals, edges, maxdim=maxdim)


# ----------------------------------------------------------------------------
# summaries
# ----------------------------------------------------------------------------


def _ripser_subset(n: int, maxdim: int, max_vertices, too_large: str, seed: int):
    """Pick the samples kept for ripser (all of them, or a sorted random subset)."""
    limit = ripser_max_vertices(maxdim)
    cap = limit if max_vertices is None else max_vertices
    if isinstance(cap, bool) or not isinstance(cap, (int, np.integer)) or not 2 <= cap <= limit:
        raise ValueError(
            f"max_vertices must be an integer in 2..{limit} at maxdim={maxdim}, got {max_vertices!r}"
        )
    if n <= cap:
        return slice(None)
    if too_large == "raise":
        raise ValueError(
            f"{n} samples exceed max_vertices={cap} for ripser at "
            f"maxdim={maxdim}; pass too_large='subsample', fewer samples, or maxdim=0"
        )
    return np.sort(np.random.default_rng(seed).choice(n, int(cap), replace=False))
