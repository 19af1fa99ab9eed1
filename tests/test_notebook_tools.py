"""Library tools the notebooks use (moved out of notebooks 00-04, 09 and 11)."""

import math

import matplotlib
import numpy as np
import pytest
import sympy as sp
import torch
from torch import nn

matplotlib.use("Agg")

from lossbounds.landscape.minima import FittedMinimum, minimum_from_teacher, sphere_minimum  # noqa: E402
from lossbounds.landscape.modules import module_objective, train_module
from lossbounds.landscape.surface import module_loss  # noqa: E402
from lossbounds.landscape.symmetry import SymmetryGroup  # noqa: E402
from lossbounds.plot import plot_diagram, plot_zell_khovanskii  # noqa: E402
from lossbounds.theory.architecture import Architecture  # noqa: E402
from lossbounds.theory.bounds import bound_summary, log10_bounds, log10_exact  # noqa: E402
from lossbounds.theory.formats import expand_closed_form  # noqa: E402
from lossbounds.topology.diagrams import sampled_window, windowed_betti  # noqa: E402
from lossbounds.topology.orbits import orbit_persistence  # noqa: E402
from lossbounds.topology.shapes import four_wells, solid_torus  # noqa: E402
from lossbounds.topology.slices import line  # noqa: E402


def test_log10_bounds_match_the_exact_values_and_the_summary():
    archs = [Architecture(2, h, k, 10, activation="tanh") for h, k in ((1, 1), (3, 2), (8, 3))]
    zell, khov = log10_bounds(archs)
    exact = np.array([log10_exact(a) for a in archs])
    np.testing.assert_allclose(zell, exact[:, 0], rtol=1e-13)
    np.testing.assert_allclose(khov, exact[:, 1], rtol=1e-13)
    assert zell[1] == bound_summary(archs[1])["log10_zell_expression"]
    # tanh, h = 1, K = 1: |G| = 2^h h! = 2
    assert exact[0, 2] == pytest.approx(math.log10(2), abs=1e-15)


def test_expand_closed_form():
    K = sp.Symbol("K", positive=True, integer=True)
    assert expand_closed_form((K + 1) ** 2) == K**2 + 2 * K + 1
    folded = expand_closed_form(sp.Piecewise((1, sp.Eq(K, 1)), (K + 1, True)))
    assert isinstance(folded, sp.Piecewise) and (folded.subs(K, 1), folded.subs(K, 3)) == (1, 4)
    assert expand_closed_form(3) == 3


def test_windowed_betti_on_a_hand_made_diagram():
    dgm = [np.array([[0.0, np.inf], [0.1, 0.5], [0.2, 0.25]])]
    values = np.array([0.0, 0.1, 0.2, 0.9])
    assert sampled_window(values, 0.3, rho=0.5) == pytest.approx(0.15)
    # [0.15, 0.45]: the bar born at 0.2 dies at 0.25 < 0.45; two bars span it
    assert windowed_betti(dgm, values, 0.3, rho=0.5) == (2,)
    assert sampled_window(values + 1.0, 0.3) is None
    assert windowed_betti(dgm, values + 1.0, 0.3) == (0,)
    with pytest.raises(ValueError, match="rho must be a finite number > 0"):
        sampled_window(values, 0.3, rho=0.0)


@pytest.mark.parametrize("dim", [4, 6])
def test_four_wells_and_solid_torus_values(dim):
    w = four_wells(dim)
    centres = np.zeros((4, dim))
    centres[:, :2] = [[1, 1], [1, -1], [-1, 1], [-1, -1]]
    np.testing.assert_array_equal(w.func(centres), np.zeros(4))
    assert w.func(np.zeros((1, dim)))[0] == 2.0 and w.betti == (4,) and len(w.low) == dim
    t = solid_torus(dim)
    p = np.zeros((2, dim))
    p[0, 0] = 1.0
    np.testing.assert_array_equal(t.func(p), [0.0, 1.0])
    assert t.betti == (1, 1)
    with pytest.raises(ValueError, match="dim must be an integer >= 3"):
        solid_torus(2)


class _Bowl:
    """f(x) = |x|^2 with the LossSurface calls sphere_minimum uses."""

    def __call__(self, x):
        return (np.atleast_2d(x) ** 2).sum(1)

    def value_and_grad(self, x):
        return float(x @ x), 2 * x


def test_sphere_minimum_of_a_bowl():
    # min |x|^2 on the sphere of radius r around (1, 0, 0) is (1 - r)^2
    got = sphere_minimum(_Bowl(), np.array([1.0, 0.0, 0.0]), 0.25, 50, np.random.default_rng(0))
    assert got == pytest.approx(0.75**2, rel=1e-10)


def test_fitted_minimum_is_strict():
    m = FittedMinimum(None, None, np.zeros(2), 0.0, 1e-12, np.array([1e-5, 1.0]))
    assert m.is_strict() and not m.is_strict(eig_rtol=1e-4) and not m.is_strict(grad_tol=1e-13)


def test_orbit_persistence_counts_and_segments():
    arch = Architecture(1, 2, 1, 30, activation="tanh")
    fit = minimum_from_teacher(arch, 3)
    assert fit.is_strict()
    group = SymmetryGroup(arch)
    p = orbit_persistence(fit.surface, fit.theta, group, 1e-4, 40, 400, segment_res=21, seed=0)
    assert p.sizes == (8, 8 * 40, 28 * 19, 400) and p.n_samples == sum(p.sizes)
    assert p.level == pytest.approx(fit.loss + 1e-4)
    assert p.orbit_alive <= p.n_born and p.orbit_alive <= p.b0
    orbit = group.orbit(fit.theta)
    vals = line(fit.surface, orbit[0], direction=orbit[1] - orbit[0], span=(0.0, 1.0), res=21)[1]
    assert p.segment_barriers[0] == pytest.approx(vals.max() - fit.loss, rel=1e-9)


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).to(torch.float64)


def test_module_objective_is_the_batched_module_loss_and_training_lowers_it():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 2)), rng.normal(size=16)
    model = _net()
    theta = nn.utils.parameters_to_vector(model.parameters()).detach()[None]
    batched = module_loss(model, X, y, l2=1e-2)(theta)[0].item()
    before = module_objective(model, X, y, 1e-2).item()
    assert before == pytest.approx(batched, rel=1e-12)
    train_module(model, X, y, 50, lr=0.02, l2=1e-2)
    assert module_objective(model, X, y, 1e-2).item() < before
    with pytest.raises(ValueError, match="steps must be an integer >= 0"):
        train_module(model, X, y, -1)


def test_plot_zell_khovanskii_and_infinite_bars():
    ax = plot_zell_khovanskii([1, 2, 4], {"K=1": ([1, 2, 3], [1, 2, 2.5])}, title="t", xlabel="h")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["Zell expression (C = 1), K=1", "Khovanskii bound, K=1"]
    assert ax.get_xlabel() == "h" and ax.get_xscale() == "log"
    ax = plot_diagram([np.array([[0.0, np.inf], [0.1, 0.5]]), np.zeros((0, 2))])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "H0: 1 infinite (never dies)" in labels and "H0: 1 finite" in labels
