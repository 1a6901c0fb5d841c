"""Reading items: one item, a filtered keyset page, and the API's JSON of an item."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, not_, or_, select
from sqlalchemy.orm import Session

from services.ingest.permissions import is_editor
from services.ingest.schemas import ItemOut
from shared import taxonomy
from shared.config import get_settings
from shared.db import utcnow
from shared.models import Contributor, Item, ItemTag
from shared.problems import Problem
from shared.visibility import is_visible, visible


def api_status(item: Item, *, now: datetime) -> str:
    """The item's status as the API names it: a published item whose time has not come is
    "scheduled"."""
    if item.status == "published" and not is_visible(item, now=now):
        return "scheduled"
    return item.status


def _status_condition(status: str, *, now: datetime) -> ColumnElement[bool]:
    if status == "published":
        return visible(now)
    if status == "scheduled":
        return and_(Item.status == "published", not_(visible(now)))
    return Item.status == status


def item_json(item: Item, *, contributor_name: str | None = None) -> dict[str, Any]:
    """The API representation of an item, as JSON-ready data."""
    author = None
    if item.author_name:
        author = {"name": item.author_name, "email": item.author_email}
    return ItemOut(
        id=item.id,
        slug=item.slug,
        month=item.month,
        path=item.path,
        url=get_settings().public_url + item.path,
        status=api_status(item, now=utcnow()),
        version=item.version,
        title=item.title,
        summary=item.summary,
        body=item.body_md,
        body_html=item.body_html,
        published_at=item.published_at,
        regions=list(item.regions),
        topics=list(item.topics),
        author=author,
        attachments=list(item.attachments or []),
        image=item.image,
        contributor=contributor_name,
        created_at=item.created_at,
        updated_at=item.updated_at,
        withdrawn_at=item.withdrawn_at,
    ).model_dump(mode="json")


def etag_of(item: Item) -> str:
    """A strong ETag that changes with every write of the item."""
    return f'"{item.id}-v{item.version}"'


def get_item(
    *, session: Session, contributor: Contributor, item_id: uuid.UUID, for_update: bool = False
) -> Item:
    """The item, or 404 (also for another contributor's draft, scheduled or withdrawn item,
    which is nobody else's business before it is public)."""
    # FOR UPDATE on PostgreSQL makes concurrent writers of one item queue instead of racing.
    item = session.get(Item, item_id, with_for_update=for_update)
    if item is None or not _may_see(contributor, item):
        raise Problem(404, "Nyheten finns inte.")
    return item


def _may_see(contributor: Contributor, item: Item) -> bool:
    # Contributors see what readers see, and their own items; editors everything.
    return (
        is_visible(item, now=utcnow())
        or is_editor(contributor)
        or item.contributor_id == contributor.id
    )


def encode_cursor(item: Item) -> str:
    raw = json.dumps([item.published_at.isoformat(), str(item.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (published_at, id) after which the next page starts; 400 when it was tampered with."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        published, item_id = json.loads(raw)
        when = datetime.fromisoformat(published)
        if when.tzinfo is None:
            raise ValueError("naive")
        return when, uuid.UUID(item_id)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise Problem(
            400,
            "Ogiltig cursor.",
            errors=[{"field": "cursor", "message": "använd next_cursor från förra svaret"}],
        ) from None


def list_items(
    *,
    session: Session,
    contributor: Contributor,
    region: str | None = None,
    topic: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[Item], str | None]:
    """Items newest first, filtered, one keyset page at a time (stable under new posts)."""
    now = utcnow()
    query = select(Item)
    if not is_editor(contributor):
        query = query.where(or_(visible(now), Item.contributor_id == contributor.id))
    for kind, slug in (("region", region), ("topic", topic)):
        if slug:
            tagged = select(ItemTag.item_id).where(ItemTag.kind == kind, ItemTag.slug == slug)
            query = query.where(Item.id.in_(tagged))
    if status:
        query = query.where(_status_condition(status, now=now))
    if since:
        query = query.where(Item.published_at >= since)
    if cursor:
        after_time, after_id = decode_cursor(cursor)
        query = query.where(
            or_(
                Item.published_at < after_time,
                and_(Item.published_at == after_time, Item.id < after_id),
            )
        )
    query = query.order_by(Item.published_at.desc(), Item.id.desc()).limit(limit + 1)
    items = list(session.scalars(query))
    next_cursor = encode_cursor(items[limit - 1]) if len(items) > limit else None
    return items[:limit], next_cursor


def contributor_names(*, session: Session, items: list[Item]) -> dict[int, str]:
    """Names of the contributors of `items`, one query for a whole page."""
    ids = {item.contributor_id for item in items if item.contributor_id is not None}
    if not ids:
        return {}
    rows = session.execute(select(Contributor.id, Contributor.name).where(Contributor.id.in_(ids)))
    return {row.id: row.name for row in rows}


def taxonomy_entries(kind: str) -> list[dict[str, str]]:
    """Regions or topics as `[{slug, name}]`, in the taxonomy's order."""
    names = taxonomy.regions() if kind == "region" else taxonomy.topics()
    return [{"slug": slug, "name": name} for slug, name in names.items()]
