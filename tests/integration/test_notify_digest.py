"""Weekly digest, expiry of unconfirmed subscriptions, privacy export and erasure."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from services.notify import newsletters, preferences, privacy, subscriptions, tasks
from shared.db import session_scope, utcnow
from shared.models import Delivery, DigestItem, Subscriber, SuppressedAddress
from tests.integration.test_notify_support import add_subscribers, make_item, published, use_smtp

MONDAY = datetime(2021, 5, 3, 5, 0, tzinfo=UTC)  # 07:00 in Stockholm, week 18


def seen(item_id, at: datetime) -> None:
    """Notify handles the item's event at `at` (when it became visible)."""
    with session_scope() as session:
        newsletters.plan_item_newsletter(session=session, event=published(item_id), now=at)


def test_weekly_digest_goes_once_and_never_empty(db, smtp_server, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    skane = make_item(title="Skånes handskar", published_at=datetime(2021, 4, 29, 7, tzinfo=UTC))
    gotland = make_item(
        title="Gotlands livsmedel",
        regions=("region-gotland",),
        topics=("livsmedel",),
        published_at=datetime(2021, 4, 26, 8, tzinfo=UTC),
    )
    draft = make_item(
        title="Utkast", published_at=datetime(2021, 4, 28, 7, tzinfo=UTC), status="draft"
    )
    for item_id in (skane, gotland, draft):
        seen(item_id, datetime(2021, 4, 29, 8, tzinfo=UTC))
    add_subscribers("alla@example.se", frequency="weekly")
    add_subscribers("gotland@example.se", frequency="weekly", regions=("region-gotland",))
    add_subscribers("kronoberg@example.se", frequency="weekly", regions=("region-kronoberg",))
    add_subscribers("direkt@example.se", frequency="immediate")

    assert tasks.send_digest_here(now=MONDAY) == 2
    assert tasks.send_digest_here(now=MONDAY + timedelta(hours=3)) == 0
    assert sorted(m["To"] for m in smtp_server.messages) == [
        "alla@example.se",
        "gotland@example.se",
    ]
    [everything] = smtp_server.to("alla@example.se")
    text = everything.get_body(("plain",)).get_content()
    assert everything["Subject"] == "Veckans nyheter från Hållbar upphandling – vecka 17"
    assert "Skånes handskar" in text and "Gotlands livsmedel" in text and "Utkast" not in text
    assert text.index("Skånes handskar") < text.index("Gotlands livsmedel")  # newest first
    assert everything["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [gotland_mail] = smtp_server.to("gotland@example.se")
    assert "Skånes" not in gotland_mail.get_body(("plain",)).get_content()
    with session_scope() as session:
        keys = set(session.scalars(select(Delivery.newsletter)))
        assert keys == {"digest:2021-05-03"}


def test_each_item_is_in_exactly_one_digest_whatever_its_date(db, smtp_server, monkeypatch):
    """A digest carries what became visible since the one before, whatever the items' own
    dates: an item posted today with last month's date, or scheduled ahead and appearing
    later, still reaches the next digest, once."""
    use_smtp(monkeypatch, smtp_server.url)
    add_subscribers("vecka@example.se", frequency="weekly")
    next_monday = MONDAY + timedelta(days=7)

    before = make_item(title="Före första", published_at=MONDAY - timedelta(days=2))
    seen(before, MONDAY - timedelta(days=2))
    assert tasks.send_digest_here(now=MONDAY) == 1

    # Posted after the first digest, dated a month back: the old rule (by date, last week
    # only) never mailed it.
    backdated = make_item(title="Bakåtdaterad", published_at=MONDAY - timedelta(days=30))
    seen(backdated, MONDAY + timedelta(days=2))
    # Scheduled for Sunday, visible (and its event handled) only then.
    scheduled = make_item(title="Schemalagd", published_at=MONDAY + timedelta(days=6))
    seen(scheduled, MONDAY + timedelta(days=6))
    # Visible only after the second digest was made: it waits for the third.
    late = make_item(title="Efter andra", published_at=next_monday + timedelta(hours=1))
    seen(late, next_monday + timedelta(hours=1))

    assert tasks.send_digest_here(now=next_monday) == 1
    assert tasks.send_digest_here(now=next_monday + timedelta(hours=5)) == 0  # the same day
    assert tasks.send_digest_here(now=next_monday + timedelta(days=7)) == 1
    assert tasks.send_digest_here(now=next_monday + timedelta(days=14)) == 0  # never empty

    first, second, third = (
        m.get_body(("plain",)).get_content() for m in smtp_server.to("vecka@example.se")
    )
    titles = ("Före första", "Bakåtdaterad", "Schemalagd", "Efter andra")
    assert [t for t in titles if t in first] == ["Före första"]
    assert [t for t in titles if t in second] == ["Bakåtdaterad", "Schemalagd"]
    assert [t for t in titles if t in third] == ["Efter andra"]
    with session_scope() as session:
        filed = dict(session.execute(select(DigestItem.item_id, DigestItem.digest)).all())
    assert filed == {
        before: "digest:2021-05-03",
        backdated: "digest:2021-05-10",
        scheduled: "digest:2021-05-10",
        late: "digest:2021-05-17",
    }


def test_digest_send_says_what_it_sends():
    from click.testing import CliRunner

    from newsroom.cli import main

    shown = CliRunner().invoke(main, ["digest", "send", "--help"]).output
    assert "since the previous digest" in shown and "this week" not in shown


def test_concurrent_batches_mail_each_recipient_once(db, smtp_server, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    people = [f"p{i}@example.se" for i in range(30)]
    add_subscribers(*people)
    with session_scope() as session:
        newsletter, ids = newsletters.plan_item_newsletter(
            session=session, event=published(make_item()), now=utcnow()
        )
    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(tasks.deliver(newsletter=newsletter, subscriber_ids=ids))
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.sent for r in results) == 30
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(people)


def test_unconfirmed_subscriptions_expire_after_30_days(db):
    now = utcnow()
    with session_scope() as session:
        for email, age, confirmed_before in (
            ("gammal@example.se", 31, False),
            ("ny@example.se", 29, False),
            ("atervandare@example.se", 31, True),
        ):
            session.add(
                Subscriber(
                    email=email,
                    status="pending",
                    created_at=now - timedelta(days=400),
                    consent_at=now - timedelta(days=age),
                    confirmed_at=now - timedelta(days=300) if confirmed_before else None,
                )
            )
    with session_scope() as session:
        assert subscriptions.expire_pending(session=session, now=now) == 2
    with session_scope() as session:
        left = dict(session.execute(select(Subscriber.email, Subscriber.status)).all())
    assert left == {"ny@example.se": "pending", "atervandare@example.se": "unsubscribed"}


def test_export_and_forget(db, smtp_server, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    add_subscribers("Greta.Lind@example.se".lower(), regions=("region-skane",))
    with session_scope() as session:
        newsletter, ids = newsletters.plan_item_newsletter(
            session=session, event=published(make_item()), now=utcnow()
        )
    tasks.deliver(newsletter=newsletter, subscriber_ids=ids)

    with session_scope() as session:
        data = privacy.export_subscriber(session=session, email=" Greta.Lind@EXAMPLE.se")
    json.dumps(data)  # JSON-ready
    assert data["email"] == "greta.lind@example.se"
    assert data["subscription"]["regions"] == ["region-skane"]
    assert data["subscription"]["consent"]["source"] == "api"
    assert [d["newsletter"] for d in data["deliveries"]] == [str(newsletter)]
    assert data["deliveries"][0]["status"] == "sent"

    with session_scope() as session:
        assert privacy.forget_subscriber(
            session=session, email="greta.lind@example.se", now=utcnow()
        )
    with session_scope() as session:
        assert session.scalars(select(Subscriber)).all() == []
        assert session.scalars(select(Delivery)).all() == []
        [kept] = session.scalars(select(SuppressedAddress)).all()
        assert kept.email_hash == subscriptions.email_hash("greta.lind@example.se")
        assert "greta" not in json.dumps([kept.email_hash, kept.reason])
        remaining = privacy.export_subscriber(session=session, email="greta.lind@example.se")
        assert set(remaining) == {"email", "suppression"}
        assert not privacy.forget_subscriber(
            session=session, email="greta.lind@example.se", now=utcnow()
        )
        assert privacy.export_subscriber(session=session, email="okand@example.se") is None


def test_lost_batches_are_resumed_and_stale_confirmations_dropped(db, smtp_server, monkeypatch):
    from shared.celery_app import celery_app

    use_smtp(monkeypatch, smtp_server.url)
    add_subscribers("a@example.se", "b@example.se")
    with session_scope() as session:
        # The item's batch task was lost (an in-memory broker died with its process).
        newsletter, _ = newsletters.plan_item_newsletter(
            session=session, event=published(make_item()), now=utcnow()
        )
        request = preferences.validate_request(email="sen@example.se")
        event = subscriptions.request_subscription(
            session=session, request=request, source="api", now=utcnow()
        )
        subscriptions.subscribe(session=session, event=event)
        session.execute(update(Delivery).values(claimed_at=utcnow() - timedelta(hours=4)))
    celery_app.conf.update(task_always_eager=True)
    try:
        assert tasks.resume_stalled.apply().result == 2
        assert tasks.resume_stalled.apply().result == 0
    finally:
        celery_app.conf.update(task_always_eager=False)
    assert sorted(m["To"] for m in smtp_server.messages) == ["a@example.se", "b@example.se"]
    with session_scope() as session:
        statuses = dict(session.execute(select(Delivery.newsletter, Delivery.status)).all())
    assert statuses[str(newsletter)] == "sent"
    assert [s for n, s in statuses.items() if n.startswith("confirm:")] == ["skipped"]


def test_beat_task_sends_the_digest_in_batches(db, smtp_server, monkeypatch):
    from shared.celery_app import celery_app

    monkeypatch.setenv("NEWSROOM_MAIL_BATCH_SIZE", "2")
    use_smtp(monkeypatch, smtp_server.url)
    seen(make_item(title="Veckans nyhet"), utcnow() - timedelta(minutes=1))
    add_subscribers(*(f"v{i}@example.se" for i in range(5)), frequency="weekly")
    dispatched = []
    original = tasks.deliver_batch.apply_async
    monkeypatch.setattr(
        tasks.deliver_batch,
        "apply_async",
        lambda *a, **kw: dispatched.append(kw["kwargs"]["subscriber_ids"]) or original(*a, **kw),
    )
    celery_app.conf.update(task_always_eager=True)
    try:
        assert tasks.send_digest.apply().result == 5
        assert tasks.send_digest.apply().result == 0  # the beat firing twice sends nothing
    finally:
        celery_app.conf.update(task_always_eager=False)
    assert [len(batch) for batch in dispatched] == [2, 2, 1]
    assert sorted(m["To"] for m in smtp_server.messages) == [f"v{i}@example.se" for i in range(5)]


def test_subscription_requests_are_exported_forgotten_and_purged(db):
    """A request waits in the outbox with its address: export shows it, forgetting the address
    erases it, and applied requests are deleted after a day."""
    from shared.models import OutboxEvent

    def request(email: str, at: datetime):
        with session_scope() as session:
            return subscriptions.request_subscription(
                session=session,
                request=preferences.validate_request(email=email, topics=["miljo"]),
                source="form",
                now=at,
            )

    request("ny.person@example.se", utcnow())
    with session_scope() as session:
        data = privacy.export_subscriber(session=session, email="ny.person@example.se")
    assert [r["topics"] for r in data["requests"]] == [["miljo"]]
    with session_scope() as session:
        forgotten = privacy.forget_subscriber(
            session=session, email="ny.person@example.se", now=utcnow()
        )
    assert forgotten
    with session_scope() as session:
        assert session.scalars(select(OutboxEvent)).all() == []

    old = request("gammal@example.se", utcnow() - timedelta(days=2))
    request("farsk@example.se", utcnow())
    with session_scope() as session:
        from shared import outbox

        outbox.mark_relayed(session, [old.event_id])
        session.execute(
            update(OutboxEvent)
            .values(created_at=utcnow() - timedelta(days=2))
            .where(OutboxEvent.event_id == old.event_id)
        )
    with session_scope() as session:
        assert subscriptions.purge_requests(session=session, now=utcnow()) == 1
        left = [row.payload["email"] for row in session.scalars(select(OutboxEvent))]
    assert left == ["farsk@example.se"]
