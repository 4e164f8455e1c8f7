# Link & Learn: `make run` serves on the embedded default, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# `make serve`: server processes on one port, one per core unless told otherwise.
WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
# granian was the fastest of the servers compared in docs/bench.md ("Choosing the server").
# asginl: plain ASGI without the lifespan protocol, which Channels' router does not speak.
GRANIAN = $(BIN)/granian --interface asginl --host $(HOST) --port $(PORT) --log-level warning --loop uvloop

.PHONY: run serve test lint format migrate bench check-deploy clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

migrate: $(VENV)/.runtime-installed
	$(BIN)/python manage.py migrate --noinput

# One process: the embedded default (SQLite in WAL mode, in-memory channel layer) needs no more.
run: migrate
	$(GRANIAN) --workers 1 linklearn.asgi:application

# The production shape: WORKERS processes sharing PostgreSQL (DATABASE_URL) and Redis (REDIS_URL),
# which carry presence, chat and session events from one process to another.
serve: $(VENV)/.runtime-installed
	@case "$$DATABASE_URL" in postgres://*|postgresql://*) ;; \
		*) echo "make serve needs DATABASE_URL=postgres://... (several processes share it)"; exit 2;; esac
	@test -n "$$REDIS_URL$$REDIS_HOST" || { echo "make serve needs REDIS_URL (the channel layer shared by the processes)"; exit 2; }
	$(BIN)/python manage.py migrate --noinput
	$(GRANIAN) --workers $(WORKERS) --respawn-failed-workers linklearn.asgi:application

test: $(VENV)/.dev-installed
	$(BIN)/pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench $(BENCH_ARGS)

check-deploy: $(VENV)/.runtime-installed
	DEBUG=False SECRET_KEY=$$($(BIN)/python -c "import secrets; print(secrets.token_urlsafe(64))") \
		ALLOWED_HOSTS=example.com $(BIN)/python manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
