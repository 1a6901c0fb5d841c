"""Who is signed in to Redaktionen, and the pages for those who are not or may not."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from services.ingest import reading
from services.ingest.deps import get_session
from services.ingest.editor import sessions, web
from shared.db import utcnow
from shared.models import Contributor, Item
from shared.problems import Problem


class SignInRequired(Exception):
    """No live session: the person signs in (again)."""


class NotAllowed(Exception):
    """A page the signed-in person may not see; `message` says so in Swedish."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


DbSession = Annotated[Session, Depends(get_session)]


def current_user(request: Request, session: DbSession) -> Contributor:
    """The contributor of the browser's session; SignInRequired when there is none."""
    contributor = sessions.find(
        session=session, token=request.cookies.get(sessions.cookie_name()), now=utcnow()
    )
    if contributor is None:
        raise SignInRequired()
    if session.dirty:
        session.commit()  # the session's last_seen_at: kept even when the page fails later
    request.state.user = contributor
    return contributor


User = Annotated[Contributor, Depends(current_user)]


def require_editor(user: Contributor) -> None:
    if user.role not in ("editor", "admin"):
        raise NotAllowed("Bara redaktörer kan se den här sidan.")


def require_admin(user: Contributor) -> None:
    if user.role != "admin":
        raise NotAllowed("Bara administratörer kan se den här sidan.")


def own_item(*, session: Session, user: Contributor, item_id: uuid.UUID) -> Item:
    """An item the person may work on: their own, or any for an editor; else a 404 page."""
    try:
        item = reading.get_item(session=session, contributor=user, item_id=item_id)
    except Problem:
        item = None
    if item is None or (user.role not in ("editor", "admin") and item.contributor_id != user.id):
        raise NotAllowed("Nyheten finns inte, eller så är den inte din.", status=404)
    return item


async def _sign_in_required(request: Request, _exc: SignInRequired) -> Response:
    if web.wants_json(request):
        return JSONResponse({"detail": "Du är utloggad. Logga in igen."}, status_code=401)
    return web.redirect(f"{web.PREFIX}/logga-in?slut=1")


async def _not_allowed(request: Request, exc: NotAllowed) -> Response:
    if web.wants_json(request):
        return JSONResponse({"detail": exc.message}, status_code=exc.status)
    user = getattr(request.state, "user", None)
    return web.page(
        request,
        "message.html",
        status_code=exc.status,
        user=user,
        heading="Det gick inte",
        message=exc.message,
    )


def install(app) -> None:
    """The answers for people who are not signed in, or may not see a page."""
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(NotAllowed, _not_allowed)


__all__ = [
    "DbSession",
    "NotAllowed",
    "SignInRequired",
    "User",
    "current_user",
    "own_item",
    "require_admin",
    "require_editor",
]
