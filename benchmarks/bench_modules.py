"""The generic module path (functional_call + vmap) against the hand-written batched network.

Network: n = 2 inputs, width 10, 2 hidden layers, sigmoid, linear output, MSE,
m = 256 samples (the benchmark network of ``bench_landscape.py``), CPU.

- package: :meth:`lossbounds.landscape.surface.LossSurface.losses` on
  :class:`lossbounds.landscape.network.Network` (batched GEMMs into reused buffers,
  in-place kernels without autograd);
- module: :func:`lossbounds.landscape.surface.module_loss` of
  ``to_module(arch)``, the same network as an ``nn.Sequential``, evaluated
  by ``torch.func.functional_call`` under ``torch.func.vmap`` over the K
  parameter vectors (no copy of the network code).

Three workloads, K vectors in chunks: loss values in float32 and float64
(no autograd), and loss plus gradient in float64 (one backward pass per
chunk). Both paths compute the same losses (checked to 1e-10 in float64
before timing). Timings are best-of-``REPEATS`` wall-clock and process-CPU
times taken in interleaved rounds so that a change of machine load hits both
paths; each line gives the module/package throughput ratio by wall clock and
by CPU time (steadier on a machine shared with other processes, whose load
average is printed before and after). The last line is ``ratio: X``, module
over package wall-clock throughput for float32 values at chunk 256.

Run: ``.venv/bin/python benchmarks/bench_modules.py [--threads T]``
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from lossbounds.landscape.data import make_regression
from lossbounds.landscape.layout import ParamLayout
from lossbounds.landscape.modules import to_module
from lossbounds.landscape.surface import LossSurface, module_loss
from lossbounds.theory.architecture import Architecture

N_IN, WIDTH, HIDDEN, M, K = 2, 10, 2, 256, 2048
CHUNKS = (64, 256, 1024)
REPEATS = 5
SEED = 0


def load() -> str:
    """The 1, 5 and 15 minute load averages and the core count."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def values(fn, thetas, chunk):
    """Loss values of all rows of ``thetas``, chunk by chunk, without autograd."""
    with torch.no_grad():
        for s in range(0, len(thetas), chunk):
            fn(thetas[s : s + chunk])


def gradients(fn, thetas, chunk):
    """Losses and gradients of all rows, one backward pass per chunk."""
    for s in range(0, len(thetas), chunk):
        t = thetas[s : s + chunk].clone().requires_grad_(True)
        torch.autograd.grad(fn(t).sum(), t)


def interleaved(jobs: dict, repeats=REPEATS) -> tuple[dict, dict]:
    """Best wall-clock and best process-CPU time of each job, rounds alternating between jobs."""
    for job in jobs.values():
        job()  # warm-up
    wall = dict.fromkeys(jobs, float("inf"))
    cpu = dict.fromkeys(jobs, float("inf"))
    for _ in range(repeats):
        for name, job in jobs.items():
            t0, c0 = time.perf_counter(), time.process_time()
            job()
            wall[name] = min(wall[name], time.perf_counter() - t0)
            cpu[name] = min(cpu[name], time.process_time() - c0)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    arch = Architecture(N_IN, WIDTH, HIDDEN, M, activation="sigmoid")
    data = make_regression(M, N_IN, noise=0.05, seed=SEED)
    surface = LossSurface(arch, data.X, data.y)
    generic = module_loss(to_module(arch), data.X, data.y)
    thetas64 = torch.as_tensor(ParamLayout(arch).init(SEED, n_points=K))
    thetas32 = thetas64.float()
    with torch.no_grad():
        gap = (surface.losses(thetas64[:512]) - generic(thetas64[:512])).abs().max().item()
    print(f"network n={N_IN}, h={WIDTH}, {HIDDEN} hidden layers, m={M}, K={K}, N={arch_n(arch)}")
    print(f"threads {torch.get_num_threads()}; {load()}")
    print(f"max |package - module| loss in float64: {gap:.2e}")
    ratio = None
    for chunk in CHUNKS:
        jobs = {
            ("values float32", "package"): lambda c=chunk: values(surface.losses, thetas32, c),
            ("values float32", "module"): lambda c=chunk: values(generic, thetas32, c),
            ("values float64", "package"): lambda c=chunk: values(surface.losses, thetas64, c),
            ("values float64", "module"): lambda c=chunk: values(generic, thetas64, c),
            ("grad float64", "package"): lambda c=chunk: gradients(surface.losses, thetas64, c),
            ("grad float64", "module"): lambda c=chunk: gradients(generic, thetas64, c),
        }
        wall, cpu = interleaved(jobs)
        for work in ("values float32", "values float64", "grad float64"):
            pkg, mod = K / wall[(work, "package")], K / wall[(work, "module")]
            cpu_ratio = cpu[(work, "package")] / cpu[(work, "module")]
            print(
                f"chunk {chunk:5d}  {work:15s} package {pkg:8.0f} pts/s  module {mod:8.0f} pts/s"
                f"  module/package wall {mod / pkg:.2f}  CPU time {cpu_ratio:.2f}"
            )
            if chunk == 256 and work == "values float32":
                ratio = mod / pkg
    print(f"after: {load()}")
    print(f"ratio: {ratio:.2f}")


def arch_n(arch) -> int:
    """N, the number of parameters."""
    return ParamLayout(arch).n_params


if __name__ == "__main__":
    main()
