"""Who is signed in to Redaktionen, and the pages for those who are not or may not: the same
in every service with pages under /redaktion/ (each passes its own database session)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.models import Contributor
from shared.redaktion import sessions, web

EDITORS = ("editor", "admin")


class SignInRequired(Exception):
    """No live session: the person signs in (again)."""


class NotAllowed(Exception):
    """A page the signed-in person may not see; `message` says so in Swedish."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def signed_in(request: Request, session: Session) -> Contributor:
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


def require_editor(user: Contributor) -> None:
    if user.role not in EDITORS:
        raise NotAllowed("Bara redaktörer kan se den här sidan.")


def require_admin(user: Contributor) -> None:
    if user.role != "admin":
        raise NotAllowed("Bara administratörer kan se den här sidan.")


async def _sign_in_required(request: Request, _exc: SignInRequired) -> Response:
    if web.wants_json(request):
        return JSONResponse({"detail": "Du är utloggad. Logga in igen."}, status_code=401)
    return web.redirect(f"{web.PREFIX}/logga-in?slut=1")


async def _not_allowed(request: Request, exc: NotAllowed) -> Response:
    if web.wants_json(request):
        return JSONResponse({"detail": exc.message}, status_code=exc.status)
    user = getattr(request.state, "user", None)
    return web.render(
        web.shared_environment(),
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
    "NotAllowed",
    "SignInRequired",
    "install",
    "require_admin",
    "require_editor",
    "signed_in",
]
