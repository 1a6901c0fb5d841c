"""What every scenario needs: child processes with logs, PostgreSQL/Redis, peak RSS, stats."""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import redis as redis_client

from tests.servers import free_port, wait_for_port

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
# Our own Redis database number on the shared server (tests use 13), and its port.
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "14"))
REDIS_PORT = int(os.environ.get("BENCH_REDIS_PORT", "6379"))
SECRET = "bench-secret-not-the-placeholder"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, int(round(q / 100 * len(ordered) + 0.4999)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(statistics.median(values), 3),
        "p90": round(percentile(values, 90), 3),
        "p99": round(percentile(values, 99), 3),
        "max": round(max(values), 3),
        "mean": round(statistics.fmean(values), 3),
    }


def base_env(*, database_url: str, broker_url: str, site_dir: Path, smtp_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSROOM_")}
    env.update(
        NEWSROOM_ENVIRONMENT="bench",
        NEWSROOM_SECRET_KEY=SECRET,
        NEWSROOM_DATABASE_URL=database_url,
        NEWSROOM_BROKER_URL=broker_url,
        NEWSROOM_SITE_DIR=str(site_dir),
        NEWSROOM_SMTP_URL=smtp_url,
        NEWSROOM_BASE_URL="https://hallbarupphandling.example.se",
        PYTHONPATH=str(ROOT),
    )
    return env


def apply_env(env: dict) -> None:
    """Make this process use the same settings as its children (caches cleared)."""
    for key in [k for k in os.environ if k.startswith("NEWSROOM_")]:
        del os.environ[key]
    os.environ.update({k: v for k, v in env.items() if k.startswith("NEWSROOM_")})
    from shared import celery_app as celery_module
    from shared.config import get_settings

    get_settings.cache_clear()
    celery_module.configure(get_settings())


class Processes:
    """Long-running children (uvicorn, celery, smtp-sink) with their output in log files."""

    def __init__(self, logdir: Path, env: dict) -> None:
        self.logdir = logdir
        self.env = env
        self.children: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            args,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        self.children.append((name, proc))
        return proc

    def uvicorn(self, name: str, app: str, *, workers: int = 1) -> str:
        port = free_port()
        self.start(
            name,
            str(BIN / "uvicorn"),
            app,
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
        )
        wait_for_port("127.0.0.1", port, timeout=60)
        return f"http://127.0.0.1:{port}"

    def embedded(self, name: str) -> str:
        """`newsroom run` (the embedded mode) on a free port; its URL once it answers."""
        port = free_port()
        self.start(name, str(BIN / "newsroom"), "run", "--port", str(port))
        wait_for_port("127.0.0.1", port, timeout=120)
        return f"http://127.0.0.1:{port}"

    def celery_worker(
        self,
        name: str,
        module: str,
        queue: str,
        *,
        concurrency: int = 2,
        loglevel: str = "WARNING",
        extra: tuple[str, ...] = (),
    ):
        proc = self.start(
            name,
            str(BIN / "celery"),
            "-A",
            f"{module}:celery_app",
            "worker",
            "-Q",
            queue,
            "--concurrency",
            str(concurrency),
            "--loglevel",
            loglevel,
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            *extra,
        )
        return proc

    def stop(self) -> None:
        for _, proc in self.children:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in self.children:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.children.clear()


def run_json(args: list[str], env: dict, *, timeout: float = 900) -> dict:
    """Run a child to completion; its last stdout line is JSON. Adds its peak RSS (children)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # RUSAGE_CHILDREN is the largest child so far: only meaningful when it grew.
    result.setdefault("children_maxrss_kb", after if after > before else None)
    return result


def redis_url() -> str:
    return f"redis://127.0.0.1:{REDIS_PORT}/{REDIS_DB}"


def flush_redis() -> None:
    client = redis_client.Redis(host="127.0.0.1", port=REDIS_PORT, db=REDIS_DB)
    client.flushdb()
    client.close()


def queue_length(name: str) -> int:
    client = redis_client.Redis(host="127.0.0.1", port=REDIS_PORT, db=REDIS_DB)
    try:
        return int(client.llen(name))
    finally:
        client.close()


def pg_connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))


def peak_rss_kb(pid: int) -> int:
    """VmHWM (peak resident set) of a live process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process and its live children."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for each in [pid, *children_of(pid)]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(x) for x in text]
    return found


def smtp_sink_binary() -> str | None:
    """Postfix's smtp-sink; installs postfix (Debian) when it is missing and we are root."""
    found = shutil.which("smtp-sink") or (
        "/usr/sbin/smtp-sink" if Path("/usr/sbin/smtp-sink").exists() else None
    )
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(
        ["debconf-set-selections"],
        input="postfix postfix/main_mailer_type select No configuration\n",
        text=True,
        env=env,
        capture_output=True,
    )
    subprocess.run(["apt-get", "install", "-y", "-q", "postfix"], env=env, capture_output=True)
    return shutil.which("smtp-sink") or (
        "/usr/sbin/smtp-sink" if Path("/usr/sbin/smtp-sink").exists() else None
    )


def wait_until(check, *, timeout: float, interval: float = 0.05, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"not within {timeout} s: {what}")
