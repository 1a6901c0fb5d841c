"""Newsletters of items with uploaded media, on SQLite and PostgreSQL, through a real SMTP
server: the item's image at the mail's width (absolute URL, width, height, alt text) and its
documents as links, in the item mail and the digest, HTML and text."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import html5lib

from services.notify import tasks
from shared import media
from shared.db import session_scope
from shared.models import Item
from tests import media_items
from tests.integration.test_notify_digest import MONDAY, seen
from tests.integration.test_notify_support import (  # noqa: F401 (fixtures)
    add_subscribers,
    eager_fixture,
    make_item,
    published,
    use_smtp,
)

HTML = "{http://www.w3.org/1999/xhtml}"
BASE = "http://localhost:8000"


def with_media(item_id: uuid.UUID, photo: uuid.UUID, report: uuid.UUID) -> None:
    with session_scope() as session:
        item = session.get(Item, item_id)
        item.image = {"media_id": str(photo), "alt": "Deltagare vid workshopen"}
        item.attachments = [
            {"title": "Verksamhetsrapport 2020", "media_id": str(report)},
            {"title": "Program", "url": "https://exempel.se/program.pdf"},
        ]


def check_media(message, photo: uuid.UUID, report: uuid.UUID) -> None:
    html = message.get_body(("html",)).get_content()
    document = html5lib.parse(html)
    [img] = document.findall(f".//{HTML}img")
    folder = media.lookup(str(photo)).folder
    assert img.get("src") == f"{BASE}{folder}bild-600.jpg"
    assert (img.get("width"), img.get("height")) == ("600", "420")
    assert img.get("alt") == "Deltagare vid workshopen"
    pdf = media.lookup(str(report)).original
    links = {a.get("href"): "".join(a.itertext()) for a in document.iter(f"{HTML}a")}
    assert links[BASE + pdf.path] == "Verksamhetsrapport 2020"
    assert links["https://exempel.se/program.pdf"] == "Program"
    text = message.get_body(("plain",)).get_content()
    size = media.human_size(pdf.size)
    assert f"Verksamhetsrapport 2020 (PDF, {size}): {BASE}{pdf.path}" in text
    assert "Program: https://exempel.se/program.pdf" in text
    assert f"(PDF, {size})" in html


def test_the_item_mail_shows_its_image_and_documents(db, smtp_server, eager, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    photo, report = media_items.image(1000, 700), media_items.pdf()
    item_id = make_item(title="Workshop om textilier")
    with_media(item_id, photo, report)
    add_subscribers("alla@example.se")
    tasks.handle_event.apply(kwargs={"event": published(item_id)})
    [message] = smtp_server.to("alla@example.se")
    check_media(message, photo, report)


def test_the_digest_shows_each_items_image_and_documents(db, smtp_server, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    photo, report = media_items.image(1000, 700), media_items.pdf()
    item_id = make_item(title="Workshop", published_at=datetime(2021, 4, 29, 7, tzinfo=UTC))
    with_media(item_id, photo, report)
    seen(item_id, datetime(2021, 4, 29, 8, tzinfo=UTC))
    add_subscribers("vecka@example.se", frequency="weekly")
    assert tasks.send_digest_here(now=MONDAY) == 1
    [message] = smtp_server.to("vecka@example.se")
    check_media(message, photo, report)
