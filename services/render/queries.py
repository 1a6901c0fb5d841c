"""What render reads: items in date order (keyset conditions on (published_at, id)), the
neighbours of a position, the runs of a rebuild, tags, old URLs and static pages.

Plans that do not depend on statistics: PostgreSQL may run with autovacuum off, so tables
may never have been analyzed. Without statistics the planner takes `status = 'published'` to
keep 0.5 % of the rows (it keeps nearly all) and walked the whole (status, published_at)
index for 50 items (370 ms at 1.4 million rows). So the date-ordered reads here name no
status: they walk an index in its own order with a LIMIT ((published_at, id) of items,
(kind, slug, published_at, item_id) of tags, (month, slug) of a month), the one plan that is
cheap at any estimate, and whether an item is visible is checked here, reading on past the
few drafts and withdrawn items where needed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, lazyload, load_only

from services.render.views import LATEST_IN_FEED
from shared.models import Item, ItemTag, Page, RenderMonth, RenderRedirect
from shared.sitepages import RESERVED_SLUGS
from shared.visibility import is_visible, visible

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
    "status",
)
# Rows read beyond those wanted, for the drafts and withdrawn items among them (one for a
# neighbour, ten for a list); each further read takes twice as many.
SLACK = 10


def _first_read(limit: int) -> int:
    return limit + min(limit, SLACK)


def _items():
    # Tags are not needed to render a page (the items carry their slugs): never loaded.
    return select(Item).options(lazyload(Item.tags))


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


def _visible_in_order(
    session: Session, condition, *, now: datetime, limit: int, descending: bool
) -> list[Item]:
    """The first `limit` items visible at `now` among those matching `condition` (a condition
    on (published_at, id) only), in date order, along the (published_at, id) index."""
    if descending:
        order, bound = (Item.published_at.desc(), Item.id.desc()), before
    else:
        order, bound = (Item.published_at, Item.id), after
    found: list[Item] = []
    read, size = condition, _first_read(limit)
    while True:
        rows = list(session.scalars(_items().where(read).order_by(*order).limit(size)))
        for item in rows:
            if is_visible(item, now=now):
                found.append(item)
                if len(found) == limit:
                    return found
        if len(rows) < size:
            return found
        last = rows[-1]
        read, size = and_(condition, bound((last.published_at, last.id))), size * 2


def visible_from(session: Session, position: Position, *, now: datetime, limit: int) -> list[Item]:
    """Up to `limit` visible items from a position (included) on, in date order."""
    published_at, item_id = position
    at_or_after = and_(
        Item.published_at >= published_at,
        or_(Item.published_at > published_at, Item.id >= item_id),
    )
    return _visible_in_order(session, at_or_after, now=now, limit=limit, descending=False)


def older(session: Session, position: Position, *, now: datetime) -> Item | None:
    """The visible item just before a position (published_at, id) in date order."""
    published_at, _ = position
    # After `now` every visible item is older; up to `now` an older item is visible now
    # exactly when it is published and before the position.
    condition = Item.published_at <= now if published_at > now else before(position)
    found = _visible_in_order(session, condition, now=now, limit=1, descending=True)
    return found[0] if found else None


def newer(session: Session, position: Position, *, now: datetime) -> Item | None:
    """The visible item just after a position (published_at, id) in date order."""
    # No upper bound in SQL (a scheduled item is skipped here): a range bounded on both sides
    # is guessed narrow without statistics, and read whole and sorted.
    found = _visible_in_order(session, after(position), now=now, limit=1, descending=False)
    return found[0] if found else None


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
    condition = Item.published_at <= now
    return _visible_in_order(session, condition, now=now, limit=LATEST_IN_FEED, descending=True)


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
    # The month's rows through the (month, slug) index, whatever their status.
    query = select(Item).options(listed, lazyload(Item.tags)).where(Item.month == month)
    shown = [item for item in session.scalars(query) if is_visible(item, now=now)]
    return sorted(shown, key=lambda item: (item.published_at, item.id), reverse=True)


def tag_items(
    session: Session, kind: str, slug: str, *, now: datetime, limit: int = LATEST_IN_FEED
) -> list[Item]:
    """The newest visible items of one region or topic, as many as a feed holds."""
    # Newest first along the tag's own (kind, slug, published_at, item_id) index, which
    # holds each item's date: the first 50 are found at once, however many the tag has;
    # then those items by their ids.
    tagged = and_(ItemTag.kind == kind, ItemTag.slug == slug, ItemTag.published_at <= now)
    order = (ItemTag.published_at.desc(), ItemTag.item_id.desc())
    found: list[Item] = []
    read, size = tagged, _first_read(limit)
    while True:
        rows = session.execute(
            select(ItemTag.published_at, ItemTag.item_id).where(read).order_by(*order).limit(size)
        ).all()
        items = {
            item.id: item
            for item in session.scalars(_items().where(Item.id.in_([row.item_id for row in rows])))
        }
        for row in rows:
            item = items.get(row.item_id)
            if item is not None and is_visible(item, now=now):
                found.append(item)
                if len(found) == limit:
                    return found
        if len(rows) < size:
            return found
        last_at, last_id = rows[-1]
        earlier = and_(
            ItemTag.published_at <= last_at,
            or_(ItemTag.published_at < last_at, ItemTag.item_id < last_id),
        )
        read, size = and_(tagged, earlier), size * 2


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


def adjacent_years(session: Session, year: str) -> tuple[str | None, str | None]:
    """The years before and after `year` that hold visible items (render_months, counted)."""
    earlier = session.scalar(
        select(func.max(RenderMonth.month)).where(RenderMonth.month < f"{year}-01")
    )
    later = session.scalar(
        select(func.min(RenderMonth.month)).where(RenderMonth.month > f"{year}-12")
    )
    return (earlier[:4] if earlier else None), (later[:4] if later else None)


def year_months(session: Session, year: str) -> list[tuple[str, int]]:
    """A year's months that hold visible items, with their counts, newest first."""
    query = (
        select(RenderMonth.month, RenderMonth.count)
        .where(RenderMonth.month >= f"{year}-01", RenderMonth.month <= f"{year}-12")
        .order_by(RenderMonth.month.desc())
    )
    return [tuple(row) for row in session.execute(query)]


def listed_by_id(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Item]:
    """Items by id, with only the columns a list shows."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    listed = load_only(*(getattr(Item, name) for name in LISTED_COLUMNS))
    query = select(Item).options(listed, lazyload(Item.tags)).where(Item.id.in_(wanted))
    return {item.id: item for item in session.scalars(query)}
