# Two commands: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
export PYTHONPATH := $(CURDIR):$(CURDIR)/platform
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test lint types contracts pytest bench deps system-deps runtime messages clean help

help:
	@echo "make run    install what is missing, migrate, load the demo, start everything on :8000"
	@echo "make test   the full suite, lint, types and import contracts"
	@echo "make bench  benchmarks; figures in bench/results/*.json"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

deps: $(STAMP) system-deps runtime

# The kernel runtime: the separate environment learners' code runs in (var/kernel-env,
# readable by the sandbox uids). A no-op when it is up to date.
runtime: $(STAMP)
	$(PY) -m sandbox build-runtime --module platform/gateway/learner_client/open_models.py

# bubblewrap (the sandbox) and chromium (browser tests) come from Debian when we are root.
system-deps:
	@missing=""; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing$$missing with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Missing system packages:$$missing (run: sudo apt-get install$$missing)"; \
	  fi; \
	fi

run: deps
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_demo
	$(PY) manage.py collectstatic --no-input --verbosity 0
	exec $(PY) -m config.launch

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: $(STAMP)
	$(VENV)/bin/mypy .

contracts: $(STAMP)
	$(VENV)/bin/lint-imports

# Browser tests run on their own afterwards: a page waiting on a live kernel should not
# compete for the 2 cores with the rest of the suite.
pytest: deps
	$(VENV)/bin/pytest -n 2 --dist loadgroup -m "not browser"
	$(VENV)/bin/pytest -m browser

test: lint types contracts pytest

bench: deps
	$(PY) -m bench $(BENCH)

messages: $(STAMP)
	$(PY) manage.py makemessages -l fr --ignore "*/migrations/*" --ignore .venv --ignore var --ignore tests --ignore bench
	$(PY) manage.py compilemessages --ignore .venv --ignore var

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
