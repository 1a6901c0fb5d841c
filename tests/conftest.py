"""Fixtures on real servers: SQLite files, PostgreSQL and Redis on this machine (or started
here when none answers), and an aiosmtpd server that records what it receives."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import servers

# Playwright on Debian's Chromium and the page checks: every test may ask for `page` & co.
pytest_plugins = ["tests.browser"]


def _reset_caches() -> None:
    from shared import celery_app as celery_module
    from shared.config import get_settings

    get_settings.cache_clear()
    celery_module.configure(get_settings())


@pytest.fixture
def site_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "site"
    monkeypatch.setenv("NEWSROOM_SITE_DIR", str(path))
    _reset_caches()
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'newsroom.db'}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[servers.Postgres]:
    with servers.postgres() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[servers.Redis]:
    with servers.redis() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: servers.Postgres) -> Iterator[str]:
    """A new, empty database of its own on the PostgreSQL server, dropped afterwards."""
    with postgres_server.database() as url:
        yield url


@pytest.fixture
def redis_url(redis_server: servers.Redis) -> Iterator[str]:
    """A Redis database number of our own, emptied before and after."""
    with redis_server.database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The same test on both databases the project runs on."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def db(database_url: str, site_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated database (SQLite and PostgreSQL), embedded broker, mail to files in tmp."""
    from shared.migrate import upgrade

    monkeypatch.setenv("NEWSROOM_DATABASE_URL", database_url)
    monkeypatch.setenv("NEWSROOM_BROKER_URL", "memory://")
    monkeypatch.setenv("NEWSROOM_SMTP_URL", f"file:{tmp_path / 'outbox'}")
    monkeypatch.setenv("NEWSROOM_SECRET_KEY", "test-secret-" + uuid.uuid4().hex)
    # Each item its own mail: the tests of immediate windows open theirs themselves.
    monkeypatch.setenv("NEWSROOM_IMMEDIATE_WINDOW", "0")
    _reset_caches()
    upgrade(database_url)
    return database_url


@pytest.fixture
def smtp_server() -> Iterator[servers.SMTPRecorder]:
    """A real SMTP server (aiosmtpd) on a free port that keeps every message it accepts."""
    with servers.smtp() as server:
        yield server


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    # No developer's .env or NEWSROOM_ variables leak into a test.
    for key in list(os.environ):
        if key.startswith("NEWSROOM_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    _reset_caches()
    relays = relay_threads()
    yield
    _reset_caches()
    left = relay_threads() - relays
    # A relay left running would follow the next test's settings into its database.
    assert not left, f"the test left {len(left)} outbox relay thread(s) running"


def relay_threads() -> set[threading.Thread]:
    """The outbox relay threads running in this process."""
    from shared.outbox import RelayThread

    return {t for t in threading.enumerate() if isinstance(t, RelayThread) and t.is_alive()}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Under `make test`'s parallel workers (pytest-xdist --dist loadgroup), the tests that start
    # the whole system as processes (uvicorn, Celery workers, their own Redis or PostgreSQL;
    # `site` is Redaktionen's `newsroom run`)
    # run one after another on one worker: on 2 cores, two of them at once starve each other's
    # workers past their bounded waits. Everything else runs beside them on the other worker.
    for item in items:
        if {"processes", "stack", "site"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("processes"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Lets fixtures see whether their test failed (to print the logs of its processes).
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
