"""A reproducible burst of posts, updates and withdrawals; waiting until the system is quiet."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.faults.conftest import BIN, Stack, client, eventually

REGIONS = ["region-skane", "region-uppsala", "region-gotland", "nationella-kansliet"]
TOPICS = ["miljo", "handskar", "textilier", "livsmedel", "uppfoljning"]


def editors(stack: Stack, count: int) -> list[str]:
    """Tokens of `count` editors (the rate limit is per contributor: 120 at once, then 2/s)."""
    return [
        stack.run(
            str(BIN / "newsroom"),
            "contributor",
            "add",
            f"Redaktör {n} Åström",
            "--region",
            REGIONS[n % len(REGIONS)],
            "--role",
            "editor",
        )
        .strip()
        .splitlines()[-1]
        .strip()
        for n in range(count)
    ]


def item_body(rng: random.Random, n: int) -> dict:
    month = rng.randint(1, 12)
    return {
        "title": f"Uppföljning nr {n} – leverantörer i {rng.choice(['Malaysia', 'Kina'])}",
        "summary": f"Sammanfattning {n}: åtgärder för hållbar upphandling.",
        "body": f"## Resultat {n}\n\nÅtta fabriker besöktes; **{rng.randint(1, 9)}** åtgärder.",
        "published_at": f"2021-{month:02d}-{rng.randint(1, 28):02d}T09:00:00+02:00",
        "regions": rng.sample(REGIONS, rng.randint(1, 2)),
        "topics": rng.sample(TOPICS, rng.randint(0, 2)),
    }


def burst(
    stack: Stack,
    tokens: list[str],
    operations: int,
    *,
    seed: int = 8,
    between: Callable[[int], None] = lambda i: None,
) -> dict[str, dict]:
    """Post, update and withdraw items over HTTP (`between(i)` runs before operation i);
    return the last accepted state of every item by id."""
    rng = random.Random(seed)
    clients = [client(stack.urls["ingest"], token) for token in tokens]
    accepted: dict[str, dict] = {}
    live: list[str] = []
    for i in range(operations):
        between(i)
        http = clients[i % len(clients)]
        roll = rng.random()
        if live and roll < 0.25:
            item_id = rng.choice(live)
            data = item_body(rng, i)
            answer = _retrying(
                http.put, f"/api/v1/items/{item_id}", json=data, headers={"If-Match": "*"}
            )
            assert answer.status_code == 200, answer.text
        elif live and roll < 0.38:
            item_id = live.pop(rng.randrange(len(live)))
            answer = _retrying(http.delete, f"/api/v1/items/{item_id}")
            assert answer.status_code == 200, answer.text
        else:
            answer = _retrying(http.post, "/api/v1/items", json=item_body(rng, i))
            assert answer.status_code == 201, answer.text
            live.append(answer.json()["id"])
        accepted[answer.json()["id"]] = answer.json()
    for http in clients:
        http.close()
    return accepted


def _retrying(send, *args, **kwargs):
    """Send; on 429 wait as told (the limiter is per contributor and process)."""
    while True:
        answer = send(*args, **kwargs)
        if answer.status_code != 429:
            return answer
        time.sleep(float(answer.headers.get("Retry-After", "1")))


def pending_outbox(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT count(*) FROM outbox WHERE relayed_at IS NULL")
            ).scalar_one()
    finally:
        engine.dispose()


def queued(stack: Stack, queue: str) -> int:
    """Messages waiting in `queue` plus every message delivered and not yet acknowledged."""
    redis = stack.redis.client()
    waiting = sum(
        redis.llen(key) for key in redis.scan_iter(match=f"{queue}*") if redis.type(key) == b"list"
    )
    unacked = 0
    for payload in redis.hvals("unacked"):
        if f'"{queue}"'.encode() in payload:
            unacked += 1
    return waiting + unacked


def in_flight(stack: Stack, queue: str) -> int:
    """Messages of `queue` delivered to a worker and not yet acknowledged."""
    return sum(
        f'"{queue}"'.encode() in payload for payload in stack.redis.client().hvals("unacked")
    )


def kill_busy(stack: Stack, name: str, queue: str, *, timeout: float = 10.0) -> int:
    """`kill -9` the worker `name` once it holds a message (bounded wait); return how many
    messages it held unacknowledged at that moment."""
    deadline = time.monotonic() + timeout
    while (held := in_flight(stack, queue)) == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    stack.kill9(name)
    return held


def wait_quiet(stack: Stack, queue: str, *, timeout: float) -> float:
    """Block until the outbox is relayed and `queue` is empty and acknowledged three checks
    in a row; return the seconds it took."""
    started = time.monotonic()
    streak = 0

    def quiet() -> bool:
        nonlocal streak
        if pending_outbox(stack.database_url) == 0 and queued(stack, queue) == 0:
            streak += 1
        else:
            streak = 0
        return streak >= 3

    eventually(quiet, timeout=timeout, what=f"outbox relayed and queue {queue} drained", every=0.5)
    return time.monotonic() - started - 1.0  # the two confirming checks are not recovery


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def rebuilt(stack: Stack, target: Path) -> dict[str, bytes]:
    stack.run(str(BIN / "newsroom"), "rebuild", NEWSROOM_SITE_DIR=str(target))
    return tree(target)


def differences(got: dict[str, bytes], want: dict[str, bytes]) -> list[str]:
    return sorted(
        [f"missing {name}" for name in want.keys() - got.keys()]
        + [f"extra {name}" for name in got.keys() - want.keys()]
        + [f"differs {name}" for name in want.keys() & got.keys() if want[name] != got[name]]
    )
