"""Start the system's real processes and wait, within bounds, for what they produce."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
import pytest

from tests.servers import free_port, wait_for_port

BIN = Path(sys.executable).parent
T = TypeVar("T")


class Processes:
    """Child processes with their output in log files, all stopped at the end of a test."""

    def __init__(self, logdir: Path, env: dict[str, str]) -> None:
        self.logdir = logdir
        self.env = env
        self.children: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "wb")
        proc = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.children.append((name, proc))
        return proc

    def run(self, *args: str) -> str:
        """Run a command to completion and return its standard output."""
        done = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def uvicorn(self, name: str, app: str) -> str:
        port = free_port()
        self.start(
            name, str(BIN / "uvicorn"), app, "--factory", "--host", "127.0.0.1", "--port", str(port)
        )
        wait_for_port("127.0.0.1", port, timeout=60)
        return f"http://127.0.0.1:{port}"

    def celery_worker(self, name: str, module: str, queue: str) -> None:
        self.start(
            name,
            str(BIN / "celery"),
            "-A",
            f"{module}:celery_app",
            "worker",
            "-Q",
            queue,
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
            "-n",
            f"{name}@%h",
        )

    def logs(self) -> str:
        return "\n".join(
            f"----- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
            for path in sorted(self.logdir.glob("*.log"))
        )

    def stop(self) -> None:
        for _, proc in self.children:
            proc.terminate()
        for _, proc in self.children:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def processes(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Processes]:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSROOM_")}
    procs = Processes(logdir, env)
    yield procs
    procs.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(procs.logs())


def eventually(
    check: Callable[[], T], *, timeout: float = 60.0, what: str = "", every: float = 0.2
) -> T:
    """Poll `check` until it returns something truthy without raising (bounded)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # not there yet
            last = exc
        time.sleep(every)
    raise TimeoutError(f"not within {timeout} s: {what} (last error: {last!r})")


def link_in(message, marker: str) -> str:
    """The first link of a mail's text part that contains `marker`."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"https?://\S*" + re.escape(marker) + r"\S*", text)
    assert match, f"no link with {marker!r} in:\n{text}"
    return match.group(0)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def token_from(output: str) -> str:
    """`newsroom contributor add` prints the token alone on its last line."""
    return output.strip().splitlines()[-1].strip()


def get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=10, follow_redirects=False)
