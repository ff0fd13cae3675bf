# clarify-sync — every target bootstraps the virtual environment it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CLI    := $(BIN)/clarify-sync

.PHONY: help install test soak demo sync push status emulator bench lint clean

help:
	@echo "make test      run the test suite (emulator over HTTP, DuckDB, Postgres)"
	@echo "make soak      the combination test over many random seeds: make soak SEEDS=1000"
	@echo "make demo      start a local emulator with demo data and sync it into clarify_sync.duckdb"
	@echo "make sync      sync the real Clarify workspace named by CLARIFY_* settings"
	@echo "make push      push warehouse changes back: make push ARGS='--object person --from-table scores'"
	@echo "make status    show each object's cursor, row count and last run"
	@echo "make emulator  run the emulator in the foreground"
	@echo "make bench     benchmarks against dlt's rest_api baseline"
	@echo "make lint      ruff"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/pytest -q -n 4

SEEDS ?= 1000
soak: $(STAMP)
	CLARIFY_COMBO_COUNT=$(SEEDS) $(BIN)/pytest -q -n 4 tests/combo

demo: $(STAMP)
	$(CLI) demo

sync: $(STAMP)
	$(CLI) sync $(ARGS)

push: $(STAMP)
	$(CLI) push $(ARGS)

status: $(STAMP)
	$(CLI) status $(ARGS)

emulator: $(STAMP)
	$(CLI) emulator $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache clarify_sync.duckdb clarify_sync.duckdb.wal clarify_sync.duckdb.*.sync.lock
