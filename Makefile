# The single entry point: CI and hooks call these targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all venv lint format typecheck test demo check bench schemas clean

all: check

$(STAMP): pyproject.toml
	@sh scripts/bootstrap-venv.sh "$(PYTHON)" "$(VENV)"
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check reconciler tests benchmarks
	$(BIN)/ruff format --check reconciler tests benchmarks
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format reconciler tests benchmarks
	$(BIN)/ruff check --fix reconciler tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite under coverage, which also measures the Python processes the tests start (vzgitops,
# the simulated vzctl/vzlist: pyproject's patch = ["subprocess"]) and prints the combined
# report; then the replay tests reversed and shuffled, since each must pass whatever ran first.
REPLAY := $(BIN)/python -m pytest -q --no-cov -p no:cacheprovider tests/sim/test_replay.py
test: $(STAMP)
	$(BIN)/python -m pytest -q --cov --cov-report=term
	$(REPLAY) --order reverse
	$(REPLAY) --order random --order-seed 20261202

demo: $(STAMP)
	$(BIN)/python examples/demo.py

schemas: $(STAMP)
	$(BIN)/vzgitops schema --out schemas

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

check: lint typecheck test

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .import_linter_cache .coverage .coverage.*
