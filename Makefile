# Every target does its own set-up: `make test` and `make demo` work on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The Lambda runtime is python3.13; pyenv provides it on this kind of machine.
PYTHON313 ?= $(shell PYENV_VERSION=3.13.0 pyenv which python3.13 2>/dev/null || command -v python3.13)
VENV      := .venv
BIN       := $(VENV)/bin
PY        := $(BIN)/python
# sam build looks for `python3.13` on PATH: the venv's own interpreter answers.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export AWS_DEFAULT_REGION ?= us-east-1
# The embedded AWS's clock for `make demo` and `make local`: 1 is real time, 10 ten times
# faster, auto skips every wait while nothing else runs (README, "The embedded AWS's clock").
TIME_SCALE ?= 1
# Three pytest workers on two cores, a test file each at a time (a file's embedded AWS is set
# up once): the workflow and end-to-end tests spend much of their time waiting (real-time
# botocore backoff inside functions, SQS long polls), which the others use. Measured on the
# same tree: 6 min 37 s with three, 8 min 20 s with two.
PYTEST_ARGS ?= -n 3 --dist loadfile --no-loadscope-reorder
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv test checks unit workflow e2e lint typecheck validate build scan demo local bench asl clean

help:
	@echo "make demo   - start the embedded AWS, deploy template.yaml, provision a private API, step by step"
	@echo "make test   - every test: lint, types, template, security scan, unit, workflow and end-to-end"
	@echo "make local  - run the embedded AWS in the foreground for the AWS CLI"
	@echo "make bench  - cold start, end-to-end overhead, cost per provisioning, a burst of 50 under the rate limits"

# uv installs the locked toolchain in seconds (pip took about a minute and a half). It is
# bootstrapped into .uv/ with the interpreter's own pip, pinned, so nothing outside the clone changes.
UV_VERSION := 0.13.9
UV         := .uv/bin/uv

$(UV):
	@test -n "$(PYTHON313)" || { echo "python3.13 not found (try: pyenv install 3.13.0)"; exit 1; }
	$(PYTHON313) -m venv .uv
	.uv/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Byte-compiled ahead: the tests start hundreds of interpreters (workers, Lambda zygotes), and
# where PYTHONDONTWRITEBYTECODE is set (as on this machine) each would compile what it imports.
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	UV_PYTHON_DOWNLOADS=never $(UV) sync --locked --compile-bytecode --python $(PYTHON313)
	touch $@

venv: $(VENV)/.installed

# checkov pins boto3 1.35 (and packaging < 24, networkx < 2.7), which the toolchain cannot use:
# it has uv.lock's `scan` group and a venv of its own. Not byte-compiled ahead: compiling its
# 5,552 files took 28 to 56 s of a fresh clone's run, the modules one checkov run imports
# compile in about 5 s (measured with PYTHONDONTWRITEBYTECODE=1, as on this machine).
SCAN_VENV := .venv-scan

$(SCAN_VENV)/.installed: pyproject.toml uv.lock | $(UV)
	UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=$(SCAN_VENV) $(UV) sync --locked --only-group scan --python $(PYTHON313)
	touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

validate: venv
	$(BIN)/sam validate --lint --template template.yaml

build: venv
	$(BIN)/sam build --template template.yaml

# checkov on the template as SAM translates it; failed checks must be listed, with a reason,
# in scan/checkov-skips.txt
scan: venv $(SCAN_VENV)/.installed
	$(PY) -m scan

unit: venv
	$(BIN)/pytest $(PYTEST_ARGS) -m unit

workflow: venv
	$(BIN)/pytest $(PYTEST_ARGS) -m workflow

e2e: venv
	$(BIN)/pytest $(PYTEST_ARGS) -m e2e

# The static checks first, then every test. (Run beside pytest, the checks made no run shorter:
# pytest's three workers keep both cores of this kind of machine busy; a fresh clone's run took
# 8 min 6 s that way, pytest 7 min 30 s of it.)
test: checks
	$(BIN)/pytest $(PYTEST_ARGS)

# Two at a time: each check is one process on one core (mypy and sam build take about half a
# minute each on a fresh clone), and each one's output is kept together. Measured in one fresh
# clone, alternating, twice: 72 s and 75 s one after the other, 47 s and 46 s two at a time.
checks: venv
	$(MAKE) --no-print-directory -j2 --output-sync=target lint typecheck validate build scan

demo: venv
	$(PY) -m emulator demo --time-scale $(TIME_SCALE)

local: venv
	$(PY) -m emulator serve --time-scale $(TIME_SCALE)

bench: venv
	$(PY) -m bench

# statemachine/*.asl.json from their description (statemachine/workflows.py); a test checks them
asl: venv
	$(PY) -m statemachine

clean:
	rm -rf $(VENV) $(SCAN_VENV) .uv .aws-sam .pytest_cache .mypy_cache .ruff_cache
