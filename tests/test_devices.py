"""Tests for lossbounds.landscape.devices and the ``device`` arguments of the torch code.

The CPU tests run everywhere; the CUDA tests compare the CPU and CUDA paths in
float64 and are skipped where ``torch.cuda.is_available()`` is False.
"""

import numpy as np
import pytest
import torch

import lossbounds.landscape.devices as devices
from lossbounds.landscape.devices import (
    DeviceMemoryError,
    default_chunk_size,
    evaluate_chunked,
    pairwise_chunk_rows,
    resolve_device,
)
from lossbounds.landscape.network import Network, forward, forward_numpy
from lossbounds.landscape.optimize import find_minima, minimize_lm
from lossbounds.landscape.sampling import sample_loss
from lossbounds.landscape.surface import LossSurface
from lossbounds.theory.architecture import Architecture
from lossbounds.topology.persistence import neighbourhood_graph, sample_persistence
from lossbounds.topology.slices import line, plane, plane_hessians

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
no_cuda = pytest.mark.skipif(CUDA, reason="checks the message given without CUDA")


def small_surface(device="cpu", l2=0.0, **kwargs):
    """A 2-3-3-1 tanh MSE surface on 20 seeded samples."""
    arch = Architecture(2, 3, 2, 20, activation="tanh")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 2))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1]
    return LossSurface(arch, X, y, l2=l2, device=device, **kwargs)


def points(surface, k=37, seed=1):
    return np.random.default_rng(seed).normal(scale=0.8, size=(k, surface.n_params))


def oom_above(limit):
    """A fake chunk evaluation that runs out of memory on chunks longer than ``limit``."""
    calls = []

    def fn(start, stop):
        calls.append(stop - start)
        if stop - start > limit:
            raise torch.OutOfMemoryError("CUDA out of memory (fake)")
        return np.arange(start, stop)

    return fn, calls


# ----------------------------------------------------------- resolve_device
@pytest.mark.parametrize("spec", ["cpu", torch.device("cpu"), "cpu:0"])
def test_resolve_cpu(spec):
    assert resolve_device(spec) == torch.device("cpu")


@pytest.mark.parametrize("spec", [None, "auto"])
def test_resolve_auto_follows_cuda_availability(spec):
    assert resolve_device(spec).type == ("cuda" if CUDA else "cpu")


@pytest.mark.parametrize("spec", ["gpu", "tpu", "", 0, 1.5, True, "meta", "cuda:99"])
def test_resolve_bad_device_names_accepted_values(spec):
    with pytest.raises(ValueError, match=r"device must be one of None, 'auto', 'cpu', 'cuda'"):
        resolve_device(spec)


@no_cuda
def test_resolve_cuda_without_gpu_says_so():
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="device must be one of"):
        small_surface(device="cuda")


# ------------------------------------------------------------- chunk policy
def test_default_chunk_size_cpu():
    # benchmark network: N = 10*3 + 10*11 + 11 = 151; per vector 8 * (3*10*256 + 151) bytes
    # = 62,648; 8 MiB / 62,648 = 133 -> 128
    assert default_chunk_size("cpu", 151, 256, 10) == 128
    assert default_chunk_size("cpu", 151, 100_000, 10) == 64  # floor
    assert default_chunk_size("cpu", 5, 2, 1) == 1024  # cap


def test_default_chunk_size_gpu_scales_with_memory():
    # 16 GiB / 16 = 1 GiB; 2**30 / 62,648 = 17,139 -> 16,384
    assert default_chunk_size("cuda", 151, 256, 10, memory_bytes=16 * 2**30) == 16384
    assert default_chunk_size("cuda:0", 151, 256, 10, memory_bytes=141 * 10**9) == 65536
    assert default_chunk_size("cuda", 151, 256, 10, memory_bytes=2**20) == 1024  # floor


def test_pairwise_chunk_rows():
    assert pairwise_chunk_rows("cpu", 1000) == 64 * 2**20 // 8000
    assert pairwise_chunk_rows("cuda", 1000, memory_bytes=16 * 8000) == 1
    assert pairwise_chunk_rows("cpu", 10**12) == 1


def test_surface_default_chunk_size_and_device():
    S = small_surface()
    assert S.device == torch.device("cpu")
    assert S.chunk_size == default_chunk_size("cpu", S.n_params, S.m, 3)
    assert small_surface(device="auto").device.type == ("cuda" if CUDA else "cpu")
    assert small_surface(chunk_size=7).chunk_size == 7


def test_surface_bad_device():
    with pytest.raises(ValueError, match="device must be one of .*'cuda:N'"):
        small_surface(device="tpu")


# --------------------------------------------------------------- OOM guard
def test_evaluate_chunked_halves_on_oom():
    fn, calls = oom_above(3)
    with pytest.warns(RuntimeWarning) as record:
        out = list(evaluate_chunked(fn, 11, 16))
    assert [str(w.message)[-12:] for w in record] == [f"chunk_size={n}" for n in (8, 4, 2)]
    # [0, 11) fails, then 8 and 4 fail; size 2 is kept for the rest of the run
    assert calls == [11, 8, 4, 2, 2, 2, 2, 2, 1]
    assert [(a, b) for a, b, _ in out] == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10), (10, 11)]
    np.testing.assert_array_equal(np.concatenate([r for _, _, r in out]), np.arange(11))


def test_evaluate_chunked_raises_at_floor():
    fn, calls = oom_above(0)
    with pytest.warns(RuntimeWarning), pytest.raises(DeviceMemoryError, match="chunk_size=4"):
        list(evaluate_chunked(fn, 100, 32, min_chunk_size=4))
    assert calls == [32, 16, 8, 4]


def test_evaluate_chunked_other_errors_pass_through():
    def fn(start, stop):
        raise RuntimeError("not a memory error")

    with pytest.raises(RuntimeError, match="not a memory error"):
        list(evaluate_chunked(fn, 5, 2))


def test_surface_retries_smaller_chunks_on_oom(monkeypatch):
    S = small_surface(chunk_size=64)
    P = points(S, k=50)
    expected = np.array([S(p) for p in P])
    real = S.losses

    def losses(t):
        if t.shape[0] > 8:
            raise torch.OutOfMemoryError("CUDA out of memory (fake)")
        return real(t)

    monkeypatch.setattr(S, "losses", losses)
    with pytest.warns(RuntimeWarning) as record:
        got = S(P)
    assert [str(w.message).split("=")[-1] for w in record] == ["32", "16", "8"]
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0)


def test_surface_oom_at_floor_names_chunk_size(monkeypatch):
    S = small_surface(chunk_size=4)

    def losses(t):
        raise torch.OutOfMemoryError("CUDA out of memory (fake)")

    monkeypatch.setattr(S, "losses", losses)
    with pytest.warns(RuntimeWarning), pytest.raises(DeviceMemoryError, match="chunk_size=1"):
        S(points(S, k=5))


# ------------------------------------------------------------------ network
def test_network_rejects_mixed_devices():
    arch = Architecture(2, 3, 2, 4)
    net = Network(arch)
    thetas = torch.zeros(2, net.n_params, dtype=torch.float64)
    X = torch.zeros(4, 2, dtype=torch.float64, device="meta")
    with pytest.raises(ValueError, match="X must lie on the device of thetas"):
        net(thetas, X)


def test_forward_device_argument():
    arch = Architecture(2, 3, 2, 4, activation="sigmoid")
    rng = np.random.default_rng(3)
    theta, X = rng.standard_normal(Network(arch).n_params), rng.standard_normal((4, 2))
    out = forward(arch, theta, X, device="cpu")
    assert out.device == torch.device("cpu")
    np.testing.assert_array_equal(forward_numpy(arch, theta, X, device="auto"), out.numpy())
    with pytest.raises(ValueError, match="device must be one of"):
        forward(arch, theta, X, device="npu")


# ---------------------------------------------------------------- kNN graph
@pytest.mark.parametrize("dim", range(2, 9))
@pytest.mark.parametrize("symmetrize", ["union", "mutual"])
def test_torch_knn_matches_ckdtree(dim, symmetrize):
    pts = np.random.default_rng(dim).standard_normal((400, dim))
    tree = neighbourhood_graph(pts, k=7, symmetrize=symmetrize)
    torch_path = neighbourhood_graph(pts, k=7, symmetrize=symmetrize, knn_device="cpu")
    np.testing.assert_array_equal(torch_path, tree)


def test_torch_knn_chunk_boundaries(monkeypatch):
    pts = np.random.default_rng(11).uniform(size=(300, 4))
    expected = neighbourhood_graph(pts, k=5)
    monkeypatch.setattr(devices, "pairwise_chunk_rows", lambda device, n: 7)
    np.testing.assert_array_equal(neighbourhood_graph(pts, k=5, knn_device="cpu"), expected)


def test_knn_device_arguments():
    pts = np.random.default_rng(0).standard_normal((30, 2))
    with pytest.raises(ValueError, match="knn_device is only used by method='knn'"):
        neighbourhood_graph(pts, radius=0.5, method="radius", knn_device="cpu")
    with pytest.raises(ValueError, match="device must be one of"):
        neighbourhood_graph(pts, k=3, knn_device="tpu")


def test_sample_persistence_knn_device():
    rng = np.random.default_rng(5)
    pts = rng.uniform(-1, 1, size=(300, 2))
    vals = np.sin(3 * pts[:, 0]) * np.cos(2 * pts[:, 1])
    ref = sample_persistence(pts, vals, maxdim=1, k=12)
    got = sample_persistence(pts, vals, maxdim=1, k=12, knn_device="cpu")
    for a, b in zip(ref, got, strict=True):
        np.testing.assert_array_equal(a, b)


# -------------------------------------------------- host arrays everywhere
def test_cpu_results_are_host_arrays():
    S = small_surface(device="cpu")
    P = points(S, k=5)
    assert isinstance(S(P), np.ndarray)
    _, vals = sample_loss(S, 40, seed=3, dtype=torch.float64)
    assert isinstance(vals, np.ndarray) and vals.shape == (40,)
    sl = plane(S, P[0], res=4)
    assert plane_hessians(S, sl).shape == (4, 4, 2, 2)


# --------------------------------------------------------------- CUDA paths
@needs_cuda
@pytest.mark.parametrize("l2", [0.0, 1e-3])
def test_cuda_surface_matches_cpu(l2):
    cpu, gpu = small_surface("cpu", l2=l2), small_surface("cuda", l2=l2)
    assert gpu.device.type == "cuda"
    P = points(cpu)
    np.testing.assert_allclose(gpu(P), cpu(P), rtol=0, atol=1e-10)
    np.testing.assert_allclose(gpu(P, chunk_size=5), cpu(P), rtol=0, atol=1e-10)
    for a, b in zip(gpu.gradients(P), cpu.gradients(P), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    for a, b in zip(gpu.hessians(P[:4]), cpu.hessians(P[:4]), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    np.testing.assert_allclose(gpu.hessian(P[0]), cpu.hessian(P[0]), rtol=0, atol=1e-10)
    for a, b in zip(gpu.residual_jacobians(P[:3]), cpu.residual_jacobians(P[:3]), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


@needs_cuda
def test_cuda_sampling_slices_optimize_match_cpu():
    cpu, gpu = small_surface("cpu"), small_surface("cuda")
    P = points(cpu, k=6)
    for f in (
        lambda S: sample_loss(S, 300, seed=2, dtype=torch.float64)[1],
        lambda S: line(S, P[0], res=9)[1],
        lambda S: plane(S, P[0], res=5).values,
        lambda S: plane_hessians(S, plane(S, P[0], res=4)),
        lambda S: minimize_lm(S, P, max_iter=5, newton_iter=3)[1],
        lambda S: find_minima(S, P[:2], method="gd", gd_steps=5, trust_iter=0).losses,
    ):
        np.testing.assert_allclose(f(gpu), f(cpu), rtol=0, atol=1e-10)


@needs_cuda
def test_cuda_knn_matches_ckdtree():
    pts = np.random.default_rng(9).standard_normal((2000, 8))
    np.testing.assert_array_equal(
        neighbourhood_graph(pts, k=10, knn_device="cuda"), neighbourhood_graph(pts, k=10)
    )


@needs_cuda
def test_cuda_network_buffers_on_device():
    arch = Architecture(2, 3, 2, 4)
    net = Network(arch)
    thetas = torch.zeros(2, net.n_params, dtype=torch.float64, device="cuda")
    X = torch.ones(4, 2, dtype=torch.float64, device="cuda")
    with torch.no_grad():
        out = net(thetas, X)
    assert out.device.type == "cuda"
    assert all(b.device.type == "cuda" for b in net._buffers)


@needs_cuda
def test_cuda_merge_tree_matches_cpu():
    from scipy.stats import qmc

    from lossbounds.landscape.data import make_teacher_student
    from lossbounds.topology.connectivity import merge_tree

    arch = Architecture(1, 1, 1, 20, activation="tanh", l2=True)
    ds = make_teacher_student(Architecture(1, 3, 1, 20, activation="tanh"), 20, 0.05, 0)
    starts = qmc.Sobol(4, seed=0).random(64) * 6 - 3
    trees = [
        merge_tree(LossSurface(arch, ds.X, ds.y, l2=1e-3, device=dev), starts, box=3.0)
        for dev in ("cpu", "cuda")
    ]
    np.testing.assert_allclose(trees[1].diagram(), trees[0].diagram(), rtol=0, atol=1e-8)
