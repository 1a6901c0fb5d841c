"""Newsletters: who an item, a window's bundle or a digest goes to (claimed in the ledger),
and what it holds."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.notify import ledger, windows
from services.notify.keys import BundleKey, DigestKey, ItemKey, NewsletterKey
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
    """Claim ledger rows for everyone an item event should reach at once; return the
    newsletter key and the subscribers still waiting for it, or None when the event mails
    nobody. Planned once, when the item is first seen visible (and filed for the next digest):
    subscribers with an immediate window open get it in that window's bundle instead; the
    others get it now, and a window opens for them. Items whose author chose not to mail
    them (`notify` false) are never mailed; an edit of an item already out only when its
    author asked to mail the change again.

    Raise NotYetVisible when the item becomes visible shortly (the task retries then).
    """
    parsed = parse_event(event)
    if parsed.type == "item.withdrawn":
        return None
    item = session.get(Item, parsed.item_id)
    if item is None or item.status != "published" or not item.notify:
        return None
    if item.published_at > now:
        wait = (item.published_at - now).total_seconds()
        if wait <= SCHEDULE_WAIT_LIMIT.total_seconds():
            raise NotYetVisible(wait + 1)
        return None
    if parsed.type == "item.updated" and is_visible(parsed.previous, now=parsed.occurred_at):
        # An edit of something already out: whoever wanted it has had it, unless the author
        # asked to mail this change again (a newsletter of its own, sent once, at once).
        if not parsed.notify:
            return None
        key = ItemKey(item.id, edition=parsed.item_version)
        chosen = _immediate_for(session=session, item=item)
        ledger.claim(session=session, newsletter=str(key), subscriber_ids=chosen, now=now)
        return key, ledger.waiting(session=session, newsletter=str(key))
    key = ItemKey(item.id)
    if _file_for_digest(session=session, item=item, now=now):
        chosen = _immediate_for(session=session, item=item)
        at_once = _hold_for_open_windows(session=session, item=item, subscriber_ids=chosen)
        ledger.claim(session=session, newsletter=str(key), subscriber_ids=at_once, now=now)
        if at_once:
            windows.open_after(session, newsletter=str(key), now=now)
    return key, ledger.waiting(session=session, newsletter=str(key))


def _immediate_for(*, session: Session, item: Item) -> list[int]:
    """The immediate subscribers who want the item; streamed: with 100,000 subscribers only
    the chosen ids are held, not every row."""
    candidates = session.execute(
        select(Subscriber.id, Subscriber.regions, Subscriber.topics)
        .where(_active("immediate"))
        .execution_options(yield_per=2000)
    )
    return [row.id for row in candidates if wants(row, item)]


def _hold_for_open_windows(*, session: Session, item: Item, subscriber_ids: list[int]) -> list[int]:
    """Put the item into the open windows of those subscribers who have one; return the
    others, who get it at once."""
    if not windows.length() or not subscriber_ids:
        return subscriber_ids
    windows.one_at_a_time(session)
    open_for = windows.open_for(session)
    windows.hold(
        session, item_id=item.id, window_ids=(open_for[s] for s in subscriber_ids if s in open_for)
    )
    return [s for s in subscriber_ids if s not in open_for]


def _file_for_digest(*, session: Session, item: Item, now: datetime) -> bool:
    """Note that an item is visible (as of `now`, when its event is handled); the next digest
    made takes it. Noted once: an item already filed keeps its digest. True when it was noted
    now, the first time: its immediate newsletter is planned then, once."""
    insert = postgres_insert if is_postgres(session) else sqlite_insert
    return bool(
        session.execute(
            insert(DigestItem)
            .values(item_id=item.id, visible_at=now, digest=None)
            .on_conflict_do_nothing(index_elements=["item_id"])
        ).rowcount
    )


def digest_items(*, session: Session, key: DigestKey, now: datetime) -> list[Item]:
    """The items a digest carries that are still visible, newest first."""
    return list(
        session.scalars(
            select(Item)
            .join(DigestItem, DigestItem.item_id == Item.id)
            .where(DigestItem.digest == str(key), visible(now), Item.notify)
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


def plan_bundle(*, session: Session, now: datetime) -> BundleKey | None:
    """Close the immediate window due first, once, and claim its bundle for each member
    still subscribed who wants at least one of its items; those get their next window.
    Return the bundle's key, or None when no window is due."""
    windows.one_at_a_time(session)
    window_id = windows.close_next(session, now=now)
    if window_id is None:
        return None
    key = BundleKey(window_id)
    items = bundle_items(session=session, key=key, now=now)
    if items:
        members = session.execute(
            select(Subscriber.id, Subscriber.regions, Subscriber.topics)
            .where(Subscriber.id.in_(windows.members(window_id)), _active("immediate"))
            .execution_options(yield_per=2000)
        )
        chosen = [s.id for s in members if any(wants(s, item) for item in items)]
        ledger.claim(session=session, newsletter=str(key), subscriber_ids=chosen, now=now)
        if chosen:
            windows.open_after(session, newsletter=str(key), now=now)
    return key


def bundle_items(*, session: Session, key: BundleKey, now: datetime) -> list[Item]:
    """The items waiting in a window that are still visible and to be mailed, newest first
    (as a digest lists them)."""
    return list(
        session.scalars(
            select(Item)
            .where(Item.id.in_(windows.items(key.window_id)), visible(now), Item.notify)
            .order_by(Item.published_at.desc(), Item.id)
        )
    )


def contents(*, session: Session, key: NewsletterKey, now: datetime) -> list[Item]:
    """The items a newsletter carries: its item (visible or not: the mail checks), a
    window's bundle or a digest's visible items."""
    if isinstance(key, ItemKey):
        item = session.get(Item, key.item_id)
        items = [item] if item is not None else []
    elif isinstance(key, BundleKey):
        items = bundle_items(session=session, key=key, now=now)
    elif isinstance(key, DigestKey):
        items = digest_items(session=session, key=key, now=now)
    else:
        raise ValueError(f"{key} is no newsletter")
    media.load_for(session, items)  # what the mails show of their images and documents
    return items
