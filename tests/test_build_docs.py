"""scripts/build_docs.py: the staged source tree and the missing-figure check (no Sphinx run)."""

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def build_docs():
    spec = importlib.util.spec_from_file_location("build_docs", ROOT / "scripts" / "build_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _notebook(path, sources, images):
    """Code cells with the given sources; the first ``images`` cells get one PNG output."""
    cells = [nbformat.v4.new_code_cell(s) for s in sources]
    for cell in cells[:images]:
        cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def test_missing_figures_counts_save_figure_calls_against_png_outputs(build_docs, tmp_path):
    sources = ["save_figure(fig, 'a')", "_ = save_figure(f, 'b')\nsave_figure(g, 'c')", "x = 1"]
    short = _notebook(tmp_path / "01_short.ipynb", sources, images=2)
    assert build_docs.missing_figures(short) == (
        "01_short.ipynb: 3 save_figure call(s) but 2 embedded image(s)"
    )
    sources = ["save_figure(fig, 'a')", "save_figure(fig, 'b')"]
    assert build_docs.missing_figures(_notebook(tmp_path / "02.ipynb", sources, images=2)) is None
    assert build_docs.missing_figures(_notebook(tmp_path / "03.ipynb", ["x = 1"], images=0)) is None


def test_stage_mirrors_the_repository_and_drops_stale_files(build_docs, tmp_path):
    notebooks = tmp_path / "nbs"
    notebooks.mkdir()
    _notebook(notebooks / "01_a.ipynb", ["x = 1"], images=0)
    _notebook(notebooks / "scratch.ipynb", ["x = 1"], images=0)  # not NN_*: not staged
    src = tmp_path / "src"
    (src / "docs").mkdir(parents=True)
    (src / "docs" / "stale.md").write_text("# gone\n")
    names = build_docs.stage(notebooks, src)
    assert names == ["notebooks/01_a.ipynb"]
    assert (src / "index.md").read_bytes() == (ROOT / "docs" / "index.md").read_bytes()
    assert (src / "README.md").read_bytes() == (ROOT / "README.md").read_bytes()
    assert (src / "docs" / "theory.md").is_file() and (src / "docs" / "api" / "index.md").is_file()
    assert not (src / "docs" / "index.md").exists()  # the landing page lives at the root only
    assert not (src / "docs" / "conf.py").exists() and not (src / "docs" / "_ext").exists()
    assert not (src / "docs" / "stale.md").exists()
    assert sorted(p.name for p in (src / "figures").iterdir()) == sorted(
        p.name for p in (ROOT / "figures").glob("*.png")
    )
