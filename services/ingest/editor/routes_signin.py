"""Signing in and out of Redaktionen: the address, the code, the link's button."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from services.ingest.editor import mailer, signin, web
from services.ingest.editor.access import DbSession
from services.ingest.editor.forms import FieldError
from shared.db import utcnow
from shared.redaktion import sessions

router = APIRouter(include_in_schema=False)
ATTEMPT_COOKIE = "redaktion_inloggning"
SIGN_IN = f"{web.PREFIX}/logga-in"
# A plain address: something@domain.tld, no blanks (the mail is the real test).
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
NOTICES = {
    "utloggad": "Du är utloggad.",
    "slut": "Du är utloggad eftersom det var länge sedan du använde Redaktionen. Logga in igen.",
}


def _signed_in(request: Request, session) -> bool:
    token = request.cookies.get(sessions.cookie_name())
    return sessions.find(session=session, token=token, now=utcnow()) is not None


@router.get(SIGN_IN)
def sign_in_page(
    request: Request,
    session: DbSession,
    utloggad: Annotated[str | None, Query()] = None,
    slut: Annotated[str | None, Query()] = None,
) -> Response:
    if _signed_in(request, session):
        return web.redirect(f"{web.PREFIX}/")
    notice = NOTICES["utloggad"] if utloggad else NOTICES["slut"] if slut else None
    return web.page(request, "signin.html", email="", notice=notice)


@router.post(SIGN_IN)
def request_code(
    request: Request, session: DbSession, epost: Annotated[str, Form(max_length=400)] = ""
) -> Response:
    email = epost.strip()
    if not EMAIL.fullmatch(email) or len(email) > 320:
        error = FieldError("epost", "Ange din e-postadress, till exempel namn@region.se.")
        return web.page(request, "signin.html", status_code=422, email=epost, errors=[error])
    now = utcnow()
    ip = request.client.host if request.client else "?"
    try:
        requested = signin.request_sign_in(session=session, email=email, ip=ip, now=now)
    except signin.RateLimited:
        return web.page(
            request,
            "message.html",
            status_code=429,
            heading="Vänta en stund",
            message="Du har bett om många koder på kort tid. Vänta en timme och försök igen, "
            "eller använd koden i mejlet du redan fått.",
        )
    session.commit()
    if requested.contributor is not None and requested.contributor.email:
        sent = mailer.send(
            kind="sign_in",
            to=requested.contributor.email,
            context={
                "code": requested.code,
                "link": f"{web.absolute(SIGN_IN)}/lank?t={requested.link_token}",
                "minutes": int(signin.LIFETIME.total_seconds() // 60),
                "expires_at": (now + signin.LIFETIME).isoformat(),
            },
        )
        if not sent:
            return web.page(
                request,
                "message.html",
                status_code=503,
                heading="Mejlet kunde inte skickas",
                message="Vi kan inte skicka e-post just nu. Försök igen om några minuter.",
            )
    response = web.redirect(f"{SIGN_IN}/kod")
    response.set_cookie(
        ATTEMPT_COOKIE,
        requested.attempt,
        max_age=int(signin.LIFETIME.total_seconds()),
        path=SIGN_IN,
        secure=sessions.is_secure(),
        httponly=True,
        samesite="lax",
    )
    return response


@router.get(f"{SIGN_IN}/kod")
def code_page(request: Request) -> Response:
    return web.page(request, "signin_code.html", code="")


@router.post(f"{SIGN_IN}/kod")
def sign_in_with_code(
    request: Request, session: DbSession, kod: Annotated[str, Form(max_length=50)] = ""
) -> Response:
    if not re.fullmatch(r"\s*\d{3}\s*\d{3}\s*", kod):
        error = FieldError("kod", "Skriv de sex siffrorna från mejlet.")
        return web.page(request, "signin_code.html", status_code=422, code=kod, errors=[error])
    try:
        contributor = signin.verify_code(
            session=session, attempt=request.cookies.get(ATTEMPT_COOKIE, ""), code=kod, now=utcnow()
        )
    except signin.SignInError as exc:
        session.commit()  # a wrong code counts, even though it signs nobody in
        error = FieldError("kod", exc.message)
        return web.page(request, "signin_code.html", status_code=422, code=kod, errors=[error])
    return _start_session(session, contributor)


@router.get(f"{SIGN_IN}/lank")
def link_page(
    request: Request, session: DbSession, t: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    # Opening the link changes nothing (mail scanners open links): only the button signs in.
    headers = {"Referrer-Policy": "no-referrer"}
    if not signin.link_is_open(session=session, token=t, now=utcnow()):
        return web.page(
            request,
            "message.html",
            status_code=400,
            headers=headers,
            heading="Länken fungerar inte",
            message="Länken har redan använts, har gått ut eller är felaktig. "
            "Be om en ny kod så får du en ny länk.",
            link=(SIGN_IN, "Be om en ny kod"),
        )
    return web.page(request, "signin_link.html", headers=headers, token=t)


@router.post(f"{SIGN_IN}/lank")
def sign_in_with_link(
    request: Request, session: DbSession, t: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    try:
        contributor = signin.verify_link(session=session, token=t, now=utcnow())
    except signin.SignInError as exc:
        session.rollback()
        return web.page(
            request,
            "message.html",
            status_code=400,
            heading="Länken fungerar inte",
            message=exc.message,
            link=(SIGN_IN, "Be om en ny kod"),
        )
    return _start_session(session, contributor)


def _start_session(session, contributor) -> Response:
    token = sessions.start(session=session, contributor=contributor, now=utcnow())
    session.commit()
    response = web.redirect(f"{web.PREFIX}/")
    response.set_cookie(
        sessions.cookie_name(),
        token,
        max_age=int(sessions.ABSOLUTE.total_seconds()),
        path=sessions.cookie_path(),
        secure=sessions.is_secure(),
        httponly=True,
        samesite="lax",
    )
    response.delete_cookie(ATTEMPT_COOKIE, path=SIGN_IN)
    return response


@router.post(f"{web.PREFIX}/logga-ut")
def sign_out(request: Request, session: DbSession) -> Response:
    sessions.end(session=session, token=request.cookies.get(sessions.cookie_name()), now=utcnow())
    session.commit()
    response = web.redirect(f"{SIGN_IN}?utloggad=1")
    response.delete_cookie(
        sessions.cookie_name(), path=sessions.cookie_path(), secure=sessions.is_secure()
    )
    return response


__all__ = ["router"]
