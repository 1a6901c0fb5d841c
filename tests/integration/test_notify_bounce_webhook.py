"""The bounce webhook: signed by the provider (HMAC-SHA256 over timestamp and body), fresh,
never replayed; problem+json in Swedish for everything it refuses."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.notify import newsletters, tasks, verp
from services.notify.webhook import PATH, signature
from shared.config import get_settings
from shared.db import session_scope, utcnow
from shared.models import Bounce, Delivery, Subscriber
from tests.integration.test_notify_support import (  # noqa: F401 (fixtures)
    add_subscribers,
    client_fixture,
    make_item,
    published,
    token_for,
)

SECRET = "webhook-hemlighet-for-test"


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest) -> str:
    """SQLite here, but for the test that writes the policy's rows on both databases."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def webhook(client, monkeypatch):
    monkeypatch.setenv("NEWSROOM_BOUNCE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("NEWSROOM_BOUNCE_ADDRESS", "bounces@example.se")
    get_settings.cache_clear()
    return client


def sent_to(*people: str) -> dict[str, str]:
    """Send an item to `people` (and everyone subscribed before; mail as files); each
    subscriber's VERP envelope sender of their latest mail."""
    if people:
        add_subscribers(*people, regions=("region-skane",))
    with session_scope() as session:
        key, ids = newsletters.plan_item_newsletter(
            session=session, event=published(make_item()), now=utcnow()
        )
    tasks.deliver(newsletter=key, subscriber_ids=ids)
    with session_scope() as session:
        rows = session.execute(
            select(Delivery.id, Subscriber.email, Subscriber.link_id)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .order_by(Delivery.id)
        ).all()
    return {
        email: verp.envelope_sender(delivery_id=delivery_id, link_id=link_id)
        for delivery_id, email, link_id in rows
    }


def post(client, body: dict | bytes, *, secret=SECRET, timestamp=None, headers=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    sent = {
        "content-type": "application/json",
        "x-newsroom-timestamp": stamp,
        "x-newsroom-signature": signature(secret, stamp, raw),
        **(headers or {}),
    }
    return client.post(PATH, content=raw, headers=sent)


def status_of(email: str) -> str:
    with session_scope() as session:
        return session.scalars(select(Subscriber.status).where(Subscriber.email == email)).one()


def assert_problem(answer, status: int, words: str) -> dict:
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["status"] == status and words in body["detail"]
    return body


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_signed_bounce_suppresses_and_a_replay_is_refused(webhook):
    senders = sent_to("a@example.se", "b@example.se")
    body = {
        "type": "bounce",
        "envelope_sender": senders["b@example.se"],
        "status": "5.1.1",
        "diagnostic": "550 5.1.1 User unknown",
    }
    stamp = int(time.time())
    answer = post(webhook, body, timestamp=stamp)
    assert answer.status_code == 200 and answer.json() == {"outcome": "suppressed"}
    assert status_of("b@example.se") == "suppressed"
    assert status_of("a@example.se") == "confirmed"

    replay = post(webhook, body, timestamp=stamp)
    assert_problem(replay, 409, "redan tagits emot")
    # Signed anew it is the same report: accepted, and decides nothing twice.
    assert post(webhook, body, timestamp=stamp + 1).json() == {"outcome": "duplicate"}
    with session_scope() as session:
        [decision] = session.scalars(select(Bounce)).all()
    assert (decision.source, decision.kind, decision.status_code) == ("webhook", "hard", "5.1.1")


def test_a_complaint_and_an_unknown_delivery(webhook):
    senders = sent_to("c@example.se")
    complaint = {"type": "complaint", "envelope_sender": senders["c@example.se"]}
    assert post(webhook, complaint).json() == {"outcome": "suppressed"}
    assert status_of("c@example.se") == "suppressed"
    stranger = {"type": "complaint", "envelope_sender": "bounces+d9z-" + "0" * 20 + "@example.se"}
    assert post(webhook, stranger).json() == {"outcome": "unknown_delivery"}
    # The one-click unsubscribe of the mail complained about leaves the address suppressed.
    answer = webhook.post(
        "/prenumeration/avregistrera", params={"token": token_for("unsubscribe", "c@example.se")}
    )
    assert answer.status_code == 200
    assert status_of("c@example.se") == "suppressed"


def test_signatures_and_timestamps_are_checked(webhook):
    senders = sent_to("d@example.se")
    body = {"type": "bounce", "envelope_sender": senders["d@example.se"], "status": "5.1.1"}
    assert_problem(post(webhook, body, secret="fel-hemlighet"), 401, "Signaturen stämmer inte")
    stale = int(time.time()) - 3600
    assert_problem(post(webhook, body, timestamp=stale), 401, "för gammal")
    unsigned = webhook.post(PATH, json=body)
    assert_problem(unsigned, 401, "Signatur saknas")
    # A valid signature over another body does not carry over.
    stamp = str(int(time.time()))
    other = json.dumps({**body, "status": "4.2.2"}).encode()
    forged = webhook.post(
        PATH,
        content=json.dumps(body).encode(),
        headers={
            "content-type": "application/json",
            "x-newsroom-timestamp": stamp,
            "x-newsroom-signature": signature(SECRET, stamp, other),
        },
    )
    assert_problem(forged, 401, "Signaturen stämmer inte")
    assert status_of("d@example.se") == "confirmed"


def test_bad_bodies_are_refused_in_swedish(webhook):
    problem = assert_problem(post(webhook, b"{inte json"), 422, "uppfyller inte kraven")
    assert problem["errors"]
    problem = assert_problem(post(webhook, {"type": "studs"}), 422, "uppfyller inte kraven")
    assert {e["field"] for e in problem["errors"]} == {"type", "envelope_sender"}
    no_code = {"type": "bounce", "envelope_sender": "bounces@example.se", "status": "okänd"}
    problem = assert_problem(post(webhook, no_code), 422, "uppfyller inte kraven")
    assert problem["errors"] == [
        {"field": "status", "message": "ska vara en statuskod som 5.1.1 eller 4.2.2"}
    ]
    as_form = post(webhook, b"type=bounce", headers={"content-type": "text/plain"})
    assert_problem(as_form, 415, "Skicka JSON")


def test_without_a_secret_the_webhook_is_off(client):
    answer = client.post(PATH, json={"type": "complaint", "envelope_sender": "x@example.se"})
    assert_problem(answer, 503, "inte aktiverad")


def test_soft_bounces_older_than_the_window_do_not_count(webhook, monkeypatch):
    monkeypatch.setenv("NEWSROOM_SOFT_BOUNCE_LIMIT", "2")
    monkeypatch.setenv("NEWSROOM_SOFT_BOUNCE_DAYS", "7")
    get_settings.cache_clear()
    first = sent_to("e@example.se")["e@example.se"]
    soft = {"type": "bounce", "status": "4.2.2", "diagnostic": "452 4.2.2 Mailbox full"}
    assert post(webhook, {**soft, "envelope_sender": first}).json() == {"outcome": "counted"}
    with session_scope() as session:
        [old] = session.scalars(select(Bounce)).all()
        old.received_at = utcnow() - timedelta(days=8)
    second = sent_to()  # the next newsletter, to the same subscriber
    [new_sender] = [s for s in second.values() if s != first]
    assert post(webhook, {**soft, "envelope_sender": new_sender}).json() == {"outcome": "counted"}
    assert status_of("e@example.se") == "confirmed"
