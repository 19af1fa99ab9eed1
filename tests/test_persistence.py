"""Tests for lossbounds.topology.persistence.

Expected values come from hand computation, from scipy.ndimage.label
(connected components at each level, an engine independent of Cubical Ripser and of
our union-find), from brute-force distance matrices, or from the analytic
Betti numbers of the known shapes.
"""

import math

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import ndimage  # noqa: E402

from lossbounds.topology import diagrams as D  # noqa: E402
from lossbounds.topology import persistence as P  # noqa: E402
from lossbounds.topology import shapes as S  # noqa: E402

INF = np.inf


# ----------------------------------------------------------------------------
# grids: constructions and connectivity
# ----------------------------------------------------------------------------


def test_vertex_construction_is_4_connected_and_top_is_8_connected():
    # two low pixels touching only at a corner
    v = np.ones((4, 4))
    v[1, 1] = v[2, 2] = 0.0
    dv = P.grid_persistence(v, construction="vertex")
    dt = P.grid_persistence(v, construction="top")
    np.testing.assert_array_equal(dv[0], [[0.0, 1.0], [0.0, INF]])
    np.testing.assert_array_equal(dt[0], [[0.0, INF]])
    assert D.betti_numbers(dv, 0.5).tolist() == [2, 0]
    assert D.betti_numbers(dt, 0.5).tolist() == [1, 0]


def test_diamond_encloses_a_hole_only_in_top_construction():
    v = np.ones((5, 5))
    for i, j in [(1, 2), (2, 1), (3, 2), (2, 3)]:
        v[i, j] = 0.0
    dv = P.grid_persistence(v, construction="vertex")
    dt = P.grid_persistence(v, construction="top")
    assert D.betti_numbers(dv, 0.5).tolist() == [4, 0]
    assert D.betti_numbers(dt, 0.5).tolist() == [1, 1]
    np.testing.assert_array_equal(dt[1], [[0.0, 1.0]])


def test_vertex_construction_fills_square_when_all_corners_are_in():
    # a 2x2 block of low values: 4-cycle, square filled at once -> no H1
    v = np.full((4, 4), 3.0)
    v[1:3, 1:3] = [[0.0, 1.0], [1.0, 2.0]]
    d = P.grid_persistence(v)
    assert d[1].shape == (0, 2)
    np.testing.assert_array_equal(d[0], [[0.0, INF]])


def _label_b0(values, c, connectivity):
    structure = ndimage.generate_binary_structure(values.ndim, connectivity)
    return ndimage.label(values <= c, structure=structure)[1]


@pytest.mark.parametrize("shape", [(9, 11), (6, 5, 7)])
@pytest.mark.parametrize("construction", ["vertex", "top"])
def test_grid_h0_matches_ndimage_label_at_every_level(shape, construction):
    rng = np.random.default_rng(3)
    v = rng.random(shape)
    dgms = P.grid_persistence(v, maxdim=0, construction=construction)
    # vertex: face-adjacency (connectivity 1); top: full adjacency (connectivity ndim)
    conn = 1 if construction == "vertex" else v.ndim
    levels = np.unique(v)
    got = D.betti_curve(dgms, levels)[:, 0]
    expected = [_label_b0(v, c, conn) for c in levels]
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("shape", [(7, 8), (30, 30), (4, 5, 4)])
@pytest.mark.parametrize("construction", ["vertex", "top"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("min_persistence", [0.0, 0.5])
def test_grid_engine_matches_graph_engine(shape, construction, seed, min_persistence):
    # float32-representable values with ties: both engines must still agree
    rng = np.random.default_rng(seed)
    v = rng.integers(0, 12, size=shape).astype(np.float64) / 4.0
    grid_dgms = P.grid_persistence(v, 1, construction, min_persistence)
    vv, edges, ev = P.grid_graph(v, construction)
    graph_dgms = P.graph_persistence(vv, edges, maxdim=1, edge_values=ev)
    for a, b in zip(grid_dgms, graph_dgms, strict=True):
        np.testing.assert_array_equal(a, b[b[:, 1] - b[:, 0] > min_persistence])


def test_grid_graph_edge_counts_by_hand():
    v = np.zeros((3, 4))
    _, e_v, _ = P.grid_graph(v, "vertex")
    _, e_t, _ = P.grid_graph(v, "top")
    # vertex: 3*3 + 2*4 axis edges + 2*3 square diagonals; top: + both diagonals
    assert e_v.shape[0] == 9 + 8 + 6
    assert e_t.shape[0] == 9 + 8 + 12
    assert (e_v[:, 0] < e_v[:, 1]).all()


def test_grid_min_persistence_drops_only_short_bars():
    rng = np.random.default_rng(5)
    v = rng.random((30, 30))
    full = P.grid_persistence(v)
    cut = P.grid_persistence(v, min_persistence=0.2)
    for a, b in zip(full, cut, strict=True):
        np.testing.assert_array_equal(a[a[:, 1] - a[:, 0] > 0.2], b)


# ----------------------------------------------------------------------------
# graphs
# ----------------------------------------------------------------------------


def test_graph_h0_elder_rule_by_hand():
    # path 0 - 1 - 2 - 3 with values 0, 3, 1, 2: component of vertex 2 dies at 3
    d = P.graph_persistence([0.0, 3.0, 1.0, 2.0], [[0, 1], [1, 2], [2, 3]], maxdim=0)
    np.testing.assert_array_equal(d[0], [[0.0, INF], [1.0, 3.0]])


def test_graph_h1_cycle_and_filling_by_hand():
    # square 0-1-2-3 closes at value 3; cone vertex 4 (value 5) fills it
    vals = [0.0, 1.0, 2.0, 3.0, 5.0]
    square = [[0, 1], [1, 2], [2, 3], [3, 0]]
    d = P.graph_persistence(vals, square, maxdim=1)
    np.testing.assert_array_equal(d[1], [[3.0, INF]])
    coned = square + [[4, i] for i in range(4)]
    d = P.graph_persistence(vals, coned, maxdim=1)
    np.testing.assert_array_equal(d[1], [[3.0, 5.0]])


def test_values_closer_than_float32_resolution_stay_distinct():
    base = 1.0
    vals = np.array([base, base + 1e-12, base + 2e-12, base + 3e-12, base + 4e-12])
    assert len(np.unique(vals.astype(np.float32))) == 1  # float32 would merge all
    coned = [[0, 1], [1, 2], [2, 3], [3, 0]] + [[4, i] for i in range(4)]
    d = P.graph_persistence(vals, coned, maxdim=1)
    np.testing.assert_array_equal(d[1], [[vals[3], vals[4]]])
    # H0: vertex 2 reaches vertex 0 only through vertex 4
    d0 = P.graph_persistence(vals, [[0, 4], [2, 4]], maxdim=0)[0]
    np.testing.assert_array_equal(d0[np.isfinite(d0[:, 1])], [[vals[2], vals[4]]])


def test_duplicate_and_reversed_edges_are_merged():
    vals = [0.0, 2.0, 1.0]
    a = P.graph_persistence(vals, [[0, 1], [1, 2]], maxdim=1)
    b = P.graph_persistence(vals, [[1, 0], [0, 1], [2, 1], [1, 2]], maxdim=1)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_union_find_h0_matches_ripser_h0():
    from ripser import ripser
    from scipy import sparse

    rng = np.random.default_rng(7)
    pts = rng.random((400, 2))
    vals = np.round(rng.random(400) * 64) / 64  # exact in float32, with ties
    edges = P.neighbourhood_graph(pts, k=6)
    ours = P.graph_persistence(vals, edges, maxdim=0)[0]
    w = np.maximum(vals[edges[:, 0]], vals[edges[:, 1]]) + 1.0  # +1: keep entries nonzero
    n = len(vals)
    dm = sparse.coo_matrix(
        (
            np.concatenate([vals + 1.0, w]),
            (
                np.concatenate([np.arange(n), edges[:, 0]]),
                np.concatenate([np.arange(n), edges[:, 1]]),
            ),
        ),
        shape=(n, n),
    )
    theirs = ripser(dm, distance_matrix=True, maxdim=0)["dgms"][0] - 1.0
    theirs = theirs[theirs[:, 1] > theirs[:, 0]]
    theirs = theirs[np.lexsort((theirs[:, 1], theirs[:, 0]))]
    np.testing.assert_array_equal(ours, theirs)


def test_ripser_max_vertices_is_the_binomial_limit():
    for maxdim in (1, 2):
        n = P.ripser_max_vertices(maxdim)
        assert math.comb(n, maxdim + 2) <= 2**55 - 1 < math.comb(n + 1, maxdim + 2)
    assert 590_000 < P.ripser_max_vertices(1) < 610_000


def test_graph_refuses_too_many_vertices_for_ripser_without_calling_it():
    n = P.ripser_max_vertices(2) + 1
    vals = np.zeros(n)
    with pytest.raises(ValueError, match="ripser cannot index"):
        P.graph_persistence(vals, [[0, 1]], maxdim=2)


# ----------------------------------------------------------------------------
# neighbourhood graphs and samples
# ----------------------------------------------------------------------------


def _brute_knn_edges(pts, k, mutual=False):
    dist = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    nbr = np.argsort(dist, axis=1)[:, :k]
    a = np.zeros(dist.shape, dtype=bool)
    a[np.repeat(np.arange(len(pts)), k), nbr.ravel()] = True
    sym = (a & a.T) if mutual else (a | a.T)
    return np.argwhere(np.triu(sym, 1))


@pytest.mark.parametrize("mutual", [False, True])
def test_knn_graph_matches_brute_force(mutual):
    pts = np.random.default_rng(1).random((120, 3))
    got = P.neighbourhood_graph(pts, k=5, symmetrize="mutual" if mutual else "union")
    np.testing.assert_array_equal(got, _brute_knn_edges(pts, 5, mutual))


def test_radius_graph_matches_brute_force():
    pts = np.random.default_rng(2).random((100, 2))
    got = P.neighbourhood_graph(pts, radius=0.15, method="radius")
    dist = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    np.testing.assert_array_equal(got, np.argwhere(np.triu(dist <= 0.15, 1)))


@pytest.mark.parametrize("name", list(S.known_shapes()))
def test_known_shapes_exact_with_default_samples(name):
    s = S.known_shapes()[name]
    pts, vals = s.sample(seed=0)
    d = P.sample_persistence(pts, vals, maxdim=1)
    got = D.persistent_betti_numbers(d, s.level - s.delta, s.level + s.delta)
    assert tuple(got.tolist()) == s.betti
    assert D.count_long_bars(d, np.inf).tolist() == [1, 0]  # no holes of the complex


def test_delaunay_graph_gives_the_same_annulus():
    s = S.known_shapes()["annulus"]
    pts, vals = s.sample(seed=1)
    d = P.sample_persistence(pts, vals, method="delaunay")
    assert D.persistent_betti_numbers(d, s.level - s.delta, s.level + s.delta).tolist() == [1, 1]


def test_spherical_shell_h2_grid_and_delaunay_exact_knn_fails_visibly():
    s = S.known_shapes(include_h2=True)["spherical_shell"]
    d = P.grid_persistence(s.grid(33), maxdim=2)
    assert D.betti_numbers(d, s.level).tolist() == [1, 0, 1]
    pts, vals = s.sample(3000, seed=0)
    lo, hi = s.level - s.delta, s.level + s.delta
    d = P.sample_persistence(pts, vals, maxdim=2, method="delaunay")
    assert D.persistent_betti_numbers(d, lo, hi).tolist() == [1, 0, 1]
    # the kNN flag complex has voids of its own: infinite H2 bars
    d = P.sample_persistence(pts, vals, maxdim=2, k=20)
    assert D.count_long_bars(d, np.inf)[2] > 0


def test_too_few_neighbours_fail_visibly():
    # k = 3: the flag complex is full of holes (infinite H1 bars), b1 is wrong
    s = S.known_shapes()["annulus"]
    pts, vals = s.sample(seed=0)
    d = P.sample_persistence(pts, vals, k=3)
    assert D.count_long_bars(d, np.inf)[1] > 10
    assert D.persistent_betti_numbers(d, s.level - s.delta, s.level + s.delta)[1] > 1


def test_sample_size_guard_raises_or_subsamples():
    pts = np.random.default_rng(0).random((300, 2))
    vals = pts[:, 0]
    with pytest.raises(ValueError, match="max_vertices"):
        P.sample_persistence(pts, vals, max_vertices=100)
    # a radius graph without edges: every kept vertex is its own infinite H0 bar
    kw = {"method": "radius", "radius": 1e-9}
    d = P.sample_persistence(pts, vals, max_vertices=100, too_large="subsample", **kw)
    assert len(d[0]) == 100
    # H0 alone has no size limit
    assert len(P.sample_persistence(pts, vals, maxdim=0, max_vertices=100, **kw)[0]) == 300


def test_approximate_knn_still_finds_the_wells():
    s = S.known_shapes()["wells2"]
    pts, vals = s.sample(seed=0)
    d = P.sample_persistence(pts, vals, maxdim=0, approx=1.0)
    assert D.persistent_betti_numbers(d, s.level - s.delta, s.level + s.delta).tolist() == [3]


# ----------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------


def test_bad_inputs_raise_value_errors():
    ok = np.random.default_rng(0).random((10, 10))
    with pytest.raises(ValueError, match="NaN"):
        P.grid_persistence(np.where(ok > 0.5, np.nan, ok))
    with pytest.raises(ValueError, match="2D or 3D"):
        P.grid_persistence(ok[0])
    with pytest.raises(ValueError, match="at least 2"):
        P.grid_persistence(ok[:1])
    with pytest.raises(ValueError, match=r"maxdim must be in 0\.\.1"):
        P.grid_persistence(ok, maxdim=2)
    with pytest.raises(ValueError, match="construction"):
        P.grid_persistence(ok, construction="pixels")
    pts = np.random.default_rng(0).random((10, 2))
    with pytest.raises(ValueError, match="values must have shape"):
        P.sample_persistence(pts, np.zeros(9))
    with pytest.raises(ValueError, match="at least 2"):
        P.sample_persistence(pts[:1], np.zeros(1))
    with pytest.raises(ValueError, match="NaN"):
        P.sample_persistence(pts, np.full(10, np.nan))
    with pytest.raises(ValueError, match="maxdim"):
        P.sample_persistence(pts, np.zeros(10), maxdim=3)
    with pytest.raises(ValueError, match="maxdim"):
        P.sample_persistence(pts, np.zeros(10), maxdim=-1)
    with pytest.raises(ValueError, match="k must be"):
        P.sample_persistence(pts, np.zeros(10), k=10)
    with pytest.raises(ValueError, match="delaunay"):
        P.neighbourhood_graph(np.zeros((10, 5)), method="delaunay")
    with pytest.raises(ValueError, match="self-loops"):
        P.graph_persistence([0.0, 1.0], [[0, 0]])
    with pytest.raises(ValueError, match="edge_values must be >="):
        P.graph_persistence([0.0, 1.0], [[0, 1]], edge_values=[0.5])
    with pytest.raises(ValueError, match="prime"):
        P.graph_persistence([0.0, 1.0], [[0, 1]], coeff=4)
