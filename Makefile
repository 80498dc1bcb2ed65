# freshtap — two commands on a fresh machine with Python 3.11 and pip:
#   make demo    everything on one machine (embedded broker, SQLite, simulated fleet)
#   make test    the full suite, lint and type checks included

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: demo test lint typecheck unit faults bench clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/freshtap demo $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python scripts/typecheck_tree.py >/dev/null
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q $(ARGS)

faults: $(STAMP)
	$(BIN)/python -m pytest -q -m faults --run-faults $(ARGS)

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info .freshtap .pytest_cache .mypy_cache .ruff_cache
