"""The transactional outbox: events are written with their change and relayed after commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from shared import metrics
from shared.celery_app import celery_app
from shared.config import get_settings
from shared.db import is_postgres, session_scope, utcnow
from shared.events import (
    CONSUMERS,
    ItemPublished,
    ItemUpdated,
    ItemWithdrawn,
    MediaUploaded,
    PageUpdated,
    SubscriptionRequested,
)
from shared.inserts import Rows, insert_rows
from shared.models import OutboxEvent, RenderWork

log = logging.getLogger(__name__)

_relay_lock = threading.Lock()
_wake = threading.Event()
# Events one relay run sends at most (one SELECT, one broker pipeline, one UPDATE).
RELAY_BATCH = 200


AnyEvent = (
    ItemPublished
    | ItemUpdated
    | ItemWithdrawn
    | PageUpdated
    | SubscriptionRequested
    | MediaUploaded
)


def record(
    session: Session,
    event: AnyEvent,
    *,
    deliver_after: datetime | None = None,
    with_rows: Sequence[Rows | None] = (),
) -> None:
    """Add the event to the caller's transaction; it is relayed once that commits and, when
    `deliver_after` is given (a scheduled item), not before that time.

    `with_rows`: new rows of the same change (a new item and its tags), inserted before the
    event and, on PostgreSQL, in the same statement (see `shared.inserts`).
    """
    now = utcnow()
    # Optional fields left unset stay out, so older consumers read the event as before.
    payload = event.model_dump(mode="json", exclude_none=True)
    row = {
        "event_id": event.event_id,
        "type": event.type,
        "payload": payload,
        "created_at": now,
        "deliver_after": deliver_after,
        "attempts": 0,
    }
    writes = [*with_rows, (OutboxEvent.__table__, [row])]
    if event.type.startswith("item.") and any(q == "render" for _, q in CONSUMERS[event.type]):
        # Render's work waits in the database too: a render worker takes every committed
        # item event in one batch, also those whose messages are still queued behind it.
        work = {"event_id": event.event_id, "event": payload, "stage": "first", "due_at": None}
        work.update(due_at=deliver_after, received_at=now)
        writes.append((RenderWork.__table__, [work]))
    insert_rows(session, writes)
    logged(event)


def logged(event: AnyEvent) -> None:
    extra = {"event_id": str(event.event_id), "event_type": event.type}
    if hasattr(event, "item_id"):
        extra["item_id"] = str(event.item_id)
    log.info("event recorded", extra=extra)


def mark_relayed(session: Session, event_ids: list) -> None:
    """Mark events their producer handed to the broker itself, right after its commit, so
    the relay does not send them again (if it already did, consumers are idempotent)."""
    table = OutboxEvent.__table__.c
    session.execute(
        update(OutboxEvent.__table__)
        .where(table.event_id.in_(event_ids), table.relayed_at.is_(None))
        .values(relayed_at=utcnow(), attempts=table.attempts + 1)
    )


def relay_pending(*, limit: int = RELAY_BATCH, database_url: str | None = None) -> int:
    """Send committed, unrelayed events to their consumers' queues; return how many.

    At-least-once: a crash after sending and before marking sends the event again later,
    which the consumers' idempotent tasks absorb. On PostgreSQL, SKIP LOCKED lets several
    relays run at once without sending the same event twice in the normal case. The messages
    of one run go to the broker together (one Redis pipeline) and are marked in one UPDATE.
    """
    table = OutboxEvent.__table__.c  # Core statements: plain rows, no ORM bookkeeping
    with _relay_lock, session_scope(database_url) as session:
        query = (
            select(table.id, table.event_id, table.type, table.payload)
            .where(table.relayed_at.is_(None))
            .where(or_(table.deliver_after.is_(None), table.deliver_after <= utcnow()))
            .order_by(table.id)
            .limit(limit)
        )
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        events = session.execute(query).all()
        if not events:
            return 0
        _fault("crash-before-send")
        with celery_app.producer_or_acquire() as producer, producer.batch():
            # The queues are declared once per run, not by Celery once per message.
            queues = {queue for event in events for _, queue in CONSUMERS[event.type]}
            for queue in sorted(queues):
                producer.maybe_declare(celery_app.amqp.queues[queue])
            for event in events:
                kwargs = {"event": event.payload}
                # What Celery would show (its own saferepr is slow for what it does).
                kwargsrepr = repr(kwargs)
                for task_name, queue in CONSUMERS[event.type]:
                    celery_app.send_task(
                        task_name,
                        kwargs=kwargs,
                        queue=queue,
                        producer=producer,
                        argsrepr="()",
                        kwargsrepr=kwargsrepr,
                        declare=[],
                    )
        _fault("crash-after-send")
        session.execute(
            update(OutboxEvent.__table__)
            .where(table.id.in_([event.id for event in events]))
            .values(relayed_at=utcnow(), attempts=table.attempts + 1)
        )
        for event in events:
            metrics.EVENTS_RELAYED.labels(event.type).inc()
            log.info("event relayed", extra={"event_id": str(event.event_id)})
        return len(events)


def _fault(point: str) -> None:
    """Fault injection for tests/faults/: die like `kill -9` at `point` when
    NEWSROOM_FAULT_RELAY names it (never set in production)."""
    if get_settings().fault_relay == point:
        log.critical("fault injection: relay crashes at %s", point)
        os._exit(137)


def wake() -> None:
    """Tell this process's relay thread that a transaction with events just committed."""
    _wake.set()


class RelayThread(threading.Thread):
    """Relays right after each commit (woken by `wake`) and sweeps every `interval` seconds.

    Runs start at least `min_gap` seconds apart: an event committed after a quiet spell goes
    out at once, while under load the commits of those milliseconds share one run (one
    query, one broker round trip, one update) instead of costing a run each. It relays from
    the database configured when it was made, whatever the settings say later.
    """

    def __init__(self, interval: float = 1.0, min_gap: float = 0.05) -> None:
        super().__init__(name="outbox-relay", daemon=True)
        self.database_url = get_settings().database_url
        self.interval = interval
        self.min_gap = min_gap
        self._stopping = threading.Event()

    def run(self) -> None:
        started = -self.min_gap
        while not self._stopping.is_set():
            gap = self.min_gap - (time.monotonic() - started)
            if gap > 0:
                self._stopping.wait(gap)
            started = time.monotonic()
            _wake.clear()
            try:
                # A full batch may leave more behind; otherwise the next commit wakes it.
                while relay_pending(database_url=self.database_url) == RELAY_BATCH:
                    if self._stopping.is_set():
                        break
            except Exception:  # the database or broker is down: try again at the next sweep
                log.exception("outbox relay failed; retrying in %.1f s", self.interval)
            _wake.wait(self.interval)

    def stop(self) -> None:
        self._stopping.set()
        _wake.set()
        self.join(timeout=5)


@contextlib.asynccontextmanager
async def relay_lifespan(_app: object) -> AsyncIterator[None]:
    """An API's lifespan: its relay thread runs while it serves, sending what it committed."""
    relay = RelayThread()
    relay.start()
    try:
        yield
    finally:
        await asyncio.to_thread(relay.stop)
