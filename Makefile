# Atelier CRM. The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000

.PHONY: run worker serve test install install-dev install-prod migrate lint format vendor bench clean messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-prod: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[prod]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
install-prod: $(VENV)/.installed-prod

migrate: install
	$(BIN)/python -m crm migrate

## Set up, migrate, load the demo company, print the log-in and serve on 127.0.0.1:$(PORT),
## with a job-queue worker beside the server (stopped when the server stops).
run: migrate
	$(BIN)/flask --app app crm demo --port $(PORT)
	$(BIN)/flask --app app crm worker --quiet & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/flask --app app run --host 127.0.0.1 --port $(PORT)

## The job queue's worker alone (production runs it as its own process, with REDIS_URL).
worker: install
	$(BIN)/flask --app app crm worker

## Production-style: migrate, then serve with gunicorn (WORKERS processes, default 4) on
## $(HOST):$(PORT). Set SECRET_KEY and DATABASE_URL (PostgreSQL) in the environment.
WORKERS ?= 4
HOST    ?= 127.0.0.1
serve: install-prod
	$(BIN)/python -m crm migrate
	$(BIN)/gunicorn --workers $(WORKERS) --bind $(HOST):$(PORT) --access-logfile - 'app:create_app()'

## Set up, lint, and run the whole test suite (SQLite, then PostgreSQL when one answers).
test: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/run_tests.py

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Extract marked strings into the catalogs (crm/translations), then compile them.
messages: install-dev
	$(BIN)/python scripts/i18n.py update

## Re-copy front-end libraries from the npm registry (needs Node.js; the files are committed).
vendor:
	npm ci --no-audit --no-fund --ignore-scripts
	$(BIN)/python scripts/vendor.py

bench: install-dev
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
