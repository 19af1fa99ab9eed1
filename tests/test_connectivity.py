"""Tests for lossbounds.topology.connectivity.

Expected values are independent of the code under test: a fine-grid cubical
persistence diagram (2-D wells); the exact merge tree of rotated separable
tilted double wells, built from the roots of the cubic g'(t) = 0 (numpy.roots)
and union-find over the hypercube of index-1 saddles
(lossbounds.topology.persistence.graph_persistence); dense kNN sample persistence of a
4-parameter network; hand-computed Chao1 values.
"""

import itertools

import numpy as np
import pytest
import torch
from scipy.stats import qmc, special_ortho_group

from lossbounds.landscape.data import make_teacher_student
from lossbounds.landscape.modules import to_module
from lossbounds.landscape.surface import LossSurface
from lossbounds.landscape.symmetry import SymmetryGroup
from lossbounds.plot import plot_merge_tree
from lossbounds.theory.architecture import Architecture
from lossbounds.topology.connectivity import MergeOptions, chao1, merge_tree
from lossbounds.topology.persistence import graph_persistence, grid_persistence, sample_persistence
from lossbounds.topology.shapes import DoubleWells, tilted_double_wells

# ----------------------------------------------------------------------------
# test functions
# ----------------------------------------------------------------------------
_C = torch.tensor([[-1.5, 0.0], [1.2, 0.6], [0.2, -1.3], [0.3, 1.4]], dtype=torch.float64)
_A = torch.tensor([1.0, 0.8, 0.9, 0.6], dtype=torch.float64)
_S2 = torch.tensor([0.5, 0.4, 0.45, 0.35], dtype=torch.float64) ** 2


def wells(x):
    """Four Gaussian wells in a shallow bowl, R^2."""
    r2 = ((x[:, None, :] - _C[None]) ** 2).sum(-1)
    return -(_A * torch.exp(-r2 / (2 * _S2))).sum(-1) + 0.05 * (x**2).sum(-1)


def double_wells(d, seed=1):
    """f(x) = sum_j g_j((Qx)_j), g_j(t) = (t^2 - 1)^2 + eps_j t, and its exact H0 diagram."""
    rng = np.random.default_rng(seed)
    eps = rng.uniform(0.1, 0.5, d) * rng.choice([-1.0, 1.0], d)
    Q = torch.tensor(special_ortho_group.rvs(d, random_state=seed + 1))
    E = torch.tensor(eps)

    def f(x):
        y = x @ Q.T
        return ((y**2 - 1) ** 2 + E * y).sum(-1)

    low, mid, high = [], [], []
    for e in eps:
        roots = np.sort(np.roots([4.0, 0.0, -4.0, e]).real)  # g'(t) = 4t^3 - 4t + e
        g = (roots**2 - 1) ** 2 + e * roots
        low.append(g[0]), mid.append(g[1]), high.append(g[2])
    low, mid, high = map(np.array, (low, mid, high))
    corners = np.array(list(itertools.product([0, 1], repeat=d)))
    values = np.where(corners == 1, high, low).sum(axis=1)
    index = {tuple(c): i for i, c in enumerate(corners)}
    edges, levels = [], []
    for i, c in enumerate(corners):
        for j in np.flatnonzero(c == 0):
            up = c.copy()
            up[j] = 1
            edges.append((i, index[tuple(up)]))
            levels.append(values[i] - low[j] + mid[j])  # coordinate j at the local max
    exact = graph_persistence(values, np.array(edges), maxdim=0, edge_values=np.array(levels))
    f.Q, f.eps = Q.numpy(), eps
    return f, exact[0]


def _same_diagram(got, want, tol):
    assert got.shape == want.shape
    fin = np.isfinite(want[:, 1])
    assert np.array_equal(np.isfinite(got[:, 1]), fin)
    np.testing.assert_allclose(got[fin], want[fin], rtol=0, atol=tol)
    np.testing.assert_allclose(got[~fin, 0], want[~fin, 0], rtol=0, atol=tol)


def _tiny_net(seed=0):
    arch = Architecture(1, 1, 1, 20, activation="tanh", l2=True)
    ds = make_teacher_student(Architecture(1, 3, 1, 20, activation="tanh"), 20, 0.05, seed)
    return arch, LossSurface(arch, ds.X, ds.y, l2=1e-3)


# ----------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------
def test_2d_wells_match_fine_grid_persistence():
    starts = qmc.Sobol(2, seed=0).random(128) * 6 - 3
    res = merge_tree(wells, starts, n_neighbors=3)
    g = np.linspace(-3, 3, 801)  # spacing 0.0075
    X, Y = np.meshgrid(g, g, indexing="ij")
    pts = torch.tensor(np.stack([X.ravel(), Y.ravel()], axis=1))
    grid = grid_persistence(wells(pts).numpy().reshape(X.shape), maxdim=0)[0]
    assert len(res.minima) == 4
    # grid error ~ curvature * spacing^2 / 2 ~ 1e-4 at minima and saddles
    _same_diagram(res.diagram(), grid, tol=2e-4)
    # every merge level is the value of a refined index-1 saddle, not a band maximum
    sad = res.saddles
    deaths = res.diagram()[:, 1]
    for death in deaths[np.isfinite(deaths)]:
        assert np.min(np.abs(sad.values[sad.refined] - death)) < 1e-12
    assert (sad.index[sad.refined] == 1).all()


def test_rotated_double_wells_exact_diagram():
    d = 6
    f, exact = double_wells(d)
    starts = qmc.Sobol(d, seed=0).random(1024) * 4 - 2
    res = merge_tree(f, starts, n_neighbors=d, check_bands=4)
    assert len(res.minima) == 2**d
    _same_diagram(res.diagram(), exact, tol=1e-9)
    assert (res.saddles.index[res.saddles.refined] == 1).all()
    assert res.image_check["max_change"] < 1e-6
    assert res.saturation[-1] == 2**d and np.all(np.diff(res.saturation) >= 0)
    assert res.chao1 == pytest.approx(2**d)  # every minimum hit at least 3 times here
    # index-1 saddles found: hypercube edges d 2^(d-1); weak Morse at the top level
    top = np.max(res.saddles.values) + 1
    assert res.n_saddles_below(top) == d * 2 ** (d - 1)
    assert res.betti0(top) == 1 >= res.morse_lower(top)


def test_double_wells_fixture_matches_independent_construction():
    f, exact = double_wells(5, seed=4)
    dw = DoubleWells(f.Q, f.eps)
    _same_diagram(dw.exact_diagram(), exact, tol=1e-12)
    x = torch.tensor(np.random.default_rng(0).normal(size=(7, 5)))
    np.testing.assert_allclose(dw(x).numpy(), f(x).numpy(), rtol=1e-12)
    pts, values = dw.minima()
    m = torch.tensor(pts, requires_grad=True)
    (grad,) = torch.autograd.grad(dw(m).sum(), m)
    assert grad.abs().max() < 1e-10
    np.testing.assert_allclose(values, f(torch.tensor(pts)).numpy(), rtol=0, atol=1e-12)
    assert sorted(values) == pytest.approx(sorted(exact[:, 0]))
    assert tilted_double_wells(3, seed=1).Q.shape == (3, 3)
    with pytest.raises(ValueError, match="tilt"):
        tilted_double_wells(3, tilt=(0.5, 2.0))


def test_rounds_add_pairs_until_the_tree_stops_changing():
    f, exact = double_wells(4, seed=3)
    starts = qmc.Sobol(4, seed=0).random(256) * 4 - 2
    res = merge_tree(f, starts, n_neighbors=1, max_rounds=4, check_bands=0)
    _same_diagram(res.diagram(), exact, tol=1e-9)
    assert res.rounds >= 2 and res.n_neighbors >= 2


def test_tiny_network_matches_dense_knn_persistence():
    _, surf = _tiny_net()
    B = 3.0
    res = merge_tree(surf, qmc.Sobol(4, seed=0).random(256) * 2 * B - B, box=B, n_neighbors=4)
    pts = qmc.Sobol(4, seed=1).random(2**15) * 2 * B - B
    knn = sample_persistence(pts, surf(pts), maxdim=0, k=10, workers=1)[0]
    mt = res.diagram()
    # long bars (persistence > 0.5): same number, deaths within the kNN bias
    long_knn = knn[knn[:, 1] - knn[:, 0] > 0.5]
    long_mt = mt[mt[:, 1] - mt[:, 0] > 0.5]
    assert len(long_mt) == len(long_knn) == 2
    assert (
        abs(long_mt[np.isfinite(long_mt[:, 1]), 1] - long_knn[np.isfinite(long_knn[:, 1]), 1])
        < 0.05
    )
    # no sample is below the global minimum found
    assert knn[:, 0].min() >= mt[:, 0].min() - 1e-12


def test_group_quotient_of_the_tiny_network():
    arch, surf = _tiny_net()
    starts = qmc.Sobol(4, seed=0).random(128) * 6 - 3
    plain = merge_tree(surf, starts, box=3.0, check_bands=0)
    quotient = merge_tree(surf, starts, group=SymmetryGroup(arch, l2=1e-3), box=3.0)
    assert len(plain.minima) == 2 and len(quotient.minima) == 1  # the flip pairs them
    assert quotient.diagram().shape == (1, 2)
    orbit = SymmetryGroup(arch, l2=1e-3).orbit(quotient.minima[0])
    for m in plain.minima:
        assert np.min(np.linalg.norm(orbit - m, axis=1)) < 1e-5


class _TanhUnit(torch.nn.Module):
    """The tiny network written as a custom module (one the package cannot describe)."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(1, 1, dtype=torch.float64)
        self.b = torch.nn.Linear(1, 1, dtype=torch.float64)

    def forward(self, x):
        return self.b(torch.tanh(self.a(x)))


@pytest.mark.parametrize("module", ["sequential", "custom"])
def test_merge_tree_of_a_module_surface_equals_the_built_in_one(module):
    arch, surf = _tiny_net()
    model = to_module(arch) if module == "sequential" else _TanhUnit()
    msurf = LossSurface.from_module(model, surf.X_np, surf.y_np, l2=1e-3)
    assert (msurf.arch is None) == (module == "custom")
    starts = qmc.Sobol(4, seed=0).random(64) * 6 - 3
    ref = merge_tree(surf, starts, box=3.0, check_bands=0)
    got = merge_tree(msurf, starts, box=3.0, check_bands=0)  # LM descent: an MSE surface
    assert len(got.minima) == len(ref.minima) == 2
    _same_diagram(got.diagram(), ref.diagram(), tol=1e-9)


# ----------------------------------------------------------------------------
# robustness and API
# ----------------------------------------------------------------------------
def test_flat_direction_gives_degenerate_minima_joined_by_connectivity():
    def flat(x):  # double well in x0, flat in x1: two lines of minima x0 = +-1 (value 0)
        return (x[:, 0] ** 2 - 1) ** 2 + 0.0 * x[:, 1]

    res = merge_tree(flat, qmc.Sobol(2, seed=0).random(16) * 4 - 2)
    # exact: two components (nullity 1 each), joined at the ridge x0 = 0 (value 1)
    assert len(res.minima) == 2 and list(res.nullity) == [1, 1]
    assert res.hits.sum() == 16
    np.testing.assert_allclose(res.minima_values, 0.0, atol=1e-12)
    np.testing.assert_allclose(np.abs(res.minima[:, 0]), 1.0, atol=1e-8)
    dgm = res.diagram()
    np.testing.assert_allclose(dgm[:, 0], 0.0, atol=1e-12)
    np.testing.assert_allclose(np.sort(dgm[:, 1]), [1.0, np.inf], rtol=1e-8)


def test_box_does_not_crash():
    f, _ = double_wells(2)
    tight = merge_tree(f, qmc.Sobol(2, seed=0).random(32) * 2 - 1, box=1.2, check_bands=2)
    assert len(tight.minima) == 2 and np.all(np.abs(tight.saddles.points) <= 1.2)
    # no minimum inside the box: a warning naming the counted reason, never a silent empty tree
    with pytest.warns(UserWarning, match="not_converged: 32"):
        empty = merge_tree(f, qmc.Sobol(2, seed=0).random(32) * 2 - 1, box=0.9)
    assert empty.diagram().shape == (0, 2)


def test_betti0_counts_alive_bars_and_plot():
    starts = qmc.Sobol(2, seed=0).random(64) * 6 - 3
    threads = torch.get_num_threads()
    res = merge_tree(wells, starts, n_neighbors=3, check_bands=0, threads=1)
    assert torch.get_num_threads() == threads  # restored
    dgm = res.diagram()
    levels = np.array([dgm[0, 0] - 1, dgm[:, 0].max() + 1e-9, 10.0])
    np.testing.assert_array_equal(res.betti0(levels), [0, np.sum(np.isfinite(dgm[:, 1])) + 1, 1])
    assert isinstance(res.betti0(0.0), int)
    ax = plot_merge_tree(res)
    assert ax.get_ylabel() == "level c" and ax.get_xlabel()
    assert len(ax.get_legend().get_texts()) == 2


def test_chao1_hand_computed():
    # bias-corrected Chao1: k + f1 (f1 - 1) / (2 (f2 + 1))
    assert chao1([1, 1, 2, 3]) == pytest.approx(4 + 2 * 1 / (2 * 2))
    assert chao1([1, 1, 1]) == pytest.approx(3 + 3 * 2 / (2 * 1))
    assert chao1([5, 4]) == pytest.approx(2)
    with pytest.raises(ValueError, match="hits"):
        chao1([1.5])


@pytest.mark.parametrize(
    ("starts", "match"),
    [
        (np.zeros(2), "shape"),
        (np.full((3, 2), np.nan), "finite"),
        (np.zeros((3, 5)), "f failed"),
    ],
)
def test_bad_starts_raise(starts, match):
    with pytest.raises(ValueError, match=match):
        merge_tree(wells, starts)


@pytest.mark.parametrize(
    ("f", "match"),
    [
        (lambda x: x.sum(), "must map a \\(K, d\\) tensor"),
        (lambda x: x.detach().sum(1), "differentiable"),
        (lambda x: torch.log(x[:, 0] - 10), "finite"),
        ("not a function", "callable"),
    ],
)
def test_bad_function_raises(f, match):
    with pytest.raises(ValueError, match=match):
        merge_tree(f, np.zeros((3, 2)))


def test_bad_options_and_dimension_raise():
    with pytest.raises(ValueError, match="unknown option"):
        merge_tree(wells, np.zeros((3, 2)), n_neigbors=2)
    with pytest.raises(ValueError, match="n_images must be an integer >= 3"):
        MergeOptions(n_images=2)
    with pytest.raises(ValueError, match="neb_tol must be a finite number > 0"):
        merge_tree(wells, np.zeros((3, 2)), neb_tol=-1.0)
    with pytest.raises(ValueError, match="progress"):
        MergeOptions(progress=1)
    with pytest.raises(ValueError, match="descent must be"):
        MergeOptions(descent="newton")
    with pytest.raises(ValueError, match="descent='lm' needs"):
        merge_tree(wells, np.zeros((3, 2)), descent="lm")
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        MergeOptions(threads=0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        merge_tree(wells, np.zeros((3, 2)), seed=-1)
    arch, surf = _tiny_net()
    with pytest.raises(ValueError, match="f failed"):
        merge_tree(surf, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="group acts on"):
        merge_tree(surf, np.zeros((3, 3)), group=SymmetryGroup(arch))
