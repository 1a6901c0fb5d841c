"""The request's dependencies: its database session, the contributor behind its token and
that contributor's rate limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from services.ingest.auth import authenticate, cached_contributor
from services.ingest.checks import REJECTED
from shared.config import get_settings
from shared.db import new_session
from shared.models import Contributor
from shared.problems import Problem
from shared.ratelimit import Limits, RateLimiter, retry_after

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
        contributor = await run_in_threadpool(authenticate, token)
    if contributor is None:
        raise Problem(
            401,
            "Token är ogiltig eller återkallad.",
            headers={"WWW-Authenticate": 'Bearer realm="newsroom", error="invalid_token"'},
        )
    return contributor


DbSession = Annotated[Session, Depends(get_session)]


def _ingest_limits() -> Limits:
    settings = get_settings()
    return Limits(rate=settings.ingest_rate_per_second, burst=settings.ingest_burst)


# By default 120 requests at once, then 2 a second: far above what a person posting news does,
# low enough that a runaway script cannot flood the site with items and the subscribers with mail.
limiter = RateLimiter(limits=_ingest_limits)


async def rate_limited(
    contributor: Annotated[Contributor, Depends(current_contributor)],
) -> Contributor:
    """The authenticated contributor, unless its token has used up its requests (429).

    Async because it does no I/O: a sync dependency would cost a trip through the thread pool.
    """
    wait = limiter.wait_time(contributor.id)
    if wait > 0:
        REJECTED.labels("429").inc()
        raise Problem(
            429,
            "För många förfrågningar; vänta en stund.",
            headers={"Retry-After": retry_after(wait)},
        )
    return contributor


Writer = Annotated[Contributor, Depends(rate_limited)]

__all__ = ["DbSession", "Writer", "current_contributor", "get_session", "limiter", "rate_limited"]
