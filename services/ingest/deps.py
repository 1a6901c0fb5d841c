"""The request's dependencies: its database session and the contributor behind its token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from services.ingest.auth import authenticate, cached_contributor
from shared.db import new_session
from shared.models import Contributor
from shared.problems import Problem

bearer = HTTPBearer(auto_error=False, description="Token från `newsroom contributor add`.")


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


async def current_contributor(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session: Annotated[Session, Depends(get_session)],
) -> Contributor:
    """The contributor behind `Authorization: Bearer <token>`, else 401.

    Async: a token seen in the last TOKEN_CACHE_SECONDS is answered from the cache without
    a trip through the thread pool; only a lookup in the database runs in a worker thread.
    """
    if credentials is None:
        raise Problem(
            401,
            "Ange en token: Authorization: Bearer <token>.",
            headers={"WWW-Authenticate": 'Bearer realm="newsroom"'},
        )
    token = credentials.credentials
    contributor = cached_contributor(token)
    if contributor is None:
        contributor = await run_in_threadpool(authenticate, session=session, token=token)
    if contributor is None:
        raise Problem(
            401,
            "Token är ogiltig eller återkallad.",
            headers={"WWW-Authenticate": 'Bearer realm="newsroom", error="invalid_token"'},
        )
    return contributor


DbSession = Annotated[Session, Depends(get_session)]

__all__ = ["DbSession", "current_contributor", "get_session"]
