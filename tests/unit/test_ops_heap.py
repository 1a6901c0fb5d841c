"""Each worker process freezes its startup heap, so no full collection walks it while an
event's pages wait (75 to 185 ms pauses in render workers before)."""

from __future__ import annotations

import subprocess
import sys

WORKER = """
import gc, os
from celery import signals
import shared.celery_app  # what every worker imports: its tasks register there

assert gc.get_freeze_count() == 0
signals.worker_ready.send(sender=None)
ready = gc.get_freeze_count()
assert ready > 10_000, ready
made = [[n] for n in range(20_000)]
signals.worker_ready.send(sender=None)
assert gc.get_freeze_count() == ready, "frozen twice"
pid = os.fork()
if pid == 0:  # a pool process, forked before or after the main process froze
    signals.worker_process_init.send(sender=None)
    os._exit(0 if gc.get_freeze_count() >= ready + 20_000 else 1)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, "the pool process did not freeze"
print("ok")
"""


def test_a_worker_freezes_its_heap_when_ready_and_each_pool_process_when_it_starts():
    done = subprocess.run(
        [sys.executable, "-c", WORKER], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
