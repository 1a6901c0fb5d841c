"""The Celery beat process (`celery -A newsroom.beat:celery_app beat`): exactly one runs.

It sends the notify service's schedule (weekly digest, expiry of unconfirmed subscriptions) and
render's (the repair of pages a full or read-only disk kept from being written), and runs an
outbox relay thread of its own, so scheduled items are relayed when they fall due and events a
crashed ingest process left behind go out, whether or not an ingest process is up.
`python -m newsroom.beat --check` is its health check: the scheduler ticked recently.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from celery import signals
from celery.beat import PersistentScheduler

from services.notify import tasks as notify_tasks
from services.render import tasks as render_tasks
from shared.celery_app import celery_app
from shared.config import get_settings
from shared.outbox import RelayThread

# How often the relay thread sweeps the outbox: the longest a due scheduled item waits.
SWEEP_SECONDS = 15.0
# The scheduler wakes at least this often, so its heartbeat stays fresh between entries.
MAX_LOOP_SECONDS = 30
STALE_AFTER_SECONDS = 4 * MAX_LOOP_SECONDS


def heartbeat_file() -> Path:
    return get_settings().beat_heartbeat_file


def schedule_file() -> Path:
    """Where beat remembers when each entry last ran: under NEWSROOM_VAR_DIR, which
    docker-compose.yml keeps on a volume (the image's own folders are read-only)."""
    return get_settings().var_dir / "celerybeat-schedule"


class HeartbeatScheduler(PersistentScheduler):
    """Celery's persistent scheduler that touches a file on every tick, for the health check."""

    def tick(self, *args, **kwargs):
        path = heartbeat_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        return super().tick(*args, **kwargs)


celery_app.conf.update(
    beat_schedule={**notify_tasks.beat_schedule(), **render_tasks.beat_schedule()},
    beat_scheduler="newsroom.beat:HeartbeatScheduler",
    beat_max_loop_interval=MAX_LOOP_SECONDS,
    beat_schedule_filename=str(schedule_file()),
)

_relay: RelayThread | None = None


@signals.beat_init.connect(weak=False)
def _start_relay(sender=None, **_: object) -> None:
    """The beat process's relay. Celery sends beat_init from an embedded beat thread as
    well, whose process runs a relay of its own: only the beat program (whose scheduler runs
    in the main thread) starts one here."""
    global _relay
    if threading.current_thread() is not threading.main_thread():
        return
    # Before the scheduler opens its file (celery.apps.beat sends beat_init just before).
    Path(getattr(sender, "schedule", schedule_file())).parent.mkdir(parents=True, exist_ok=True)
    _relay = RelayThread(interval=SWEEP_SECONDS)
    _relay.start()


def check() -> int:
    """0 when the scheduler ticked within STALE_AFTER_SECONDS, else 1 (for the health check)."""
    path = heartbeat_file()
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        print(f"no heartbeat at {path}", file=sys.stderr)
        return 1
    if age > STALE_AFTER_SECONDS:
        print(f"last tick {age:.0f} s ago", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["--check"]:
        sys.exit("usage: python -m newsroom.beat --check")
    sys.exit(check())
