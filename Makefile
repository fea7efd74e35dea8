# The two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The suite runs against PostgreSQL and Redis on this machine.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/versatools
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test install install-dev services lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt

install-dev: $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt

# Zero-setup first run on SQLite: migrate, load the catalog, print an operator login, serve.
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py loaddata fixtures/*.json
	$(BIN)/python manage.py create_operator
	$(BIN)/python manage.py runserver 127.0.0.1:8000

services:
	./scripts/ensure-services.sh

test: install-dev services
	DATABASE_URL=$(TEST_DATABASE_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install-dev services
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) db.sqlite3 media staticfiles
