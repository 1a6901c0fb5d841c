"""An item's image and documents in Redaktionen: upload forms (multipart, no script needed)
beside the item form, each saving a new version of the item through the service's rules."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError

from services.ingest import media, media_api, revisions, service, uploads
from services.ingest.deps import DbSession
from services.ingest.editor import web
from services.ingest.editor.access import User, own_item
from services.ingest.schemas import ItemIn
from shared import outbox
from shared.models import Contributor, Item
from shared.problems import Problem, swedish_errors
from shared.redaktion import csrf

router = APIRouter()
NEWS = f"{web.PREFIX}/nyheter"
CHANGED = "Nyheten har ändrats sedan du öppnade den. Öppna den igen och ladda upp filen på nytt."
NOT_AN_IMAGE = "Filen är inte en bild. Bilder kan vara JPEG, PNG, WebP eller HEIC."


def _refused(request: Request, user: Contributor, item_id: uuid.UUID, message: str, status: int):
    return web.page(
        request,
        "message.html",
        status_code=status,
        user=user,
        heading="Filen kunde inte läggas till",
        message=message,
        link=(f"{NEWS}/{item_id}", "Tillbaka till nyheten"),
    )


def _input(item: Item, **changes: Any) -> ItemIn:
    """The item as it is, with `changes`, as the service takes it."""
    data = revisions.as_input(
        item,
        status="draft" if item.status == "draft" else "published",
        published_at=item.published_at.isoformat(timespec="seconds"),
    )
    return ItemIn.model_validate({**data, **changes})


def _messages(error: ValidationError | Problem) -> str:
    if isinstance(error, Problem):
        found = error.errors or [{"field": "", "message": error.detail}]
    else:
        found = swedish_errors(list(error.errors()))
    messages = []
    for entry in found:
        message = entry["message"]
        if entry["field"].endswith(".title"):  # the rules' words after the field's name
            message = f"Dokumentets titel {message}."
        messages.append(message[:1].upper() + message[1:])
    return " ".join(dict.fromkeys(messages))


def _save(session, user: Contributor, item: Item, changes: dict[str, Any]) -> None:
    service.update_item(session=session, contributor=user, item=item, data=_input(item, **changes))
    session.commit()
    outbox.wake()


@router.post(NEWS + "/{item_id}/media")
async def upload(request: Request, item_id: uuid.UUID, session: DbSession, user: User) -> Response:
    """Upload the item's image (with its alt text, or marked decorative) or a document (with
    its title); the item is saved with it as a new version."""
    try:
        received = await uploads.receive(
            request,
            max_body=media.MAX_BYTES + uploads.OVERHEAD_BYTES,
            limit_for=media.limit_for,
        )
    except Problem as problem:
        return _refused(request, user, item_id, problem.detail, problem.status)
    try:
        fields = received.fields
        cookie = request.cookies.get(csrf.cookie_name())
        if not csrf.token_matches(cookie=cookie, submitted=fields.get("csrftoken")):
            return _refused(request, user, item_id, "Formuläret var för gammalt; försök igen.", 403)
        return await run_in_threadpool(_attach, request, session, user, item_id, received)
    finally:
        received.close()


def _attach(request, session, user, item_id: uuid.UUID, received: uploads.Upload) -> Response:
    fields = received.fields
    item = own_item(session=session, user=user, item_id=item_id)
    if fields.get("version") != str(item.version):
        return _refused(request, user, item_id, CHANGED, 409)
    purpose = fields.get("syfte")
    if purpose == "bild":
        decorative = fields.get("dekorativ") == "ja"
        image = {"decorative": True} if decorative else {"alt": fields.get("alt", "")}
        wanted = lambda media_id: {"image": {"media_id": media_id, **image}}  # noqa: E731
    elif purpose == "dokument":
        title = fields.get("titel", "")
        attachments = list(item.attachments or [])
        wanted = lambda media_id: {  # noqa: E731
            "attachments": [*attachments, {"title": title, "media_id": media_id}]
        }
    else:
        return _refused(request, user, item_id, "Välj en bild eller ett dokument.", 422)
    try:
        # The text is checked before the file is processed: a refusal costs no encoding.
        _input(item, **wanted(str(uuid.uuid4())))
        if purpose == "bild" and not media.images.sniff(received.head):
            raise Problem(415, NOT_AN_IMAGE)
        stored = media_api.store_upload(session, received, user.id)
        _save(session, user, item, wanted(stored["id"]))
    except (ValidationError, Problem) as error:
        session.rollback()
        status = error.status if isinstance(error, Problem) else 422
        return _refused(request, user, item_id, _messages(error), status)
    return web.redirect(f"{NEWS}/{item_id}?sparad=media")


@router.post(NEWS + "/{item_id}/media/ta-bort")
async def remove(request: Request, item_id: uuid.UUID, session: DbSession, user: User) -> Response:
    """Take the image or one document off the item (the uploaded file stays stored)."""
    form = await request.form()
    return await run_in_threadpool(_remove, request, session, user, item_id, dict(form))


def _remove(request, session, user, item_id: uuid.UUID, form: dict[str, Any]) -> Response:
    item = own_item(session=session, user=user, item_id=item_id)
    if form.get("version") != str(item.version):
        return _refused(request, user, item_id, CHANGED, 409)
    what = str(form.get("vad") or "")
    if what == "bild":
        changes: dict[str, Any] = {"image": None}
    elif what.startswith("dokument-") and what[9:].isdigit():
        attachments = list(item.attachments or [])
        index = int(what[9:])
        if index >= len(attachments):
            return _refused(request, user, item_id, "Dokumentet finns inte.", 404)
        changes = {"attachments": attachments[:index] + attachments[index + 1 :]}
    else:
        return _refused(request, user, item_id, "Välj vad som ska tas bort.", 422)
    try:
        _save(session, user, item, changes)
    except (ValidationError, Problem) as error:
        session.rollback()
        status = error.status if isinstance(error, Problem) else 422
        return _refused(request, user, item_id, _messages(error), status)
    return web.redirect(f"{NEWS}/{item_id}?sparad=media")


__all__ = ["router"]
