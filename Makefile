# followmoney — two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: demo test test-lowest bench bench-scale fuzz docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# the bundled sample data, then a synthetic multi-source case (STRs, camt.053, MT940, bank CSV:
# its controller is the top case)
demo: $(STAMP)
	$(BIN)/followmoney demo
	$(BIN)/followmoney demo --multisource --out demo_output_multisource

test: $(STAMP)
	$(BIN)/python -m pytest

# The same tests under the lowest pandas/pyarrow pyproject.toml allows (ci/lowest.txt); CI runs both.
LOW := .venv-lowest
$(LOW)/.installed-dev: pyproject.toml ci/lowest.txt
	$(PYTHON) -m venv $(LOW)
	$(LOW)/bin/python -m pip install --quiet --upgrade pip
	$(LOW)/bin/python -m pip install --quiet -c ci/lowest.txt -e ".[dev]"
	touch $@

test-lowest: $(LOW)/.installed-dev
	$(LOW)/bin/python -m pytest
# mutation fuzzing of every adapter at length (tests/test_fuzz.py runs a short round in `make test`):
# 2,000 inputs per adapter; reports tracebacks, hangs, records lost without a reject and messages
# that quote the input; failing inputs are saved to fuzz_failures/. FUZZ_N=... FUZZ_SEED=... to vary.
FUZZ_N    ?= 2000
FUZZ_SEED ?= 14
fuzz: $(STAMP)
	$(BIN)/python tests/fuzzing.py --per-adapter $(FUZZ_N) --seed $(FUZZ_SEED) --save fuzz_failures

# the rule reference, generated from the rule catalogue (src/followmoney/detect/rules/catalogue.toml);
# `make test` fails when the committed docs/rules.md differs from it.
docs: $(STAMP)
	$(BIN)/python -m followmoney.detect.rules docs/rules.md

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# score at national scale: IBM-format files of 1 M and 5 M rows (SCALE=50M adds 50 M, SCALE=small
# is a 100 k / 250 k smoke run, SCALE=2000,1M any sizes; REPEAT=N keeps the best of N runs), each
# against a bare pyarrow.csv.read_csv of the same file; figures in bench_output/scale.json.
SCALE  ?= default
REPEAT ?= 1
bench-scale: $(STAMP)
	SCALE=$(SCALE) $(BIN)/python benchmarks/bench_scale.py --repeat $(REPEAT)

clean:
	rm -rf $(VENV) $(LOW) demo_output demo_output_multisource demo_output_multisource_sources .pytest_cache fuzz_failures
