"""The distributed system as real processes that a test may `kill -9` and start again: its own
Redis (AOF) on a free port, a PostgreSQL database of its own, ingest and notify under
uvicorn, render and notify Celery workers, and an aiosmtpd server that records every mail."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import eventually  # noqa: F401  (re-exported for the fault tests)
from tests.servers import free_port, port_open, wait_for_port

BIN = Path(sys.executable).parent
# Full sizes under `make test-faults` (FAULTS_FULL=1); bounded ones in `make test`.
FULL = bool(os.environ.get("FAULTS_FULL"))
# Short enough that a message held by a killed worker is back within seconds (see report).
VISIBILITY_TIMEOUT = int(os.environ.get("FAULTS_VISIBILITY_TIMEOUT", "10"))


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.faults)


class OwnRedis:
    """A redis-server of our own with `appendfsync everysec`, so it can be killed with -9."""

    def __init__(self) -> None:
        self.workdir = tempfile.mkdtemp(prefix="newsroom-faults-redis-")
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                self.workdir,
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port("127.0.0.1", self.port)
        self.client().ping()  # answers only once the AOF is loaded

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def client(self):
        import redis

        deadline = time.monotonic() + 30
        while True:
            try:
                client = redis.Redis(host="127.0.0.1", port=self.port, db=0)
                client.ping()
                return client
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


class Stack:
    """Child processes, each in its own process group so `kill9` takes a worker's pool too."""

    redis: OwnRedis
    smtp: Any  # tests.servers.SMTPRecorder
    database_url: str
    site: Path

    def __init__(self, logdir: Path, env: dict[str, str]) -> None:
        self.logdir = logdir
        self.env = env
        self.procs: dict[str, subprocess.Popen] = {}
        self.commands: dict[str, tuple[list[str], dict[str, str]]] = {}
        self.urls: dict[str, str] = {}

    def start(self, name: str, args: list[str], extra_env: dict[str, str] | None = None) -> None:
        env = {**self.env, **(extra_env or {})}
        self.commands[name] = (args, extra_env or {})
        log = open(self.logdir / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def run(self, *args: str, **extra_env: str) -> str:
        done = subprocess.run(
            args, env={**self.env, **extra_env}, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def uvicorn(self, name: str, app: str, **extra_env: str) -> str:
        port = int(self.urls[name].rsplit(":", 1)[1]) if name in self.urls else free_port()
        self.start(
            name,
            [str(BIN / "uvicorn"), app, "--factory", "--host", "127.0.0.1", "--port", str(port)],
            extra_env,
        )
        deadline = time.monotonic() + 60
        while not port_open("127.0.0.1", port):
            if self.procs[name].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n{self.logs()}")
            time.sleep(0.1)
        self.urls[name] = f"http://127.0.0.1:{port}"
        return self.urls[name]

    def worker(self, name: str, module: str, queue: str, concurrency: int = 2) -> None:
        self.start(
            name,
            [
                str(BIN / "celery"),
                "-A",
                f"{module}:celery_app",
                "worker",
                "-Q",
                queue,
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "INFO",
                "-n",
                f"{name}-{time.monotonic_ns()}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
        )

    def kill9(self, name: str) -> None:
        """`kill -9` of the process and everything it started (a worker's pool children)."""
        proc = self.procs[name]
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)

    def restart(self, name: str) -> None:
        args, extra_env = self.commands[name]
        self.start(name, args, extra_env)

    def logs(self) -> str:
        return "\n".join(
            f"----- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.logdir.glob("*.log"))
        )

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9(name)


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stack(
    tmp_path: Path,
    postgres_url: str,
    own_redis: OwnRedis,
    smtp_server,
    request: pytest.FixtureRequest,
) -> Iterator[Stack]:
    """Environment and database ready; the test starts the processes it needs."""
    logdir = tmp_path / "logs"
    logdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSROOM_")}
    env.update(
        NEWSROOM_ENVIRONMENT="test",
        NEWSROOM_SECRET_KEY="faults-secret-not-the-placeholder",
        NEWSROOM_DATABASE_URL=postgres_url,
        NEWSROOM_BROKER_URL=own_redis.url,
        NEWSROOM_SITE_DIR=str(tmp_path / "site"),
        NEWSROOM_SMTP_URL=smtp_server.url,
        NEWSROOM_BASE_URL="https://hallbarupphandling.example.se",
        NEWSROOM_BROKER_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
    )
    procs = Stack(logdir, env)
    procs.redis = own_redis
    procs.smtp = smtp_server
    procs.database_url = postgres_url
    procs.site = tmp_path / "site"
    procs.run(str(BIN / "newsroom"), "db", "upgrade")
    yield procs
    procs.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(procs.logs())


def client(base: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base, headers=headers, timeout=30)
