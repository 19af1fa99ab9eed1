"""Benchmark: vectorised evaluation of the bounds (architectures per second).

Run: ``.venv/bin/python benchmarks/bench_bounds.py``. Prints the throughput of
:func:`lossbounds.theory.bounds.zell_log2` and :func:`lossbounds.theory.bounds.khovanskii_log2`
on arrays of random formats (N up to 1e9, ell up to 1e12), of
:func:`lossbounds.theory.bounds.bounds_for_architectures` (from sizes n, h, K, m
through the format closed forms to the bounds) and of the symbolic path. The
target is at least 1e5 architectures per second for the numeric bounds.
"""

import time

import numpy as np

from lossbounds.theory import bounds


def _formats(k, seed=0):
    rng = np.random.default_rng(seed)
    n = np.floor(10 ** rng.uniform(0, 9, size=k))
    ell = np.floor(10 ** rng.uniform(0, 12, size=k))
    alpha = rng.integers(1, 60, size=k).astype(np.float64)
    beta = rng.integers(1, 10, size=k).astype(np.float64)
    return n, ell, alpha, beta


def _rate(fn, k, repeats=5):
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return k / best, best


def main():
    k = 1_000_000
    n, ell, alpha, beta = _formats(k)
    rate, t = _rate(lambda: bounds.zell_log2(n, ell, alpha, beta), k)
    print(f"zell_log2        {k:>9d} formats  {t * 1e3:8.1f} ms  {rate:12.3e} formats/s")
    rate, t = _rate(lambda: bounds.khovanskii_log2(n, ell, alpha, beta), k)
    print(f"khovanskii_log2  {k:>9d} formats  {t * 1e3:8.1f} ms  {rate:12.3e} formats/s")
    rate, t = _rate(lambda: bounds.zell_terms(n, ell, alpha, beta), k)
    print(f"zell_terms       {k:>9d} formats  {t * 1e3:8.1f} ms  {rate:12.3e} formats/s")

    rng = np.random.default_rng(1)
    sizes = [
        rng.integers(1, 10, k),
        rng.integers(1, 1000, k),
        rng.integers(1, 20, k),
        rng.integers(1, 10**5, k),
    ]
    bounds.bounds_for_architectures(*sizes)  # derive and compile the closed forms once
    rate, t = _rate(lambda: bounds.bounds_for_architectures(*sizes), k)
    print(
        f"architectures    {k:>9d} archs    {t * 1e3:8.1f} ms  {rate:12.3e} archs/s (sizes -> format -> bounds)"
    )

    ks = 200
    fmts = list(zip(*(a[:ks].astype(int).tolist() for a in (n, ell, alpha, beta)), strict=True))
    rate, t = _rate(lambda: [float(bounds.zell_log2_symbolic(f).evalf(30)) for f in fmts], ks, 1)
    print(
        f"zell symbolic    {ks:>9d} formats  {t * 1e3:8.1f} ms  {rate:12.3e} formats/s (30 digits)"
    )

    # float path against the 30-digit symbolic path on the same formats
    ref = np.array([float(bounds.zell_log2_symbolic(f).evalf(30)) for f in fmts])
    got = bounds.zell_log2(*(a[:ks] for a in (n, ell, alpha, beta)))
    print(f"max relative error float vs 30-digit sympy: {np.max(np.abs(got / ref - 1)):.2e}")


if __name__ == "__main__":
    main()
