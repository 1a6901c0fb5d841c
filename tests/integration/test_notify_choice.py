"""The author's choice, end to end: an item posted through the API with `notify: false` mails
nobody (not even in a digest); an update of a published item mails nobody again, unless the
author sends `notify_again: true`, and then each subscriber gets that change once."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.ingest import api
from services.ingest.contributors import add_contributor
from services.notify import newsletters, tasks
from shared.db import session_scope, utcnow
from shared.models import DigestItem, OutboxEvent
from tests.integration.test_notify_support import (  # noqa: F401 (fixtures)
    add_subscribers,
    eager_fixture,
    use_smtp,
)

# PostgreSQL, the distributed mode's database (its ledger claims rows with its own statement);
# SQLite's claims are the same rows (tests/integration/test_notify_flow.py).
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

ITEM = {
    "title": "Uppföljning av handskar i Skåne",
    "summary": "Åtta fabriker besöktes under våren.",
    "body": "Två åtgärder **återstår**.",
    "regions": ["region-skane"],
    "topics": ["handskar"],
}


def handle_new_events(seen: set[int]) -> None:
    """Hand every event ingest recorded since the last call to notify, as the relay does."""
    with session_scope() as session:
        events = session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
        fresh = [(event.id, event.payload) for event in events if event.id not in seen]
    for identifier, payload in fresh:
        seen.add(identifier)
        tasks.handle_event.apply(kwargs={"event": payload})


def test_notify_false_and_updates_mail_only_when_asked(db, smtp_server, eager, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    api.limiter.reset()
    client = TestClient(api.create_app())
    with session_scope() as session:
        token = add_contributor(session=session, name="Anna Ström", region="region-skane")
    headers = {"Authorization": f"Bearer {token}"}
    add_subscribers("marta@example.se", "olle@example.se")
    add_subscribers("vecka@example.se", frequency="weekly")
    seen: set[int] = set()

    quiet = client.post("/api/v1/items", json={**ITEM, "notify": False}, headers=headers)
    assert quiet.status_code == 201 and quiet.json()["notify"] is False
    handle_new_events(seen)
    assert smtp_server.messages == []
    with session_scope() as session:  # nor in the weekly digest
        assert session.scalars(select(DigestItem)).all() == []
        key, waiting = newsletters.plan_digest(session=session, now=utcnow())
        assert waiting == []

    loud = client.post("/api/v1/items", json=ITEM, headers=headers).json()
    handle_new_events(seen)
    assert sorted(m["To"] for m in smtp_server.messages) == ["marta@example.se", "olle@example.se"]

    # A correction without asking: nobody is mailed again.
    fixed = {**ITEM, "title": "Uppföljning av handskar i Skåne (rättad)"}
    answer = client.put(
        f"/api/v1/items/{loud['id']}",
        json=fixed,
        headers={**headers, "If-Match": f'"{loud["id"]}-v1"'},
    )
    assert answer.status_code == 200, answer.text
    handle_new_events(seen)
    assert len(smtp_server.messages) == 2

    # Asked for: the change goes out once more, once per subscriber, however often handled.
    again = {**fixed, "summary": "Nio fabriker besöktes.", "notify_again": True}
    answer = client.put(
        f"/api/v1/items/{loud['id']}",
        json=again,
        headers={**headers, "If-Match": f'"{loud["id"]}-v2"'},
    )
    assert answer.status_code == 200, answer.text
    handle_new_events(seen)
    with session_scope() as session:
        [last] = session.scalars(select(OutboxEvent).order_by(OutboxEvent.id.desc()).limit(1))
        payload = last.payload
    tasks.handle_event.apply(kwargs={"event": payload})  # a redelivered event
    resent = smtp_server.messages[2:]
    assert sorted(m["To"] for m in resent) == ["marta@example.se", "olle@example.se"]
    assert all("(rättad)" in m["Subject"] for m in resent)
    assert "Nio fabriker" in resent[0].get_body(("plain",)).get_content()

    # The quiet item updated without asking stays quiet too.
    answer = client.put(
        f"/api/v1/items/{quiet.json()['id']}",
        json={**ITEM, "notify": False, "title": "Tyst rättelse"},
        headers={**headers, "If-Match": f'"{quiet.json()["id"]}-v1"'},
    )
    assert answer.status_code == 200, answer.text
    handle_new_events(seen)
    assert len(smtp_server.messages) == 4
