"""Fault 1: `kill -9` of the render worker, three times, during a burst of posts, updates and
withdrawals; once the queue is drained the site is byte-identical to a full rebuild."""

from __future__ import annotations

import time

import pytest

from tests.faults.burst import (
    burst,
    differences,
    editors,
    kill_busy,
    rebuilt,
    tree,
    wait_quiet,
)
from tests.faults.conftest import BIN, FULL, Stack

OPERATIONS = 1000 if FULL else 150


@pytest.mark.timeout(900 if FULL else 240)
def test_render_worker_killed_three_times_converges_to_rebuild(stack: Stack, tmp_path):
    stack.run(str(BIN / "newsroom"), "rebuild")  # the site as deployed, before the burst
    tokens = editors(stack, 3)
    stack.uvicorn("ingest", "services.ingest.api:create_app")
    stack.worker("render", "services.render.tasks", "render", concurrency=2)
    kills_at = {OPERATIONS * k // 4 for k in (1, 2, 3)}
    held: list[int] = []

    def maybe_kill(i: int) -> None:
        if i in kills_at:
            held.append(kill_busy(stack, "render", "render"))
            time.sleep(0.5)
            stack.restart("render")

    burst(stack, tokens, OPERATIONS, between=maybe_kill)
    recovery = wait_quiet(stack, "render", timeout=300 if FULL else 150)
    print(
        f"\nFAULT render-kill: {OPERATIONS} operations, 3 kills holding {held} messages, "
        f"drained {recovery:.1f} s after the last operation"
    )
    assert sum(held) > 0  # the kills took work in flight with them

    want = rebuilt(stack, tmp_path / "rebuilt")
    got = tree(stack.site)
    assert len(want) > OPERATIONS // 2
    assert differences(got, want) == []
