"""Benchmark: critical points of every index, batched core against a per-start Newton loop.

Run: ``.venv/bin/python benchmarks/bench_critical_points.py [--starts 8192] [--loop 256]``.

1. The d = 5 rotated tilted double wells (243 critical points: 32 minima,
   80 + 80 + 40 saddles of index 1-3, 10 of index 4, one maximum) from
   ``--starts`` starts whose rotated coordinates fill [-1.6, 1.6]^5:
   :func:`lossbounds.topology.critical.critical_points` (batched Newton,
   classification and deduplication). It prints the wall and CPU time, the
   counts by index and whether all 243 exact points were found.
2. The same ``f`` from the first ``--loop`` of those starts, twice: the
   batched core, and a per-start loop of plain Newton steps
   ``x - H^-1 g`` with torch autograd gradient and Hessian
   (``torch.autograd.functional.hessian``), one start at a time, each to
   the same gradient tolerance or 40 steps. The last line is ``ratio: X``,
   the loop's wall time over the batch's.

Timings depend on the machine's load (it prints ``os.getloadavg()``).
"""

import argparse
import os
import time

import numpy as np
import torch
from scipy.stats import qmc

from lossbounds.topology.critical import critical_points
from lossbounds.topology.shapes import tilted_double_wells


def _starts(f, n: int) -> np.ndarray:
    return ((qmc.Sobol(len(f.eps), seed=0).random(n) * 2 - 1) * 1.6) @ f.Q


def acceptance(n_starts: int) -> None:
    f = tilted_double_wells(5, seed=5)
    pts, values, index = f.critical_points()
    starts = _starts(f, n_starts)
    t0, c0 = time.perf_counter(), time.process_time()
    res = critical_points(f, starts)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    dist = np.linalg.norm(res.points[None] - pts[:, None], axis=-1)
    near = dist.argmin(axis=1)
    exact = (
        len(res.values) == 243
        and np.unique(near).size == 243
        and np.array_equal(res.index[near], index)
        and np.abs(res.values[near] - values).max() < 1e-8
    )
    print(
        f"d = 5 wells, {n_starts} starts: {wall:.2f} s wall, {cpu:.2f} s CPU; "
        f"{len(res.values)} points, by index {res.counts().astype(int).tolist()}, "
        f"all 243 exact by index: {exact}"
    )


def _loop_newton(f, starts: np.ndarray, steps: int = 40) -> np.ndarray:
    """Plain Newton x - H^-1 g from each start alone (torch autograd), to |g| <= 1e-10 |H| (1 + |x|)."""
    out = np.empty_like(starts)
    for k, s in enumerate(starts):
        x = torch.tensor(s, dtype=torch.float64)
        for _ in range(steps):
            g = torch.autograd.functional.jacobian(lambda z: f(z[None])[0], x)
            H = torch.autograd.functional.hessian(lambda z: f(z[None])[0], x)
            if g.norm() <= 1e-10 * torch.linalg.matrix_norm(H, 2) * (1 + x.norm()):
                break
            x = x - torch.linalg.lstsq(H, g[:, None]).solution[:, 0]
        out[k] = x.numpy()
    return out


def ratio(n_loop: int) -> None:
    f = tilted_double_wells(5, seed=5)
    starts = _starts(f, n_loop)
    t0 = time.perf_counter()
    res = critical_points(f, starts)
    t_batch = time.perf_counter() - t0
    t0 = time.perf_counter()
    ends = _loop_newton(f, starts)
    t_loop = time.perf_counter() - t0
    print(
        f"{n_loop} starts: batched {t_batch:.2f} s ({len(res.values)} distinct points), "
        f"per-start autograd Newton loop {t_loop:.2f} s ({np.isfinite(ends).all(axis=1).sum()} ends)"
    )
    print(f"ratio: {t_loop / t_batch:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=8192)
    parser.add_argument("--loop", type=int, default=256)
    args = parser.parse_args()
    print(
        f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()} (critical_points pins 1)"
    )
    acceptance(args.starts)
    ratio(args.loop)


if __name__ == "__main__":
    main()
