"""The built documentation site, opened in headless Chromium (``make docs`` first).

Deselected by default (pyproject ``addopts``); ``make docs-check`` runs it with
``-m docs_site``.
Skipped, with the reason, when the site is not built, when the ``playwright`` package
(the ``docs`` extra) is missing, or when no Chromium is installed (Debian: ``apt-get
install chromium``; another binary: ``LOSSBOUNDS_CHROMIUM=/path``). Playwright drives
that system Chromium; it never downloads a browser. Screenshots of the landing page and
of one notebook page go to ``docs/_build/screenshots/`` (``LOSSBOUNDS_DOCS_BUILD`` names
another build folder, e.g. a site built with ``--out`` from re-executed scratch copies).
"""

import json
import os
import re
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.docs_site

ROOT = Path(__file__).resolve().parents[1]
# The build folder of scripts/build_docs.py (its --out); docs/_build unless set.
BUILD = Path(os.environ.get("LOSSBOUNDS_DOCS_BUILD", ROOT / "docs" / "_build"))
SITE = BUILD / "html"
STAGED_NOTEBOOKS = BUILD / "src" / "notebooks"  # the notebooks the site was built from
SHOTS = BUILD / "screenshots"
THEORY_PAGES = ["theory", "formats", "bounds", "symmetry"]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def _chromium() -> str | None:
    override = os.environ.get("LOSSBOUNDS_CHROMIUM")
    if override:
        return override if Path(override).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def _figure_notebooks() -> list[str]:
    """Staged notebooks that save at least one figure (00_overview saves none)."""
    names = []
    for path in sorted(STAGED_NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        if _saved(path):
            names.append(path.stem)
    return names


def _saved(path: Path) -> int:
    cells = json.loads(path.read_text())["cells"]
    code = ("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return sum(len(re.findall(r"\bsave_figure\(", src)) for src in code)


def _skip(reason: str):
    """Skip, or fail under ``LOSSBOUNDS_REQUIRE_BROWSER=1`` (``make docs-check``, CI)."""
    if os.environ.get("LOSSBOUNDS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"the browser check cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not (SITE / "index.html").is_file():
        _skip(f"the site is not built ({SITE / 'index.html'} missing): run `make docs`")
    try:
        from playwright import sync_api as playwright
    except ImportError:
        _skip("playwright is not installed (the docs extra: pip install -e '.[docs]')")
    executable = _chromium()
    if executable is None:
        _skip("no Chromium installed (apt-get install chromium, or set LOSSBOUNDS_CHROMIUM)")
    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # root needs it in headless mode
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=args)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser):
    """Open a site page; return it with the list of URLs it requested."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pages = []

    def _open(relative: str):
        path = SITE / relative
        assert path.is_file(), f"{relative} is not in the site"
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(path.as_uri(), wait_until="load")
        pages.append(page)
        return page, requests

    yield _open
    context.close()


def _remote(requests: list[str]) -> list[str]:
    return [url for url in requests if not url.startswith(LOCAL_SCHEMES)]


def test_every_notebook_page_shows_its_figures(open_page):
    notebooks = _figure_notebooks()
    assert notebooks, f"no staged notebook saves a figure under {STAGED_NOTEBOOKS}"
    missing = {}
    for name in notebooks:
        page, requests = open_page(f"notebooks/{name}.html")
        shown = page.evaluate(
            """() => [...document.querySelectorAll('.cell_output img')]
                 .filter(img => img.complete && img.naturalWidth > 0).length"""
        )
        if shown < _saved(STAGED_NOTEBOOKS / f"{name}.ipynb"):
            missing[name] = (shown, _saved(STAGED_NOTEBOOKS / f"{name}.ipynb"))
        assert not _remote(requests), (name, _remote(requests))
        page.close()
    assert not missing, f"notebook pages with fewer rendered figures than saved: {missing}"


@pytest.mark.parametrize("name", THEORY_PAGES)
def test_theory_math_is_typeset_by_mathjax(open_page, name):
    page, requests = open_page(f"docs/{name}.html")
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("() => MathJax.startup.promise")
    counts = page.evaluate(
        """() => ({
            math: document.querySelectorAll('.math').length,
            typeset: [...document.querySelectorAll('.math')]
                .filter(el => el.querySelector('mjx-container svg')).length,
            errors: document.querySelectorAll('mjx-merror').length,
        })"""
    )
    assert counts["math"] > 0, f"{name}: no math on the page"
    assert counts["typeset"] == counts["math"], f"{name}: math left untypeset {counts}"
    assert counts["errors"] == 0, f"{name}: MathJax reported errors {counts}"
    assert not _remote(requests), _remote(requests)


def test_api_page_documents_merge_tree(open_page):
    page, _ = open_page("docs/api/topology.html")
    entry = page.locator('[id="lossbounds.topology.connectivity.merge_tree"]')
    assert entry.count() == 1 and entry.is_visible()
    assert "merge_tree" in entry.inner_text()
    top, _ = open_page("docs/api/lossbounds.html")
    link = top.locator('a[href$="topology.html#lossbounds.topology.connectivity.merge_tree"]')
    assert link.count() >= 1, "the top-level API page does not link merge_tree"


def test_landing_page_and_screenshots(open_page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page, requests = open_page("index.html")
    assert page.locator("table").first.is_visible()
    assert "make figures" in page.inner_text("main")
    page.screenshot(path=SHOTS / "index.png")
    notebooks = _figure_notebooks()
    assert notebooks, "no notebook page with figures to photograph"
    page, _ = open_page(f"notebooks/{notebooks[0]}.html")
    figures = page.locator(".cell_output img")
    assert figures.count() > 0, f"notebooks/{notebooks[0]}.html shows no figure"
    figures.first.scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / f"{notebooks[0]}.png")
    for shot in (SHOTS / "index.png", SHOTS / f"{notebooks[0]}.png"):
        assert shot.read_bytes()[:4] == b"\x89PNG"
    assert not _remote(requests), _remote(requests)
