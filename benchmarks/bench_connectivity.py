"""Benchmark: merge trees of rotated tilted double wells; batched bands against a loop.

Run: ``.venv/bin/python benchmarks/bench_connectivity.py [--starts 4096] [--pairs 64]``.

1. The acceptance run of :func:`lossbounds.topology.connectivity.merge_tree`: rotated
   separable tilted double wells in R^8 (256 minima, 1024 index-1 saddles),
   scrambled Sobol starts in [-2, 2]^8, default options. It prints the wall
   and CPU time, the finite bars recovered against the exact diagram
   (:meth:`DoubleWells.exact_diagram`) and the largest death error.
2. The nudged elastic bands of ``--pairs`` pairs of adjacent minima, run once
   as one batch (one call of f per iteration for all images of all bands)
   and once band by band, with the same options; both stop a band when its
   forces fall below ``neb_tol``. The last line is ``ratio: X``, the loop's
   wall time over the batch's.

Timings depend on the machine's load: run it on a quiet machine to quote them.
"""

import argparse
import time

import numpy as np
import torch
from scipy.stats import qmc

from lossbounds.topology.connectivity import MergeOptions, merge_tree
from lossbounds.topology.neb import run_bands as _neb
from lossbounds.topology.shapes import tilted_double_wells


def acceptance(n_starts: int) -> None:
    wells = tilted_double_wells(8, seed=0)
    exact = wells.exact_diagram()
    starts = qmc.Sobol(8, seed=0).random(n_starts) * 4 - 2
    t0, c0 = time.perf_counter(), time.process_time()
    tree = merge_tree(wells, starts)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    got = tree.diagram()
    fin = np.isfinite(exact[:, 1])
    same = got.shape == exact.shape and np.array_equal(np.isfinite(got[:, 1]), fin)
    err = float(np.max(np.abs(got[fin] - exact[fin]))) if same else float("inf")
    print(f"R^8 double wells, {n_starts} Sobol starts: wall {wall:.1f} s, CPU {cpu:.1f} s")
    print(
        f"  minima {len(tree.minima)} / 256, finite bars {int(np.isfinite(got[:, 1]).sum())} / "
        f"{int(fin.sum())}, largest death error {err:.1e}, bands {len(tree.saddles.values)}, "
        f"rounds {tree.rounds}, Chao1 {tree.chao1:.1f}"
    )


def bands(n_pairs: int) -> float:
    wells = tilted_double_wells(8, seed=0)
    minima, _ = wells.minima()
    low, j = np.nonzero(((np.arange(256)[:, None] >> np.arange(8)) & 1) == 0)
    pick = np.random.default_rng(0).choice(len(low), n_pairs, replace=False)
    A = torch.tensor(minima[low[pick]])
    Z = torch.tensor(minima[low[pick] | (1 << j[pick])])
    opts = MergeOptions()
    t0 = time.perf_counter()
    top_b, max_b, _ = _neb(wells, A, Z, opts.n_images, opts, "batched")
    t_batch = time.perf_counter() - t0
    t0 = time.perf_counter()
    loop = [
        _neb(wells, A[i : i + 1], Z[i : i + 1], opts.n_images, opts, "one") for i in range(n_pairs)
    ]
    t_loop = time.perf_counter() - t0
    diff = np.max(np.abs(max_b - np.concatenate([r[1] for r in loop])))
    print(
        f"{n_pairs} bands of {opts.n_images} images in R^8: batched {t_batch:.2f} s, "
        f"loop {t_loop:.2f} s, largest difference of band maxima {diff:.1e}"
    )
    return t_loop / t_batch


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=4096)
    parser.add_argument("--pairs", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    acceptance(args.starts)
    ratio = bands(args.pairs)
    print(f"ratio: {ratio:.1f}")


if __name__ == "__main__":
    main()
