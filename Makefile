# Every target bootstraps its own virtual environment (.venv) on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.lossbounds-installed

NBVAL_OPTS := --nbval --nbval-current-env --nbval-sanitize-with nbval_sanitize.cfg --nbval-cell-timeout=900

.PHONY: help venv figures test lint format bench sweeps clean docs docs-check

help:
	@echo "make figures  - execute every notebook in place, write figures/ (full size)"
	@echo "make test     - pytest on tests/ and nbval on notebooks/ (LOSSBOUNDS_QUICK=1)"
	@echo "make docs     - build the site into docs/_build/html (committed notebooks, not re-executed)"
	@echo "make docs-check - open the built site in headless Chromium (tests/test_docs_site.py)"
	@echo "make lint     - ruff check and format check"
	@echo "make bench    - run the benchmark scripts"
	@echo "make sweeps   - run every sweeps/NAME.toml into results/NAME/ (resumes)"
	@echo "make clean    - remove .venv and caches"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "[make] installing lossbounds and pinned dependencies into $(VENV) ..."
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	@touch $@

venv: $(STAMP)

figures: $(STAMP)
	$(BIN)/python scripts/run_notebooks.py notebooks

# Quick-mode figures go to build/ so they never overwrite the committed full-size ones.
test: $(STAMP)
	LOSSBOUNDS_QUICK=1 LOSSBOUNDS_FIGURES=$(CURDIR)/build/quick-figures MPLBACKEND=Agg $(BIN)/python -m pytest tests notebooks $(NBVAL_OPTS)

lint: $(STAMP)
	$(BIN)/ruff check lossbounds tests benchmarks scripts notebooks docs/conf.py docs/_ext
	$(BIN)/ruff format --check lossbounds tests benchmarks scripts docs/conf.py docs/_ext

format: $(STAMP)
	$(BIN)/ruff format lossbounds tests benchmarks scripts docs/conf.py docs/_ext
	$(BIN)/ruff check --fix lossbounds tests benchmarks scripts docs/conf.py docs/_ext

bench: $(STAMP)
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# Each spec sweeps/NAME.toml writes results/NAME/results.csv; finished cells are not recomputed.
# sweeps/MARGINS.toml (pre-registered test margins) is not a spec.
# SWEEP_WORKERS dask worker processes (one thread each); SWEEP_ARGS e.g. --scheduler ADDRESS.
SWEEP_WORKERS ?= 2
SWEEP_ARGS ?=
sweeps: $(STAMP)
	@for f in sweeps/*.toml; do n=$$(basename $$f .toml); [ "$$n" = MARGINS ] && continue; \
	  echo "== $$f -> results/$$n"; \
	  $(BIN)/lossbounds sweep $$f --out results/$$n --workers $(SWEEP_WORKERS) $(SWEEP_ARGS) || exit 1; done

# The site: the docs extra goes into the same .venv; warnings are errors (scripts/build_docs.py).
DOCS_STAMP := $(VENV)/.lossbounds-docs-installed
$(DOCS_STAMP): $(STAMP)
	@echo "[make] installing the docs extra into $(VENV) ..."
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,docs]"
	@touch $@

docs: $(DOCS_STAMP)
	$(BIN)/python scripts/build_docs.py

docs-check: $(DOCS_STAMP)
	LOSSBOUNDS_REQUIRE_BROWSER=1 $(BIN)/python -m pytest tests/test_docs_site.py -m docs_site -v

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info docs/_build
