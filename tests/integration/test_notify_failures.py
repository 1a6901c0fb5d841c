"""SMTP failures against a real server scripted to answer 421, 452 and 550, and a dead one."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from services.notify import newsletters, preferences, subscriptions, tasks
from shared.config import get_settings
from shared.db import session_scope, utcnow
from shared.models import Bounce, Delivery, Subscriber
from tests.integration.test_notify_support import (  # noqa: F401 (fixtures)
    add_subscribers,
    make_item,
    published,
    scripted_smtp_fixture,
    use_smtp,
)
from tests.servers import free_port

PEOPLE = ["a@example.se", "b@example.se", "c@example.se", "d@example.se"]
BOUNCED = "b@example.se"


def plan(item_id) -> tuple[str, list[int]]:
    with session_scope() as session:
        key, ids = newsletters.plan_item_newsletter(
            session=session, event=published(item_id), now=utcnow()
        )
    return str(key), ids


def ledger(newsletter: str) -> dict[str, str]:
    with session_scope() as session:
        rows = session.execute(
            select(Subscriber.email, Delivery.status)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.newsletter == newsletter)
        ).all()
    return dict(rows)


def received(recorder) -> Counter:
    return Counter(rcpt for _, rcpts in recorder.envelopes for rcpt in rcpts)


def test_550_suppresses_that_address_for_good(db, scripted_smtp, monkeypatch):
    recorder, handler = scripted_smtp
    # Three newsletters, each its own mail (tests/integration/test_notify_bursts.py: windows).
    monkeypatch.setenv("NEWSROOM_IMMEDIATE_WINDOW", "0")
    get_settings.cache_clear()
    add_subscribers(*PEOPLE)
    handler.script["b@example.se"] = ["550 5.1.1 No such user"]
    newsletter, ids = plan(make_item())
    result = tasks.deliver(newsletter=newsletter, subscriber_ids=ids)
    assert (result.sent, result.failed, result.retry) == (3, 1, [])
    assert ledger(newsletter)["b@example.se"] == "failed"
    with session_scope() as session:
        bounced = session.scalars(select(Subscriber).where(Subscriber.email == BOUNCED)).one()
        assert bounced.status == "suppressed"
        assert bounced.suppressed_at is not None and "550" in bounced.suppressed_reason
        decision = session.scalars(select(Bounce)).one()
        assert (decision.subscriber_id, decision.kind, decision.source) == (
            bounced.id,
            "hard",
            "smtp",
        )
        assert (decision.status_code, decision.decision) == ("5.1.1", "suppressed")
    assert handler.connections == 1  # one connection for the whole batch

    second, ids = plan(make_item())
    tasks.deliver(newsletter=second, subscriber_ids=ids)
    assert "b@example.se" not in ledger(second)
    assert received(recorder)["b@example.se"] == 0

    # Subscribing again sends nothing, not even a confirmation mail: the address is spärrad.
    with session_scope() as session:
        request = preferences.validate_request(email="b@example.se")
        event = subscriptions.request_subscription(
            session=session, request=request, source="api", now=utcnow()
        )
    sent = tasks.handle_subscription.apply(kwargs={"event": event.model_dump(mode="json")})
    assert sent.result is False
    assert received(recorder)["b@example.se"] == 0
    with session_scope() as session:
        bounced = session.scalars(select(Subscriber).where(Subscriber.email == BOUNCED)).one()
        assert bounced.status == "suppressed"


def test_452_is_retried_without_resending_what_was_accepted(db, scripted_smtp):
    recorder, handler = scripted_smtp
    add_subscribers(*PEOPLE)
    handler.script["c@example.se"] = ["452 4.2.2 Mailbox full", "452 4.2.2 Mailbox full"]
    newsletter, ids = plan(make_item())
    first = tasks.deliver(newsletter=newsletter, subscriber_ids=ids)
    assert first.sent == 3 and len(first.retry) == 1 and "452" in first.retry[0]
    assert ledger(newsletter)["c@example.se"] == "claimed"
    second = tasks.deliver(newsletter=newsletter, subscriber_ids=ids)
    assert second.sent == 0 and len(second.retry) == 1
    third = tasks.deliver(newsletter=newsletter, subscriber_ids=ids)
    assert third.sent == 1 and not third.retry
    assert set(ledger(newsletter).values()) == {"sent"}
    assert received(recorder) == Counter({p: 1 for p in PEOPLE})
    with session_scope() as session:
        assert session.scalars(select(Subscriber.suppressed_at)).all() == [None] * 4


def test_421_stops_the_batch_and_the_retry_finishes_it(db, scripted_smtp):
    recorder, handler = scripted_smtp
    add_subscribers(*PEOPLE)
    handler.script["b@example.se"] = ["421 4.3.2 Shutting down"]
    newsletter, ids = plan(make_item())
    first = tasks.deliver(newsletter=newsletter, subscriber_ids=ids)
    assert first.sent == 1 and "421" in first.retry[0]
    assert sorted(ledger(newsletter).values()) == ["claimed", "claimed", "claimed", "sent"]
    second = tasks.deliver(newsletter=newsletter, subscriber_ids=ids)
    assert second.sent == 3 and not second.retry
    assert received(recorder) == Counter({p: 1 for p in PEOPLE})


def test_the_task_retries_4xx_with_backoff(db, scripted_smtp, monkeypatch):
    recorder, handler = scripted_smtp
    add_subscribers(*PEOPLE)
    handler.script["d@example.se"] = ["452 4.2.2 Mailbox full"]
    countdowns = []
    original = tasks.deliver_batch.retry

    def recording_retry(*args, **kwargs):
        countdowns.append(kwargs.get("countdown"))
        return original(*args, **kwargs)

    monkeypatch.setattr(tasks.deliver_batch, "retry", recording_retry)
    newsletter, ids = plan(make_item())
    # apply() runs the retry at once instead of after the countdown.
    outcome = tasks.deliver_batch.apply(kwargs={"newsletter": newsletter, "subscriber_ids": ids})
    assert outcome.successful() and outcome.result == 1
    assert countdowns == [30]
    assert received(recorder) == Counter({p: 1 for p in PEOPLE})


def test_connection_failure_keeps_everything_claimed_for_the_retry(db, scripted_smtp, monkeypatch):
    recorder, handler = scripted_smtp
    good_url = recorder.url
    add_subscribers(*PEOPLE)
    newsletter, ids = plan(make_item())
    use_smtp(monkeypatch, f"smtp://127.0.0.1:{free_port()}")  # nobody listens there
    result = tasks.deliver(newsletter=newsletter, subscriber_ids=ids)
    assert result.sent == 0 and "connect" in result.retry[0]
    assert set(ledger(newsletter).values()) == {"claimed"}
    use_smtp(monkeypatch, good_url)
    assert tasks.deliver(newsletter=newsletter, subscriber_ids=ids).sent == 4
    assert received(recorder) == Counter({p: 1 for p in PEOPLE})


def test_a_duplicated_batch_sends_nothing_twice(db, scripted_smtp):
    recorder, _ = scripted_smtp
    add_subscribers(*PEOPLE)
    newsletter, ids = plan(make_item())
    assert tasks.deliver(newsletter=newsletter, subscriber_ids=ids).sent == 4
    assert tasks.deliver(newsletter=newsletter, subscriber_ids=ids).sent == 0
    assert received(recorder) == Counter({p: 1 for p in PEOPLE})


def test_each_mail_is_taken_alone_and_the_one_before_is_marked_sent(db, scripted_smtp, monkeypatch):
    # What bounds the duplicates a crash can cause: when a mail goes to SMTP its own row is
    # the only one `sending` (so the stalled sweep could resend at most that one) and every
    # mail accepted before it is already marked sent.
    from services.notify import transport

    recorder, _ = scripted_smtp
    add_subscribers(*PEOPLE)
    newsletter, ids = plan(make_item())
    seen: list[tuple[str, int, int]] = []
    original = transport.SMTPTransport.send

    def watched(self, *, recipient, data, sender=None):
        states = Counter(ledger(newsletter).values())
        seen.append((ledger(newsletter)[recipient], states["sending"], states["sent"]))
        return original(self, recipient=recipient, data=data, sender=sender)

    monkeypatch.setattr(transport.SMTPTransport, "send", watched)
    assert tasks.deliver(newsletter=newsletter, subscriber_ids=ids).sent == 4
    assert seen == [("sending", 1, n) for n in range(4)]
    assert set(ledger(newsletter).values()) == {"sent"}
    assert received(recorder) == Counter({p: 1 for p in PEOPLE})
