"""Subscribe → confirmation over real SMTP → confirm → newsletter, once, on both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from services.notify import tasks
from shared.db import session_scope, utcnow
from shared.models import Delivery, Subscriber
from tests.integration.test_notify_support import (  # noqa: F401 (fixtures)
    client_fixture,
    eager_fixture,
    link,
    make_item,
    published,
    updated,
    use_smtp,
)

ADDRESS = "marta.ek@example.se"


def subscribe_and_confirm(client, smtp_server, *, address=ADDRESS, **choices) -> None:
    before = len(smtp_server.to(address))
    answer = client.post("/api/v1/subscriptions", json={"email": address, **choices})
    assert answer.status_code == 202, answer.text
    confirmation = smtp_server.to(address)[before]
    assert confirmation["Subject"] == "Bekräfta din prenumeration på Hållbar upphandling"
    page = client.post(link(confirmation, "/prenumeration/bekrafta"))
    assert page.status_code == 200 and "bekräftad" in page.text


def test_subscribe_confirm_and_exactly_one_newsletter(db, smtp_server, client, eager, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    answer = client.post(
        "/api/v1/subscriptions",
        json={
            "email": " Marta.Ek@Example.se",
            "regions": ["region-skane"],
            "topics": [],
            "frequency": "immediate",
        },
    )
    assert answer.status_code == 202
    [confirmation] = smtp_server.wait_for(1)
    assert smtp_server.envelopes[0] == ("nyheter@localhost", [ADDRESS])
    text = confirmation.get_body(("plain",)).get_content()
    assert "Bekräfta din prenumeration" in text
    assert confirmation.get_body(("html",)) is not None

    # Not confirmed yet: nobody is mailed.
    early = make_item()
    tasks.handle_event.apply(kwargs={"event": published(early)})
    assert len(smtp_server.messages) == 1

    page = client.post(link(confirmation, "/prenumeration/bekrafta"))
    assert page.status_code == 200
    assert "Tack, prenumerationen är bekräftad" in page.text
    assert page.headers["cache-control"] == "no-store"
    with session_scope() as session:
        subscriber = session.scalars(select(Subscriber)).one()
        assert subscriber.status == "confirmed" and subscriber.consent_source == "api"
        assert "Hållbar upphandling" in subscriber.consent_text

    item_id = make_item(title="Åtta fabriker i Malaysia – uppföljning")
    event = published(item_id)
    tasks.handle_event.apply(kwargs={"event": event})
    tasks.handle_event.apply(kwargs={"event": event})  # a duplicate or retried task
    tasks.handle_event.apply(kwargs={"event": updated(item_id)})  # an edit afterwards
    newsletters = [m for m in smtp_server.messages if "Malaysia" in m["Subject"]]
    assert len(newsletters) == 1
    [newsletter] = newsletters
    assert newsletter["Subject"] == "Åtta fabriker i Malaysia – uppföljning"
    assert newsletter["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/aktuellt/" in newsletter.get_body(("plain",)).get_content()
    with session_scope() as session:
        [row] = session.scalars(select(Delivery).where(Delivery.newsletter == f"item:{item_id}"))
        assert row.status == "sent" and row.sent_at is not None
    # Confirming twice is harmless and says so.
    again = client.get(link(confirmation, "/prenumeration/bekrafta"))
    assert again.status_code == 200 and "Redan bekräftad" in again.text


def test_only_visible_matching_items_go_to_immediate_subscribers(
    db, smtp_server, client, eager, monkeypatch
):
    use_smtp(monkeypatch, smtp_server.url)
    subscribe_and_confirm(client, smtp_server, address="skane@example.se", regions=["region-skane"])
    subscribe_and_confirm(client, smtp_server, address="alla@example.se")
    subscribe_and_confirm(client, smtp_server, address="vecka@example.se", frequency="weekly")
    subscribe_and_confirm(
        client,
        smtp_server,
        address="gotland@example.se",
        regions=["region-gotland"],
        topics=["handskar"],
    )
    count = len(smtp_server.messages)

    draft = make_item(status="draft")
    withdrawn = make_item(status="withdrawn")
    scheduled = make_item(published_at=utcnow() + timedelta(days=3))
    for item_id in (draft, withdrawn, scheduled):
        tasks.handle_event.apply(kwargs={"event": published(item_id)})
    assert len(smtp_server.messages) == count

    skane = make_item(regions=("region-skane",), topics=("handskar",))
    tasks.handle_event.apply(kwargs={"event": published(skane)})
    received = {m["To"] for m in smtp_server.messages[count:]}
    assert received == {"skane@example.se", "alla@example.se"}


def test_item_published_by_an_update_is_mailed_once(db, smtp_server, client, eager, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    subscribe_and_confirm(client, smtp_server)
    count = len(smtp_server.messages)
    item_id = make_item()
    # It was a draft before this edit: now it is news.
    tasks.handle_event.apply(kwargs={"event": updated(item_id, previous_status="draft")})
    tasks.handle_event.apply(kwargs={"event": published(item_id)})
    assert len(smtp_server.messages) == count + 1
