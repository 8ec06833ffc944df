# drivethru — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PACKAGES := core plate_reader edge_lane projections api bench launcher
PYTEST_ARGS ?=

.PHONY: demo test lint format bench screenshots clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ needed")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[edge,server,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/drivethru demo

lint: $(STAMP)
	$(BIN)/ruff check $(PACKAGES) tests
	$(BIN)/ruff format --check $(PACKAGES) tests
	$(BIN)/mypy

test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

format: $(STAMP)
	$(BIN)/ruff format $(PACKAGES) tests
	$(BIN)/ruff check --fix $(PACKAGES) tests

screenshots: $(STAMP)
	$(BIN)/python docs/screenshots/make_screenshots.py

bench: $(STAMP)
	$(BIN)/drivethru bench store --json --quick

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
