# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: setup demo test test-sqlite test-postgresql bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/lanyard demo

test: test-sqlite test-postgresql

test-sqlite: $(STAMP)
	$(PY) -m pytest

# The browser tests drive the same server code; they run once, on SQLite.
test-postgresql: $(STAMP)
	LANYARD_TEST_DB=postgresql LANYARD_TEST_PG_URL=$(PG_URL) $(PY) -m pytest -m "not browser"

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done
