"""Applying one item event: re-render every page it touches from the database's current state.

In two steps, each a unit of work of its own that the caller commits: first what readers
look for first (the item's page and the latest items), then the rest (see tasks.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, lazyload

from services.render import locks, queries
from services.render.output import RenderReport, SiteOutput
from services.render.pages import (
    MonthPages,
    Place,
    Target,
    first_targets,
    in_order,
    place_from_event,
    touched_targets,
)
from services.render.queries import Position
from services.render.renderer import Renderer, site_of
from shared.db import is_postgres, utcnow
from shared.events import parse_event
from shared.models import Item, RenderRedirect


@dataclass(frozen=True)
class FirstPages:
    """What an event's first step rendered and found, for its second step."""

    item_id: uuid.UUID
    current: Place | None  # where the item is now (None: no such item)
    before: Place | None  # where the event says it was
    was_public: bool  # the event says it was published there
    positions: list[Position]  # its places in date order, now and before
    output: SiteOutput  # where the pages go, and what was written so far


def render_first_pages(*, session: Session, event: dict, site_dir: Path) -> FirstPages:
    """Render the item's page, the front page, /aktuellt/ and the site feeds of an event."""
    parsed = parse_event(event)
    previous = getattr(parsed, "previous", None)
    with locks.serialized(session):
        item = session.get(
            Item, parsed.item_id, options=[lazyload(Item.tags)], populate_existing=True
        )
        current = _place(item) if item is not None else None
        site = site_of(session)
        renderer = Renderer(session, site, SiteOutput(site_dir), utcnow())
        first = first_targets(current)
        locks.lock(session, first)
        # The clock after the locks: whatever was published before them is shown, even when
        # its own event rendered these pages while this one waited.
        renderer.now = utcnow()
        for target in in_order(first):
            renderer.render(target)
    times = {item.published_at} if item is not None else set()
    if previous is not None:
        times.add(previous.published_at)
    return FirstPages(
        item_id=parsed.item_id,
        current=current,
        before=place_from_event(previous.model_dump() if previous else None),
        was_public=previous is not None and previous.status == "published",
        positions=[(published_at, parsed.item_id) for published_at in sorted(times)],
        output=renderer.output,
    )


def render_other_pages(*, session: Session, first: FirstPages) -> RenderReport:
    """Render the rest of an event's pages: archive, month, tags, neighbours, old URLs."""
    current, before = first.current, first.before
    places = [place for place in (current, before) if place is not None]
    months = {place.month for place in places}
    tags = {("region", slug) for place in places for slug in place.regions}
    tags |= {("topic", slug) for place in places for slug in place.topics}
    site = site_of(session)
    renderer = Renderer(session, site, first.output, utcnow(), months=months, tags=tags)
    # On SQLite too, another event's first pages may be rendered before this one's rest.
    with locks.serialized(session):
        targets = touched_targets(
            current=current,
            previous=before,
            neighbours=queries.neighbours(session, first.positions, now=renderer.now),
            redirects=queries.redirects_to(session, first.item_id),
        )
        rest = targets - first_targets(current)
        locks.lock(session, rest)
        renderer.now = utcnow()
        # After the locks: the old URL's page group is locked, so no two workers can wait on
        # each other's insert of this row while holding the other's lock.
        if current is not None and before is not None and first.was_public:
            if (before.month, before.slug) != (current.month, current.slug):
                _remember_redirect(session, before, first.item_id)
        # A month that gains its first item or loses its last changes the previous/next links
        # of the months beside it; a month page lists hundreds of items, so only then.
        had = queries.month_counts(session, months)
        renderer.count_months()
        has = queries.month_counts(session, months)
        appeared_or_gone = {
            month for month in months if bool(had.get(month)) != bool(has.get(month))
        }
        beside = _adjacent_months(session, appeared_or_gone)
        for target in in_order(rest | beside - first_targets(current)):
            renderer.render(target)
        return renderer.output.report


def _adjacent_months(session: Session, months: set[str]) -> set[Target]:
    """The month pages whose previous/next links name one of `months`, or would (counted now).

    Not locked on their own: every event renders its month pages holding the archive's lock,
    so no two renders of a month page overlap, and a lock taken now, after the others, could
    wait in a cycle."""
    found: set[Target] = set()
    for month in months:
        found.update(MonthPages(m) for m in queries.adjacent_months(session, month) if m)
    return found


def _place(item: Item) -> Place:
    return Place(item.month, item.slug, tuple(item.regions or ()), tuple(item.topics or ()))


def _remember_redirect(session: Session, place: Place, item_id: uuid.UUID) -> None:
    """Record that a public URL moved; a rebuild renders its redirect page from this row."""
    dialect = postgresql if is_postgres(session) else sqlite
    statement = dialect.insert(RenderRedirect).values(
        month=place.month, slug=place.slug, item_id=item_id
    )
    session.execute(statement.on_conflict_do_nothing())
