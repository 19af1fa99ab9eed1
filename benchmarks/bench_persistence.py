"""Timings of lossbounds.topology.persistence (not part of the tests).

Targets from issue 6: a 1001 x 1001 grid, H0 and H1, in at most 2 s; 200,000
samples in R^8, H0, in at most 10 s. Both are reported against a smooth and
a worst-case input (a uniformly random grid field; uniform samples in a box,
where kNN search in R^8 is hardest).

Usage: .venv/bin/python benchmarks/bench_persistence.py [--skip-exact] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from lossbounds.topology import diagrams as D
from lossbounds.topology import persistence as P
from lossbounds.topology import shapes as S


def timed(fn, repeats):
    """Return (median wall seconds, median CPU seconds, last result) of ``repeats`` calls.

    CPU time (this process, all threads) is reported beside wall time because
    the benchmark machine is shared: wall time grows with other jobs' load,
    CPU time of a single-threaded engine much less.
    """
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return float(np.median(walls)), float(np.median(cpus)), out


def smooth_field(m: int) -> np.ndarray:
    x = np.linspace(-3.0, 3.0, m)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    return np.sin(2 * xx) * np.cos(3 * yy) + 0.1 * (xx**2 + yy**2)


# gudhi's cubical complex against Cubical Ripser at the notebooks' grid sizes
# (H0 + H1, median of 7 runs, wall ms; 2-core machine shared with other
# sessions, load average 0.2-0.4 during the run, 2026-11-29):
#   101 x 101 smooth  vertex: gudhi   6.2, cripser  0.8;  top: gudhi   7.7, tcripser  1.5
#   101 x 101 random  vertex: gudhi   8.9, cripser  2.2;  top: gudhi  11.3, tcripser  1.2
#   241 x 241 smooth  vertex: gudhi  70.5, cripser 25.9;  top: gudhi 104.7, tcripser 21.1
#   241 x 241 random  vertex: gudhi 131.6, cripser 30.3;  top: gudhi 100.3, tcripser 13.2
# Both engines take well under a second on every grid the notebooks use, so
# the second engine (gudhi) was removed from grid_persistence.

#
# Diagram distances: gudhi 3.13 against persim 0.4.1 (which diagram_distance
# uses), on random diagrams (0..60 bars, 0..3 infinite bars, some with ties),
# and against a brute-force assignment (tests/test_diagrams.py):
#   gudhi.bottleneck_distance agreed with persim to 2.2e-16 on 450 pairs of
#   larger diagrams but is wrong (too large) on small ones with ties: on 3,000
#   pairs of 0..11 bars, e=0 ("exact") gave a wrong value 11 times (0.36 for
#   0.275 on a = [[.95, 1.07], [.14, .18], [.95, 1.5]],
#   b = [[.41, .73], [.55, .63], [.03, .54], [.75, .82]]), the default e
#   twice (up to 0.045 too large); persim and the brute force agreed.
#   gudhi.hera.wasserstein_distance (order 1, internal_p 2): relative error
#   up to 3.5e-4 at delta=1e-2 and 5.5e-5 at delta=1e-4 and at 1e-6 (450
#   pairs), and it hangs or segfaults when one diagram holds only an infinite
#   bar and the other finite and infinite bars (a = [[0.6, inf]] against 17
#   finite bars and one infinite one).
# So diagram distances stay with persim (exact), and gudhi is no dependency.


def bench_grids(repeats: int) -> None:
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print("== grid_persistence, 1001 x 1001, H0 + H1 (target: 2 s)")
    fields = {
        "smooth": smooth_field(1001),
        "random": np.random.default_rng(0).random((1001, 1001)),
    }
    for name, field in fields.items():
        for construction in ("vertex", "top"):
            sec, cpu, dgms = timed(
                lambda f=field, c=construction: P.grid_persistence(f, maxdim=1, construction=c),
                repeats,
            )
            print(
                f"  {name:6s} {construction:6s} wall {sec:6.2f} s, cpu {cpu:6.2f} s   "
                f"bars H0={len(dgms[0])}, H1={len(dgms[1])}"
            )
    field = np.random.default_rng(0).random((101, 101, 101))
    sec, cpu, dgms = timed(lambda: P.grid_persistence(field, maxdim=2), 1)
    print(
        f"  random 101^3 vertex H0..H2 wall {sec:6.2f} s, cpu {cpu:6.2f} s   "
        f"bars {[len(d) for d in dgms]}"
    )


def bench_samples(repeats: int, skip_exact: bool) -> None:
    print("== sample_persistence, 200,000 uniform samples in [-1, 1]^8, H0 (union-find)")
    rng = np.random.default_rng(0)
    pts = rng.uniform(-1.0, 1.0, size=(200_000, 8))
    vals = (pts**2).sum(axis=1) + 0.3 * np.sin(5 * pts[:, 0])
    settings = [("approx=2", 2.0), ("approx=1", 1.0)]
    if not skip_exact:
        settings.append(("exact", 0.0))
    for label, approx in settings:
        for workers in (1, 2):
            t0, c0 = time.perf_counter(), time.process_time()
            edges = P.neighbourhood_graph(pts, k=10, approx=approx, workers=workers)
            t1, c1 = time.perf_counter(), time.process_time()
            dgms = P.graph_persistence(vals, edges, maxdim=0)
            t2, c2 = time.perf_counter(), time.process_time()
            print(
                f"  k=10 {label:9s} workers={workers}: graph {t1 - t0:6.2f} s + H0 {t2 - t1:5.2f} s"
                f" = wall {t2 - t0:6.2f} s (cpu {c2 - c0:6.2f} s; H0 cpu {c2 - c1:5.2f} s)"
                f"   edges={len(edges)}, H0 bars={len(dgms[0])}"
            )
    print("== sample_persistence H0 + H1 (ripser flag complex), default k = 40")
    shapes = S.known_shapes()
    for name in ("annulus", "solid_torus", "wells4"):
        s = shapes[name]
        for n in (s.n_samples, 4 * s.n_samples):
            pts, vals = s.sample(n, seed=0)
            sec, cpu, dgms = timed(
                lambda p=pts, v=vals: P.sample_persistence(p, v, maxdim=1), repeats
            )
            est = D.persistent_betti_numbers(dgms, s.level - s.delta, s.level + s.delta)
            print(
                f"  {name:12s} n={n:6d} d={s.dim}: wall {sec:6.2f} s, cpu {cpu:6.2f} s   "
                f"estimate {est.tolist()} (truth {list(s.betti)})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--skip-exact", action="store_true", help="skip exact kNN in R^8 (about 45 s)"
    )
    args = parser.parse_args()
    bench_grids(args.repeats)
    bench_samples(args.repeats, args.skip_exact)


if __name__ == "__main__":
    main()
