"""Contributors and their bearer tokens: random, shown once, stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import taxonomy
from shared.db import new_session, utcnow
from shared.models import ROLES, Contributor
from shared.problems import Problem

TOKEN_PREFIX = "nr_"
MAX_TOKEN_LENGTH = 200

bearer = HTTPBearer(auto_error=False, description="Token från `newsroom contributor add`.")


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_contributor(*, session: Session, name: str, region: str, role: str = "contributor") -> str:
    """Create a contributor and return its token; only the token's hash is stored."""
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise ValueError("the name must be 1-100 printable characters")
    if region not in taxonomy.regions():
        raise ValueError(f"unknown region {region!r}; see GET /api/v1/regions for the slugs")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if session.scalar(select(Contributor.id).where(Contributor.name == name)) is not None:
        raise ValueError(f"a contributor named {name!r} already exists")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(Contributor(name=name, region=region, role=role, token_hash=hash_token(token)))
    session.flush()
    return token


def revoke_contributor(*, session: Session, name: str) -> bool:
    """Revoke a contributor's token; False when no contributor has that name."""
    contributor = session.scalar(select(Contributor).where(Contributor.name == name.strip()))
    if contributor is None:
        return False
    if contributor.revoked_at is None:
        contributor.revoked_at = utcnow()
    return True


def find_contributor(*, session: Session, token: str) -> Contributor | None:
    """The active contributor holding `token`, or None."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    digest = hash_token(token)
    contributor = session.scalar(select(Contributor).where(Contributor.token_hash == digest))
    # The lookup is by hash, so timing reveals nothing about the token; the constant-time
    # comparison guards against a database collation that compares loosely.
    if contributor is None or not hmac.compare_digest(contributor.token_hash, digest):
        return None
    if contributor.revoked_at is not None:
        return None
    return contributor


async def get_session() -> AsyncIterator[Session]:
    """One session per request; the route commits it, anything left uncommitted is rolled back.

    Async, so that making and closing it costs no trip through the thread pool: a session
    opens no connection until its first query, and once committed it holds none. Only a
    session left in a transaction (an error) is rolled back, in a worker thread.
    """
    session = new_session()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


def current_contributor(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session: Annotated[Session, Depends(get_session)],
) -> Contributor:
    """The contributor behind `Authorization: Bearer <token>`, else 401."""
    if credentials is None:
        raise Problem(
            401,
            "Ange en token: Authorization: Bearer <token>.",
            headers={"WWW-Authenticate": 'Bearer realm="newsroom"'},
        )
    contributor = find_contributor(session=session, token=credentials.credentials)
    if contributor is None:
        raise Problem(
            401,
            "Token är ogiltig eller återkallad.",
            headers={"WWW-Authenticate": 'Bearer realm="newsroom", error="invalid_token"'},
        )
    return contributor
