"""Real servers for the tests: the machine's PostgreSQL and Redis when they answer, otherwise
ones started here from the installed server binaries; and an aiosmtpd server in a thread."""

from __future__ import annotations

import contextlib
import email
import email.policy
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

PG_HOST, PG_PORT = "127.0.0.1", int(os.environ.get("TEST_PG_PORT", "5432"))
REDIS_HOST, REDIS_PORT = "127.0.0.1", int(os.environ.get("TEST_REDIS_PORT", "6379"))
# Our own Redis database number on the shared server, so other data there is never touched;
# under pytest-xdist each worker (gw0, gw1, ...) takes the next one: TEST_REDIS_DB + its index.
REDIS_DB = int(os.environ.get("TEST_REDIS_DB", "13")) + int(
    os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s")
        time.sleep(0.1)


def _as_unprivileged(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        raise RuntimeError(
            f"no PostgreSQL answers on {PG_HOST}:{PG_PORT} and no `{name}` is installed: "
            "install the server (Debian: apt-get install postgresql)"
        )
    return found


@dataclass
class Postgres:
    host: str
    port: int
    user: str = "postgres"

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{dbname}"

    def _admin(self):
        import psycopg

        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        )

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """A new empty database, dropped (with its connections) afterwards."""
        name = f"newsroom_test_{uuid.uuid4().hex[:12]}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield self.url(name)
        finally:
            from shared.db import engine_for

            for engine_url in [self.url(name)]:
                engine_for(engine_url).dispose()
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def postgres() -> Iterator[Postgres]:
    """The machine's PostgreSQL, or a throwaway cluster started from the installed binaries."""
    if port_open(PG_HOST, PG_PORT):
        yield Postgres(PG_HOST, PG_PORT)
        return
    datadir = Path(tempfile.mkdtemp(prefix="newsroom-pg-"))
    port = free_port()
    if os.geteuid() == 0:
        shutil.chown(datadir, "postgres", "postgres")
    subprocess.run(
        _as_unprivileged(
            [_pg_bin("initdb"), "-D", str(datadir / "data"), "-U", "postgres", "-A", "trust"]
        ),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        _as_unprivileged(
            [
                _pg_bin("pg_ctl"),
                "-D",
                str(datadir / "data"),
                "-l",
                str(datadir / "log"),
                "-w",
                "-o",
                f"-p {port} -k {datadir} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield Postgres("127.0.0.1", port)
    finally:
        subprocess.run(
            _as_unprivileged(
                [_pg_bin("pg_ctl"), "-D", str(datadir / "data"), "-m", "immediate", "stop"]
            ),
            capture_output=True,
        )
        shutil.rmtree(datadir, ignore_errors=True)


@dataclass
class Redis:
    host: str
    port: int
    db: int = REDIS_DB

    @property
    def base_url(self) -> str:
        return f"redis://{self.host}:{self.port}"

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """Our own database number, emptied before and after."""
        import redis as redis_client

        client = redis_client.Redis(host=self.host, port=self.port, db=self.db)
        client.flushdb()
        try:
            yield f"{self.base_url}/{self.db}"
        finally:
            client.flushdb()
            client.close()


@contextlib.contextmanager
def redis() -> Iterator[Redis]:
    """The machine's Redis, or one started here from the installed `redis-server`."""
    if port_open(REDIS_HOST, REDIS_PORT):
        yield Redis(REDIS_HOST, REDIS_PORT)
        return
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        raise RuntimeError(
            f"no Redis answers on {REDIS_HOST}:{REDIS_PORT} and no redis-server is installed: "
            "install it (Debian: apt-get install redis-server)"
        )
    workdir = tempfile.mkdtemp(prefix="newsroom-redis-")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            workdir,
            "--appendonly",
            "yes",
            "--save",
            "",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", port)
        yield Redis("127.0.0.1", port)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class SMTPRecorder:
    """What a real SMTP server received: envelope and parsed message per mail."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def add(self, mail_from: str, rcpt_tos: list[str], data: bytes) -> None:
        message = email.message_from_bytes(data, policy=email.policy.default)
        with self._arrived:
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append((mail_from, list(rcpt_tos)))
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[EmailMessage]:
        """Block until at least `count` messages arrived (bounded), then return them all."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.messages) >= count, timeout=timeout):
                raise TimeoutError(f"{len(self.messages)} of {count} mails after {timeout} s")
            return list(self.messages)

    def to(self, address: str) -> list[EmailMessage]:
        return [
            m
            for m, (_, rcpts) in zip(self.messages, self.envelopes, strict=False)
            if address in rcpts
        ]


class _RecordingHandler:
    def __init__(self, recorder: SMTPRecorder) -> None:
        self.recorder = recorder

    async def handle_DATA(self, server, session, envelope):
        self.recorder.add(
            envelope.mail_from, envelope.rcpt_tos, envelope.original_content or envelope.content
        )
        return "250 Message accepted for delivery"


@contextlib.contextmanager
def smtp(handler_factory=None) -> Iterator[SMTPRecorder]:
    """An aiosmtpd server on a free port; `handler_factory(recorder)` may script its answers."""
    from aiosmtpd.controller import Controller

    port = free_port()
    recorder = SMTPRecorder("127.0.0.1", port)
    handler = (handler_factory or _RecordingHandler)(recorder)
    controller = Controller(handler, hostname="127.0.0.1", port=port, decode_data=False)
    controller.start()
    try:
        yield recorder
    finally:
        controller.stop()
