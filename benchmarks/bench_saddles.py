"""Benchmark: seconds per refined index-1 saddle, dense against matrix-free eigenvector following.

Run: ``.venv/bin/python benchmarks/bench_saddles.py [--dim 1000] [--starts 2]``.

The function is :func:`lossbounds.topology.shapes.embedded_saddle` (a curved 2-D
double well plus a positive-definite quadratic in ``dim - 2`` dimensions, randomly
rotated; exact saddle at a known point c, value 1). From ``--starts`` points at
distance 0.3 from c, the saddle is refined twice with the same options: by
:func:`~lossbounds.landscape.newton.polish_and_classify` (``mode="saddle"``: a dense
Hessian and ``eigh`` per step) and by :func:`~lossbounds.landscape.krylov.krylov_saddles`
(Lanczos and conjugate gradients on Hessian-vector products). Each line gives the
wall and CPU seconds per refined saddle, the number refined and the largest
distance to c; the last line is ``ratio: X``, dense CPU time over Krylov CPU time.

Timings depend on the machine's load: run it on a quiet machine to quote them.
"""

import argparse
import os
import time

import numpy as np
import torch

from lossbounds.landscape.krylov import krylov_saddles
from lossbounds.landscape.newton import polish_and_classify, torch_threads
from lossbounds.topology.options import MergeOptions
from lossbounds.topology.shapes import embedded_saddle


def run(name, refine, c):
    t0, c0 = time.perf_counter(), time.process_time()
    pol = refine()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    ok = pol.critical & (pol.index == 1)
    err = float(np.max(np.linalg.norm(pol.points - c, axis=1)))
    n = max(int(ok.sum()), 1)
    print(
        f"{name:7s}: {wall / n:7.2f} s wall, {cpu / n:7.2f} s CPU per refined saddle; "
        f"refined {int(ok.sum())} / {len(ok)}, largest distance to the saddle {err:.1e}"
    )
    return cpu / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dim", type=int, default=1000)
    ap.add_argument("--starts", type=int, default=2)
    args = ap.parse_args()
    f, c = embedded_saddle(args.dim, seed=0)
    D = np.random.default_rng(1).standard_normal((args.starts, args.dim))
    X = torch.as_tensor(c + 0.3 * D / np.linalg.norm(D, axis=1, keepdims=True))
    opts = MergeOptions(newton_steps=40)
    print(f"d = {args.dim}, {args.starts} starts, 1 torch thread, load {os.getloadavg()[0]:.2f}")
    with torch_threads(1):
        dense = run("dense", lambda: polish_and_classify(f, X, opts, "saddle"), c)
        krylov = run("krylov", lambda: krylov_saddles(f, X, opts), c)
    print(f"ratio: {dense / krylov:.1f}")


if __name__ == "__main__":
    main()
