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
distance to c; then ``ratio: X``, dense CPU time over Krylov CPU time.

Then (unless ``--no-network``) the same two paths take ``--steps`` steps from one random
initialisation of notebook 13's digits classifier (``Linear(64, 16, bias=False), Tanh(),
Linear(16, 10)``, N = 1194, m = 300, cross-entropy + 1e-3 ||theta||^2), where a Hessian
costs N backward passes through the network: the lines give the CPU seconds per step
(the final classification included; at most ``--steps`` steps run, fewer when every
step is refused) and ``network ratio: X``.

Timings depend on the machine's load: run it on a quiet machine to quote them.
"""

import argparse
import os
import time

import numpy as np
import torch

from lossbounds.landscape.data import load_dataset
from lossbounds.landscape.krylov import krylov_saddles
from lossbounds.landscape.newton import Target, polish_and_classify, torch_threads
from lossbounds.landscape.surface import LossSurface
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


def network(steps: int) -> None:
    digits = load_dataset("digits", m=300, multiclass=True, seed=0)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 16, bias=False), torch.nn.Tanh(), torch.nn.Linear(16, 10)
    ).to(torch.float64)
    surf = LossSurface.from_module(
        model, digits.X, digits.y.astype(int), loss="cross_entropy", l2=1e-3
    )
    fn, X = Target(surf), torch.as_tensor(surf.layout.init(0, n_points=1))
    opts = MergeOptions(newton_steps=steps, grad_tol=1e-300)  # no early stop: `steps` steps
    per = {}
    for name, refine in (
        ("dense", lambda: polish_and_classify(fn, X, opts, "saddle")),
        ("krylov", lambda: krylov_saddles(fn, X, opts)),
    ):
        c0 = time.process_time()
        refine()
        per[name] = (time.process_time() - c0) / steps
        print(f"network {name:7s}: {per[name]:6.2f} s CPU per step (N = {surf.n_params})")
    print(f"network ratio: {per['dense'] / per['krylov']:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dim", type=int, default=1000)
    ap.add_argument("--starts", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--no-network", dest="network", action="store_false")
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
        if args.network:
            network(args.steps)


if __name__ == "__main__":
    main()
