# Every target bootstraps its own virtual environment (.venv) on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.lossbounds-installed

NBVAL_OPTS := --nbval --nbval-current-env --nbval-sanitize-with nbval_sanitize.cfg --nbval-cell-timeout=900

.PHONY: help venv figures test lint format bench sweeps clean

help:
	@echo "make figures  - execute every notebook in place, write figures/ (full size)"
	@echo "make test     - pytest on tests/ and nbval on notebooks/ (LOSSBOUNDS_QUICK=1)"
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
	$(BIN)/ruff check lossbounds tests benchmarks scripts notebooks
	$(BIN)/ruff format --check lossbounds tests benchmarks scripts

format: $(STAMP)
	$(BIN)/ruff format lossbounds tests benchmarks scripts
	$(BIN)/ruff check --fix lossbounds tests benchmarks scripts

bench: $(STAMP)
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# Each spec sweeps/NAME.toml writes results/NAME/results.csv; finished cells are not recomputed.
# sweeps/MARGINS.toml (pre-registered test margins) is not a spec; drafts in sweeps/next/ are not run.
# SWEEP_WORKERS dask worker processes (one thread each); SWEEP_ARGS e.g. --scheduler ADDRESS.
SWEEP_WORKERS ?= 2
SWEEP_ARGS ?=
sweeps: $(STAMP)
	@for f in sweeps/*.toml; do n=$$(basename $$f .toml); [ "$$n" = MARGINS ] && continue; \
	  echo "== $$f -> results/$$n"; \
	  $(BIN)/lossbounds sweep $$f --out results/$$n --workers $(SWEEP_WORKERS) $(SWEEP_ARGS) || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
