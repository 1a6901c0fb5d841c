# Two commands set up everything on a machine with only Python: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
NEWSROOM := $(VENV)/bin/newsroom
STAMP := $(VENV)/.installed

.PHONY: install run test test-unit test-integration test-e2e test-faults lint migration clean up down logs stack bench

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(STAMP)

## Embedded mode: SQLite, in-process broker and worker, mail as .eml files in var/outbox/.
run: $(STAMP)
	$(NEWSROOM) db upgrade
	$(NEWSROOM) seed
	$(NEWSROOM) run

## Unit, integration (real PostgreSQL, Redis, SMTP) and end-to-end tests, both run modes, in
## TEST_WORKERS parallel processes (pytest-xdist; 0: in this one). Tests that start the whole
## system as processes run one after another on one worker (tests/conftest.py).
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

## ruff: lint rules and the formatter's check; fails on any finding.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test-unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

test-integration: $(STAMP)
	$(PY) -m pytest -q tests/integration

test-e2e: $(STAMP)
	$(PY) -m pytest -q tests/e2e

## Fault injection and hostile input at full size (1,000 operations, 10,000 recipients);
## `make test` runs the same tests bounded.
test-faults: $(STAMP)
	FAULTS_FULL=1 $(PY) -m pytest -q -s -m faults tests/faults

## Benchmarks (never part of `make test`): bench/results/latest.json and latest.md, < 20 min.
bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m bench.run

## Distributed mode with Docker: PostgreSQL, Redis, uvicorn services, Celery workers, beat, nginx.
## `make up` adds compose.override.yml (Mailpit); production: make up COMPOSE="docker compose -f docker-compose.yml"
COMPOSE ?= docker compose -f docker-compose.yml -f compose.override.yml
up:
	$(COMPOSE) up -d --build --wait

down:
	$(COMPOSE) down

logs:
	$(COMPOSE) logs -f --tail=100

## The same topology without Docker: honcho runs docker-compose.yml's commands as local
## processes against this machine's PostgreSQL and Redis, nginx in front on :8080.
stack: $(STAMP)
	$(PY) -m deploy.stack

# Regenerate the initial migration from shared/models.py (only while nothing is released).
migration: $(STAMP)
	rm -f shared/migrations/versions/0001_initial_schema.py /tmp/newsroom-migration.db
	NEWSROOM_DATABASE_URL=sqlite:////tmp/newsroom-migration.db $(PY) -c "from alembic import command; from shared.migrate import alembic_config; command.revision(alembic_config(), message='initial schema', autogenerate=True, rev_id='0001')"

clean:
	rm -rf var/ .pytest_cache/ build/ *.egg-info
