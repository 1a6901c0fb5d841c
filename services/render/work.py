"""The item events render has received and not yet rendered (`render_work`), taken in batches.

Every event a render task receives is added here first; then whichever worker holds the page
lock of a pass takes every event waiting for that pass, in the order they were received. A
burst of events thus costs one render of each shared page per pass, not one per event.
Duplicates and late events are harmless: each pass renders from the database's current state.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shared.db import is_postgres, utcnow
from shared.models import RenderWork

FIRST = "first"  # waiting for its item page and the latest items
REST = "rest"  # waiting for the other pages it touches
# Events one pass takes at most: the page locks it holds stay well within PostgreSQL's lock
# table (max_locks_per_transaction 64 x connections), and one pass takes about a second.
BATCH = 200


def add(*, session: Session, event: dict[str, Any]) -> None:
    """Add an event to the work waiting; one already waiting is not added twice."""
    dialect = postgresql if is_postgres(session) else sqlite
    statement = dialect.insert(RenderWork).values(
        event_id=uuid.UUID(str(event["event_id"])),
        event=event,
        stage=FIRST,
        received_at=utcnow(),
    )
    session.execute(statement.on_conflict_do_nothing(index_elements=[RenderWork.event_id]))


def waiting(*, session: Session, stage: str, limit: int = BATCH) -> list[RenderWork]:
    """The events waiting for a pass, in the order received, locked until the caller's
    transaction ends (on PostgreSQL; rows another transaction holds are skipped)."""
    query = select(RenderWork).where(RenderWork.stage == stage).order_by(RenderWork.id).limit(limit)
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query.execution_options(populate_existing=True)))


def passed_first(*, session: Session, rows: Sequence[RenderWork]) -> int:
    """Mark events whose first pass is rendered; returns the pass's number.

    Passes are numbered in the order they run (the caller holds the first pass's lock): a
    later pass gets a larger number than every pass whose events are still waiting."""
    number = (session.scalar(select(func.max(RenderWork.first_pass))) or 0) + 1
    session.execute(
        update(RenderWork)
        .where(RenderWork.id.in_([row.id for row in rows]))
        .values(stage=REST, first_pass=number)
    )
    return number


def done(*, session: Session, rows: Sequence[RenderWork]) -> None:
    """Events whose every page is rendered."""
    session.execute(delete(RenderWork).where(RenderWork.id.in_([row.id for row in rows])))


def pending(*, session: Session) -> int:
    """How many events wait for a pass."""
    return session.scalar(select(func.count()).select_from(RenderWork)) or 0
