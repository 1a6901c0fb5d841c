"""Item history: every saved version of an item, who saved it and when; never commits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.models import Contributor, Item, ItemRevision

# What a revision copies from the item (the item's own columns of the same names).
FIELDS = (
    "status",
    "title",
    "summary",
    "body_md",
    "published_at",
    "regions",
    "topics",
    "author_name",
    "author_email",
    "attachments",
    "image",
    "notify",
)
_INSERT = insert(ItemRevision.__table__)


def row(item: Item, *, contributor: Contributor | None) -> dict[str, Any]:
    """The revision row of `item` as it is now, saved by `contributor`."""
    values = {field: getattr(item, field) for field in FIELDS}
    values["regions"] = list(values["regions"] or [])
    values["topics"] = list(values["topics"] or [])
    values["attachments"] = list(values["attachments"] or [])
    return {
        "item_id": item.id,
        "version": item.version,
        "contributor_id": contributor.id if contributor is not None else None,
        "created_at": item.updated_at or utcnow(),
        **values,
    }


def writes(item: Item, *, contributor: Contributor | None) -> tuple[Any, list[dict[str, Any]]]:
    """The revision of a new item as one more table for `service.insert_rows`."""
    return ItemRevision.__table__, [row(item, contributor=contributor)]


def record(session: Session, item: Item, *, contributor: Contributor | None) -> None:
    """Add the item's current version to its history, in the caller's transaction."""
    session.execute(_INSERT, row(item, contributor=contributor))


def history(*, session: Session, item_id: uuid.UUID) -> list[ItemRevision]:
    """Every saved version of an item, newest first."""
    query = (
        select(ItemRevision)
        .where(ItemRevision.item_id == item_id)
        .order_by(ItemRevision.version.desc())
    )
    return list(session.scalars(query))


def revision(*, session: Session, item_id: uuid.UUID, version: int) -> ItemRevision | None:
    """One saved version, or None."""
    return session.get(ItemRevision, (item_id, version))


def as_input(revision: ItemRevision, *, status: str, published_at: Any) -> dict[str, Any]:
    """The fields of an old version as `ItemIn` data, for restoring its content.

    Restoring brings back what the version said (text, regions, topics, author, media);
    the item keeps its current status and time, so a restore never publishes or hides it.
    """
    data: dict[str, Any] = {
        "title": revision.title,
        "summary": revision.summary,
        "body": revision.body_md,
        "regions": list(revision.regions),
        "topics": list(revision.topics),
        "attachments": list(revision.attachments or []),
        "status": status,
        "published_at": published_at,
        "notify": revision.notify,
    }
    if revision.author_name:
        data["author"] = {"name": revision.author_name, "email": revision.author_email}
    if revision.image:
        data["image"] = revision.image
    return data


__all__ = ["as_input", "history", "record", "revision", "row", "writes"]
