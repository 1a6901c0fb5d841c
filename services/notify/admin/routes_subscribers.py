"""/redaktion/prenumeranter/ (admins): the list's figures, one address found, exported or
forgotten as `newsroom subscriber export|forget` does, and the import of the old tool's CSV."""

from __future__ import annotations

import json

from email_validator import EmailNotValidError
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.notify import privacy
from services.notify.admin import importing, stats
from services.notify.admin.web import SUBSCRIBERS, DbSession, User, page
from services.notify.preferences import normalise_email
from shared import outbox
from shared.db import utcnow
from shared.redaktion import access, web

router = APIRouter(include_in_schema=False)


def _overview(request: Request, session, user, **context) -> HTMLResponse:
    return page(
        request,
        "subscribers.html",
        user=user,
        counts=stats.subscriber_counts(session=session),
        states=stats.SUBSCRIBER_STATES,
        choices=stats.active_choices(session=session),
        **context,
    )


@router.get(f"{SUBSCRIBERS}/")
def overview(request: Request, session: DbSession, user: User) -> HTMLResponse:
    access.require_admin(user)
    return _overview(request, session, user, address="", found=None, searched=False)


@router.get(SUBSCRIBERS)
def overview_slash() -> Response:
    return web.redirect(f"{SUBSCRIBERS}/")


def _address(form) -> str:
    raw = str(form.get("adress") or "").strip()
    try:
        return normalise_email(raw)
    except EmailNotValidError:
        return raw.lower()


@router.post(f"{SUBSCRIBERS}/sok")
async def find(request: Request, session: DbSession, user: User) -> HTMLResponse:
    """Find one address (a POST: the address stays out of URLs, history and logs)."""
    access.require_admin(user)
    address = _address(await request.form())
    if not address:
        errors = [{"field": "adress", "message": "Skriv en e-postadress."}]
        return _overview(
            request, session, user, address="", found=None, searched=False, errors=errors
        )
    data = privacy.export_subscriber(session=session, email=address)
    return _overview(request, session, user, address=address, found=data, searched=True)


@router.post(f"{SUBSCRIBERS}/exportera")
async def export(request: Request, session: DbSession, user: User) -> Response:
    """Everything stored about an address, as a JSON file (`newsroom subscriber export`)."""
    access.require_admin(user)
    address = _address(await request.form())
    data = privacy.export_subscriber(session=session, email=address) if address else None
    if data is None:
        raise access.NotAllowed("Inget finns sparat om den adressen.", status=404)
    body = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    return Response(
        body.encode(),
        media_type="application/json; charset=utf-8",
        headers={
            **web.PAGE_HEADERS,
            "Content-Disposition": 'attachment; filename="prenumerant.json"',
        },
    )


@router.post(f"{SUBSCRIBERS}/glom")
async def forget(request: Request, session: DbSession, user: User) -> HTMLResponse:
    """Erase an address (`newsroom subscriber forget`): a page asks first, its button does it."""
    access.require_admin(user)
    form = await request.form()
    address = _address(form)
    if not address or privacy.export_subscriber(session=session, email=address) is None:
        raise access.NotAllowed("Inget finns sparat om den adressen.", status=404)
    if form.get("bekraftat") != "ja":
        return page(request, "forget.html", user=user, address=address)
    privacy.forget_subscriber(session=session, email=address, now=utcnow())
    session.commit()
    return _overview(
        request,
        session,
        user,
        address="",
        found=None,
        searched=False,
        notice=f"{address} är borttagen. Bara en kontrollsumma av adressen finns kvar, så att "
        "den inte läggs till igen av misstag.",
    )


# --- import --------------------------------------------------------------------------------


@router.get(f"{SUBSCRIBERS}/import")
def import_form(request: Request, user: User) -> HTMLResponse:
    access.require_admin(user)
    return page(request, "import.html", user=user, by_mail=False, columns=importing.COLUMNS)


def _report_page(request, user, *, report, text, by_mail, status_code=200) -> HTMLResponse:
    return page(
        request,
        "import_report.html",
        status_code=status_code,
        user=user,
        report=report,
        text=text,
        by_mail=by_mail,
    )


def _file_error(request, user, message: str, by_mail: bool) -> HTMLResponse:
    errors = [{"field": "fil", "message": message}]
    return page(
        request,
        "import.html",
        status_code=422,
        user=user,
        errors=errors,
        by_mail=by_mail,
        columns=importing.COLUMNS,
    )


@router.post(f"{SUBSCRIBERS}/import")
async def import_dry_run(request: Request, session: DbSession, user: User) -> HTMLResponse:
    """The uploaded file checked row by row; nothing is written until the button says so."""
    access.require_admin(user)
    form = await request.form(max_part_size=importing.MAX_BYTES + 1)
    by_mail = form.get("bekraftelsemejl") == "ja"
    upload = form.get("fil")
    if upload is None or isinstance(upload, str) or not upload.filename:
        return _file_error(request, user, "Välj en CSV-fil att ladda upp.", by_mail)
    data = await upload.read(importing.MAX_BYTES + 1)
    try:
        report = importing.check(session=session, data=data, now=utcnow())
        text = importing.decode(data)
    except importing.ImportFileError as exc:
        return _file_error(request, user, exc.message, by_mail)
    return _report_page(request, user, report=report, text=text, by_mail=by_mail)


@router.post(f"{SUBSCRIBERS}/import/bekrafta")
async def import_confirm(request: Request, session: DbSession, user: User) -> HTMLResponse:
    """Import what the dry run showed: the same text, checked again against the list now."""
    access.require_admin(user)
    # The file comes back URL-encoded: at most three bytes for each of its bytes.
    form = await request.form(max_part_size=3 * importing.MAX_BYTES + 1024)
    by_mail = form.get("bekraftelsemejl") == "ja"
    data = str(form.get("innehall") or "").encode()
    try:
        report = importing.import_file(
            session=session, data=data, by_mail=by_mail, dry_run=False, now=utcnow()
        )
    except importing.ImportFileError as exc:
        return _file_error(request, user, exc.message, by_mail)
    session.commit()
    if by_mail:
        outbox.wake()  # the subscription requests: the relay hands them to notify's worker
    return _report_page(request, user, report=report, text="", by_mail=by_mail)
