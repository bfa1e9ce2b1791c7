# README's two commands: `make run` and `make test`. Each does all set-up itself on a bare
# machine: finds Python 3.12+, installs uv into var/tools, syncs the locked packages into .venv,
# starts embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are set.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
UV := var/tools/bin/uv
UV_VERSION := 0.13.9
# pytest-xdist workers; 2 cores here
PYTEST_ARGS ?= -n 2

.PHONY: help run test browser lint clean bench

help:
	@echo "make run    start the platform with the demo world (http://127.0.0.1:8000/)"
	@echo "make test   run the whole test suite"
	@echo "make bench  run the benchmarks in bench/ (slow: seeds 1,000,000 sessions)"

$(UV):
	@py=$$(scripts/find-python) || exit 1; \
	  echo "using $$py to install uv"; \
	  "$$py" -m venv var/tools && var/tools/bin/pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --python "$$(scripts/find-python)"
	@touch $@

run: $(VENV)/.synced
	$(PY) scripts/devstack.py run

# Two pytest runs on one PostgreSQL and Redis: everything but the browser tests, then the browser
# tests (tests/browser) in a process of their own. Playwright's sync API leaves an event loop in
# its process's main thread, and asgiref's async_to_sync (the Telegram bot's tests) then refuses
# to run or hands its work to that loop.
test: $(VENV)/.synced browser
	$(PY) scripts/devstack.py test -- bash -c '$(PY) -m pytest $(PYTEST_ARGS) --ignore=tests/browser && $(PY) -m pytest $(PYTEST_ARGS) tests/browser'

# The browser tests (tests/browser) drive Debian's Chromium; Playwright's own download is not used.
CHROMIUM := /usr/bin/chromium
browser:
	@if [ -d tests/browser ] && [ ! -x $(CHROMIUM) ]; then \
	  echo "installing Debian chromium for tests/browser"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	    || { echo "error: could not install chromium with apt-get (needs root and network);" \
	              "install Debian's chromium package so $(CHROMIUM) exists, then rerun make test" >&2; exit 1; }; \
	fi

bench: $(VENV)/.synced
	$(PY) scripts/devstack.py test --profile bench -- $(PY) bench/run_all.py

clean:
	rm -rf var/test test-artifacts
