# Sleutelfiguren: `make classify` and `make test` are all a new user needs (see README.md).
# Output files are real targets with their inputs as prerequisites: a rerun skips what is
# up to date.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
COHORT ?= data/demo
OUT ?= out/demo
JOBS ?= 2
SRC := $(shell find pipeline -name '*.py' -o -name '*.j2') pyproject.toml
CONFIGS := $(wildcard configs/*.yaml configs/*.cfg)
DEMO_INPUTS := $(shell find $(COHORT) -type f -not -path '*/authoring/*' -not -name '*.sqlite*' 2>/dev/null)
MODEL := models/default/model.skops

.DEFAULT_GOAL := help
.PHONY: help setup classify train train-spacy test test-fast bench lint clean report-screenshot browser demo-data

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

setup: $(STAMP) ## create .venv (if missing) and install the package with dev extras

$(OUT)/manifest.json: $(STAMP) $(SRC) $(CONFIGS) $(DEMO_INPUTS) $(MODEL)
	$(BIN)/pipeline run $(COHORT) --out $(OUT) --jobs $(JOBS)

classify: $(OUT)/manifest.json ## run the whole pipeline on the demo cohort into out/demo

$(MODEL): | $(STAMP)
	$(BIN)/pipeline train $(COHORT)

train: $(STAMP) ## retrain the default model from the demo's labels (deterministic)
	$(BIN)/pipeline train $(COHORT)

train-spacy: $(STAMP) ## retrain the second backend, models/spacy_textcat (deterministic, ~4 min)
	$(BIN)/python -m pipeline.coding.spacy_model $(COHORT) --out models/spacy_textcat

demo-data: $(STAMP) ## regenerate the demo network and render the hand-written transcripts
	$(BIN)/python data/demo/generate_network.py
	$(BIN)/python tools/render_demo_transcripts.py

test: $(STAMP) ## run the test suite (exit code 5, "no tests", counts as a failure)
	$(BIN)/python -m pytest -q

bench: $(STAMP) ## benchmarks: stage times and memory at 10/100/1000 schools, coder throughput
	$(BIN)/python bench/run_bench.py
	$(BIN)/python bench/steady_state.py

lint: $(STAMP) ## ruff
	$(BIN)/ruff check pipeline tests bench tools

browser: ## install headless Chromium + driver for the report browser test (Debian)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)

report-screenshot: classify browser ## PNG screenshot of out/demo/report.html
	chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
	  --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
	  --window-size=1400,3000 --screenshot=$(OUT)/report.png file://$(abspath $(OUT))/report.html

clean: ## remove outputs and caches (keeps .venv and models/)
	rm -rf out .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
