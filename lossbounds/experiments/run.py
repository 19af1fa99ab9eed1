"""Running a sweep: the cells of a spec missing from its results table, on dask or in process.

Cells run on a ``dask.distributed`` cluster (a LocalCluster of
single-threaded worker processes, or any running scheduler) or one by one in
the calling process; each cell runs with one torch thread. Only the calling
process writes the table (:mod:`lossbounds.experiments.table`), so a killed
sweep resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from lossbounds._checks import check_int
from lossbounds.experiments.measurements import run_cell
from lossbounds.experiments.spec import SweepSpec, load_spec
from lossbounds.experiments.table import FAILURES_FILE, RESULTS_FILE, ResultsTable, record_failure

__all__ = ["SweepReport", "run_sweep"]


@dataclass(frozen=True)
class SweepReport:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    path : pathlib.Path
        The results table.
    n_cells : int
        Cells in the spec.
    n_before : int
        Of those, already in the table when the run started.
    n_computed : int
        Computed and written by this run.
    n_failed : int
        Cells whose measurement raised in this run; listed in
        ``failures.csv`` beside the table, not in the table (a re-run retries them).
    n_foreign : int
        Rows of the table whose key is not a cell of this spec (kept).
    """

    path: Path
    n_cells: int
    n_before: int
    n_computed: int
    n_failed: int
    n_foreign: int


def _in_process(cells, meas):
    """Yield ``(cell, row or exception)`` computing the cells one by one here."""
    for cell in cells:
        try:
            yield cell, run_cell(cell, meas)
        except Exception as exc:  # recorded; the sweep goes on
            yield cell, exc


def _cluster(stack, workers, scheduler):
    """Return a dask Client on a new LocalCluster (closed with ``stack``) or on ``scheduler``."""
    import dask
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        return stack.enter_context(Client(scheduler))
    # no dashboard, so no statistical profiler interrupting the cells every 10 ms
    with dask.config.set({"distributed.worker.profile.enabled": False}):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    stack.enter_context(cluster)
    return stack.enter_context(Client(cluster))


def _on_dask(cells, meas, workers, scheduler):
    """Yield ``(cell, row or exception)`` as the cells finish on a dask cluster."""
    from dask.distributed import as_completed

    with contextlib.ExitStack() as stack:
        client = _cluster(stack, workers, scheduler)
        futures = client.map(run_cell, cells, measurement=meas, pure=False)
        cell_of = {f.key: c for f, c in zip(futures, cells, strict=True)}
        try:
            for fut in as_completed(futures):
                try:
                    outcome = fut.result()
                except Exception as exc:  # recorded; the sweep goes on
                    outcome = exc
                yield cell_of[fut.key], outcome
                fut.release()
        finally:
            client.cancel(futures)


def _compute(spec, todo, out, workers, scheduler, progress, table, before) -> int:
    """Run the cells ``todo``, append their rows; return how many failed."""
    failures = out / FAILURES_FILE
    failures.unlink(missing_ok=True)
    if scheduler is None and workers == 0:
        outcomes = _in_process(todo, spec.measurement)
    else:
        outcomes = _on_dask(todo, spec.measurement, workers, scheduler)
    failed = 0
    total = len(spec.cells)
    with tqdm(total=total, initial=before, unit="cell", disable=not progress) as bar:
        for cell, outcome in outcomes:
            if isinstance(outcome, Exception):
                failed += 1
                record_failure(failures, cell, outcome)
                bar.set_postfix(failed=failed)
            else:
                table.append(outcome)
            bar.update()
    return failed


def run_sweep(
    spec, out, workers: int | None = None, scheduler: str | None = None, progress: bool = True
) -> SweepReport:
    """Compute the cells of ``spec`` missing from ``out/results.csv`` and append their rows.

    Parameters
    ----------
    spec : SweepSpec or str or pathlib.Path
        A spec or the path of a TOML spec file.
    out : str or pathlib.Path
        Output directory (created if missing); the table is ``out/results.csv``.
    workers : int or None
        Worker processes of a local ``dask.distributed`` cluster (one thread
        each); None for one per CPU core; 0 runs the cells one by one in this
        process (no dask). Ignored when ``scheduler`` is given.
    scheduler : str or None
        Address of a running dask scheduler (e.g. ``"tcp://host:8786"`` of a
        dask-jobqueue SLURMCluster) to run the cells on.
    progress : bool
        A tqdm bar counting cells, and one status line before and after.

    Returns
    -------
    SweepReport
        A cell whose measurement raises does not stop the sweep: it is
        counted in ``n_failed`` and listed in ``out/failures.csv`` (key,
        error, inputs), which each run rewrites.

    Raises
    ------
    ValueError
        For an invalid spec, a bad ``workers`` or a table written with other
        columns.

    Notes
    -----
    Local workers are spawned processes that import the main module: a
    script that calls this with ``workers >= 1`` must guard its entry point
    with ``if __name__ == "__main__":``.
    """
    spec = spec if isinstance(spec, SweepSpec) else load_spec(spec)
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    workers = check_int("workers", workers, 0)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = ResultsTable(out / RESULTS_FILE, spec.columns)
    keys = spec.keys
    todo = [c for c, k in zip(spec.cells, keys, strict=True) if k not in table.keys]
    before, foreign = len(keys) - len(todo), len(table.keys - set(keys))
    say = print if progress else (lambda *a, **k: None)
    if not todo:
        say(f"sweep {spec.name}: all {len(keys)} cells are in {table.path}; nothing to compute")
        return SweepReport(table.path, len(keys), before, 0, 0, foreign)
    say(f"sweep {spec.name}: {len(keys)} cells, {before} done, {len(todo)} to compute")
    failed = _compute(spec, todo, out, workers, scheduler, progress, table, before)
    say(f"sweep {spec.name}: wrote {len(todo) - failed} rows to {table.path}")
    if failed:
        say(f"sweep {spec.name}: {failed} cells failed, see {out / FAILURES_FILE}")
    return SweepReport(table.path, len(keys), before, len(todo) - failed, failed, foreign)
