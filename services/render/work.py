"""The item events render has received and not yet rendered (`render_work`), taken in batches.

Every item event is written here with the change it records (`shared.outbox.record`; a render
task adds one missing); then whichever worker holds the page lock of a pass takes every event
waiting for that pass, in the order written (the order of the commits, nearly). A
burst of events thus costs one render of each shared page per pass, not one per event.
Duplicates and late events are harmless: each pass renders from the database's current state.
A rendered event is kept a day (stage "done"), so that the message of an event another
worker's batch already rendered costs nothing when it arrives.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shared.db import is_postgres, utcnow
from shared.models import RenderWork

FIRST = "first"  # waiting for its item page and the latest items
REST = "rest"  # waiting for the other pages it touches
DONE = "done"  # every page rendered
KEPT = timedelta(days=1)  # how long a rendered event is remembered
# Events one pass takes at most: the page locks it holds stay well within PostgreSQL's lock
# table (max_locks_per_transaction 64 x connections), and one pass takes about a second.
BATCH = 200


def add(*, session: Session, event: dict[str, Any]) -> str:
    """Add an event to the work waiting, unless it is known already; its stage now.

    Its message has come, so it is due (a scheduled item's time, by the relay's clock). An
    event written with its item is only read: on SQLite a write would wait for, and hold,
    the database's one write lock, which every request that writes needs too."""
    event_id = uuid.UUID(str(event["event_id"]))
    known = session.execute(
        select(RenderWork.stage, RenderWork.due_at).where(RenderWork.event_id == event_id)
    ).first()
    if known is not None and (known.stage != FIRST or known.due_at is None):
        return known.stage
    dialect = postgresql if is_postgres(session) else sqlite
    statement = dialect.insert(RenderWork).values(
        event_id=event_id, event=event, stage=FIRST, received_at=utcnow()
    )
    changed = session.execute(
        statement.on_conflict_do_update(
            index_elements=[RenderWork.event_id],
            set_={"due_at": None},
            where=RenderWork.stage == FIRST,
        )
    )
    if changed.rowcount:
        return FIRST
    return session.scalar(select(RenderWork.stage).where(RenderWork.event_id == event_id)) or FIRST


def waiting(*, session: Session, stage: str, limit: int = BATCH) -> list[RenderWork]:
    """The events due for a pass, in the order written, locked until the caller's
    transaction ends (on PostgreSQL; rows another transaction holds are skipped)."""
    due = or_(RenderWork.due_at.is_(None), RenderWork.due_at <= utcnow())
    query = (
        select(RenderWork)
        .where(RenderWork.stage == stage, due)
        .order_by(RenderWork.id)
        .limit(limit)
    )
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query.execution_options(populate_existing=True)))


def passed_first(*, session: Session, rows: Sequence[RenderWork]) -> None:
    """Events whose first pass is rendered."""
    ids = [row.id for row in rows]
    session.execute(update(RenderWork).where(RenderWork.id.in_(ids)).values(stage=REST))


def done(*, session: Session, rows: Sequence[RenderWork]) -> None:
    """Events whose every page is rendered."""
    ids = [row.id for row in rows]
    session.execute(update(RenderWork).where(RenderWork.id.in_(ids)).values(stage=DONE))


def forget_done(*, session: Session) -> int:
    """Forget events rendered more than a day ago; how many. One arriving again after that
    is rendered again (harmless)."""
    old = and_(RenderWork.stage == DONE, RenderWork.received_at < utcnow() - KEPT)
    return session.execute(delete(RenderWork).where(old)).rowcount


def pending(*, session: Session) -> int:
    """How many events wait for a pass."""
    query = select(func.count()).select_from(RenderWork).where(RenderWork.stage != DONE)
    return session.scalar(query) or 0
