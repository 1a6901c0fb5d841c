"""The outbox relay hands committed events to each consumer's queue on the real broker."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import timedelta

import pytest
import redis

from shared import outbox
from shared.celery_app import configure
from shared.config import get_settings
from shared.db import session_scope, utcnow
from shared.events import ItemPublished
from shared.models import OutboxEvent


@pytest.fixture
def broker(db, redis_url, monkeypatch) -> redis.Redis:
    monkeypatch.setenv("NEWSROOM_BROKER_URL", redis_url)
    get_settings.cache_clear()
    configure(get_settings())
    return redis.Redis.from_url(redis_url)


def queued(client: redis.Redis, queue: str) -> list[tuple[str, str]]:
    """(task name, event id) of every message waiting in a Celery queue on Redis."""
    result = []
    for raw in client.lrange(queue, 0, -1):
        message = json.loads(raw)
        _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        result.append((message["headers"]["task"], kwargs["event"]["event_id"]))
    return result


def wait_for_a_message(client: redis.Redis, queue: str = "render") -> None:
    """Until a message is in `queue` (bounded: five seconds)."""
    for _ in range(100):
        if client.llen(queue):
            return
        time.sleep(0.05)


def test_committed_event_reaches_both_queues_once(broker):
    event = ItemPublished(item_id=uuid.uuid4(), item_version=1)
    with session_scope() as session:
        outbox.record(session, event)

    assert outbox.relay_pending() == 1
    assert outbox.relay_pending() == 0  # marked: not sent again
    assert queued(broker, "render") == [("render.handle_event", str(event.event_id))]
    assert queued(broker, "notify") == [("notify.handle_event", str(event.event_id))]


def test_one_run_sends_every_pending_event_in_order_and_marks_each_once(broker):
    events = [ItemPublished(item_id=uuid.uuid4(), item_version=1) for _ in range(5)]
    with session_scope() as session:
        for event in events:
            outbox.record(session, event)

    assert outbox.relay_pending(limit=3) == 3  # a full batch; the rest waits for the next run
    assert outbox.relay_pending(limit=3) == 2
    assert outbox.relay_pending() == 0
    ids = [str(event.event_id) for event in events]
    assert queued(broker, "render")[::-1] == [("render.handle_event", i) for i in ids]
    assert queued(broker, "notify")[::-1] == [("notify.handle_event", i) for i in ids]
    with session_scope() as session:
        rows = session.query(OutboxEvent).all()
        assert {row.attempts for row in rows} == {1}
        assert all(row.relayed_at is not None for row in rows)


def test_rolled_back_event_is_never_sent(broker):
    with pytest.raises(RuntimeError), session_scope() as session:
        outbox.record(session, ItemPublished(item_id=uuid.uuid4(), item_version=1))
        raise RuntimeError("the request failed after writing")
    assert outbox.relay_pending() == 0
    assert broker.llen("render") == 0


def test_event_committed_while_relay_was_down_is_sent_later(broker):
    # The process died between commit and publish: the next relay run, anywhere, sends it.
    event = ItemPublished(item_id=uuid.uuid4(), item_version=1)
    with session_scope() as session:
        outbox.record(session, event)
    assert broker.llen("render") == 0
    thread = outbox.RelayThread(interval=0.05)
    thread.start()
    try:
        wait_for_a_message(broker)
    finally:
        thread.stop()
    assert queued(broker, "render") == [("render.handle_event", str(event.event_id))]


def test_scheduled_event_waits_for_its_time(broker):
    later = ItemPublished(item_id=uuid.uuid4(), item_version=1)
    with session_scope() as session:
        outbox.record(session, later, deliver_after=utcnow() + timedelta(hours=1))
    assert outbox.relay_pending() == 0
    with session_scope() as session:
        row = session.query(OutboxEvent).one()
        row.deliver_after = utcnow() - timedelta(seconds=1)
    assert outbox.relay_pending() == 1


def test_a_relay_thread_keeps_to_the_database_it_was_started_on(broker, tmp_path, monkeypatch):
    # A process whose settings change (a test after a test) never sends another database's
    # events nor touches a database it was not made for.
    event = ItemPublished(item_id=uuid.uuid4(), item_version=1)
    thread = outbox.RelayThread(interval=0.05)
    monkeypatch.setenv("NEWSROOM_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    get_settings.cache_clear()
    thread.start()
    try:
        with session_scope(thread.database_url) as session:
            outbox.record(session, event)
        outbox.wake()
        wait_for_a_message(broker)
    finally:
        thread.stop()
    assert queued(broker, "render") == [("render.handle_event", str(event.event_id))]
    assert not (tmp_path / "other.db").exists()
