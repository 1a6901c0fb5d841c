"""Celery tasks of the render service: thin wrappers that open a session and call service.py."""

from __future__ import annotations

from services.render import service
from shared.celery_app import celery_app
from shared.config import get_settings
from shared.db import session_scope


@celery_app.task(name="render.handle_event", acks_late=True)
def handle_event(*, event: dict) -> dict:
    """Re-render the pages an item event touches; idempotent (it reads current state)."""
    with session_scope() as session:
        report = service.apply_event(event=event, site_dir=get_settings().site_dir, session=session)
    return {"written": len(report.written), "removed": len(report.removed)}
