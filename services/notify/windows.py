"""Immediate windows: at most one newsletter per immediate subscriber per
NEWSROOM_IMMEDIATE_WINDOW, kept as rows (who is in which window, what waits in it).

A mail to immediate subscribers (an item sent at once, or a bundle) opens one window for its
recipients; an item that becomes visible while a subscriber's window is open waits in that
window, and when it closes the items go out together. Which window is open for whom, and what
a closing window holds, is decided one decision at a time (`one_at_a_time`): an item is never
put into a window while it closes, so none is lost between the two and none sent twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.db import is_postgres
from shared.models import Delivery, MailWindow, MailWindowItem, MailWindowMember

# Names notify's window lock among PostgreSQL's advisory locks (any constant would do).
WINDOW_LOCK = 0x6E6F_7469


def length() -> timedelta:
    """How long a window stays open (0: no windows, every item goes at once)."""
    return get_settings().immediate_window


def one_at_a_time(session: Session) -> None:
    """Hold notify's window lock until the session's transaction ends; the reads after it
    see what the previous holder committed."""
    if is_postgres(session):
        session.execute(select(func.pg_advisory_xact_lock(WINDOW_LOCK)))
    else:
        # SQLite has one writer at a time: a write, even of no row, takes that lock until
        # the commit (with WAL, reads after it see the latest commit).
        session.execute(
            update(MailWindow).where(MailWindow.id == -1).values(closed_at=MailWindow.closed_at)
        )


def open_for(session: Session) -> dict[int, int]:
    """Subscriber id -> the window open for them (a window stays open until it is closed,
    however late that is: what waits in it goes out then)."""
    rows = session.execute(
        select(MailWindowMember.subscriber_id, MailWindowMember.window_id)
        .join(MailWindow, MailWindow.id == MailWindowMember.window_id)
        .where(MailWindow.closed_at.is_(None))
        .execution_options(yield_per=10_000)
    )
    return {subscriber_id: window_id for subscriber_id, window_id in rows}


def hold(session: Session, *, item_id, window_ids: Iterable[int]) -> None:
    """Put an item into windows, for their bundles (once per window)."""
    rows = [{"window_id": window_id, "item_id": item_id} for window_id in sorted(set(window_ids))]
    if not rows:
        return
    insert_ = postgres_insert if is_postgres(session) else sqlite_insert
    session.execute(insert_(MailWindowItem).on_conflict_do_nothing(), rows)


def open_after(session: Session, *, newsletter: str, now: datetime) -> int | None:
    """Open a window for the subscribers a newsletter was just claimed for (its ledger rows
    still `claimed`); return its id, or None when there is nobody or no window length."""
    if not length():
        return None
    window = MailWindow(opened_at=now, closes_at=now + length())
    session.add(window)
    session.flush()
    added = session.execute(
        insert(MailWindowMember).from_select(
            ["window_id", "subscriber_id"],
            select(literal(window.id), Delivery.subscriber_id).where(
                Delivery.newsletter == newsletter, Delivery.status == "claimed"
            ),
        )
    ).rowcount
    if not added:
        session.delete(window)
        return None
    return window.id


def close_next(session: Session, *, now: datetime) -> int | None:
    """Close the window due first (`closes_at` reached) and return its id; None when no
    window is due. Call under `one_at_a_time`: a window is closed once."""
    window = session.scalars(
        select(MailWindow)
        .where(MailWindow.closed_at.is_(None), MailWindow.closes_at <= now)
        .order_by(MailWindow.closes_at, MailWindow.id)
        .limit(1)
    ).first()
    if window is None:
        return None
    window.closed_at = now
    return window.id


def members(window_id: int):
    """The subscriber ids of a window, as a subquery."""
    return select(MailWindowMember.subscriber_id).where(MailWindowMember.window_id == window_id)


def items(window_id: int):
    """The item ids waiting in a window, as a subquery."""
    return select(MailWindowItem.item_id).where(MailWindowItem.window_id == window_id)


def undispatched(session: Session) -> list[int]:
    """Closed windows whose bundle's batches were not queued yet (by this run, or by one
    that died between closing and queueing)."""
    return list(
        session.scalars(
            select(MailWindow.id)
            .where(MailWindow.closed_at.is_not(None), MailWindow.dispatched_at.is_(None))
            .order_by(MailWindow.id)
        )
    )


def dispatched(session: Session, *, window_id: int, now: datetime) -> None:
    """Note that a closed window's batches are queued."""
    session.execute(update(MailWindow).where(MailWindow.id == window_id).values(dispatched_at=now))


def forget_closed(session: Session, *, before: datetime) -> int:
    """Delete windows closed and queued before `before` (their members and items go with
    them); return how many."""
    return session.execute(
        MailWindow.__table__.delete().where(
            MailWindow.closed_at < before, MailWindow.dispatched_at.is_not(None)
        )
    ).rowcount
