"""Build the documentation site into docs/_build/html (``make docs``).

Usage::

    python scripts/build_docs.py [--notebooks DIR] [--out DIR]

Stages the sources into ``docs/_build/src`` laid out as in the repository, so that the
relative links of the README, the notebooks and the pages work unchanged:
``index.md`` (``docs/index.md``: the README and the table of contents), ``README.md``,
``docs/`` (the other pages), ``notebooks/NN_*.ipynb`` (as committed) and
``figures/*.png``. Files are copied with their modification times; files no longer in
the sources are removed. Then it checks that every notebook embeds as many figures as it
saves, and runs Sphinx with ``docs/conf.py`` on a fresh environment, warnings as errors
(``-W --keep-going``). Notebooks are rendered as committed, never executed.
``--notebooks`` builds from another folder (e.g. re-executed scratch copies).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SKIP = {"_build", "_ext", "conf.py", "__pycache__"}
SAVE_CALL = re.compile(r"\bsave_figure\(")


def _sources(notebooks: Path) -> dict[str, Path]:
    """Relative path in the staged tree -> source file."""
    files = {"index.md": DOCS / "index.md", "README.md": ROOT / "README.md"}
    for path in sorted(DOCS.rglob("*")):
        rel = path.relative_to(DOCS)
        if path.is_file() and not (set(rel.parts) & SKIP) and rel.as_posix() != "index.md":
            files[f"docs/{rel.as_posix()}"] = path
    for path in sorted(notebooks.glob("[0-9][0-9]_*.ipynb")):
        files[f"notebooks/{path.name}"] = path
    for path in sorted((ROOT / "figures").glob("*.png")):
        files[f"figures/{path.name}"] = path
    return files


def stage(notebooks: Path, src: Path) -> list[str]:
    """Mirror the sources into ``src``; return the staged notebook names."""
    files = _sources(notebooks)
    src.mkdir(parents=True, exist_ok=True)
    for rel, path in files.items():
        dst = src / rel
        same = dst.exists() and dst.stat().st_mtime == path.stat().st_mtime
        if not (same and dst.read_bytes() == path.read_bytes()):
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dst)
    for dst in sorted(src.rglob("*"), reverse=True):
        rel = dst.relative_to(src).as_posix()
        if dst.is_file() and rel not in files:
            dst.unlink()
        elif dst.is_dir() and not any(dst.iterdir()):
            dst.rmdir()
    return [rel for rel in files if rel.endswith(".ipynb")]


def missing_figures(path: Path) -> str | None:
    """Say how many figures a notebook saves but does not embed; None when all are there."""
    nb = json.loads(path.read_text())
    saved = embedded = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        saved += len(SAVE_CALL.findall("".join(cell["source"])))
        embedded += sum("image/png" in out.get("data", {}) for out in cell.get("outputs", []))
    if embedded < saved:
        return f"{path.name}: {saved} save_figure call(s) but {embedded} embedded image(s)"
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--out", type=Path, default=DOCS / "_build")
    args = parser.parse_args(argv)
    src = args.out / "src"
    names = stage(args.notebooks.resolve(), src)
    problems = [p for p in map(missing_figures, (src / n for n in names)) if p]
    for problem in problems:
        print(f"[build_docs] missing figures: {problem} (run `make figures`)", file=sys.stderr)

    from sphinx.cmd.build import build_main

    shutil.rmtree(args.out / "html", ignore_errors=True)  # no page left from an older layout
    status = build_main(
        ["-W", "--keep-going", "-E", "-q", "-b", "html", "-c", str(DOCS), "-d",
         str(args.out / "doctrees"), str(src), str(args.out / "html")]
    )  # fmt: skip
    if status == 0 and not problems:
        print(f"[build_docs] site: {args.out / 'html' / 'index.html'}")
    return status or (1 if problems else 0)


if __name__ == "__main__":
    sys.exit(main())
