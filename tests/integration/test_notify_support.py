"""Helpers for notify's integration tests: items written straight to the database (ingest
owns the real writer), events, links from mails, and a client for the notify app."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from services.notify.api import create_app, ip_limiter
from shared.celery_app import celery_app
from shared.config import get_settings
from shared.db import session_scope, utcnow
from shared.events import ItemPlace, ItemPublished, ItemUpdated
from shared.models import Item, ItemTag


def make_item(
    *,
    title: str = "Uppföljning av handskar i Skåne",
    published_at: datetime | None = None,
    regions: tuple[str, ...] = ("region-skane",),
    topics: tuple[str, ...] = ("handskar",),
    status: str = "published",
) -> uuid.UUID:
    """Write an item (and its tags) as ingest would; return its id."""
    published_at = published_at or utcnow() - timedelta(minutes=1)
    local = published_at.astimezone(ZoneInfo(get_settings().timezone))
    item_id = uuid.uuid4()
    with session_scope() as session:
        item = Item(
            id=item_id,
            slug=f"nyhet-{item_id.hex[:8]}",
            month=f"{local:%Y-%m}",
            title=title,
            summary="Åtta fabriker besöktes.",
            body_md="Två åtgärder **återstår**.",
            body_html="<p>Två åtgärder <strong>återstår</strong>.</p>",
            published_at=published_at,
            regions=list(regions),
            topics=list(topics),
            status=status,
        )
        item.tags = [ItemTag(kind="region", slug=s, published_at=published_at) for s in regions] + [
            ItemTag(kind="topic", slug=s, published_at=published_at) for s in topics
        ]
        session.add(item)
    return item_id


def published(item_id: uuid.UUID) -> dict:
    return ItemPublished(item_id=item_id, item_version=1).model_dump(mode="json")


def updated(
    item_id: uuid.UUID,
    *,
    previous_status: str = "published",
    previous_published_at: datetime | None = None,
) -> dict:
    with session_scope() as session:
        item = session.get(Item, item_id)
        place = ItemPlace(
            slug=item.slug,
            month=item.month,
            published_at=previous_published_at or item.published_at,
            regions=tuple(item.regions),
            topics=tuple(item.topics),
            status=previous_status,
        )
    return ItemUpdated(item_id=item_id, item_version=2, previous=place).model_dump(mode="json")


def link(message, marker: str) -> str:
    """Path and query of the first link in a mail's text part that contains `marker`."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"https?://\S*" + re.escape(marker) + r"\S*", text)
    assert match, f"no link with {marker!r} in:\n{text}"
    parts = urlsplit(match.group(0))
    return f"{parts.path}?{parts.query}"


def token_for(purpose: str, email: str) -> str:
    """A valid link token of `purpose` for the subscriber with this address."""
    from sqlalchemy import select

    from services.notify import tokens
    from shared.models import Subscriber

    with session_scope() as session:
        link_id = session.scalars(select(Subscriber.link_id).where(Subscriber.email == email)).one()
    return tokens.make_token(purpose, link_id=link_id)


def legacy_token(purpose: str, *, subscriber_id: int, email: str) -> str:
    """A link as mailed before link ids: `[id, first 16 hex digits of sha256(address)]`."""
    import hashlib

    from itsdangerous import URLSafeTimedSerializer

    serializer = URLSafeTimedSerializer(
        get_settings().secret_key, salt=f"newsroom.notify.{purpose}"
    )
    return serializer.dumps([subscriber_id, hashlib.sha256(email.encode()).hexdigest()[:16]])


def use_smtp(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("NEWSROOM_SMTP_URL", url)
    get_settings.cache_clear()


@pytest.fixture(name="eager")
def eager_fixture() -> Iterator[None]:
    """Tasks queued with apply_async run at once in this thread (Celery's test mode)."""
    celery_app.conf.update(task_always_eager=True, task_eager_propagates=True)
    yield
    celery_app.conf.update(task_always_eager=False, task_eager_propagates=False)


@pytest.fixture(name="client")
def client_fixture(db: str) -> Iterator[TestClient]:
    ip_limiter.reset()
    get_settings.cache_clear()
    # Without the app's lifespan: its outbox relay thread, which these tests do not need
    # (tasks run eagerly), would read the settings while a test changes them.
    test_client = TestClient(create_app())
    yield test_client
    test_client.close()
    ip_limiter.reset()
    get_settings.cache_clear()


def add_subscribers(
    *addresses: str, frequency: str = "immediate", regions=(), topics=()
) -> list[int]:
    """Confirmed subscribers written straight to the database; return their ids."""
    from shared.models import Subscriber

    now = utcnow()
    with session_scope() as session:
        rows = [
            Subscriber(
                email=a,
                status="confirmed",
                frequency=frequency,
                regions=list(regions),
                topics=list(topics),
                created_at=now,
                confirmed_at=now,
                consent_at=now,
                consent_source="api",
                consent_text="test",
            )
            for a in addresses
        ]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


class ScriptedHandler:
    """An aiosmtpd handler that answers RCPT from a script (address -> replies, in order)
    and records what it accepts like the default one."""

    def __init__(self, recorder) -> None:
        self.recorder = recorder
        self.script: dict[str, list[str]] = {}
        self.connections = 0
        self.pipelining = False  # advertise RFC 2920 PIPELINING (aiosmtpd reads it anyway)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        replies = self.script.get(address)
        if replies:
            reply = replies.pop(0)
            if not reply.startswith("250"):
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.recorder.add(
            envelope.mail_from, envelope.rcpt_tos, envelope.original_content or envelope.content
        )
        return "250 Message accepted for delivery"


@pytest.fixture(name="scripted_smtp", params=["lockstep", "pipelining"])
def scripted_smtp_fixture(request, monkeypatch: pytest.MonkeyPatch):
    """A real SMTP server whose RCPT answers a test scripts; yields (recorder, handler).
    Each test runs twice: against a server without PIPELINING (smtplib's `sendmail`) and one
    that offers it (the transport's pipelined conversation, and never `sendmail`)."""
    import smtplib

    from tests import servers

    made: list[ScriptedHandler] = []

    def factory(recorder):
        made.append(ScriptedHandler(recorder))
        made[0].pipelining = request.param == "pipelining"
        return made[0]

    if request.param == "pipelining":

        def no_sendmail(*args, **kwargs):
            raise AssertionError("sendmail used although the server offers PIPELINING")

        monkeypatch.setattr(smtplib.SMTP, "sendmail", no_sendmail)
    with servers.smtp(factory) as recorder:
        use_smtp(monkeypatch, recorder.url)
        yield recorder, made[0]
