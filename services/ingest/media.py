"""Media: an uploaded image or document checked, turned into the files the site publishes,
and stored once per content in the database (`media`, `media_files`)."""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from slugify import slugify
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.ingest import documents, images
from services.ingest.uploads import Limit, Upload
from shared import outbox
from shared.config import get_settings
from shared.events import MediaUploaded
from shared.models import Media, MediaFile
from shared.problems import Problem

MAX_BYTES = max(images.MAX_BYTES, documents.MAX_BYTES)
# One image at a time per process. Processing a 12-megapixel photo takes about a second of
# one core and 80-120 MB on top of the process's 115 MB (bench/media.py): one slot keeps an
# ingest process under 300 MB however many uploads arrive, and leaves the other core to item
# posts, whose latency matters more. More at once means more processes (`--scale ingest`).
# Uploads waiting here find the stored medium when theirs was the same file.
PROCESSING = threading.BoundedSemaphore(1)

IMAGE_LIMIT = Limit(images.MAX_BYTES, f"Bilden är större än {images.MAX_BYTES // 1_048_576} MB.")
DOCUMENT_LIMIT = Limit(
    documents.MAX_BYTES, f"Dokumentet är större än {documents.MAX_BYTES // 1_048_576} MB."
)
UNSUPPORTED = (
    "Filtypen tas inte emot. Bilder: JPEG, PNG, WebP eller HEIC. Dokument: PDF, Word (docx), "
    "Excel (xlsx), PowerPoint (pptx) eller OpenDocument (odt, ods, odp)."
)


@dataclass(frozen=True)
class Prepared:
    """A checked upload and every file made from it, not yet stored."""

    sha256: str
    kind: str
    name: str
    files: list[MediaFile]


def limit_for(head: bytes) -> Limit:
    """The size limit of a file from its first bytes; 415 for a type that is not taken."""
    if images.sniff(head):
        return IMAGE_LIMIT
    if documents.sniff(head):
        return DOCUMENT_LIMIT
    raise Problem(415, UNSUPPORTED, errors=[{"field": "file", "message": UNSUPPORTED}])


def clean_stem(filename: str, *, fallback: str) -> str:
    """A slug of a file name without its folders, extension or control characters."""
    base = re.split(r"[\\/]", filename)[-1]
    base = "".join(char for char in base if char.isprintable())
    stem = base.rsplit(".", 1)[0] if "." in base.strip(".") else base
    return slugify(stem, max_length=80, word_boundary=True, backend="text-unidecode") or fallback


def prepare(*, upload: Upload) -> Prepared:
    """Check an upload from its content and make the files to publish (CPU-bound)."""
    image_format = images.sniff(upload.head)
    if image_format:
        stem = clean_stem(upload.filename, fallback="bild")
        renditions = images.process(upload.file, image_format)
        files = [
            MediaFile(
                variant=rendition.variant,
                name=(
                    f"{stem}.{rendition.extension}"
                    if rendition.variant == "original"
                    else f"{stem}-{rendition.width}.{rendition.extension}"
                ),
                content_type=rendition.content_type,
                width=rendition.width,
                height=rendition.height,
                size=len(rendition.data),
                data=rendition.data,
            )
            for rendition in renditions
        ]
        return Prepared(sha256=upload.sha256, kind="image", name=files[0].name, files=files)
    container = documents.sniff(upload.head)
    if container is None:
        raise Problem(415, UNSUPPORTED, errors=[{"field": "file", "message": UNSUPPORTED}])
    kind = documents.identify(upload.file, container)
    upload.file.seek(0)
    data = upload.file.read()
    name = f"{clean_stem(upload.filename, fallback='dokument')}.{kind.extension}"
    original = MediaFile(
        variant="original", name=name, content_type=kind.content_type, size=len(data), data=data
    )
    return Prepared(sha256=upload.sha256, kind="document", name=name, files=[original])


def add(*, session: Session, prepared: Prepared, contributor_id: int | None) -> Media:
    """Stage a prepared medium and its files (the caller commits; a concurrent upload of
    the same content makes that commit fail on the unique sha256)."""
    original = prepared.files[0]
    media = Media(
        id=uuid.uuid4(),
        sha256=prepared.sha256,
        kind=prepared.kind,
        content_type=original.content_type,
        size=original.size,
        width=original.width,
        height=original.height,
        name=prepared.name,
        contributor_id=contributor_id,
        files=prepared.files,
    )
    session.add(media)
    session.flush()
    # The site publishes it at its URL (render writes its files from the database).
    outbox.record(session, MediaUploaded(media_id=media.id))
    return media


def find(*, session: Session, sha256: str) -> Media | None:
    """The medium stored for content with this SHA-256, if any."""
    return session.scalar(select(Media).where(Media.sha256 == sha256))


def get_media(*, session: Session, media_id: uuid.UUID) -> Media:
    """A medium by id, else 404."""
    media = session.get(Media, media_id)
    if media is None:
        raise Problem(404, "Filen finns inte.")
    return media


def media_json(media: Media) -> dict[str, Any]:
    """The API's answer for a medium."""
    body: dict[str, Any] = {
        "id": str(media.id),
        "url": get_settings().public_url + media.path,
        "path": media.path,
        "kind": media.kind,
        "content_type": media.content_type,
        "bytes": media.size,
        "name": media.name,
        "created_at": media.created_at.isoformat().replace("+00:00", "Z"),
    }
    if media.kind == "image":
        body["width"] = media.width
        body["height"] = media.height
    return body
