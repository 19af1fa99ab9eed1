"""Tests for lossbounds.landscape.sampling: box, ball and Hessian-shaped samples, streamed losses."""

import numpy as np
import pytest
import torch

from lossbounds.landscape.sampling import (
    iter_sample_points,
    sample_hessian_shaped,
    sample_loss,
    sample_points,
)
from lossbounds.landscape.surface import LossSurface


def test_samples_in_box_and_ball():
    box = sample_points(300, 4, region="box", low=-2.0, high=[1, 2, 3, 4], seed=0)
    assert box.shape == (300, 4)
    assert np.all(box >= -2) and np.all(box <= [1, 2, 3, 4])
    np.testing.assert_array_equal(
        box, sample_points(300, 4, region="box", low=-2.0, high=[1, 2, 3, 4], seed=0)
    )
    assert not np.array_equal(
        box, sample_points(300, 4, region="box", low=-2.0, high=[1, 2, 3, 4], seed=1)
    )
    ball = sample_points(4096, 3, region="ball", radius=2.0, center=np.ones(3), seed=0)
    r = np.linalg.norm(ball - 1, axis=1)
    assert r.max() <= 2.0
    # uniform in volume: P(r <= 1) = (1/2)^3
    assert abs(np.mean(r <= 1.0) - 0.125) < 0.02
    uni = sample_points(4000, 2, method="uniform", seed=0)
    assert np.all(np.abs(uni) <= 1) and np.abs(uni.mean(axis=0)).max() < 0.05
    chunks = list(iter_sample_points(10, 2, chunk_size=4, seed=3))
    assert [len(c) for c in chunks] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(chunks), sample_points(10, 2, seed=3))


def test_sample_loss_streams(surface_of):
    S, _ = surface_of()
    pts, vals = sample_loss(S, 100, region="ball", radius=3.0, seed=2, chunk_size=16)
    assert pts.shape == (100, S.n_params) and vals.dtype == np.float32
    np.testing.assert_allclose(vals, S(pts), rtol=1e-5)
    only = sample_loss(
        S, 100, return_points=False, region="ball", radius=3.0, seed=2, dtype=torch.float64
    )
    np.testing.assert_allclose(only, S(pts), rtol=0, atol=1e-12)


def test_sample_loss_of_a_module_surface():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1)
    ).double()
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(8, 2)), rng.normal(size=8)
    S = LossSurface.from_module(model, X, y)
    pts, vals = sample_loss(S, 40, region="box", low=-2.0, high=2.0, seed=3, dtype=torch.float64)
    assert pts.shape == (40, 13) and np.abs(pts).max() <= 2.0
    with torch.no_grad():  # per point: load the vector into the module, evaluate
        ref = []
        for p in torch.as_tensor(pts):
            torch.nn.utils.vector_to_parameters(p, model.parameters())
            ref.append(((model(torch.as_tensor(X))[:, 0] - torch.as_tensor(y)) ** 2).mean())
    np.testing.assert_allclose(vals, np.array(ref), rtol=0, atol=1e-10)


def test_bad_input():
    with pytest.raises(ValueError, match="region"):
        sample_points(3, 2, region="cube")
    with pytest.raises(ValueError, match="method"):
        sample_points(3, 2, method="halton")
    with pytest.raises(ValueError, match="radius"):
        sample_points(3, 2, region="ball", radius=0.0)
    with pytest.raises(ValueError, match="chunk_size"):
        list(iter_sample_points(3, 2, chunk_size=0))


def test_sample_hessian_shaped_follows_the_quadratic_model():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 5))
    H = A @ A.T + np.diag([1e-4, 1e-2, 1.0, 10.0, 100.0])  # badly conditioned, PD
    theta = rng.standard_normal(5)
    pts = sample_hessian_shaped(theta, H, 2000, seed=1, scales=(1e-6, 1e-2))
    assert pts.shape == (2000, 5)
    d = pts - theta
    q = 0.5 * np.einsum("ki,ij,kj->k", d, H, d)  # quadratic model, computed directly
    assert q.max() <= 1e-2 * (1 + 1e-9)
    assert q.min() >= 0 and (q < 1e-4).mean() > 0.2  # increments spread over the scales
    np.testing.assert_array_equal(
        pts, sample_hessian_shaped(theta, H, 2000, seed=1, scales=(1e-6, 1e-2))
    )


def test_sample_hessian_shaped_bad_input():
    theta = np.zeros(2)
    with pytest.raises(ValueError, match="positive definite"):
        sample_hessian_shaped(theta, np.diag([1.0, -1.0]), 10)
    with pytest.raises(ValueError, match="hessian must have shape"):
        sample_hessian_shaped(theta, np.eye(3), 10)
    with pytest.raises(ValueError, match="scales"):
        sample_hessian_shaped(theta, np.eye(2), 10, scales=(1e-2, 1e-6))
    with pytest.raises(ValueError, match="n_points"):
        sample_hessian_shaped(theta, np.eye(2), 0)
