"""Profiles for the targets a run misses: pyinstrument around a child measurement, py-spy
on a running server or worker process (only the thread holding the GIL is sampled, so the
profile shows where its Python CPU time goes, not threads waiting for work)."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

from bench.common import BIN, ROOT

NOISE = (
    "threading.py",
    "click/core.py",
    "uvicorn/main.py",
    "asyncio/runners.py",
    "<module>",
    "uvicorn/_compat.py",
    "uvicorn/server.py",
    "billiard/",
    "celery/concurrency",
    "celery/worker",
    "celery/bootsteps",
    "celery/apps",
    "celery/bin",
    "kombu/asynchronous",
)


def pyinstrument(out: Path, args: list[str], env: dict, *, timeout: float = 900) -> Path:
    """Run `python -m bench.child ARGS` under pyinstrument; a text profile lands in `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(BIN / "pyinstrument"), "-r", "text", "-o", str(out), "-m", "bench.child", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return out


def py_spy_start(pid: int, raw: Path, seconds: float) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(BIN / "py-spy"),
            "record",
            "--gil",
            "-r",
            "100",
            "-f",
            "raw",
            "-o",
            str(raw),
            "-d",
            str(int(seconds)),
            "-p",
            str(pid),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def summarise_raw(raw: Path, out: Path, *, title: str, top: int = 45) -> Path:
    """Collapsed stacks to a text table: inclusive and self share of the samples."""
    inclusive, own, total = Counter(), Counter(), 0
    if raw.exists():
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = stack.split(";")
            own[frames[-1]] += n
            for frame in set(frames):
                inclusive[frame] += n
    lines = [
        f"# {title}",
        f"# py-spy samples of the thread holding the GIL: {total}",
        "",
        "## inclusive",
    ]
    shown = 0
    for frame, n in inclusive.most_common():
        if any(noise in frame for noise in NOISE):
            continue
        lines.append(f"{100 * n / max(total, 1):5.1f}%  {frame}")
        shown += 1
        if shown >= top:
            break
    lines += ["", "## self"]
    lines += [f"{100 * n / max(total, 1):5.1f}%  {frame}" for frame, n in own.most_common(20)]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return out
