"""What render reads: items in date order (keyset conditions on (published_at, id)), the
neighbours of a position, the runs of a rebuild, tags, old URLs and static pages."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, lazyload, load_only

from services.render.views import LATEST_IN_FEED
from shared.models import Item, ItemTag, Page, RenderMonth, RenderRedirect
from shared.sitepages import RESERVED_SLUGS
from shared.visibility import visible

Position = tuple[datetime, uuid.UUID]  # an item's place in date order
Bounds = tuple[Position | None, Position | None]  # (after, until) of a run; None: open

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


def redirects_to(session: Session, item_id: uuid.UUID) -> list[tuple[str, str]]:
    """(month, slug) of the old URLs of an item."""
    query = select(RenderRedirect.month, RenderRedirect.slug).where(
        RenderRedirect.item_id == item_id
    )
    return [tuple(row) for row in session.execute(query)]


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


def tag_items(
    session: Session, kind: str, slug: str, *, now: datetime, limit: int = LATEST_IN_FEED
) -> list[Item]:
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
        .limit(limit)
    )
    return list(session.scalars(query))


def static_pages(session: Session) -> list[Page]:
    """The static pages, by slug, except any that would take a name the site uses (written
    before ingest refused such slugs)."""
    query = select(Page).where(Page.slug.not_in(RESERVED_SLUGS)).order_by(Page.slug)
    return list(session.scalars(query))


def static_page(session: Session, slug: str) -> Page | None:
    """One static page, unless missing or at a name the site uses."""
    if slug in RESERVED_SLUGS:
        return None
    return session.get(Page, slug, populate_existing=True)


def tag_counts(
    session: Session, kind: str, *, now: datetime, slugs: Iterable[str] | None = None
) -> dict[str, int]:
    """How many visible items each region (or topic) has, by slug; `slugs`: only those.

    The tag rows up to now, counted on their own (kind, slug, published_at) index, less
    those of the few items not published: joining every row to its item instead takes
    seconds at 100,000 items on SQLite."""
    dated = [ItemTag.kind == kind, ItemTag.published_at <= now]
    if slugs is not None:
        dated.append(ItemTag.slug.in_(sorted(set(slugs))))
    counted = select(ItemTag.slug, func.count()).where(*dated).group_by(ItemTag.slug)
    counts = {slug: count for slug, count in session.execute(counted)}
    # Two ranges, not "!=": the (status, published_at) index answers both. The ids first, so
    # that their tag rows are found by key (a subquery made SQLite visit every tag row).
    unpublished = select(Item.id).where(or_(Item.status < "published", Item.status > "published"))
    ids = list(session.scalars(unpublished))
    for start in range(0, len(ids), 1000):
        hidden = (
            select(ItemTag.slug, func.count())
            .where(ItemTag.item_id.in_(ids[start : start + 1000]), *dated)
            .group_by(ItemTag.slug)
        )
        for slug, count in session.execute(hidden):
            counts[slug] -= count
    return {slug: count for slug, count in counts.items() if count > 0}


def month_counts(session: Session, months: Iterable[str]) -> dict[str, int]:
    """The counted items of these months (render_months; a month without items has no row)."""
    query = select(RenderMonth.month, RenderMonth.count).where(RenderMonth.month.in_(months))
    return {month: count for month, count in session.execute(query)}


def adjacent_months(session: Session, month: str) -> tuple[str | None, str | None]:
    """The months before and after `month` that hold visible items (render_months, counted)."""
    earlier = session.scalar(select(func.max(RenderMonth.month)).where(RenderMonth.month < month))
    later = session.scalar(select(func.min(RenderMonth.month)).where(RenderMonth.month > month))
    return earlier, later


def year_months(session: Session, year: str) -> list[tuple[str, int]]:
    """A year's months that hold visible items, with their counts, newest first."""
    query = (
        select(RenderMonth.month, RenderMonth.count)
        .where(RenderMonth.month >= f"{year}-01", RenderMonth.month <= f"{year}-12")
        .order_by(RenderMonth.month.desc())
    )
    return [tuple(row) for row in session.execute(query)]


def items_by_id(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Item]:
    """Items by id, with only the columns a list shows."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    listed = load_only(*(getattr(Item, name) for name in LISTED_COLUMNS))
    query = select(Item).options(listed, lazyload(Item.tags)).where(Item.id.in_(wanted))
    return {item.id: item for item in session.scalars(query)}
