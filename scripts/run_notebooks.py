"""Execute notebooks in place, in order, and stop at the first failure.

Usage::

    python scripts/run_notebooks.py [NOTEBOOK_OR_DIR ...]

With a directory, every ``NN_*.ipynb`` in it runs in name order. Each notebook
runs with its own folder as working directory, so figures land in the
project's ``figures/`` (see :func:`lossbounds.plot.figures_dir`).
``LOSSBOUNDS_QUICK`` is passed through unchanged: unset for full size.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _collect(targets: list[str]) -> list[Path]:
    paths: list[Path] = []
    for target in targets:
        p = Path(target)
        if p.is_dir():
            paths.extend(sorted(p.glob("[0-9][0-9]_*.ipynb")))
        elif p.suffix == ".ipynb" and p.is_file():
            paths.append(p)
        else:
            raise SystemExit(f"run_notebooks: error: {target!r} is neither a notebook nor a folder")
    if not paths:
        raise SystemExit("run_notebooks: error: no notebooks found")
    return paths


def run(path: Path, timeout: int) -> float:
    """Execute ``path`` in place; return the wall time in seconds."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,  # no wall-clock stamps in committed notebooks
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        # Keep the partial outputs for inspection, but do not overwrite the notebook.
        failed = path.with_suffix(".failed.ipynb")
        nbformat.write(nb, failed)
        first = str(exc).strip().splitlines()
        tail = "\n".join(first[-15:])
        raise SystemExit(
            f"\n[run_notebooks] FAILED in {path} (partial outputs in {failed}):\n{tail}"
        ) from None
    for cell in nb.cells:  # drop stamps left by earlier runs or other front ends
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", default=["notebooks"])
    parser.add_argument("--timeout", type=int, default=3600, help="per-cell timeout in seconds")
    args = parser.parse_args(argv)
    paths = _collect(args.targets)
    total = 0.0
    for i, path in enumerate(paths, 1):
        print(f"[{i}/{len(paths)}] {path} ...", flush=True)
        seconds = run(path, args.timeout)
        total += seconds
        print(f"[{i}/{len(paths)}] {path} done in {seconds:.1f} s", flush=True)
    print(f"[run_notebooks] {len(paths)} notebook(s) in {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
