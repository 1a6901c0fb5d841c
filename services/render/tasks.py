"""Celery tasks of the render service: thin wrappers that open a session and call service.py."""

from __future__ import annotations

from prometheus_client import Histogram
from sqlalchemy.exc import InterfaceError, OperationalError

from services.render import service
from shared.celery_app import MAX_COUNTDOWN_SECONDS, celery_app
from shared.config import get_settings
from shared.db import session_scope

RENDER_DURATION = Histogram(
    "newsroom_render_duration_seconds",
    "Time to render the pages of one event.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


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
    with RENDER_DURATION.time(), session_scope() as session:
        report = service.apply_event(event=event, site_dir=get_settings().site_dir, session=session)
    return {"written": len(report.written), "removed": len(report.removed)}
