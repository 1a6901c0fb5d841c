"""What more than one service needs: configuration, database, events and outbox, Celery and
the taxonomy."""

from shared.config import Settings, get_settings
from shared.db import Base, new_session, session_scope, utcnow
from shared.events import (
    CONSUMERS,
    ItemPlace,
    ItemPublished,
    ItemUpdated,
    ItemWithdrawn,
    parse_event,
)

__all__ = [
    "CONSUMERS",
    "Base",
    "ItemPlace",
    "ItemPublished",
    "ItemUpdated",
    "ItemWithdrawn",
    "Settings",
    "get_settings",
    "new_session",
    "parse_event",
    "session_scope",
    "utcnow",
]
