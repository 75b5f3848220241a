# Two commands do everything on a fresh machine with Python 3.11:
#   make demo   - create .venv, install pinned deps, run a real search on digits, print the leaderboard
#   make test   - create/update .venv and run the whole test suite
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?= -n 2 --dist worksteal --durations=30

.PHONY: venv demo test test-fast lint lock clean bench-deps bench-quick

venv: $(STAMP)

# torch first and alone: exactly the local CPU wheel, so nothing later can pull a CUDA build.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . --config-settings editable_mode=compat
	touch $@

demo: $(STAMP)
	$(BIN)/automl search examples/digits.toml
	$(BIN)/automl leaderboard digits-demo --top 10

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

# The bench extra's exact pins from pyproject.toml, --no-deps: nothing may move torch or numpy.
bench-deps: $(STAMP)
	$(BIN)/python -c "import tomllib; t = tomllib.load(open('pyproject.toml', 'rb')); \
	  print(*t['project']['optional-dependencies']['bench'], sep='\n')" > $(VENV)/bench.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -r $(VENV)/bench.txt

bench-quick: bench-deps
	$(BIN)/python benchmarks/search_efficiency.py --quick

lint: $(STAMP)
	$(BIN)/ruff check automl search_spaces trainer dashboard tests benchmarks
	$(BIN)/mypy

lock:
	$(BIN)/python -m pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu$$/torch==\1/' > requirements.lock.new
	{ head -2 requirements.lock; cat requirements.lock.new; } > requirements.lock.tmp && rm requirements.lock.new
	mv requirements.lock.tmp requirements.lock

clean:
	rm -rf $(VENV) automl.db automl.db-* automl_artifacts .pytest_cache
