"""Bursts: 1,000 posts through the API as fast as they are accepted, then how long until the
last one is on its page, /aktuellt/ and the site feeds, and how many files render wrote.

Distributed: uvicorn (ingest) and 2 render workers as docker-compose.yml runs them
(`--concurrency 2 --prefetch-multiplier 4`); embedded: `newsroom run`. Files written are
counted from the render workers' own log lines ("render: N events, W files written, R removed").
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from bench.common import flush_redis

RENDERED = re.compile(rb"render: (\d+) events?, (\d+) files written, (\d+) removed")
RENDER_WORKERS = 2
# Quiet this long after the last event is done: its render's line is written.
SETTLED_AFTER_S = 2.0


def rendered(logs: list[Path]) -> dict[str, int]:
    """Renders, events and files written or removed, summed over the render log lines."""
    totals = {"renders": 0, "events": 0, "files": 0}
    for path in logs:
        if not path.exists():
            continue
        for events, written, removed in RENDERED.findall(path.read_bytes()):
            totals["renders"] += 1
            totals["events"] += int(events)
            totals["files"] += int(written) + int(removed)
    return totals


def waiting() -> int:
    """Events render has not finished (render_work), in the database of the settings."""
    from services.render import work
    from shared.db import session_scope

    with session_scope() as session:
        return work.pending(session=session)


def settle(logs: list[Path], *, timeout: float) -> dict[str, int]:
    """Wait until render has finished every event and logged nothing for SETTLED_AFTER_S
    (its last render's line); the totals then."""
    deadline = time.monotonic() + timeout
    last, since = rendered(logs), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = rendered(logs)
        if now != last or waiting():
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= SETTLED_AFTER_S:
            break
    return last


def scenario(bench, env: dict, label: str, *, embedded: bool) -> None:
    count = 300 if bench.args.quick else 1000
    env = {
        **env,
        # One token posts them all: the per-token limit is not what is measured.
        "NEWSROOM_INGEST_BURST": "1000000",
        "NEWSROOM_INGEST_RATE_PER_SECOND": "1000000",
    }
    tokens = bench.contributors(1)
    flush_redis()
    with bench.processes(env) as procs:
        if embedded:
            # JSON logs: in text mode the worker thread's Celery set-up lowers the root
            # logger to its own WARNING, and the render lines counted here would be lost.
            procs.env = {**env, "NEWSROOM_LOG_FORMAT": "json"}
            url = procs.embedded(f"burst-{label}")
            logs = [bench.logs / f"burst-{label}.log"]
        else:
            logs = []
            for n in range(1, RENDER_WORKERS + 1):
                name = f"burst-render-{n}"
                procs.celery_worker(
                    name,
                    "services.render.tasks",
                    "render",
                    concurrency=2,
                    loglevel="INFO",
                    extra=("--prefetch-multiplier", "4"),
                )
                logs.append(bench.logs / f"{name}.log")
            url = procs.uvicorn(f"burst-ingest-{label}", "services.ingest.api:create_app")
            time.sleep(3)  # the workers connect to Redis
        before = rendered(logs)
        result = bench.loadgen(
            env,
            {
                "mode": "burst",
                "url": url,
                "tokens": tokens,
                "site_dir": env["NEWSROOM_SITE_DIR"],
                "count": count,
                "connections": 16,
                "offset": 200_000,
                "timeout": 900,
            },
            f"burst-{label}",
        )
        after = settle(logs, timeout=900)
    done = {key: after[key] - before[key] for key in after}
    result["rendered"] = done
    result["files_per_item"] = done["files"] / max(result["accepted"], 1)
    bench.raw[f"burst_{label}"] = result
    bench.log(
        f"burst ({label}): {result['accepted']} accepted in {result['posting_s']:.1f} s, "
        f"last visible {result['last_visible_ms']} ms after the last 201, every page after "
        f"{result['all_pages_ms']} ms; {done['files']} files in {done['renders']} renders "
        f"({result['files_per_item']:.2f} per item)"
    )


def measures(raw: dict, add) -> None:
    """The burst rows of the results table (`add` is report._measure without its list)."""
    for label, mode, target in (
        ("distributed", f"distributed, {RENDER_WORKERS} render workers", 5),
        ("embedded", "embedded, SQLite", 10),
    ):
        burst = raw.get(f"burst_{label}")
        if not burst:
            continue
        visible = burst["last_visible_ms"]
        seconds = None if visible is None else visible / 1000
        all_pages = burst["all_pages_ms"]
        every = (
            f"every item's page after {all_pages / 1000:.1f} s"
            if all_pages is not None
            else f"{burst['missing_pages']} item pages missing at the timeout"
        )
        add(
            f"burst_visible_{label}",
            f"burst of {burst['accepted']:,} posts ({mode}): last item on its page, "
            "/aktuellt/ and the feeds, after the last 201",
            f"≤ {target} s",
            seconds,
            "s",
            seconds is not None and seconds <= target,
            f"posted in {burst['posting_s']:.1f} s ({burst['accepted_per_s']:.0f}/s accepted, "
            f"answers {burst['statuses']}); {every}",
        )
        done = burst["rendered"]
        add(
            f"burst_files_per_item_{label}",
            f"files written per item during that burst ({mode})",
            "≤ 3",
            burst["files_per_item"],
            "files",
            burst["files_per_item"] <= 3,
            f"{done['files']:,} files written or removed by {done['renders']:,} renders of "
            f"{done['events']:,} events",
        )
