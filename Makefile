# btp-infra: set-up and test entry points (the README and .ci/run call exactly these).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup test lint typecheck unit plan bench clean

setup:  ## create .venv and install btp-infra with its test tools
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'

test: lint typecheck unit  ## the whole suite: ruff, mypy, pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

unit:
	$(BIN)/pytest -q

plan:  ## offline plan of every stack in stacks/ (no Pulumi CLI, cluster or BTP needed; an empty stacks/ passes)
	$(BIN)/btp-infra plan --all

bench:
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
