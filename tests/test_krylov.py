"""Matrix-free eigenvector following against known saddles embedded in high dimension."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import lossbounds.landscape.newton as newton
import lossbounds.landscape.surface as surface
from lossbounds.landscape.hvp import hvp, lowest_eigenpairs
from lossbounds.landscape.krylov import krylov_saddles
from lossbounds.landscape.newton import Target, polish_and_classify
from lossbounds.topology import connectivity
from lossbounds.topology.options import MergeOptions
from lossbounds.topology.shapes import embedded_saddle


def embedded_double_well(d, seed=0, sign=1.0):
    """:func:`embedded_saddle` and a seeded generator for the starts."""
    f, c = embedded_saddle(d, seed=seed, sign=sign)
    return f, c, np.random.default_rng(seed + 100)


def _starts(c, rng, k=2, size=0.3):
    """k starts at distance ``size`` from c in random directions."""
    D = rng.standard_normal((k, len(c)))
    return torch.as_tensor(c + size * D / np.linalg.norm(D, axis=1, keepdims=True))


@pytest.fixture
def no_dense_hessian(monkeypatch):
    """Make every dense Hessian raise."""

    def refuse(*args, **kwargs):
        raise AssertionError("a dense Hessian was built")

    monkeypatch.setattr(newton, "batched_hessians", refuse)
    monkeypatch.setattr(surface, "batched_hessians", refuse)


def test_krylov_reaches_the_known_saddle_without_a_dense_hessian(no_dense_hessian):
    d = 600
    f, c, rng = embedded_double_well(d)
    pol = krylov_saddles(f, _starts(c, rng), MergeOptions(newton_steps=30))
    assert pol.critical.all() and (pol.index == 1).all() and (pol.nullity == 0).all()
    np.testing.assert_allclose(
        pol.points, np.tile(c, (2, 1)), rtol=0, atol=1e-8 * (1 + np.linalg.norm(c))
    )
    np.testing.assert_allclose(pol.values, 1.0, rtol=0, atol=1e-12)
    # lowest, second lowest and highest Hessian eigenvalues: -4, 0.5, 5
    np.testing.assert_allclose(pol.eigenvalues[:, :2], np.tile([-4.0, 0.5], (2, 1)), atol=1e-8)
    np.testing.assert_allclose(pol.eigenvalues[:, 2], 5.0, rtol=1e-3)  # a scale: accuracy 1e-3


def test_krylov_certifies_index_two_not_one():
    """At an index-2 critical point the second (deflated) Lanczos run sees the second negative mode."""
    d = 200
    f, c, _ = embedded_double_well(d, sign=-1.0)
    pol = krylov_saddles(f, torch.as_tensor(c[None]), MergeOptions(newton_steps=0))
    assert pol.critical[0] and pol.index[0] == 2
    np.testing.assert_allclose(pol.eigenvalues[0, :2], [-4.0, -2.0], rtol=0, atol=1e-8)


def test_a_repeated_negative_eigenvalue_counts_twice():
    """f = t^T A t / 2 with eigenvalues -1, -1, linspace(1, 3): index 2 at 0, not 1."""
    n = 300
    ev = np.concatenate([[-1.0, -1.0], np.linspace(1.0, 3.0, n - 2)])
    Q, _ = np.linalg.qr(np.random.default_rng(3).standard_normal((n, n)))
    At = torch.as_tensor((Q * ev) @ Q.T)
    low, U, high = lowest_eigenpairs(hvp(lambda t: 0.5 * t @ (At @ t), np.zeros(n)), n, k=1)
    np.testing.assert_allclose(low[0], -1.0, rtol=0, atol=1e-9)
    np.testing.assert_allclose(high, 3.0, rtol=1e-5)  # highest_tol = 1e-6
    pol = krylov_saddles(
        lambda X: 0.5 * ((X @ At) * X).sum(1), torch.zeros(1, n), MergeOptions(newton_steps=0)
    )
    assert pol.critical[0] and pol.index[0] == 2
    np.testing.assert_allclose(pol.eigenvalues[0, :2], [-1.0, -1.0], rtol=0, atol=1e-8)


def test_krylov_agrees_with_the_dense_path():
    d = 120
    f, c, rng = embedded_double_well(d, seed=1)
    X = _starts(c, rng, size=0.2)
    opts = MergeOptions(newton_steps=30)
    kry = krylov_saddles(f, X, opts)
    dense = polish_and_classify(f, X, opts, "saddle")
    assert kry.critical.all() and dense.critical.all()
    np.testing.assert_array_equal(kry.index, dense.index)
    tol = 1e-8 * (1 + np.linalg.norm(c))
    np.testing.assert_allclose(kry.points, dense.points, rtol=0, atol=tol)
    np.testing.assert_allclose(kry.values, dense.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(kry.eigenvalues[:, :2], dense.eigenvalues[:, :2], rtol=0, atol=1e-8)
    np.testing.assert_allclose(kry.eigenvalues[:, -1], dense.eigenvalues[:, -1], rtol=1e-3)


def _count_hessians(monkeypatch):
    calls = []
    real = newton.batched_hessians

    def counted(fn, X, *args, **kwargs):
        calls.append(X.shape[1])
        return real(fn, X, *args, **kwargs)

    monkeypatch.setattr(newton, "batched_hessians", counted)
    return calls


@pytest.mark.parametrize("krylov_dim, dense", [(400, True), (99, False)])
def test_refine_saddles_dispatches_on_krylov_dim(monkeypatch, krylov_dim, dense):
    d = 100
    f, c, rng = embedded_double_well(d, seed=2)
    calls = _count_hessians(monkeypatch)
    opts = MergeOptions(krylov_dim=krylov_dim, saddle_steps=30)
    pol, refined = connectivity._refine_saddles(Target(f), _starts(c, rng, size=0.2), opts, [60])
    assert bool(calls) == dense
    assert refined.all()
    np.testing.assert_allclose(pol.values, 1.0, rtol=0, atol=1e-12)
    assert pol.eigenvalues.shape[1] == (d if dense else 3)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, None])
def test_krylov_dim_is_validated(bad):
    with pytest.raises(ValueError, match="krylov_dim"):
        MergeOptions(krylov_dim=bad)


def test_no_start_gives_an_empty_result():
    pol = krylov_saddles(lambda X: (X * X).sum(1), torch.zeros(0, 5), MergeOptions())
    assert pol.points.shape == (0, 5) and pol.eigenvalues.shape == (0, 3)


_SCRIPT = """
import numpy as np, torch
from tests.test_krylov import embedded_double_well, _starts
from lossbounds.landscape.krylov import krylov_saddles
from lossbounds.topology.options import MergeOptions
f, c, rng = embedded_double_well(300, seed=4)
pol = krylov_saddles(f, _starts(c, rng, k=1), MergeOptions(newton_steps=30))
print(" ".join(repr(float(t)) for t in [*pol.points[0, :5], pol.values[0], *pol.eigenvalues[0, :2]]))
"""


def test_same_saddle_under_another_blas_kernel():
    """OPENBLAS_CORETYPE=Haswell vs the default kernel: the same saddle to rounding."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outs = []
    for extra in ({}, {"OPENBLAS_CORETYPE": "Haswell"}):
        env = {**os.environ, **extra}
        run = subprocess.run(
            [sys.executable, "-c", _SCRIPT], cwd=root, env=env, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        outs.append(np.array([float(t) for t in run.stdout.split()]))
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-10, atol=1e-10)


def test_merge_tree_with_the_krylov_path_verifies_the_known_merge():
    """Two minima of value 0 joined at the saddle of value 1; bands and saddles matrix-free."""
    d = 150
    f, c, rng = embedded_double_well(d, seed=5)
    starts = c + 0.5 * rng.standard_normal((6, d))
    tree = connectivity.merge_tree(f, starts, krylov_dim=100, n_images=8)
    np.testing.assert_allclose(tree.minima_values, [0.0, 0.0], rtol=0, atol=1e-12)
    dgm = tree.diagram()
    np.testing.assert_allclose(dgm[np.isfinite(dgm[:, 1])], [[0.0, 1.0]], rtol=0, atol=1e-12)
    assert tree.refined.all() and tree.saddles.refined.any()
