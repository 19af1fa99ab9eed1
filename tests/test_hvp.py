"""Hessian-vector products and Lanczos eigenvalues against dense Hessians and closed forms."""

import numpy as np
import pytest
import torch

from lossbounds.landscape.hvp import (
    classify_point,
    extreme_eigenvalues,
    hessian_operator,
    hvp,
    surface_hvp,
)
from lossbounds.landscape.surface import LossSurface
from lossbounds.theory.architecture import Architecture


def _quadratic(n, seed=0, null=0):
    """f(t) = t^T A t / 2 with A symmetric, known spectrum (``null`` zero eigenvalues)."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    ev = np.concatenate([np.zeros(null), np.linspace(-2.0, 5.0, n - null)])
    A = (Q * ev) @ Q.T
    At = torch.as_tensor(A)
    return (lambda t: 0.5 * t @ (At @ t)), A, np.sort(ev)


def test_hvp_of_a_quadratic_is_exact():
    f, A, _ = _quadratic(7)
    v = np.random.default_rng(1).standard_normal(7)
    out = hvp(f, np.ones(7))(v).numpy()
    np.testing.assert_allclose(out, A @ v, rtol=0, atol=1e-13 * np.abs(A).max() * 7)


def test_extreme_eigenvalues_of_a_known_spectrum():
    f, _, ev = _quadratic(200, seed=2, null=3)
    low, high = extreme_eigenvalues(hvp(f, np.zeros(200)), 200, k=5, tol=1e-12)
    np.testing.assert_allclose(low, ev[:5], rtol=0, atol=1e-9)
    np.testing.assert_allclose(high, ev[-5:], rtol=0, atol=1e-9)
    # spectrum: 0 three times, linspace(-2, 5, 197) (step 1/28: 56 negatives and 0 once more)
    n_neg, n_zero = int(np.sum(ev < -1e-9)), int(np.sum(np.abs(ev) <= 1e-9))
    assert (n_neg, n_zero) == (56, 4)
    few = classify_point(hvp(f, np.zeros(200)), 200, k=4, max_rounds=2)
    assert (few.kind, few.complete, few.index) == ("saddle", False, 8)
    for k in (4, 10):
        cls = classify_point(hvp(f, np.zeros(200)), 200, k=k, max_rounds=40)
        assert (cls.kind, cls.complete, cls.index, cls.nullity) == ("saddle", True, n_neg, n_zero)
    f, _, _ = _quadratic(200, seed=3, null=6)
    g = hvp(lambda t: f(t) + 2.0 * (t @ t), np.zeros(200))  # + 4 I: 4 (6 times), linspace(2, 9)
    assert classify_point(g, 200, k=3).kind == "minimum"


def _ce_surface(l2, m=30, bias=True, h=14):
    arch = Architecture(3, h, 1, m, activation="tanh", loss="cross_entropy", n_outputs=3, bias=bias)
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((m, 3)), rng.permutation(np.arange(m) % 3)
    return LossSurface(arch, X, y, l2=l2)


@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_surface_hvp_matches_the_dense_hessian(l2):
    surf = _ce_surface(l2)
    theta = np.random.default_rng(4).standard_normal(surf.n_params)
    H = surf.hessian(theta)
    op = hessian_operator(surface_hvp(surf, theta), surf.n_params)
    V = np.random.default_rng(5).standard_normal((surf.n_params, 3))
    np.testing.assert_allclose(
        op.matmat(V), H @ V, rtol=0, atol=1e-12 * np.abs(H).max() * surf.n_params
    )
    dense = np.linalg.eigvalsh(H)
    low, high = extreme_eigenvalues(surface_hvp(surf, theta), surf.n_params, k=6, tol=1e-12)
    scale = np.abs(dense).max()
    np.testing.assert_allclose(low, dense[:6], rtol=0, atol=1e-8 * scale)
    np.testing.assert_allclose(high, dense[-6:], rtol=0, atol=1e-8 * scale)


@pytest.mark.parametrize("bias", [True, False])
def test_classify_softmax_zero_modes(bias):
    """At a point along the softmax symmetry the k lowest show h_K + 1 zero modes (l2 = 0)."""
    import scipy.optimize

    surf = _ce_surface(0.0, m=40, bias=bias)
    surf2 = _ce_surface(0.05, m=40, bias=bias)
    x0 = np.random.default_rng(6).standard_normal(surf.n_params) * 0.3
    res = scipy.optimize.minimize(lambda t: surf2.value_and_grad(t), x0, jac=True, method="L-BFGS-B",
                                  options=dict(gtol=1e-8, maxiter=1000))  # fmt: skip
    dense = np.linalg.eigvalsh(surf2.hessian(res.x))
    cls = classify_point(surface_hvp(surf2, res.x), surf2.n_params, k=8)
    assert cls.kind == ("minimum" if dense[0] > cls.zero_tol else "saddle")
    assert cls.index == int(np.sum(dense < -cls.zero_tol))
    cls0 = classify_point(surface_hvp(surf, res.x), surf.n_params, k=8)
    assert cls0.nullity >= 14 + bias  # h_K + 1 (h_K without output bias)
    assert cls0.nullity == int(
        np.sum(np.abs(np.linalg.eigvalsh(surf.hessian(res.x))) <= cls0.zero_tol)
    )
