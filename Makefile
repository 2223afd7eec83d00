# OpenHEP — developer entry points.  `make demo` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install system-deps demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev,bench]'
	touch $(STAMP)

# Debian packages the tests start for real (PostgreSQL); installed when run as root.
system-deps:
	bash scripts/system-deps.sh

# Load the real CODP records (the repository's data/) into ./openhep-data and serve the portal.
DEMO_PORT ?= 8000
demo: install
	$(BIN)/openhep demo
	$(BIN)/openhep stats
	@echo "serving the portal at http://127.0.0.1:$(DEMO_PORT)/ (API: /api/records/?q=muon; Ctrl-C stops)"
	$(BIN)/openhep serve --port $(DEMO_PORT)

test: install system-deps
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# Every benchmark; each appends its JSON line to bench/results/<name>.jsonl (docs/performance.md).
BENCHES ?= ingest search files pages floor workers load analysis events
bench: install system-deps
	for name in $(BENCHES); do $(BIN)/python -m bench.$$name || exit 1; done

clean:
	rm -rf $(VENV) openhep-data .pytest_cache .mypy_cache .ruff_cache
