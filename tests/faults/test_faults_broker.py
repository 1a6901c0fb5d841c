"""Fault 3: `kill -9` of Redis mid-burst and a restart from its AOF: nothing accepted is lost,
because the outbox keeps every event until the broker took it."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from tests.faults.burst import burst, differences, editors, rebuilt, tree, wait_quiet
from tests.faults.conftest import BIN, FULL, Stack

OPERATIONS = 600 if FULL else 80


@pytest.mark.timeout(900 if FULL else 240)
def test_redis_killed_mid_burst_loses_no_item(stack: Stack, tmp_path):
    stack.run(str(BIN / "newsroom"), "rebuild")
    tokens = editors(stack, 3)
    stack.uvicorn("ingest", "services.ingest.api:create_app")
    stack.worker("render", "services.render.tasks", "render", concurrency=2)
    down: dict[str, float] = {}

    def kill_redis(i: int) -> None:
        if i == OPERATIONS // 3:
            stack.redis.kill9()
            down["at"] = time.monotonic()
        if i == OPERATIONS // 3 + 20:  # 20 items accepted while the broker is gone
            time.sleep(max(0.0, 3.0 - (time.monotonic() - down["at"])))
            stack.redis.start()
            down["back"] = time.monotonic()

    accepted = burst(stack, tokens, OPERATIONS, between=kill_redis, seed=3)
    recovery = wait_quiet(stack, "render", timeout=300 if FULL else 150)
    print(
        f"\nFAULT redis-kill: down {down['back'] - down['at']:.1f} s during "
        f"{OPERATIONS} operations; drained {recovery:.1f} s after the last operation"
    )

    site = stack.site
    for item in accepted.values():
        page = site / urlsplit(item["url"]).path.lstrip("/") / "index.html"
        if item["status"] == "published":
            assert item["title"] in page.read_text(encoding="utf-8"), item["url"]
        else:
            assert not page.exists() or item["title"] not in page.read_text(encoding="utf-8")
    assert differences(tree(site), rebuilt(stack, tmp_path / "rebuilt")) == []
