"""Reading items: one item, a filtered keyset page, and the API's JSON of an item."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
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
        notify=item.notify,
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


# A cursor is a position in the list (newest first): the time and id of the last item of the
# previous page, "20210325T080000.5Z_<id as 32 hex digits>". Every string of this form is a
# position (30 February is two days after the 28th), so what the schema allows is accepted.
CURSOR_PATTERN = (
    r"^[12][0-9]{3}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3])[0-5][0-9][0-5][0-9](?:\.[0-9]{1,6})?Z_[0-9a-f]{32}$"
)
_CURSOR = re.compile(CURSOR_PATTERN)


def encode_cursor(item: Item) -> str:
    when = item.published_at.astimezone(UTC)
    fraction = f".{when.microsecond:06d}".rstrip("0").rstrip(".")
    return f"{when:%Y%m%dT%H%M%S}{fraction}Z_{item.id.hex}"


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (published_at, id) after which the next page starts; 400 when it is no cursor."""
    if not _CURSOR.fullmatch(cursor):
        raise Problem(
            400,
            "Ogiltig cursor.",
            errors=[{"field": "cursor", "message": "använd next_cursor från förra svaret"}],
        )
    stamp, _, item_id = cursor.partition("_")
    day = datetime(int(stamp[:4]), int(stamp[4:6]), 1, tzinfo=UTC)
    micro = stamp[16:-1].lstrip(".").ljust(6, "0")
    when = day + timedelta(
        days=int(stamp[6:8]) - 1,
        hours=int(stamp[9:11]),
        minutes=int(stamp[11:13]),
        seconds=int(stamp[13:15]),
        microseconds=int(micro),
    )
    return when, uuid.UUID(hex=item_id)


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
    if cursor is not None:
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
