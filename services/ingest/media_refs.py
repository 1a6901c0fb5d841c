"""An item's references to uploaded media (`image.media_id`, `attachments[].media_id`):
checked against the stored media, and kept in the item as the API takes them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.ingest.schemas import Attachment, Image, ItemIn
from shared.models import Media
from shared.problems import Problem

UNKNOWN = "Det finns ingen uppladdad fil med detta id; ladda upp filen först (POST /api/v1/media)."
NOT_AN_IMAGE = "Filen är ett dokument, inte en bild; lägg den under attachments i stället."
REFUSED = "Nyheten hänvisar till filer som inte kan användas."


def image_json(image: Image) -> dict[str, Any]:
    """The item's image as stored and answered: its source, alt text and decorative flag."""
    stored: dict[str, Any] = (
        {"media_id": str(image.media_id)} if image.media_id else {"url": image.url}
    )
    if image.decorative:
        stored["decorative"] = True
    else:
        stored["alt"] = (image.alt or "").strip()
    return stored


def attachment_json(attachment: Attachment) -> dict[str, str]:
    """One attachment as stored and answered: its title and its source."""
    if attachment.media_id:
        return {"title": attachment.title.strip(), "media_id": str(attachment.media_id)}
    return {"title": attachment.title.strip(), "url": str(attachment.url)}


def check(*, session: Session, data: ItemIn) -> None:
    """422 naming each field whose `media_id` names no stored medium, or a document as the
    item's image; an image may be an attachment (its original is offered for download)."""
    wanted: list[tuple[str, uuid.UUID, bool]] = []
    if data.image and data.image.media_id:
        wanted.append(("image.media_id", data.image.media_id, True))
    for index, attachment in enumerate(data.attachments):
        if attachment.media_id:
            wanted.append((f"attachments.{index}.media_id", attachment.media_id, False))
    if not wanted:
        return
    ids = {media_id for _, media_id, _ in wanted}
    kinds = dict(session.execute(select(Media.id, Media.kind).where(Media.id.in_(ids))).all())
    errors = []
    for field, media_id, must_be_image in wanted:
        kind = kinds.get(media_id)
        if kind is None:
            errors.append({"field": field, "message": UNKNOWN})
        elif must_be_image and kind != "image":
            errors.append({"field": field, "message": NOT_AN_IMAGE})
    if errors:
        raise Problem(422, REFUSED, errors=errors)
