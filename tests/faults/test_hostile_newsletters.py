"""Hostile item text against newsletters: line separators in a title, text that looks like
the mail builder's own markers, and a newsletter that cannot be built at all. None of them may
break a newsletter for good or leave its ledger rows stuck."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from services.notify import ledger, newsletters, rendering, tasks
from shared.config import get_settings
from shared.db import session_scope, utcnow
from shared.models import Delivery, Item
from tests.integration.test_notify_support import add_subscribers, make_item, published, use_smtp

PEOPLE = ["a@example.se", "b@example.se"]
# Every marker the mail builder ever used inside a message, and look-alikes of their shape.
MARKERS = (
    "__NEWSROOM_MANAGE_URL__",
    "__NEWSROOM_UNSUBSCRIBE_URL__",
    "NEWSROOM-TEXT-MARKER",
    "NEWSROOM-HTML-MARKER",
    "NEWSROOM-UNSUBSCRIBE-MARKER",
    "recipient@newsroom-marker.invalid",
    "newsroom-message-id@newsroom-marker.invalid",
    "\0to",
    "\0unsubscribe",
)


def send(item_id) -> str:
    with session_scope() as session:
        key, ids = newsletters.plan_item_newsletter(
            session=session, event=published(item_id), now=utcnow()
        )
    tasks.deliver(newsletter=key, subscriber_ids=ids)
    return str(key)


def statuses(newsletter: str) -> dict[str, tuple[str, str | None]]:
    with session_scope() as session:
        rows = session.execute(
            select(Delivery.status, Delivery.error).where(Delivery.newsletter == newsletter)
        ).all()
    return {status: error for status, error in rows}


def test_line_separators_in_a_title_give_a_one_line_subject(db, smtp_server, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    add_subscribers(*PEOPLE)
    title = "Första raden\u2028andra\u2029tredje\x85fjärde\vfemte\r\nsjätte"
    newsletter = send(make_item(title=title))
    assert set(statuses(newsletter)) == {"sent"}
    subjects = {str(m["Subject"]) for m in smtp_server.messages}
    assert subjects == {"Första raden andra tredje fjärde femte sjätte"}


def test_item_text_never_takes_the_place_of_a_personal_link(db, smtp_server, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    add_subscribers(*PEOPLE)
    # Two newsletters, each its own mail (tests/integration/test_notify_bursts.py: windows).
    monkeypatch.setenv("NEWSROOM_IMMEDIATE_WINDOW", "0")
    get_settings.cache_clear()
    plain = send(make_item(title="Vanlig nyhet"))
    newsletter = send(make_item(title=f"Markörer {MARKERS[2]} {MARKERS[0]}", topics=("handskar",)))
    assert set(statuses(plain)) == set(statuses(newsletter)) == {"sent"}
    for address in PEOPLE:
        ordinary, hostile = smtp_server.to(address)
        for kind in ("plain", "html"):
            # The recipient's own link appears as often as in any newsletter, no more.
            counts = [
                mail.get_body((kind,)).get_content().count(str(mail["List-Unsubscribe"])[1:-1])
                for mail in (ordinary, hostile)
            ]
            assert counts[0] == counts[1] >= 1, (kind, counts)
        # The title's marker look-alikes arrive as text, untouched.
        assert str(hostile["Subject"]) == f"Markörer {MARKERS[2]} {MARKERS[0]}"
        assert str(hostile["To"]) == address


def test_hostile_body_and_summary_are_mailed_as_written(db, smtp_server, monkeypatch):
    from services.notify import delivery

    use_smtp(monkeypatch, smtp_server.url)
    add_subscribers(*PEOPLE)
    item_id = make_item(title="Kroppen")
    with session_scope() as session:
        item = session.get(Item, item_id)
        item.summary = "Sammanfattning: " + " ".join(MARKERS[:7])
        item.body_md = "Text: " + " ".join(MARKERS[:7])
        item.body_html = "<p>Text: " + " ".join(MARKERS[:7]) + "</p>"
    delivery._PARTS.clear()
    newsletter = send(item_id)
    assert set(statuses(newsletter)) == {"sent"}
    for address in PEOPLE:
        [message] = smtp_server.to(address)
        text = message.get_body(("plain",)).get_content()
        for marker in MARKERS[:7]:
            assert text.count(marker) == 2, marker  # in the summary and in the body


def test_a_newsletter_that_cannot_be_built_fails_with_its_reason(db, smtp_server, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    add_subscribers(*PEOPLE)
    original = rendering.render

    def broken(name, **context):
        if name == "mail/item.txt":
            raise ValueError("a template that cannot render this item")
        return original(name, **context)

    monkeypatch.setattr(rendering, "render", broken)
    item_id = make_item(title="Trasig")
    with session_scope() as session:
        key, ids = newsletters.plan_item_newsletter(
            session=session, event=published(item_id), now=utcnow()
        )
    result = tasks.deliver(newsletter=key, subscriber_ids=ids)
    assert (result.sent, result.failed, result.retry) == (0, 2, [])
    rows = statuses(str(key))
    assert set(rows) == {"failed"}
    assert "cannot render this item" in rows["failed"]
    assert smtp_server.messages == []
    # Nothing is left for the stalled sweep to send again, now or later.
    with session_scope() as session:
        assert ledger.stalled(session=session, now=utcnow() + timedelta(days=1)) == {}


def test_the_stalled_sweep_gives_up_on_a_newsletter_that_never_goes(db):
    add_subscribers(*PEOPLE)
    item_id = make_item(title="Fastnar")
    with session_scope() as session:
        key, ids = newsletters.plan_item_newsletter(
            session=session, event=published(item_id), now=utcnow()
        )
    rounds = 0
    while True:
        with session_scope() as session:
            # Its batch never finishes (a worker dying on it each time, say).
            session.execute(
                update(Delivery)
                .where(Delivery.newsletter == str(key))
                .values(claimed_at=utcnow() - timedelta(hours=4))
            )
            found = ledger.stalled(session=session, now=utcnow())
        if not found:
            break
        assert found == {str(key): ids}
        rounds += 1
        assert rounds <= ledger.MAX_SWEEPS
    assert rounds == ledger.MAX_SWEEPS
    rows = statuses(str(key))
    assert set(rows) == {"failed"} and "sweep" in rows["failed"]
