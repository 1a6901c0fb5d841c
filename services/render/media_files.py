"""Uploaded media into the site folder: every file of a medium (the original and each
variant) from the database, at its content-hashed path under `media/`.

A medium's files never change (the folder is a hash of the uploaded content, and the bytes
were encoded once, at upload), so a file already there with the right size is left alone and
never read back: a rebuild over an existing site costs a stat per file, and one into an empty
folder writes the stored bytes, the same every time.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, load_only

from services.render.output import SiteOutput
from shared.models import Media, MediaFile

_LISTED = load_only(MediaFile.media_id, MediaFile.name, MediaFile.size)


def _relative(sha256: str, name: str) -> str:
    return f"media/{sha256[:16]}/{name}"


def _publish(session: Session, output: SiteOutput, rows) -> int:
    """Write the files of these (sha256, MediaFile without data) rows that are missing."""
    written = 0
    for sha256, file in rows:
        relative = _relative(sha256, file.name)
        if output.produced is not None:
            output.produced.add(relative)
        if not output.fresh:
            try:
                if os.stat(os.path.join(output.root, relative)).st_size == file.size:
                    output.report.unchanged += 1
                    continue
            except FileNotFoundError:
                pass
        data = session.scalar(
            select(MediaFile.data).where(
                MediaFile.media_id == file.media_id, MediaFile.variant == file.variant
            )
        )
        output.write(relative, data, compare=False)
        written += 1
    return written


def _files(condition):
    return (
        select(Media.sha256, MediaFile)
        .join(MediaFile, MediaFile.media_id == Media.id)
        .options(_LISTED, load_only(MediaFile.variant, MediaFile.content_type))
        .where(condition)
        .order_by(Media.sha256, MediaFile.variant)
    )


def publish(*, session: Session, output: SiteOutput, media_ids: Iterable[str]) -> int:
    """Write the missing files of these media; how many were written."""
    ids = set()
    for media_id in media_ids:
        try:
            ids.add(uuid.UUID(str(media_id)))
        except ValueError:
            continue
    if not ids:
        return 0
    return _publish(session, output, session.execute(_files(Media.id.in_(ids))).all())


def publish_all(*, session: Session, output: SiteOutput) -> int:
    """Write the missing files of every stored medium (a rebuild); how many were written."""
    # File rows without their bytes (about 100 bytes each, 11 per image): read at once.
    rows = session.execute(_files(Media.id.is_not(None))).all()
    return _publish(session, output, rows)
