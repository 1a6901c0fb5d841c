"""What render reads: items in date order (keyset conditions on (published_at, id)), the
neighbours of a position, the runs of a rebuild, tags, old URLs and static pages."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, lazyload, load_only

from services.render.views import LATEST_IN_FEED
from shared.models import Item, ItemTag, Page, RenderRedirect
from shared.visibility import visible

Position = tuple[datetime, uuid.UUID]  # an item's place in date order
Bounds = tuple[Position | None, Position | None]  # (after, until) of a run; None: open

# Static pages may not take a name the site already uses.
RESERVED_SLUGS = {"aktuellt", "arkiv", "region", "amne", "prenumerera", "static", "sitemaps"}
# A month may hold hundreds of items: its list and sitemap load only the columns they show.
LISTED_COLUMNS = (
    "id",
    "slug",
    "month",
    "title",
    "summary",
    "published_at",
    "updated_at",
    "regions",
)


def _items():
    # Tags are not needed to render a page (the items carry their slugs): never loaded.
    return select(Item).options(lazyload(Item.tags))


def _newest_first(query):
    return query.order_by(Item.published_at.desc(), Item.id.desc())


def after(position: Position):
    """Items later than a position (published_at, id) in date order."""
    published_at, item_id = position
    # The plain bound first: an index range scan on SQLite too.
    return and_(
        Item.published_at >= published_at,
        or_(Item.published_at > published_at, Item.id > item_id),
    )


def before(position: Position):
    """Items earlier than a position (published_at, id) in date order."""
    published_at, item_id = position
    return and_(
        Item.published_at <= published_at,
        or_(Item.published_at < published_at, Item.id < item_id),
    )


def up_to(position: Position):
    """Items at or before a position (published_at, id) in date order."""
    published_at, item_id = position
    return and_(
        Item.published_at <= published_at,
        or_(Item.published_at < published_at, Item.id <= item_id),
    )


def older(session: Session, position: Position, *, now: datetime) -> Item | None:
    """The visible item just before a position (published_at, id) in date order."""
    published_at, _ = position
    # One plain upper bound either way, so the (status, published_at) index gives a range
    # scan that stops at the first row; the OR alone made SQLite scan (45 ms at 100k items).
    # After `now` every visible item is older; up to `now` an older item is visible now
    # exactly when it was visible at the position's own time.
    if published_at > now:
        condition = visible(now)
    else:
        condition = and_(visible(published_at), before(position))
    return session.scalars(_newest_first(_items().where(condition)).limit(1)).first()


def newer(session: Session, position: Position, *, now: datetime) -> Item | None:
    """The visible item just after a position (published_at, id) in date order."""
    query = _items().where(visible(now), after(position))
    return session.scalars(query.order_by(Item.published_at, Item.id).limit(1)).first()


def neighbours(
    session: Session, positions: list[Position], *, now: datetime
) -> set[tuple[str, str]]:
    """(month, slug) of the items whose previous/next links may show an item at any of its
    positions."""
    found = set()
    for position in positions:
        for neighbour in (older(session, position, now=now), newer(session, position, now=now)):
            if neighbour is not None:
                found.add((neighbour.month, neighbour.slug))
    return found


def stream(session: Session, condition, *, ascending: bool = False) -> Iterator[Item]:
    """Items matching `condition`, fetched in batches, never all at once."""
    query = _items().where(condition)
    if ascending:
        query = query.order_by(Item.published_at, Item.id)
    # yield_per: fetched in batches (a server-side cursor on PostgreSQL), never all at once.
    # The session holds unchanged objects weakly: each is freed once the caller drops it.
    yield from session.scalars(query.execution_options(yield_per=500))


def run_bounds(session: Session, *, now: datetime, size: int) -> list[Bounds]:
    """(after, until) of consecutive runs of `size` visible items in date order (None: open)."""
    order = (Item.published_at, Item.id)
    numbered = (
        select(Item.published_at, Item.id, func.row_number().over(order_by=order).label("n"))
        .where(visible(now))
        .subquery()
    )
    query = (
        select(numbered.c.published_at, numbered.c.id)
        .where(numbered.c.n % size == 0)
        .order_by(numbered.c.n)
    )
    ends: list[Position | None] = [tuple(row) for row in session.execute(query)]
    return list(zip([None, *ends], [*ends, None], strict=True))


def item_tags(session: Session) -> set[tuple[str, str]]:
    """(kind, slug) of every region and topic that items carry."""
    return {tuple(row) for row in session.execute(select(ItemTag.kind, ItemTag.slug).distinct())}


def orphan_redirects(session: Session) -> list[tuple[str, str]]:
    """Old URLs that no item occupies today."""
    occupied = select(Item.id).where(
        Item.month == RenderRedirect.month, Item.slug == RenderRedirect.slug
    )
    query = select(RenderRedirect.month, RenderRedirect.slug).where(~occupied.exists()).distinct()
    return sorted(tuple(row) for row in session.execute(query))


def redirects_to(session: Session, item_ids: Iterable[uuid.UUID]) -> list[tuple[str, str]]:
    """(month, slug) of the old URLs of some items."""
    query = select(RenderRedirect.month, RenderRedirect.slug).where(
        RenderRedirect.item_id.in_(sorted(set(item_ids)))
    )
    return [tuple(row) for row in session.execute(query)]


def items_by_id(session: Session, item_ids: Iterable[uuid.UUID]) -> list[Item]:
    """The items with these ids as they are now (those that no longer exist left out)."""
    query = _items().where(Item.id.in_(sorted(set(item_ids))))
    return list(session.scalars(query.execution_options(populate_existing=True)))


def latest(session: Session, *, now: datetime) -> list[Item]:
    """The newest visible items, as many as a feed holds."""
    query = _newest_first(_items().where(visible(now))).limit(LATEST_IN_FEED)
    return list(session.scalars(query))


def item_at(session: Session, month: str, slug: str) -> Item | None:
    """The item whose URL is (month, slug) today, whatever its status."""
    query = _items().where(Item.month == month, Item.slug == slug)
    return session.scalars(query).first()


def moved_from(session: Session, month: str, slug: str) -> list[Item]:
    """Items that were once at (month, slug), the most recently changed first."""
    query = (
        _items()
        .join(RenderRedirect, RenderRedirect.item_id == Item.id)
        .where(RenderRedirect.month == month, RenderRedirect.slug == slug)
        .order_by(Item.updated_at.desc(), Item.id.desc())
    )
    return list(session.scalars(query))


def month_items(session: Session, month: str, *, now: datetime) -> list[Item]:
    """A month's visible items, newest first, with only the columns its pages show."""
    listed = load_only(*(getattr(Item, name) for name in LISTED_COLUMNS))
    query = select(Item).options(listed, lazyload(Item.tags)).where(visible(now))
    return list(session.scalars(_newest_first(query.where(Item.month == month))))


def tag_items(session: Session, kind: str, slug: str, *, now: datetime) -> list[Item]:
    """The newest visible items of one region or topic, as many as a feed holds."""
    # Newest first along the tag's own (kind, slug, published_at) index, which holds each
    # item's date: the first 50 visible ones are found at once, however many the tag has
    # (ordering by the items' index instead walks all items until 50 carry the tag).
    query = (
        _items()
        .join(ItemTag, ItemTag.item_id == Item.id)
        .where(
            ItemTag.kind == kind,
            ItemTag.slug == slug,
            ItemTag.published_at <= now,
            visible(now),
        )
        .order_by(ItemTag.published_at.desc(), ItemTag.item_id.desc())
        .limit(LATEST_IN_FEED)
    )
    return list(session.scalars(query))


def static_pages(session: Session) -> list[Page]:
    """The static pages, by slug, except any that would take a name the site uses."""
    query = select(Page).where(Page.slug.not_in(RESERVED_SLUGS)).order_by(Page.slug)
    return list(session.scalars(query))
