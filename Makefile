# Cordon: `make demo` and `make test` set up everything they need on a fresh machine.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help venv demo test test-fast lint format bench docs clean

help:
	@echo "make demo   - build the synthetic world, run the pipeline on it, serve the console"
	@echo "make test   - run the whole test suite (SQLite and PostgreSQL)"
	@echo "make lint   - ruff check, ruff format --check, mypy --strict src/"
	@echo "make bench  - benchmarks against the reference libraries"
	@echo "make docs   - regenerate the CLI reference from the real --help"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Cordon needs Python 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(BIN)/cordon demo

test: venv
	$(BIN)/python -m pytest --durations=25 $(PYTEST_ARGS)

test-fast: venv
	$(BIN)/python -m pytest -m "not slow" -x $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy --strict src/

format: venv
	$(BIN)/ruff format src tests benchmarks scripts
	$(BIN)/ruff check --fix src tests benchmarks scripts

bench: venv
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

docs: venv
	$(BIN)/python -m cordon.docsgen

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .demo test-output
