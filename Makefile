# Two entry points for a fresh machine: `make run` (the main job on the bundled sample) and
# `make test` (lint + every test). Both create .venv here and install the pinned dependencies.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: run test lint mutants evaluate system-deps check-java clean

check-java:
	@scripts/check_java.sh

$(STAMP): pyproject.toml
	@scripts/check_java.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	install -m 755 scripts/beeline $(BIN)/beeline
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/segmentation run

# Debian packages the service, BI and browser tests need (PostgreSQL metastore, its JDBC driver, Chromium).
system-deps:
	@scripts/install_system_deps.sh

lint: $(STAMP)
	$(BIN)/ruff check ml tests/python bench reference scripts
	cd $(CURDIR) && $(BIN)/sqlfluff lint models

test: $(STAMP) system-deps lint
	$(BIN)/pytest tests/python
	$(BIN)/python scripts/project_evaluator.py

# Break each rule once and show its fast tests fail (scripts/mutants.py; results in docs/mutants.md).
# Needs a built warehouse: `make run` first, or SEGMENTATION_HOME pointing at one.
mutants: $(STAMP)
	$(BIN)/python scripts/run_mutants.py

# dbt Labs' dbt-project-evaluator (vendored) on a scratch copy of the project; also the last step of `make test`.
evaluate: $(STAMP)
	$(BIN)/python scripts/project_evaluator.py

clean:
	rm -rf .warehouse target logs
