"""Four render workers under a burst of 300 posts, updates and withdrawals through the real
ingest API converge on exactly the site that `newsroom rebuild` writes into an empty folder."""

from __future__ import annotations

import difflib
import random
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis as redis_client
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.e2e.conftest import BIN, Processes, token_from
from tests.integration.test_render_site import snapshot

pytestmark = pytest.mark.e2e

WORKERS = 4
CLIENTS = 6
OPERATIONS = 300  # 50 per client thread
REGIONS = ["region-skane", "region-gotland", "region-orebro-lan", "nationella-kansliet"]
TOPICS = ["miljo", "textilier", "livsmedel", "handskar", "uppfoljning"]
# A few titles and slugs every client uses, so concurrent writes fight over the same URLs.
SHARED_TITLES = ["Gemensam rubrik om textilier", "Uppföljning av handskar – läget i Skåne"]
SHARED_SLUGS = ["samma-adress", "flyttad-nyhet"]


def _item(rng: random.Random, label: str) -> dict:
    # Three months and a fixed hour: many items share a day, so the id decides their order
    # and previous/next links of neighbours change under the workers' feet.
    month, day = rng.randint(1, 3), rng.randint(1, 12)
    data = {
        "title": rng.choice(SHARED_TITLES)
        if rng.random() < 0.2
        else f"Nyhet {label} om hållbar upphandling i Östergötland",
        "summary": f"Sammanfattning {label}: åtgärder, uppföljning och dialog.",
        "body": f"## Läget {label}\n\nÅtta fabriker besöktes; **{rng.randint(1, 9)}** åtgärder.",
        "published_at": f"2021-{month:02d}-{day:02d}T09:00:00+01:00",
        "regions": rng.sample(REGIONS, rng.randint(1, 2)),
        "topics": rng.sample(TOPICS, rng.randint(0, 2)),
    }
    if rng.random() < 0.15:
        data["slug"] = rng.choice(SHARED_SLUGS)
    return data


def _client_burst(ingest: str, token: str, seed: int, count: int) -> list[str]:
    """One client's share: posts, then updates (PUT + If-Match) and withdrawals (DELETE) of
    its own items mixed in; returns the operations it made."""
    rng = random.Random(seed)
    done: list[str] = []
    live: dict[str, str] = {}  # item id -> its current ETag
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=ingest, headers=headers, timeout=30) as http:
        for n in range(count):
            roll = rng.random()
            if live and roll < 0.18:
                item_id = rng.choice(sorted(live))
                answer = _send(http, "DELETE", item_id, live[item_id])
                del live[item_id]
                done.append("withdraw")
            elif live and roll < 0.5:
                item_id = rng.choice(sorted(live))
                answer = _send(
                    http, "PUT", item_id, live[item_id], _item(rng, f"{seed}.{n} (ändrad)")
                )
                live[item_id] = answer.headers["etag"]
                done.append("update")
            else:
                answer = _send(http, "POST", None, None, _item(rng, f"{seed}.{n}"))
                live[answer.json()["id"]] = answer.headers["etag"]
                done.append("post")
    return done


def _send(
    http: httpx.Client, method: str, item_id: str | None, etag: str | None, data: dict | None = None
) -> httpx.Response:
    """One write; 409 (another request took the same URL at that instant) is tried again."""
    path = "/api/v1/items" + (f"/{item_id}" if item_id else "")
    for _ in range(10):
        answer = http.request(method, path, json=data, headers={"If-Match": etag} if etag else None)
        if answer.status_code != 409:
            break
    assert answer.status_code in (200, 201), f"{method} {path}: {answer.status_code} {answer.text}"
    return answer


def _quiet(database_url: str, redis_url: str) -> bool:
    """Every event relayed, no render message queued or held unacknowledged by a worker."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            pending = conn.scalar(text("SELECT count(*) FROM outbox WHERE relayed_at IS NULL"))
    finally:
        engine.dispose()
    broker = redis_client.Redis.from_url(redis_url)
    try:
        queued = sum(broker.llen(key) for key in broker.scan_iter(match="render*"))
        # kombu's Redis transport keeps delivered, not yet acknowledged messages here
        # (acks_late: until the task finished); notify's messages are never delivered here.
        unacked = broker.hlen("unacked")
    finally:
        broker.close()
    return pending == 0 and queued == 0 and unacked == 0


def test_four_workers_converge_on_rebuild_after_a_burst_of_300_operations(
    processes: Processes, tmp_path: Path, postgres_url: str, redis_url: str
):
    started = time.monotonic()
    site = tmp_path / "site"
    processes.env.update(
        NEWSROOM_ENVIRONMENT="test",
        NEWSROOM_SECRET_KEY="burst-secret-not-the-placeholder",
        NEWSROOM_DATABASE_URL=postgres_url,
        NEWSROOM_BROKER_URL=redis_url,
        NEWSROOM_SITE_DIR=str(site),
        NEWSROOM_BASE_URL="https://hallbarupphandling.example.se",
        NEWSROOM_INGEST_BURST="100000",
        NEWSROOM_INGEST_RATE_PER_SECOND="100000",
    )
    newsroom = str(BIN / "newsroom")
    processes.run(newsroom, "db", "upgrade")
    processes.run(newsroom, "rebuild")  # as compose's one-shot `rebuild` does before `up`
    token = token_from(
        processes.run(
            newsroom,
            "contributor",
            "add",
            "Eva Ödman",
            "--region",
            "nationella-kansliet",
            "--role",
            "editor",
        )
    )
    for n in range(1, WORKERS + 1):
        processes.start(
            f"render-{n}",
            str(BIN / "celery"),
            "-A",
            "services.render.tasks:celery_app",
            "worker",
            "-Q",
            "render",
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
            "-n",
            f"render-{n}@%h",
        )
    ingest = processes.uvicorn("ingest", "services.ingest.api:create_app")
    deadline = time.monotonic() + 60
    while not all(
        b" ready." in (processes.logdir / f"render-{n}.log").read_bytes()
        for n in range(1, WORKERS + 1)
    ):
        assert time.monotonic() < deadline, "render workers not ready within 60 s"
        time.sleep(0.2)
    ready = time.monotonic()

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        shares = list(
            pool.map(
                lambda seed: _client_burst(ingest, token, seed, OPERATIONS // CLIENTS),
                range(CLIENTS),
            )
        )
    kinds = [kind for share in shares for kind in share]
    posted = time.monotonic()
    assert len(kinds) == OPERATIONS
    assert all(kinds.count(kind) >= 30 for kind in ("post", "update", "withdraw")), kinds

    # Bounded wait until the outbox is drained and the render queue empty and idle (three
    # quiet looks in a row: a message between the queue and the unacked set is never missed).
    deadline, quiet = time.monotonic() + 90, 0
    while quiet < 3:
        assert time.monotonic() < deadline, "render queue not idle within 90 s"
        quiet = quiet + 1 if _quiet(postgres_url, redis_url) else 0
        time.sleep(0.3)
    drained = time.monotonic()
    # Every operation recorded exactly one event, and every event was rendered without error.
    engine = create_engine(postgres_url, poolclass=NullPool)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM outbox")) == OPERATIONS
    engine.dispose()
    logs = [
        (processes.logdir / f"render-{n}.log").read_text(errors="replace")
        for n in range(1, WORKERS + 1)
    ]
    per_worker = [log.count("] succeeded in ") for log in logs]
    assert sum(per_worker) >= OPERATIONS and all(per_worker), per_worker  # all four took part
    assert not any(" raised " in log or "Traceback" in log for log in logs)

    rebuilt = tmp_path / "rebuilt"
    done = subprocess.run(
        [newsroom, "rebuild"],
        env={**processes.env, "NEWSROOM_SITE_DIR": str(rebuilt)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    incremental, expected = snapshot(site), snapshot(rebuilt)
    missing = sorted(set(expected) - set(incremental))
    extra = sorted(set(incremental) - set(expected))
    differing = sorted(p for p in set(expected) & set(incremental) if expected[p] != incremental[p])
    detail = ""
    if differing:
        first = differing[0]
        detail = "\n".join(
            difflib.unified_diff(
                expected[first].decode(errors="replace").splitlines(),
                incremental[first].decode(errors="replace").splitlines(),
                "rebuild/" + first,
                "workers/" + first,
                lineterm="",
                n=2,
            )
        )
    assert (missing, extra, differing) == ([], [], []), (
        f"missing {missing[:10]}, extra {extra[:10]}, differing {differing[:10]}\n{detail}"
    )
    assert len(expected) > 100
    print(
        f"{OPERATIONS} operations ({kinds.count('post')} posts, {kinds.count('update')} "
        f"updates, {kinds.count('withdraw')} withdrawals) in {posted - ready:.1f} s, "
        f"queue idle {drained - posted:.1f} s later, {len(expected)} files identical; "
        f"tasks per worker {per_worker}; "
        f"workers ready after {ready - started:.1f} s, all {time.monotonic() - started:.1f} s"
    )
