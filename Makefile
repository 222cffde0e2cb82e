# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# One stamp per install kind, named after the build files: the demo never installs the test extras.
BUILD_SUM := $(shell cat pyproject.toml setup.py | cksum | cut -d' ' -f1)
APP_STAMP := $(VENV)/.installed-app-$(BUILD_SUM)
TEST_STAMP := $(VENV)/.installed-test-$(BUILD_SUM)
# Plain `=`: `make demo PORT=8080` overrides them, a HOST or PORT in the environment does not.
HOST = 127.0.0.1
PORT = 5000
# Empty: the PostgreSQL pass starts a throwaway server of its own. Set it to use a running one.
PG_URL ?=
# The tests' files (SQLite databases, outboxes, the throwaway PostgreSQL) go on a RAM disk when there is one
# with room: nothing there needs to survive a power cut, and fsync costs nothing (measured 18 % faster).
TEST_TMPDIR ?= $(shell df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 && $$4 > 1048576 {print "/dev/shm"}')
TEST_ENV := $(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR))
# Extra pytest arguments for both passes, e.g. make test ARGS="tests/checkin -x"
ARGS =
PG_SERVER := $(if $(PG_URL),env LANYARD_TEST_PG_URL=$(PG_URL),.ci/throwaway-postgresql)

.PHONY: setup demo test test-sqlite test-postgresql bench

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(APP_STAMP): pyproject.toml setup.py | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml setup.py | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

setup: $(TEST_STAMP)

demo: $(APP_STAMP)
	$(VENV)/bin/lanyard demo --host $(HOST) --port $(PORT)

# The two passes run at the same time (one per core); each one's output is shown when it ends.
test: $(TEST_STAMP)
	.ci/system-packages browser $(if $(PG_URL),,postgresql)
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgresql

test-sqlite: $(TEST_STAMP)
	.ci/system-packages browser
	$(TEST_ENV) $(PY) -m pytest $(ARGS)

# The browser tests drive the same server code; they run once, on SQLite.
test-postgresql: $(TEST_STAMP)
	$(if $(PG_URL),,.ci/system-packages postgresql)
	LANYARD_TEST_DB=postgresql $(TEST_ENV) $(PG_SERVER) $(PY) -m pytest -m "not browser" $(ARGS)

bench: $(TEST_STAMP)
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done
