"""The media routes: `POST /api/v1/media` (multipart upload of an image or a document) and
`GET /api/v1/media/{id}`. Included by the ingest app and the embedded app."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.ingest import media, uploads
from services.ingest.checks import CheckedRoute
from services.ingest.deps import DbSession, Writer
from shared.problems import problem_responses

MEDIA = "/api/v1/media"

router = APIRouter(route_class=CheckedRoute, tags=["media"])


class MediaOut(BaseModel):
    """A stored image or document. `url`, `content_type` and `bytes` are of the file the
    URL serves: for an image its sanitized original (JPEG, or PNG for a PNG or an image
    with transparency), for a document the document."""

    id: uuid.UUID
    kind: Literal["image", "document"]
    url: str
    path: str
    name: str
    content_type: str
    bytes: int
    width: int | None = None
    height: int | None = None
    created_at: datetime


UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": (
                            "En bild (JPEG, PNG, WebP, HEIC; högst 25 MB och 50 megapixel) "
                            "eller ett dokument (PDF, docx, xlsx, pptx, odt, ods, odp; högst "
                            "50 MB). Typen avgörs av innehållet, inte av namnet."
                        ),
                    }
                },
            }
        }
    },
}


def media_body(stored: Any) -> dict[str, Any]:
    return MediaOut.model_validate(media.media_json(stored)).model_dump(
        mode="json", exclude_none=True
    )


def _find(session: Session, sha256: str) -> dict[str, Any] | None:
    found = media.find(session=session, sha256=sha256)
    return None if found is None else media_body(found)


def store_upload(session: Session, upload: uploads.Upload, contributor_id: int) -> dict[str, Any]:
    """Make and commit the medium of an upload (the unit of work of one upload), or find
    the one a concurrent upload of the same content stored first."""
    found = media.find(session=session, sha256=upload.sha256)  # stored while this one waited
    if found is None:
        prepared = media.prepare(upload=upload)
        try:
            found = media.add(session=session, prepared=prepared, contributor_id=contributor_id)
            session.commit()
        except IntegrityError:
            # Another process stored the same content first: its medium is this one's.
            session.rollback()
            found = media.find(session=session, sha256=upload.sha256)
            if found is None:
                raise
    return media_body(found)


@asynccontextmanager
async def processing_slot() -> AsyncIterator[None]:
    """Hold one of the process's `media.PROCESSING` slots.

    Waits in the event loop: an upload blocked on the lock in a worker thread would hold one
    of the thread pool's 40 threads, which every synchronous route shares.
    """
    while not media.PROCESSING.acquire(blocking=False):
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        media.PROCESSING.release()


@router.post(
    MEDIA,
    status_code=201,
    response_model=MediaOut,
    response_model_exclude_none=True,
    summary="Ladda upp en bild eller ett dokument",
    description=(
        "Fältet `file` i multipart/form-data. Bilder avkodas och kodas om från sina "
        "bildpunkter (orientering tillämpad, EXIF, GPS, XMP och kommentarer borttagna) och "
        "sparas i flera storlekar (AVIF, WebP, JPEG). Samma innehåll sparas en gång: en "
        "ny uppladdning av det ger samma id."
    ),
    responses=problem_responses(400, 401, 413, 415, 422, 429),
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def post_media(request: Request, contributor: Writer, session: DbSession) -> JSONResponse:
    upload = await uploads.receive(
        request,
        max_body=media.MAX_BYTES + uploads.OVERHEAD_BYTES,
        limit_for=media.limit_for,
    )
    try:
        body = await run_in_threadpool(_find, session, upload.sha256)
        if body is None:
            async with processing_slot():
                body = await run_in_threadpool(store_upload, session, upload, contributor.id)
    finally:
        upload.close()
    return JSONResponse(body, status_code=201, headers={"Location": f"{MEDIA}/{body['id']}"})


@router.get(
    MEDIA + "/{media_id}",
    response_model=MediaOut,
    response_model_exclude_none=True,
    summary="En uppladdad fil (uppgifter, inte innehållet)",
    responses=problem_responses(401, 404, 422, 429),
)
def get_one_media(
    media_id: Annotated[uuid.UUID, Path(description="Filens id.")],
    contributor: Writer,
    session: DbSession,
) -> dict[str, Any]:
    return media_body(media.get_media(session=session, media_id=media_id))


__all__ = ["MEDIA", "MediaOut", "router"]
