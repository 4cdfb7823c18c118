# HelpCenter. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed ## Create .venv and install the runtime dependencies
install-dev: $(VENV)/.installed-dev ## Install test, lint and benchmark tools too

messages: ## Rebuild the Chinese translation catalogue (.mo) from locale/*.po
	$(PY) manage.py compilemessages --ignore=.venv -v 0

migrate: install ## Apply database migrations
	$(PY) manage.py migrate --no-input -v 0

demo: migrate ## Load the demo users and articles (idempotent)
	$(PY) manage.py load_demo

static: install ## Collect static files for the server
	$(PY) manage.py collectstatic --no-input -v 0

run: demo static ## Install, migrate, load demo data and serve HTTP+WebSocket with a task worker
	$(PY) manage.py serve --port $(PORT)

test: install-dev ## Run the test suite (unit, API, pages; then the browser tests)
	bash bin/test

lint: install-dev ## Check code style with ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev ## Format code with ruff
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install-dev ## Run the benchmarks (figures go to docs/benchmarks.md by hand)
	bash bench/run

clean: ## Remove the virtualenv and local state (database, static files)
	rm -rf $(VENV) var

.PHONY: help install install-dev messages migrate demo static run test lint format bench clean
