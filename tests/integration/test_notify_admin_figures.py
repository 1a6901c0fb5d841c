"""The figures of Redaktionen's subscriber and newsletter pages and of notify's metrics,
against a known set of subscribers and ledger rows, on both databases."""

from __future__ import annotations

import uuid
from datetime import timedelta

from prometheus_client import REGISTRY, generate_latest
from sqlalchemy import update

from services.notify import ledger
from services.notify.admin import metrics, stats
from services.notify.keys import ConfirmationKey, DigestKey, ItemKey
from shared.db import session_scope, utcnow
from shared.models import Delivery, Subscriber

KNOWN = [
    # (email, status, suppressed, regions, topics, frequency)
    ("a@example.se", "confirmed", False, ["region-skane"], ["textilier"], "immediate"),
    ("b@example.se", "confirmed", False, ["region-skane", "region-halland"], [], "weekly"),
    ("c@example.se", "confirmed", False, [], ["textilier"], "immediate"),
    ("d@example.se", "pending", False, ["region-skane"], [], "immediate"),
    ("e@example.se", "pending", False, [], [], "weekly"),
    ("f@example.se", "unsubscribed", False, ["region-gotland"], [], "immediate"),
    ("g@example.se", "confirmed", True, ["region-skane"], [], "immediate"),
]


def add_known() -> dict[str, int]:
    with session_scope() as session:
        rows = {}
        for email, status, suppressed, regions, topics, frequency in KNOWN:
            subscriber = Subscriber(
                email=email,
                status=status,
                regions=regions,
                topics=topics,
                frequency=frequency,
                suppressed_at=utcnow() if suppressed else None,
            )
            session.add(subscriber)
            session.flush()
            rows[email] = subscriber.id
        return rows


def test_subscriber_counts_by_status_region_topic_and_frequency(db):
    add_known()
    with session_scope() as session:
        counts = stats.subscriber_counts(session=session)
        choices = stats.active_choices(session=session)
    assert counts == {"pending": 2, "confirmed": 3, "unsubscribed": 1, "suppressed": 1}
    # Active: a, b, c (g is suppressed).
    assert choices.total == 3
    assert dict(choices.frequencies) == {"immediate": 2, "weekly": 1}
    assert dict(choices.regions) == {"region-skane": 2, "region-halland": 1}
    assert choices.all_regions == 1
    assert dict(choices.topics) == {"textilier": 2}
    assert choices.all_topics == 1


def set_status(key: str, subscriber_ids: list[int], status: str, **values) -> None:
    with session_scope() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.newsletter == key, Delivery.subscriber_id.in_(subscriber_ids))
            .values(status=status, **values)
        )


def test_newsletter_during_and_after_a_send_and_when_stuck(db):
    ids = add_known()
    everyone = sorted(ids.values())
    item = str(ItemKey(uuid.uuid4()))
    digest = str(DigestKey("2026-05-04"))
    start = utcnow()
    with session_scope() as session:
        ledger.claim(session=session, newsletter=item, subscriber_ids=everyone, now=start)
        ledger.claim(session=session, newsletter=digest, subscriber_ids=everyone[:2], now=start)
        # Confirmation mails are no newsletters.
        confirm = str(ConfirmationKey(uuid.uuid4().hex))
        ledger.claim(session=session, newsletter=confirm, subscriber_ids=everyone[:1], now=start)

    # During: three sent, one refused for good, one deferred (waiting with its error).
    sent_at = start + timedelta(minutes=1)
    set_status(item, everyone[:3], "sent", sent_at=sent_at)
    set_status(item, everyone[3:4], "failed", error="550 5.1.1 mailbox unavailable")
    set_status(item, everyone[4:5], "claimed", error="421 try again later")
    set_status(item, everyone[5:6], "sending")
    with session_scope() as session:
        letters = stats.newsletters(session=session, now=sent_at + timedelta(minutes=2))
        by_key = {letter.key: letter for letter in letters}
        assert set(by_key) == {item, digest}
        during = by_key[item]
        assert (during.planned, during.count("sent"), during.count("failed")) == (7, 3, 1)
        assert during.waiting == 3 and during.done == 4 and during.percent == 57
        assert during.state == "skickas" and not during.stuck
        assert during.kind == "item" and by_key[digest].kind == "digest"
        assert stats.errors(session=session, key=item) == [
            ("failed", "550 5.1.1 mailbox unavailable", 1),
            ("claimed", "421 try again later", 1),
        ]
        waiting = stats.waiting_addresses(session=session, key=item)
        assert waiting == sorted(email for email, i in ids.items() if i in everyone[4:])

        # Stuck: nothing sent for longer than STUCK_AFTER while rows wait.
        later = sent_at + stats.stuck_after() + timedelta(seconds=1)
        (stuck,) = stats.newsletters(session=session, now=later, keys=[item])
        assert stuck.stuck and stuck.state == "fastnat" and stuck.quiet_since == sent_at
        # The digest never sent anything: stuck since it was planned.
        (quiet,) = stats.newsletters(session=session, now=later, keys=[digest])
        assert quiet.stuck and quiet.quiet_since == start

    # After: every row settled (bounced and suppressed as the ledger names them).
    set_status(item, everyone[4:5], "bounced", error="5.1.1 user unknown (DSN)")
    set_status(item, everyone[5:6], "suppressed")
    set_status(item, everyone[6:7], "sent", sent_at=sent_at)
    with session_scope() as session:
        (after,) = stats.newsletters(session=session, now=later + timedelta(hours=1), keys=[item])
    assert after.waiting == 0 and after.percent == 100 and after.state == "klart"
    assert (after.count("sent"), after.count("bounced"), after.count("suppressed")) == (4, 1, 1)


def test_metrics_are_the_same_figures_without_addresses(db):
    ids = add_known()
    item = str(ItemKey(uuid.uuid4()))
    now = utcnow()
    with session_scope() as session:
        ledger.claim(session=session, newsletter=item, subscriber_ids=ids.values(), now=now)
    set_status(item, [ids["a@example.se"], ids["b@example.se"]], "sent", sent_at=now)
    metrics.register()
    metrics.register()  # idempotent
    text = generate_latest(REGISTRY).decode()
    assert 'newsroom_subscribers{status="confirmed"} 3.0' in text
    assert 'newsroom_subscribers{status="suppressed"} 1.0' in text
    assert 'newsroom_subscribers{status="pending"} 2.0' in text
    assert 'newsroom_subscribers_active_by_frequency{frequency="weekly"} 1.0' in text
    assert (
        f'newsroom_newsletter_recipients{{kind="item",newsletter="{item}",status="sent"}} 2.0'
        in text
    )
    assert (
        f'newsroom_newsletter_recipients{{kind="item",newsletter="{item}",status="claimed"}} 5.0'
        in text
    )
    assert f'newsroom_newsletter_stuck{{kind="item",newsletter="{item}"}} 0.0' in text
    assert "@example.se" not in text


def test_stuck_follows_the_setting(monkeypatch):
    from shared.config import get_settings

    start = utcnow()
    letter = stats.NewsletterStats(
        key="item:x",
        kind="item",
        title="x",
        started_at=start,
        last_sent_at=None,
        statuses={"claimed": 1},
        now=start + timedelta(minutes=20),
    )
    assert letter.stuck  # the default: 15 minutes
    monkeypatch.setenv("NEWSROOM_NEWSLETTER_STUCK_MINUTES", "30")
    get_settings.cache_clear()
    assert not letter.stuck


def test_a_real_send_seen_while_it_runs_when_it_stalls_and_when_it_is_done(db):
    from services.notify import newsletters, tasks
    from tests.integration.test_notify_support import add_subscribers, make_item, published

    ids = add_subscribers("x1@example.se", "x2@example.se", "x3@example.se")
    item_id = make_item(title="Handskar i Skåne")
    start = utcnow()
    with session_scope() as session:
        key, waiting = newsletters.plan_item_newsletter(
            session=session, event=published(item_id), now=start
        )
    assert sorted(waiting) == sorted(ids)

    def figures(now):
        with session_scope() as session:
            (letter,) = stats.newsletters(session=session, now=now, keys=[str(key)])
            return letter

    tasks.deliver(newsletter=key, subscriber_ids=ids[:2])  # the first batch, to files
    during = figures(utcnow())
    assert during.title == "Handskar i Skåne" and during.kind == "item"
    assert (during.planned, during.count("sent"), during.waiting) == (3, 2, 1)
    assert during.state == "skickas"
    stalled = figures(utcnow() + stats.stuck_after() + timedelta(minutes=1))
    assert stalled.state == "fastnat"

    tasks.deliver(newsletter=key, subscriber_ids=ids[2:])
    after = figures(utcnow() + timedelta(hours=1))
    assert (after.count("sent"), after.waiting, after.percent, after.state) == (3, 0, 100, "klart")


def test_active_by_frequency_agrees_with_the_choices(db):
    add_known()
    with session_scope() as session:
        assert stats.active_by_frequency(session=session) == dict(
            stats.active_choices(session=session).frequencies
        )
