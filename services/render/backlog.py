"""Events whose pages could not all be written, kept in the database until a render succeeds.

An event's render is idempotent and events converge in any order, so applying a remembered
event again, late and after newer ones, leaves the site as a full rebuild would.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shared.db import is_postgres, utcnow
from shared.models import RenderBacklog

# Long enough for the reason (an OSError's text and its path), short enough for a row.
ERROR_CHARS = 500


def remember(*, session: Session, event: dict[str, Any], error: BaseException) -> None:
    """Keep an event whose render failed (again), with the latest reason."""
    dialect = postgresql if is_postgres(session) else sqlite
    statement = dialect.insert(RenderBacklog).values(
        event_id=uuid.UUID(str(event["event_id"])),
        event=event,
        failed_at=utcnow(),
        attempts=1,
        error=f"{type(error).__name__}: {error}"[:ERROR_CHARS],
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[RenderBacklog.event_id],
            set_={
                "failed_at": statement.excluded.failed_at,
                "attempts": RenderBacklog.attempts + 1,
                "error": statement.excluded.error,
            },
        )
    )


def forget(*, session: Session, event_id: uuid.UUID | str) -> None:
    """The event's pages are written: nothing left to repair."""
    session.execute(delete(RenderBacklog).where(RenderBacklog.event_id == uuid.UUID(str(event_id))))


def waiting(*, session: Session, limit: int) -> list[dict[str, Any]]:
    """The events to apply again, those that failed longest ago first."""
    query = select(RenderBacklog.event).order_by(RenderBacklog.failed_at).limit(limit)
    return list(session.scalars(query))
