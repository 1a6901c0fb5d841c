"""Newsletters: who an item or a digest goes to (claimed in the ledger), and what it holds."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.notify import ledger
from services.notify.keys import DigestKey, ItemKey, NewsletterKey
from services.notify.preferences import wants
from shared import media
from shared.config import get_settings
from shared.db import is_postgres
from shared.events import parse_event
from shared.models import Digest, DigestItem, Item, Subscriber
from shared.visibility import is_visible, visible

# How far ahead a not-yet-visible item is waited for by retrying; farther ones come back
# through the outbox's deliver_after when they are published.
SCHEDULE_WAIT_LIMIT = timedelta(hours=1)


class NotYetVisible(Exception):
    """The item is published with a time still ahead; try again in `wait` seconds."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"item visible in {wait:.0f} s")
        self.wait = wait


def _active(frequency: str):
    """Confirmed, not suppressed subscribers of one frequency."""
    return (
        (Subscriber.status == "confirmed")
        & (Subscriber.frequency == frequency)
        & Subscriber.suppressed_at.is_(None)
    )


def plan_item_newsletter(
    *, session: Session, event: dict, now: datetime
) -> tuple[ItemKey, list[int]] | None:
    """Claim ledger rows for everyone an item event should reach; return the newsletter key
    and the subscribers still waiting for it, or None when the event mails nobody. A visible
    item is also filed for the next digest (once).

    Raise NotYetVisible when the item becomes visible shortly (the task retries then).
    """
    parsed = parse_event(event)
    if parsed.type == "item.withdrawn":
        return None
    item = session.get(Item, parsed.item_id)
    if item is None or item.status != "published":
        return None
    if item.published_at > now:
        wait = (item.published_at - now).total_seconds()
        if wait <= SCHEDULE_WAIT_LIMIT.total_seconds():
            raise NotYetVisible(wait + 1)
        return None
    _file_for_digest(session=session, item=item, now=now)
    if parsed.type == "item.updated" and is_visible(parsed.previous, now=parsed.occurred_at):
        return None  # an edit of something already out: whoever wanted it has had it
    key = ItemKey(item.id)
    # Streamed: with 100,000 subscribers only the chosen ids are held, not every row.
    candidates = session.execute(
        select(Subscriber.id, Subscriber.regions, Subscriber.topics)
        .where(_active("immediate"))
        .execution_options(yield_per=2000)
    )
    chosen = [row.id for row in candidates if wants(row, item)]
    ledger.claim(session=session, newsletter=str(key), subscriber_ids=chosen, now=now)
    return key, ledger.waiting(session=session, newsletter=str(key))


def _file_for_digest(*, session: Session, item: Item, now: datetime) -> None:
    """Note that an item is visible (as of `now`, when its event is handled); the next digest
    made takes it. Noted once: an item already filed keeps its digest."""
    insert = postgres_insert if is_postgres(session) else sqlite_insert
    session.execute(
        insert(DigestItem)
        .values(item_id=item.id, visible_at=now, digest=None)
        .on_conflict_do_nothing(index_elements=["item_id"])
    )


def digest_items(*, session: Session, key: DigestKey, now: datetime) -> list[Item]:
    """The items a digest carries that are still visible, newest first."""
    return list(
        session.scalars(
            select(Item)
            .join(DigestItem, DigestItem.item_id == Item.id)
            .where(DigestItem.digest == str(key), visible(now))
            .order_by(Item.published_at.desc())
        )
    )


def _make_digest(*, session: Session, key: DigestKey, now: datetime) -> None:
    """Make the digest `key` once: it takes every item that became visible since the digest
    before (whatever the items' own dates) and is not in a digest yet. Made again (the same
    day, a second beat, a retry), it takes nothing more: who got it must not miss anything."""
    try:
        with session.begin_nested():
            session.add(Digest(key=str(key), created_at=now))
            session.flush()
    except IntegrityError:  # made before, or by a concurrent run that won the insert
        return
    session.execute(
        update(DigestItem)
        .where(DigestItem.digest.is_(None), DigestItem.visible_at <= now)
        .values(digest=str(key))
    )


def plan_digest(*, session: Session, now: datetime) -> tuple[DigestKey, list[int]]:
    """Make today's digest (once) and claim ledger rows for the weekly subscribers with at
    least one matching item in it (nobody gets an empty digest); return the key and who is
    still waiting."""
    key = DigestKey.on(now, timezone=get_settings().timezone)
    _make_digest(session=session, key=key, now=now)
    items = digest_items(session=session, key=key, now=now)
    chosen: list[int] = []
    if items:
        subscribers = session.execute(
            select(Subscriber.id, Subscriber.regions, Subscriber.topics).where(_active("weekly"))
        )
        chosen = [s.id for s in subscribers if any(wants(s, item) for item in items)]
    ledger.claim(session=session, newsletter=str(key), subscriber_ids=chosen, now=now)
    return key, ledger.waiting(session=session, newsletter=str(key))


def contents(*, session: Session, key: NewsletterKey, now: datetime) -> list[Item]:
    """The items a newsletter carries: its item (visible or not: the mail checks), or a
    digest's visible items."""
    if isinstance(key, ItemKey):
        item = session.get(Item, key.item_id)
        items = [item] if item is not None else []
    elif isinstance(key, DigestKey):
        items = digest_items(session=session, key=key, now=now)
    else:
        raise ValueError(f"{key} is no newsletter")
    media.load_for(session, items)  # what the mails show of their images and documents
    return items
