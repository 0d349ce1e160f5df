# The single entry point: CI and hooks call these targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all venv lint format typecheck test demo check bench schemas clean

all: check

# Both distributions of this repository: vzgitops with its dev tools, and the simulated node
# (sim/, vzgitops-sim) that the tests, the benchmarks and the demo run against.
$(STAMP): pyproject.toml sim/pyproject.toml
	@sh scripts/bootstrap-venv.sh "$(PYTHON)" "$(VENV)"
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e ./sim
	@touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check reconciler sim tests benchmarks
	$(BIN)/ruff format --check reconciler sim tests benchmarks
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format reconciler sim tests benchmarks
	$(BIN)/ruff check --fix reconciler sim tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite under coverage, in a shuffled order (each test must pass whatever ran before it; the
# seed is fixed so a failure reruns the same way, and printed), which also measures the Python
# processes the tests start (vzgitops everywhere, the simulated vzctl/vzlist in tests/sim:
# pyproject's patch = ["subprocess"]) and prints the combined report; then the replay tests reversed in one
# process. TEST_WORKERS pytest-xdist workers run the tests (most of a test's time is spent
# waiting on vzctl, vzlist, git and ssh processes). One pass, not two: CI's 2 cores took 14
# minutes for a covered pass plus a shuffled one.
TEST_WORKERS ?= 3
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider
test: $(STAMP)
	@bash scripts/system-deps.sh
	$(PYTEST) -n $(TEST_WORKERS) --cov --cov-report=term --order random --order-seed 20261203
	$(PYTEST) --no-cov tests/sim/test_replay.py --order reverse

demo: $(STAMP)
	@bash scripts/system-deps.sh
	$(BIN)/python examples/demo.py

schemas: $(STAMP)
	$(BIN)/vzgitops schema --out schemas --fields docs/FIELDS.md

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.dump
	$(BIN)/python -m benchmarks.migrate
	$(BIN)/python -m benchmarks.sshfleet

check: lint typecheck test

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .import_linter_cache .coverage .coverage.*
