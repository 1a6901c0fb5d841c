"""Notify's pages in Redaktionen: its templates over the shared layout, its database session,
the signed-in person checked as ingest checks them (shared/redaktion/)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from jinja2 import Environment
from sqlalchemy.orm import Session

from shared import dates
from shared.config import get_settings
from shared.db import new_session
from shared.models import Contributor
from shared.redaktion import access
from shared.redaktion.web import PREFIX, make_environment, render

HERE = Path(__file__).parent


def state_name(status: str, suppressed_at: object = None) -> str:
    """A subscriber's status as Redaktionen names it."""
    from services.notify.admin.stats import SUBSCRIBER_STATES

    return SUBSCRIBER_STATES["suppressed" if suppressed_at else status].capitalize()


def day(moment: str | datetime | None) -> str:
    """An ISO time (as the export writes it) as "29 apr 2021"."""
    if not moment:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    settings = get_settings()
    return dates.short_date(moment, timezone=settings.timezone, language=settings.language)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = make_environment([HERE / "templates"])
    env.filters["state_name"] = state_name
    env.filters["day"] = day
    return env


def page(request: Request, template: str, **options: Any) -> HTMLResponse:
    """A page of Redaktionen with its security headers."""
    return render(environment(), request, template, **options)


async def get_session() -> AsyncIterator[Session]:
    """One session per request; the route commits, anything uncommitted is rolled back."""
    session = new_session()
    try:
        yield session
    finally:
        await run_in_threadpool(session.close)


DbSession = Annotated[Session, Depends(get_session)]


def current_user(request: Request, session: DbSession) -> Contributor:
    return access.signed_in(request, session)


User = Annotated[Contributor, Depends(current_user)]

SUBSCRIBERS = f"{PREFIX}/prenumeranter"
NEWSLETTERS = f"{PREFIX}/nyhetsbrev"
