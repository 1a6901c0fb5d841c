"""Fault 5: PostgreSQL stopped under a running ingest service, then started again. A cluster
of our own (initdb/pg_ctl from the Debian binaries) so the machine's server is never touched."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text

from tests import servers
from tests.faults.burst import editors, item_body, pending_outbox, wait_quiet
from tests.faults.conftest import BIN, Stack, client, eventually


class OwnPostgres:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="newsroom-faults-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.port = servers.free_port()
        self._ctl(
            servers._pg_bin("initdb"), "-D", str(self.dir / "data"), "-U", "postgres", "-A", "trust"
        )

    def _ctl(self, *cmd: str) -> None:
        subprocess.run(servers._as_unprivileged(list(cmd)), check=True, capture_output=True)

    def start(self) -> None:
        self._ctl(
            servers._pg_bin("pg_ctl"),
            "-D",
            str(self.dir / "data"),
            "-l",
            str(self.dir / "log"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1",
            "start",
        )

    def stop(self) -> None:
        self._ctl(
            servers._pg_bin("pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop"
        )

    def remove(self) -> None:
        subprocess.run(
            servers._as_unprivileged(
                [servers._pg_bin("pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop"]
            ),
            capture_output=True,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    server.start()
    yield server
    server.remove()


@pytest.fixture
def postgres_url(own_postgres: OwnPostgres) -> Iterator[str]:
    """Overrides the shared fixture: a database on the cluster this module may stop."""
    server = servers.Postgres("127.0.0.1", own_postgres.port)
    with server.database() as url:
        yield url


def _rows(stack: Stack, sql: str) -> int:
    engine = create_engine(stack.database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


@pytest.fixture
def ingest_with_items(stack: Stack, own_postgres: OwnPostgres):

    tokens = editors(stack, 1)
    stack.run(str(BIN / "newsroom"), "rebuild")
    ingest = stack.uvicorn("ingest", "services.ingest.api:create_app")
    rng = random.Random(5)
    with client(ingest, tokens[0]) as http:
        accepted = []
        for n in range(10):
            answer = http.post("/api/v1/items", json=item_body(rng, n))
            assert answer.status_code == 201, answer.text
            accepted.append(answer.json())
    return stack, ingest, tokens[0], accepted


@pytest.mark.timeout(240)
def test_database_down_is_503_with_retry_after(ingest_with_items, own_postgres):
    stack, ingest, token, _ = ingest_with_items
    stack.worker("render", "services.render.tasks", "render", concurrency=2)
    own_postgres.stop()
    try:
        with client(ingest, token) as http:
            answer = http.post("/api/v1/items", json=item_body(random.Random(1), 99))
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert int(answer.headers["retry-after"]) > 0
    finally:
        own_postgres.start()


@pytest.mark.timeout(240)
def test_database_down_then_back_publishes_everything_accepted(ingest_with_items, own_postgres):
    stack, ingest, token, accepted = ingest_with_items

    stack.worker("render", "services.render.tasks", "render", concurrency=2)
    wait_quiet(stack, "render", timeout=120)
    own_postgres.stop()
    stopped_at = time.monotonic()
    try:
        with client(ingest) as http:
            ready = http.get("/readyz")
            assert ready.status_code == 503
            assert ready.headers["content-type"].startswith("application/problem+json")
            assert "database" in ready.text and int(ready.headers["retry-after"]) > 0
        with client(ingest, token) as http:
            refused = http.post("/api/v1/items", json=item_body(random.Random(1), 99))
        assert refused.status_code == 503
        time.sleep(3)
    finally:
        own_postgres.start()
    restarted_at = time.monotonic()
    eventually(
        lambda: client(ingest).get("/readyz").status_code == 200, timeout=60, what="/readyz again"
    )
    ready_after = time.monotonic() - restarted_at
    # Nothing half-written: the refused request left no item and no event behind.
    assert _rows(stack, "SELECT count(*) FROM items") == len(accepted)
    assert _rows(stack, "SELECT count(*) FROM outbox") == len(accepted)
    with client(ingest, token) as http:
        answer = http.post("/api/v1/items", json=item_body(random.Random(2), 100))
    assert answer.status_code == 201, answer.text
    accepted.append(answer.json())
    wait_quiet(stack, "render", timeout=120)
    recovery = time.monotonic() - restarted_at
    for item in accepted:
        page = stack.site / urlsplit(item["url"]).path.lstrip("/") / "index.html"
        assert item["title"] in page.read_text(encoding="utf-8")
    print(
        f"\nFAULT postgres-stop: down {restarted_at - stopped_at:.1f} s; /readyz green "
        f"{ready_after:.1f} s and everything published {recovery:.1f} s after the restart"
    )


@pytest.mark.timeout(240)
def test_render_events_met_during_database_outage_are_not_lost(ingest_with_items, own_postgres):
    stack, ingest, token, accepted = ingest_with_items
    eventually(
        lambda: pending_outbox(stack.database_url) == 0,
        timeout=30,
        what="events relayed to the broker",
    )
    own_postgres.stop()
    try:
        stack.worker("render", "services.render.tasks", "render", concurrency=2)
        # The worker takes the events and meets the outage (it retries them with backoff).
        time.sleep(6)
    finally:
        own_postgres.start()
    wait_quiet(stack, "render", timeout=60)
    for item in accepted:
        page = stack.site / urlsplit(item["url"]).path.lstrip("/") / "index.html"
        assert page.exists(), item["url"]
