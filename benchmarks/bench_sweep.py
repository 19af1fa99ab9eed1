"""Benchmark: the same sweep on a local dask cluster of 1 and of 2 worker processes.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--spec sweeps/example.toml]``.
Each run starts from an empty output directory, so every cell is computed;
the wall times include starting and closing the cluster. Printed per run:
the wall time, the sums of the cells' own wall and CPU times (columns
``seconds`` and ``cpu_seconds``) over the wall time (the parallelism
achieved; CPU / wall stays below the worker count when other processes take
the cores); the load average before and after,
since other processes on the machine share its cores. The last line is
``ratio: X``, the 1-worker wall time over the 2-worker one.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

from lossbounds.experiments import load_spec, read_results, run_sweep

ROOT = Path(__file__).resolve().parents[1]


def _timed(spec, workers: int) -> tuple[float, float, float]:
    """Wall time of the sweep, and the sums of its cells' wall and CPU times, in seconds."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run_sweep(spec, out, workers=workers, progress=False)
        wall = time.perf_counter() - start
        cols = read_results(out)
    return wall, float(cols["seconds"].sum()), float(cols["cpu_seconds"].sum())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(ROOT / "sweeps" / "example.toml"))
    args = parser.parse_args()
    spec = load_spec(args.spec)
    print(f"sweep {spec.name}: {len(spec.cells)} cells ({spec.measurement.name}), {args.spec}")
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()}")
    walls = {}
    for workers in (1, 2):
        wall, busy, cpu = _timed(spec, workers)
        walls[workers] = wall
        print(
            f"{workers} worker(s): {wall:7.1f} s wall; cells {busy:7.1f} s wall, "
            f"{cpu:7.1f} s CPU; parallelism {busy / wall:4.2f} (cells' wall / wall), "
            f"{cpu / wall:4.2f} (CPU / wall)"
        )
    print(f"load average after: {os.getloadavg()}")
    print(f"ratio: {walls[1] / walls[2]:.2f}")


if __name__ == "__main__":
    main()
