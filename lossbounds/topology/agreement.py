"""The same measurement under other floating-point kernels, each in a fresh subprocess.

numpy/scipy's OpenBLAS kernel (``OPENBLAS_CORETYPE``), torch's CPU kernels
(``ATEN_CPU_CAPABILITY``) and torch's thread count are read at start-up, so
:func:`kernel_agreement` runs a fixed measurement (:data:`CASES`) once per
setting in a subprocess (``python -m lossbounds.topology.agreement CASE
THREADS``) and compares the summaries: the discrete results (numbers of
points, indices, hits, tree shape) must be identical; the values are
compared to the largest difference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

__all__ = ["KERNEL_SETTINGS", "CASES", "measure_case", "kernel_agreement"]

#: Name -> (environment variables, torch threads) of each compared setting.
KERNEL_SETTINGS = {
    "default": ({}, 1),
    "openblas-haswell": ({"OPENBLAS_CORETYPE": "Haswell"}, 1),
    "openblas-skylakex": ({"OPENBLAS_CORETYPE": "SkylakeX"}, 1),
    "aten-avx2": ({"ATEN_CPU_CAPABILITY": "avx2"}, 1),
    "torch-2-threads": ({}, 2),
}

#: Measurements that :func:`measure_case` knows.
CASES = ("wells_critical", "wells_tree", "mueller_brown")


def measure_case(case: str, threads: int = 1) -> dict:
    """Run one fixed measurement and return its summary (JSON-ready).

    ``"wells_critical"``: :func:`~lossbounds.topology.critical.critical_points` of the rotated tilted double
    wells, d = 3, 512 Sobol starts. ``"wells_tree"``: :func:`~lossbounds.topology.connectivity.merge_tree` of
    the d = 4 wells from 256 starts with one neighbour and up to 4 rounds
    (the case that used to fail under ``OPENBLAS_CORETYPE=Haswell``).
    ``"mueller_brown"``: :func:`~lossbounds.topology.critical.critical_points` of Mueller-Brown, 1024 starts.

    Returns
    -------
    dict
        ``"discrete"`` (lists that must be identical) and ``"values"`` (floats).
    """
    from scipy.stats import qmc

    from lossbounds.topology.connectivity import merge_tree
    from lossbounds.topology.critical import critical_points
    from lossbounds.topology.shapes import mueller_brown, tilted_double_wells

    if case == "wells_tree":
        f = tilted_double_wells(4, seed=3)
        starts = qmc.Sobol(4, seed=0).random(256) * 4 - 2
        tree = merge_tree(f, starts, n_neighbors=1, max_rounds=4, check_bands=0, threads=threads)
        dgm = tree.diagram()
        return {
            "discrete": [len(tree.minima), tree.rounds, tree.hits.tolist(), tree.refined.tolist()],
            "values": dgm[np.isfinite(dgm)].tolist(),
        }
    if case == "wells_critical":
        f = tilted_double_wells(3, seed=3)
        starts = ((qmc.Sobol(3, seed=0).random(512) * 2 - 1) * 1.6) @ f.Q
        res = critical_points(f, starts, threads=threads)
    elif case == "mueller_brown":
        starts = qmc.Sobol(2, seed=0).random(1024) * [2.7, 2.5] + [-1.7, -0.5]
        res = critical_points(mueller_brown, starts, threads=threads)
    else:
        raise ValueError(f"case must be one of {CASES}, got {case!r}")
    return {
        "discrete": [res.index.tolist(), res.hits.tolist(), res.counts().tolist()],
        "values": res.values.tolist(),
    }


def kernel_agreement(case: str, settings=None, timeout: float = 600.0) -> list[dict]:
    """Run :func:`measure_case` under each kernel setting in a subprocess and compare.

    Parameters
    ----------
    case : str
        One of :data:`CASES`.
    settings : iterable of str, optional
        Keys of :data:`KERNEL_SETTINGS` (default all); the first is the reference.
    timeout : float
        Seconds per subprocess.

    Returns
    -------
    list of dict
        One row per setting: ``"setting"``, ``"same_discrete"`` (identical to
        the reference), ``"max_value_diff"`` (largest absolute difference of
        the values, NaN when their numbers differ) and ``"seconds"``.

    Raises
    ------
    ValueError
        For an unknown case or setting.
    RuntimeError
        When a subprocess fails (its stderr tail in the message).
    """
    import time

    if case not in CASES:
        raise ValueError(f"case must be one of {CASES}, got {case!r}")
    names = list(KERNEL_SETTINGS) if settings is None else list(settings)
    bad = [n for n in names if n not in KERNEL_SETTINGS]
    if bad or not names:
        raise ValueError(
            f"settings must be keys of KERNEL_SETTINGS {list(KERNEL_SETTINGS)}, got {names}"
        )
    rows, ref = [], None
    for name in names:
        env_add, threads = KERNEL_SETTINGS[name]
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("OPENBLAS_CORETYPE", "ATEN_CPU_CAPABILITY")
        }
        env.update(env_add)
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", "lossbounds.topology.agreement", case, str(threads)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"{name}: {out.stderr[-2000:]}")
        got = json.loads(out.stdout.strip().splitlines()[-1])
        ref = got if ref is None else ref
        same_len = len(got["values"]) == len(ref["values"])
        diff = (
            np.max(np.abs(np.subtract(got["values"], ref["values"])), initial=0.0)
            if same_len
            else np.nan
        )
        rows.append(
            {
                "setting": name,
                "same_discrete": got["discrete"] == ref["discrete"],
                "max_value_diff": float(diff),
                "seconds": time.perf_counter() - t0,
            }
        )
    return rows


if __name__ == "__main__":  # pragma: no cover - run by kernel_agreement in a subprocess
    print(json.dumps(measure_case(sys.argv[1], int(sys.argv[2]))))
