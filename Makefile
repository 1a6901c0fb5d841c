# Two commands set up everything on a machine with only Python: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
NEWSROOM := $(VENV)/bin/newsroom
STAMP := $(VENV)/.installed
# Every Python package, pinned with its hashes: what the image installs (LOCK) and what
# `make run` and `make test` install (DEV_LOCK, the same plus the test tools). `make lock`
# writes both from pyproject.toml; installing from them needs pip only.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
# setuptools builds the project itself (pyproject.toml's build-system), so it is locked too.
BUILD_REQUIREMENTS := setuptools>=68
UV_COMPILE = $(VENV)/bin/uv pip compile pyproject.toml - --universal --python-version 3.11 \
	--generate-hashes --quiet --custom-compile-command "make lock"

.PHONY: install lock secrets run test test-unit test-integration test-e2e test-faults lint migration clean up down logs stack bench

$(STAMP): pyproject.toml $(DEV_LOCK)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r $(DEV_LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@$(PY) -m pip check >/dev/null || { $(PY) -m pip check; \
		echo "pyproject.toml needs packages $(DEV_LOCK) does not pin: run make lock" >&2; exit 1; }
	touch $@

install: $(STAMP)

## Pin every dependency with hashes (uv, installed here for this alone); commit both files.
lock:
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet 'uv>=0.9,<1'
	echo '$(BUILD_REQUIREMENTS)' | $(UV_COMPILE) --extra dkim -o $(LOCK)
	echo '$(BUILD_REQUIREMENTS)' | $(UV_COMPILE) --extra dkim --extra test -c $(LOCK) -o $(DEV_LOCK)

## Embedded mode: SQLite, in-process broker and worker, mail as .eml files in var/outbox/.
## It prints the address it serves (NEWSROOM_PORT=8123 make run serves and links :8123).
run: $(STAMP)
	$(NEWSROOM) db upgrade
	$(NEWSROOM) seed
	$(NEWSROOM) run

## Unit, integration (real PostgreSQL, Redis, SMTP) and end-to-end tests, both run modes, in
## TEST_WORKERS parallel processes (pytest-xdist; 0: in this one). Tests that start the whole
## system as processes run one after another on one worker (tests/conftest.py); the others
## share the rest. Three on two cores: many tests wait (for a scheduled minute, a worker, a
## timeout) more than they compute.
TEST_WORKERS ?= 3
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
up: secrets
	test -s secrets/smtp_url || echo 'smtp://mailpit:1025' > secrets/smtp_url
	$(COMPOSE) up -d --build --wait

## The random secrets docker-compose.yml reads from ./secrets/ (kept when they exist); write
## ./secrets/smtp_url yourself for production. Readable by the containers' users, the folder
## by you only.
secrets:
	mkdir -p secrets && chmod 700 secrets
	for name in postgres_password redis_password secret_key; do \
		test -s secrets/$$name || python3 -c "import secrets; print(secrets.token_urlsafe(32))" > secrets/$$name; \
		chmod 644 secrets/$$name; \
	done

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
