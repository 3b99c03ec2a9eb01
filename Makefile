# The two commands a newcomer needs: `make run` (whole stack, embedded Postgres + NATS)
# and `make test`. Both bootstrap uv when it is missing (from PyPI, into .tools/).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Use the OS trust store too, so registry mirrors behind a corporate CA work without extra setup.
export UV_NATIVE_TLS ?= 1

UV ?= $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
SYNC := $(UV) sync --all-packages --all-extras --frozen
PYTEST_ARGS ?=
# Two pytest workers, each with its own embedded Postgres and NATS: most tests wait on servers and
# processes rather than the CPU, so two halve the wall time on a 2-core machine. A test module stays
# on one worker (its module-scoped stacks are shared by its tests). TEST_WORKERS=0 runs in-process.
TEST_WORKERS ?= 2
DURATION ?= 30m

.PHONY: help run test lint fmt typecheck bench scenario-calm soak sync

help:
	@echo "make run    - start the whole stack (embedded Postgres + NATS + every service); Ctrl-C stops it"
	@echo "make test   - the full test suite on servers it starts itself"
	@echo "make lint   - ruff check, ruff format --check, mypy"
	@echo "make fmt    - ruff format and ruff check --fix"
	@echo "make bench  - benchmarks under bench/, each beside its baseline"
	@echo "make scenario-calm - 10 minutes of the calm dev-stack scenario: no vpin/news/vol_dd alert"
	@echo "make soak   - faults on the running dev stack for DURATION (default 30m), then the invariants"

$(CURDIR)/.tools/bin/uv:
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/python -m pip install --quiet --disable-pip-version-check "uv>=0.5"

sync: $(if $(findstring .tools,$(UV)),$(CURDIR)/.tools/bin/uv)
	$(SYNC)

run: sync
	$(UV) run --frozen mts dev up

test: sync
	$(UV) run --frozen pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile) $(PYTEST_ARGS)

lint: sync
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy packages/*/src services/*/src

typecheck: sync
	$(UV) run --frozen mypy packages/*/src services/*/src

fmt: sync
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

BENCHMARKS := bench/audit.py bench/halt.py bench/watchdogs.py bench/api.py

bench: sync
	@set -e; for b in $(BENCHMARKS); do echo "== $$b"; $(UV) run --frozen python $$b; done

# The calm dev-stack scenario must raise no vpin/news/vol_dd alert (issue 6); 10 minutes by default.
scenario-calm: sync
	$(UV) run --frozen python bench/scenario_calm.py --duration $(or $(CALM_SECONDS),600)

# Fault injection on the dev stack for $(DURATION) (kill -9, NATS and Postgres restarts, SIGSTOP,
# a full stream), then the invariants; figures in bench/results/reliability.json (docs/operations/reliability.md).
soak: sync
	$(UV) run --frozen python -m tests.chaos.soak --duration $(DURATION) --report $(or $(SOAK_REPORT),bench/results/reliability.json)
