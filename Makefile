# revcast: the README's commands. `make demo` and `make test` work on a fresh machine with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export DAGSTER_HOME := $(CURDIR)/.dagster
export TF_CPP_MIN_LOG_LEVEL := 2
export GX_ANALYTICS_ENABLED := False

.PHONY: install demo test ui bench lint clean screenshots

$(VENV)/.installed: pyproject.toml
	@echo "[install] creating $(VENV) and installing revcast (first time: a few minutes, TensorFlow is large)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

# The sample data ends 2023-12-31: the demo and its UI stop their partitions there (set your own for real data).
demo ui: export REVCAST_END_DATE ?= 2023-12-31

demo: install
	$(PY) -m revcast_app.cli demo

test: install
	$(PY) -m pytest

# the README's screenshots, taken by the browser test (needs Debian's chromium)
screenshots: install
	REVCAST_SCREENSHOTS=$(CURDIR)/docs/screenshots $(PY) -m pytest -m browser tests/browser

ui: install
	$(VENV)/bin/dagster dev -w workspace.yaml

bench: install
	$(PY) bench/ingest.py

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf data/landing warehouse/*.duckdb* warehouse/models warehouse/reports
