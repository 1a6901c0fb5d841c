"""Uploaded media stored the way `POST /api/v1/media` stores them, without HTTP: for tests of
what render, the feeds and the newsletters make of items that show them."""

from __future__ import annotations

import functools
import hashlib
import uuid
from tempfile import SpooledTemporaryFile

from services.ingest import media
from services.ingest.uploads import Upload
from shared.db import session_scope
from shared.models import MediaFile
from tests import media_samples as samples


@functools.lru_cache(maxsize=16)
def _prepared(data: bytes, name: str) -> tuple[str, str, str, tuple[dict, ...]]:
    # Encoding takes seconds on a busy machine: once per content and name in a test run.
    file = SpooledTemporaryFile()
    file.write(data)
    file.seek(0)
    upload = Upload(file, name, len(data), hashlib.sha256(data).hexdigest(), data[:64])
    try:
        prepared = media.prepare(upload=upload)
    finally:
        upload.close()
    files = tuple(
        {column: getattr(file, column) for column in FILE_COLUMNS} for file in prepared.files
    )
    return prepared.sha256, prepared.kind, prepared.name, files


FILE_COLUMNS = ("variant", "name", "content_type", "width", "height", "size", "data")


def store(data: bytes, name: str) -> uuid.UUID:
    """Store an upload's medium (with its `media.uploaded` event) and return its id."""
    sha256, kind, stored_name, files = _prepared(data, name)
    prepared = media.Prepared(
        sha256=sha256,
        kind=kind,
        name=stored_name,
        files=[MediaFile(**columns) for columns in files],
    )
    with session_scope() as session:
        found = media.find(session=session, sha256=prepared.sha256)
        stored = found or media.add(session=session, prepared=prepared, contributor_id=None)
        return stored.id


def image(width: int = 1000, height: int = 700, *, seed: int = 1, name: str = "bild.jpg"):
    """A photo's medium: variants at 480 and 960 px (and the original's width when narrower)."""
    return store(_photo(width, height, seed), name)


@functools.lru_cache(maxsize=16)
def _photo(width: int, height: int, seed: int) -> bytes:
    return samples.encode(samples.photo(width, height, seed=seed), "JPEG")


def pdf(text: str = "Verksamhetsrapport", name: str = "Verksamhetsrapport 2020.pdf"):
    return store(_pdf(text), name)


@functools.lru_cache(maxsize=16)
def _pdf(text: str) -> bytes:
    return samples.pdf(text)  # made once: Pillow writes the time into each PDF
