"""/redaktion/nyhetsbrev/ (editors): each newsletter's figures from the send ledger, its
progress, its errors by reason, who still waits (addresses for admins only) and whether it
is stuck. Counts only: nothing about who opened or clicked, since nothing of it is kept."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.notify.admin import stats
from services.notify.admin.web import NEWSLETTERS, DbSession, User, page
from shared.config import get_settings
from shared.db import utcnow
from shared.redaktion import access, web

router = APIRouter(include_in_schema=False)


@router.get(f"{NEWSLETTERS}/")
def newsletters(request: Request, session: DbSession, user: User) -> HTMLResponse:
    access.require_editor(user)
    return page(
        request,
        "newsletters.html",
        user=user,
        letters=stats.newsletters(session=session, now=utcnow()),
        settled=stats.SETTLED,
        stuck_minutes=get_settings().newsletter_stuck_minutes,
    )


@router.get(NEWSLETTERS)
def newsletters_slash() -> Response:
    return web.redirect(f"{NEWSLETTERS}/")


@router.get(f"{NEWSLETTERS}/{{key}}")
def newsletter(key: str, request: Request, session: DbSession, user: User) -> HTMLResponse:
    access.require_editor(user)
    found = stats.newsletters(session=session, now=utcnow(), keys=[key], limit=1)
    if not found:
        raise access.NotAllowed("Nyhetsbrevet finns inte.", status=404)
    admin = user.role == "admin"
    return page(
        request,
        "newsletter.html",
        user=user,
        letter=found[0],
        settled=stats.SETTLED,
        errors_by_reason=stats.errors(session=session, key=key),
        addresses=stats.waiting_addresses(session=session, key=key) if admin else None,
        stuck_minutes=get_settings().newsletter_stuck_minutes,
    )
