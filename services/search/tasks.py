"""Search's Celery task: a thin shell that opens a session and calls index.py."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import InterfaceError, OperationalError

from services.search import index
from shared.celery_app import MAX_COUNTDOWN_SECONDS, celery_app
from shared.db import session_scope

QUEUE = "search"


# A database outage is waited out: the event is retried, never dropped.
@celery_app.task(
    name="search.index_item",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=MAX_COUNTDOWN_SECONDS,
    max_retries=None,
)
def index_item(*, event: dict) -> str:
    """Bring the item of an `item.*` event into the index as it is now; idempotent."""
    with session_scope() as session:
        return index.index_item(session=session, item_id=uuid.UUID(event["item_id"]))
