# The two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The suite runs against PostgreSQL and Redis on this machine.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/versatools
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# The second pass: the database-touching tests through the local PgBouncer in
# transaction mode (scripts/ensure-pgbouncer.sh); the test database is created
# and migrated through PGBOUNCER_DIRECT_URL.
PGBOUNCER_DATABASE_URL ?= postgres://postgres@127.0.0.1:6432/versatools_pgb?pgbouncer=true
PGBOUNCER_DIRECT_URL ?= postgres://postgres@127.0.0.1:5432/versatools_pgb
# The third pass: the tests marked both_dialects on SQLite, the database of
# `make run` (sql/queries/sqlite/). The URL picks the dialect; pytest keeps the
# test database itself in its own temporary directory (conftest.py).
SQLITE_TEST_DATABASE_URL ?= sqlite:///$(CURDIR)/.pytest-sqlite.db

.PHONY: run test test-fast install install-dev services lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt

install-dev: $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt

# Zero-setup first run on SQLite: migrate, load the catalog, print an operator login, serve.
# Every step keeps what is there, so a second `make run` loses no edit: the
# catalog is inserted only where missing (load_catalog, never loaddata, which
# overwrites), and an existing operator keeps its password.
PORT ?= 8000
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_catalog
	$(BIN)/python manage.py create_operator --admin-url http://127.0.0.1:$(PORT)/admin/
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

services:
	./scripts/ensure-services.sh
	./scripts/ensure-pgbouncer.sh

# Chromium and its driver for the browser tests (apt, only when missing).
.PHONY: browser
browser:
	./scripts/ensure-browser.sh

test: install-dev services browser
	DATABASE_URL='$(TEST_DATABASE_URL)' TEST_REDIS_URL='$(TEST_REDIS_URL)' $(BIN)/pytest
	DATABASE_URL='$(PGBOUNCER_DATABASE_URL)' DIRECT_URL='$(PGBOUNCER_DIRECT_URL)' TEST_REDIS_URL='$(TEST_REDIS_URL)' \
		$(BIN)/pytest --through-pgbouncer
	DATABASE_URL='$(SQLITE_TEST_DATABASE_URL)' $(BIN)/pytest --sqlite-pass

# The quick loop while developing: PostgreSQL only, no PgBouncer pass, and
# without the tests marked slow (they start processes: workers, gunicorn,
# browsers, pg_dump), spread over FAST_WORKERS processes (pytest-xdist; each
# gets its own test database; the slow tests, which share one Redis database
# with their Celery workers, must not run in parallel). CI (`make test`) runs
# everything, one process.
FAST_WORKERS ?= 2
test-fast: install-dev
	./scripts/ensure-services.sh
	DATABASE_URL='$(TEST_DATABASE_URL)' TEST_REDIS_URL='$(TEST_REDIS_URL)' $(BIN)/pytest -m "not slow" -n $(FAST_WORKERS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy with django-stubs over the application code (config in pyproject.toml).
typecheck: install-dev
	$(BIN)/mypy

bench: install-dev services
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) db.sqlite3 media staticfiles
