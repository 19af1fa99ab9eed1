"""Batched loss evaluation versus a per-point nn.Module loop.

Network: n = 2 inputs, width 10, 2 hidden layers, sigmoid, linear output, MSE,
m = 256 samples, K = 20,000 parameter vectors, CPU.

- batched: :class:`lossbounds.landscape.surface.LossSurface` (the no-grad path of
  :class:`lossbounds.landscape.network.Network`, see the comment below), float32 and
  float64, several chunk sizes;
- per-point: for each vector set the weights of an ``nn.Module``, evaluate
  ``nn.MSELoss`` on the data and read it with ``.item()`` (the loop of Li et
  al.'s loss-landscape tool, minus its DataLoader), timed on a subset of the
  points and extrapolated (the output says so);
- machine: a large square matmul (float32 and float64) gives the attainable
  FLOP rate; the batched path's FLOP rate (matmul FLOPs only) is printed as a
  fraction of it.

Timings are best-of-``REPEATS`` wall-clock times, taken in interleaved rounds
(batched and per-point alternate) so that a change of machine load hits both.
torch uses every core by default, both paths alike (the per-point loop's tiny
ops barely use a second thread; the batched path does). ``--threads 1`` gives
the single-thread comparison, steadier on a machine shared with other
processes, where intra-op threads spin against them. The last line is ``ratio: X`` (batched
float32 at its best chunk size over the per-point loop, points per second).

``--device DEV`` ("cpu", "cuda", "cuda:N", "auto") first prints the device's
figure: float32 points per second of :class:`LossSurface` on that device at
its default chunk size (:func:`lossbounds.landscape.devices.default_chunk_size`), the
points already on the device. ``--compile`` also times ``torch.compile`` of a
plain (allocating) batched loss against the hand-written buffer path on the
device (see the comment at ``compile_comparison``).

Run: ``.venv/bin/python benchmarks/bench_landscape.py [--threads T] [--device DEV] [--compile]``

Earlier measurements (moved here from the LossSurface docstrings): float32 is about
3x faster than float64 (this network, one thread); chunks of 64-1024 points are
fastest, 4096 about 2x slower (work buffers fall out of cache); sample_loss
evaluates in float32 by default for this reason (2-3x faster, relative error ~1e-7).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from lossbounds.landscape.data import make_regression
from lossbounds.landscape.devices import resolve_device
from lossbounds.landscape.layout import ParamLayout
from lossbounds.landscape.modules import to_module
from lossbounds.landscape.network import Network
from lossbounds.landscape.sampling import iter_sample_points
from lossbounds.landscape.surface import LossSurface
from lossbounds.theory.architecture import Architecture

# Where the batched path gets its speed (lossbounds.landscape.network.Network): the K
# networks of a chunk are evaluated unit-major, hidden states (K, h, m); the
# first layer is ``baddbmm(b1, W1, X^T)`` with X^T broadcast over the K
# networks, deeper layers are ``baddbmm`` over the K networks. Without autograd
# every step writes into reused (K, h, m) buffers with in-place activation
# kernels: fresh (K, h, m) tensors cost page faults that dominate the
# arithmetic, and chunks of 64-1024 vectors keep the buffers near the cache.
# Measured: 15-30x the per-point nn.Module loop on a shared 2-core machine (the
# ratio moves with the machine's load).
N_IN, WIDTH, HIDDEN, M, K = 2, 10, 2, 256, 20_000
K_LOOP = 1_000  # per-point loop timed on this many points, then extrapolated
REPEATS = 5
CHUNKS = (32, 64, 128, 256, 1024, 4096)
SEED = 0


def best_time(fn, repeats=REPEATS) -> float:
    """Best wall-clock time of ``fn()`` over ``repeats`` runs (after one warm-up)."""
    return best_times(fn, repeats)[0]


def best_times(fn, repeats=REPEATS) -> tuple[float, float]:
    """Best wall-clock and best process-CPU time of ``fn()`` over ``repeats`` runs."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu)


def matmul_flops(dtype, size=2048) -> float:
    """FLOP/s of one (size x size) @ (size x size) matmul."""
    g = torch.Generator().manual_seed(SEED)
    a = torch.randn(size, size, generator=g, dtype=dtype)
    b = torch.randn(size, size, generator=g, dtype=dtype)
    return 2.0 * size**3 / best_time(lambda: a @ b)


def stream_memory(n_points: int) -> None:
    """Stream ``n_points`` through the loss and report peak RSS before/after (Linux)."""
    import resource

    arch = Architecture(N_IN, WIDTH, HIDDEN, M, activation="sigmoid")
    data = make_regression(M, N_IN, noise=0.05, seed=SEED)
    surface = LossSurface(arch, data.X, data.y, dtype=torch.float32)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    count = [0, np.inf]

    def reduce(points, values):  # keep only a running minimum: constant memory
        count[0] += len(values)
        count[1] = min(count[1], float(values.min()))

    t0 = time.perf_counter()
    chunks = iter_sample_points(n_points, surface.n_params, region="ball", radius=5.0, seed=SEED)
    surface.stream(chunks, n_points=n_points, reduce=reduce)
    dt = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"stream: {count[0]} Sobol points in a ball, min loss {count[1]:.4f}, "
        f"{count[0] / dt:.0f} points/s including Sobol generation; "
        f"peak RSS {rss0:.0f} MiB before, {rss1:.0f} MiB after "
        f"(the points alone would need {n_points * surface.n_params * 8 / 2**20:.0f} MiB)"
    )


def _benchmark_problem(device, k: int):
    """Benchmark network, float32 surface on ``device`` and ``k`` points already there."""
    arch = Architecture(N_IN, WIDTH, HIDDEN, M, activation="sigmoid")
    data = make_regression(M, N_IN, noise=0.05, seed=SEED)
    surface = LossSurface(arch, data.X, data.y, dtype=torch.float32, device=device)
    thetas = ParamLayout(arch).init(np.random.default_rng(SEED), scale=1.0, n_points=k)
    return surface, torch.as_tensor(thetas, dtype=torch.float32, device=surface.device)


def device_throughput(device) -> float:
    """Print and return float32 points/s of LossSurface on ``device`` (best of REPEATS)."""
    dev = resolve_device(device)
    k = 2_000_000 if dev.type == "cuda" else K
    surface, thetas = _benchmark_problem(dev, k)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "host CPU"
    rate = k / best_time(lambda: surface(thetas))  # returns host numpy: synchronises
    print(
        f"device {dev} ({name}): {rate:.0f} points/s, float32, chunk={surface.chunk_size}, "
        f"K={k}, torch threads={torch.get_num_threads()}"
    )
    return rate


# torch.compile against the hand-written buffers. Issue 13 quotes, for this
# network: 2 CPU cores, 237k (compiled plain loss, after a 30 s compile per
# shape) against 231k points/s (buffers); H200: 15.1M eager, 15.6M default
# compile, 17.6M max-autotune (1.04-1.17x). Measured here (2 cores shared with
# other sessions, load average 12-14, one torch thread, chunks of 128, 19,968
# points, best of 5, three runs): process CPU time buffers 0.133/0.148/0.161 s,
# compiled 0.131/0.162/0.154 s, plain eager 0.154/0.258/0.196 s; wall rates
# 31-46k points/s (buffers) and 29-51k (compiled), a fifth of the unloaded
# figure. The first compile of one chunk shape took 44 s wall (185 s in an
# earlier, more loaded probe; later runs hit inductor's cache). Decision: keep
# the hand-written buffer path. On a CPU the compiled loss only matches it
# (and beats the plain eager loss by 1.2-1.7x, i.e. compile buys what the
# buffers already give); on a GPU it gains at most 17 % after a compile per
# (chunk, m) shape, and the last, shorter chunk of every call is another shape,
# which the short runs of a census or a sweep cell do not repay. A fused kernel
# keeping each sample's h activations in registers is the lever worth its code.
def compile_comparison(device, chunk: int) -> None:
    """Print CPU/wall time of buffers vs eager plain vs ``torch.compile``-d plain loss."""
    surface, thetas = _benchmark_problem(resolve_device(device), chunk * max(16, K // chunk))
    X, y = surface._tensors(torch.float32)
    net = Network(surface.arch)

    def plain(t):  # allocating: every layer a fresh (k, h, m) tensor
        return ((net._pass(t, X) - y) ** 2).mean(dim=1)

    t0 = time.perf_counter()
    compiled = torch.compile(plain, dynamic=False)
    with torch.no_grad():
        compiled(thetas[:chunk])
    print(f"torch.compile: {time.perf_counter() - t0:.1f} s wall for one chunk shape")

    def run(fn):
        with torch.no_grad():
            return torch.cat([fn(thetas[s : s + chunk]) for s in range(0, len(thetas), chunk)])

    paths = {
        "buffers": lambda: surface(thetas, chunk_size=chunk),
        "compiled": lambda: run(compiled).cpu(),
        "plain eager": lambda: run(plain).cpu(),
    }
    for name, fn in paths.items():
        wall, cpu = best_times(fn)
        print(f"{name:12s}: {len(thetas) / wall:9.0f} points/s wall, {cpu:.3f} s process CPU")


def _optional_runs(args) -> None:
    """Set the thread count and run the measurements the options ask for."""
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.device is not None:
        device_throughput(args.device)
    if args.compile:
        dev = resolve_device(args.device or "cpu")
        compile_comparison(dev, 128 if dev.type == "cpu" else 32768)
    if args.stream:
        stream_memory(args.stream)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads (default: all cores)"
    )
    parser.add_argument(
        "--stream",
        type=int,
        default=0,
        metavar="P",
        help="also stream P Sobol points through sample_loss(return_points=False) "
        "and print the peak memory (default 0: skip)",
    )
    parser.add_argument(
        "--device", default=None, help="also print the throughput on this device (cpu, cuda, ...)"
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time torch.compile of a plain batched loss (on --device, default cpu)",
    )
    _optional_runs(parser.parse_args())

    arch = Architecture(N_IN, WIDTH, HIDDEN, M, activation="sigmoid")
    data = make_regression(M, N_IN, noise=0.05, seed=SEED)
    layout = ParamLayout(arch)
    thetas = layout.init(np.random.default_rng(SEED), scale=1.0, n_points=K)
    N = layout.n_params
    flop_per_point = 2.0 * M * (N_IN * WIDTH + (HIDDEN - 1) * WIDTH * WIDTH + WIDTH)
    print(f"network: n={N_IN}, h={WIDTH}, hidden layers={HIDDEN}, sigmoid, m={M}, N={N}")
    print(f"points: K={K}, torch threads={torch.get_num_threads()}")
    print(f"matmul FLOPs per point (bias, activations, loss not counted): {flop_per_point:.0f}")

    peak = {dt: matmul_flops(dt) for dt in (torch.float32, torch.float64)}
    for dt, f in peak.items():
        print(f"machine matmul 2048^3 {str(dt)[6:]}: {f / 1e9:.1f} GFLOP/s")

    # Per-point loop, as in Li et al.'s plot_surface: for each point set the
    # module's weights, evaluate the criterion on the data, read the value with
    # .item(). Leaner than their tool: one batch with all m samples, no
    # DataLoader, no accuracy pass.
    X = torch.as_tensor(data.X, dtype=torch.float32)
    y = torch.as_tensor(data.y, dtype=torch.float32)
    net = to_module(arch, dtype=torch.float32).eval()
    criterion = torch.nn.MSELoss()
    sub = torch.as_tensor(thetas[:K_LOOP], dtype=torch.float32)

    def loop():
        out = np.empty(K_LOOP)
        with torch.no_grad():
            for k in range(K_LOOP):
                torch.nn.utils.vector_to_parameters(sub[k], net.parameters())
                out[k] = criterion(net(X)[:, 0], y).item()
        return out

    # vector_to_parameters follows nn.Module parameter order: check it matches the layout
    surfaces = {dt: LossSurface(arch, data.X, data.y, dtype=dt) for dt in peak}
    ref = surfaces[torch.float64](thetas[:K_LOOP])
    if np.max(np.abs(loop() - ref)) > 1e-4:
        raise SystemExit("per-point loop disagrees with the batched loss: layouts differ")

    t_batched, c_batched = {}, {}
    t_loop = c_loop = float("inf")
    for _ in range(REPEATS):
        for dt, surface in surfaces.items():
            for chunk in CHUNKS:
                key = (dt, chunk)
                t, c = best_times(lambda s=surface, c=chunk: s(thetas, chunk_size=c), repeats=1)
                t_batched[key] = min(t_batched.get(key, float("inf")), t)
                c_batched[key] = min(c_batched.get(key, float("inf")), c)
        t, c = best_times(loop, repeats=1)
        t_loop, c_loop = min(t_loop, t), min(c_loop, c)

    best = {}
    for (dt, chunk), t in t_batched.items():
        rate = K / t
        print(
            f"batched {str(dt)[6:]} chunk={chunk:5d}: {rate:9.0f} points/s "
            f"({rate * flop_per_point / 1e9:.2f} GFLOP/s, "
            f"{100 * rate * flop_per_point / peak[dt]:.1f}% of matmul peak)"
        )
        if rate > best.get(dt, (0, 0))[0]:
            best[dt] = (rate, chunk)
    loop_rate = K_LOOP / t_loop
    print(
        f"per-point nn.Module float32 (set weights, MSELoss, .item()): {loop_rate:9.0f} points/s "
        f"(timed on {K_LOOP} of the {K} points, extrapolated: {K / loop_rate:.2f} s for all)"
    )
    rate32, chunk32 = best[torch.float32]
    rate64, chunk64 = best[torch.float64]
    print(
        f"batched float32 best (chunk={chunk32}): {rate32:.0f} points/s, {K / rate32:.3f} s for all"
    )
    print(
        f"batched float64 best (chunk={chunk64}): {rate64:.0f} points/s, {K / rate64:.3f} s for all"
    )
    print(f"ratio batched float64 / per-point float32, wall time: {rate64 / loop_rate:.1f}")
    cpu32 = K / c_batched[torch.float32, chunk32]
    print(
        f"ratio batched float32 / per-point float32, process CPU time "
        f"(less sensitive to other processes): {cpu32 / (K_LOOP / c_loop):.1f}"
    )
    # the headline: batched float32 against the float32 per-point loop, wall time
    print(f"ratio: {rate32 / loop_rate:.1f}")


if __name__ == "__main__":
    main()
