"""Signed-in browsers: server-side sessions, so that signing out, revoking a contributor or
an expiry ends them at once; the cookie holds a random token, the table its hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.models import Contributor, EditorSession

IDLE = timedelta(hours=2)
ABSOLUTE = timedelta(hours=12)
# last_seen_at is written at most this often, not on every request.
TOUCH_EVERY = timedelta(minutes=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_secure() -> bool:
    """Cookies are Secure (and __Host- prefixed) when the site is served over https."""
    return get_settings().public_url.startswith("https://")


def cookie_name() -> str:
    return "__Host-redaktion" if is_secure() else "redaktion"


def cookie_path() -> str:
    # A __Host- cookie must have Path=/; otherwise the editor's pages alone get it.
    return "/" if is_secure() else "/redaktion/"


def start(*, session: Session, contributor: Contributor, now: datetime) -> str:
    """A new session for `contributor`; returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    session.add(
        EditorSession(
            id=_hash(token), contributor_id=contributor.id, created_at=now, last_seen_at=now
        )
    )
    session.flush()
    return token


def find(*, session: Session, token: str | None, now: datetime) -> Contributor | None:
    """The active contributor of a live session, or None (ended, idle, too old, revoked)."""
    if not token or len(token) > 200:
        return None
    row = session.execute(
        select(EditorSession, Contributor)
        .join(Contributor, Contributor.id == EditorSession.contributor_id)
        .where(EditorSession.id == _hash(token))
    ).first()
    if row is None:
        return None
    live, contributor = row
    if (
        live.ended_at is not None
        or contributor.revoked_at is not None
        or live.created_at <= now - ABSOLUTE
        or live.last_seen_at <= now - IDLE
    ):
        return None
    if live.last_seen_at <= now - TOUCH_EVERY:
        live.last_seen_at = now
    return contributor


def end(*, session: Session, token: str | None, now: datetime) -> None:
    """Sign out: the session stops working in every process at once."""
    if token:
        session.execute(
            update(EditorSession)
            .where(EditorSession.id == _hash(token), EditorSession.ended_at.is_(None))
            .values(ended_at=now)
        )


__all__ = ["ABSOLUTE", "IDLE", "cookie_name", "cookie_path", "end", "find", "is_secure", "start"]
