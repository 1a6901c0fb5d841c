"""Celery tasks of the render service: the edge where sessions are opened and committed."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.exc import InterfaceError, OperationalError

from services.render import events
from services.render.output import RenderReport
from shared.celery_app import MAX_COUNTDOWN_SECONDS, celery_app
from shared.config import get_settings
from shared.db import session_scope


def render_event(*, event: dict, site_dir: Path) -> RenderReport:
    """Re-render every page an item event touches; idempotent (it reads current state)."""
    with session_scope() as session:
        first = events.render_first_pages(session=session, event=event, site_dir=site_dir)
        # The first pages are a unit of work of their own, committed before the rest is even
        # looked up: the commit releases their page locks, so the next event waits neither
        # for this one's archive, month, tag and neighbour pages nor for their locks. Readers
        # see the item page, /aktuellt/ and the feeds 17 ms after the POST (p50 at 100,000
        # items), while the event's 22 files take 73 ms (bench/results/latest.md).
        session.commit()
        return events.render_other_pages(session=session, first=first)


# A database outage is waited out: the event is retried, never dropped (its pages would
# otherwise stay stale until the next event that touches them).
@celery_app.task(
    name="render.handle_event",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=MAX_COUNTDOWN_SECONDS,
    max_retries=None,
)
def handle_event(*, event: dict) -> dict:
    """Re-render the pages an item event touches; idempotent (it reads current state)."""
    report = render_event(event=event, site_dir=get_settings().site_dir)
    return {"written": len(report.written), "removed": len(report.removed)}
