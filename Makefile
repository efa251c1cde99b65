# sstcast: `make demo` runs the whole journey on the built-in sample (sample, ingest, train,
# forecast the test year, evaluate, maps), `make test` the tests.
# Both create .venv on first use (Python >= 3.11 as `python3`, or set PYTHON=...).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_MINUTES ?= 10

.PHONY: install demo test lint format bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/sstcast sample --out data/sample
	$(BIN)/sstcast ingest sample_sst
	$(BIN)/sstcast train --region bohai --max-time 00:00:$(DEMO_MINUTES):00
	$(BIN)/sstcast forecast --region bohai --lead 10

test: install
	$(BIN)/ruff check sstcast tests benchmarks
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check sstcast tests benchmarks
	$(BIN)/ruff format --check sstcast tests benchmarks

format: install
	$(BIN)/ruff format sstcast tests benchmarks
	$(BIN)/ruff check --fix sstcast tests benchmarks

bench: install
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/bench_loader.py
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_forecast.py  # needs a trained Bohai run (make demo)

clean:
	rm -rf data/cubes runs .pytest_cache .ruff_cache
