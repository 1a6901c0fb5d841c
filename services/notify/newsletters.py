"""Newsletters: who an item or a digest goes to (claimed in the ledger), and what it holds."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.notify import ledger
from services.notify.keys import DigestKey, ItemKey, NewsletterKey
from services.notify.preferences import wants
from shared.config import get_settings
from shared.events import parse_event
from shared.models import Item, Subscriber
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
    and the subscribers still waiting for it, or None when the event mails nobody.

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


def digest_key(now: datetime) -> DigestKey:
    """The digest a run at `now` sends."""
    return DigestKey.covering(now, timezone=get_settings().timezone)


def digest_items(*, session: Session, key: DigestKey, now: datetime) -> list[Item]:
    """The visible items a digest carries, newest first."""
    start, end = key.bounds(timezone=get_settings().timezone)
    return list(
        session.scalars(
            select(Item)
            .where(visible(now), Item.published_at >= start, Item.published_at < end)
            .order_by(Item.published_at.desc())
        )
    )


def plan_digest(*, session: Session, now: datetime) -> tuple[DigestKey, list[int]]:
    """Claim ledger rows for the weekly subscribers with at least one matching item (nobody
    gets an empty digest); return the key and who is still waiting."""
    key = digest_key(now)
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
        return [item] if item is not None else []
    if isinstance(key, DigestKey):
        return digest_items(session=session, key=key, now=now)
    raise ValueError(f"{key} is no newsletter")
