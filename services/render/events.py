"""Applying the waiting item events in batches: every page they touch, rendered from the
database's current state, each page once per batch.

In two passes, each one transaction that the caller commits (see tasks.py), each begun by
taking one page group's lock and then every event waiting for that pass:

1. first: the items' pages and the latest items (front page, /aktuellt/, site feeds), what
   readers look for first. Under the latest items' lock.
2. rest: archive, months, regions and topics, the neighbours' pages and old URLs. Under the
   archive's lock.

Whoever holds a pass's lock takes all the events that arrived while the pass before ran, so a
burst costs a few renders of each shared page, not one per event. Each page group is locked
(PostgreSQL advisory locks) before it is read and until its files are written, so any number
of workers converge on what a full rebuild writes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.render import locks, queries, work
from services.render.output import RenderReport, SiteOutput
from services.render.pages import (
    ARCHIVE,
    LATEST,
    ItemUrl,
    Place,
    Target,
    first_targets,
    in_order,
    place_from_event,
    touched_targets,
)
from services.render.renderer import Renderer
from services.render.views import Site
from shared.config import get_settings
from shared.db import is_postgres, utcnow
from shared.events import parse_event
from shared.models import Item, RenderRedirect, RenderWork


@dataclass(frozen=True)
class Change:
    """What one event says of its item: which, and where it was shown before."""

    item_id: uuid.UUID
    before: Place | None
    before_at: datetime | None  # its date before, for its neighbours there
    was_public: bool  # published at its place before

    @classmethod
    def of(cls, event: dict) -> Change:
        parsed = parse_event(event)
        previous = getattr(parsed, "previous", None)
        return cls(
            item_id=parsed.item_id,
            before=place_from_event(previous.model_dump() if previous else None),
            before_at=previous.published_at if previous else None,
            was_public=previous is not None and previous.status == "published",
        )


def render_first_pass(*, session: Session, site_dir: Path) -> tuple[int, RenderReport]:
    """The item pages and the latest items of every event waiting for them; how many events."""
    output = SiteOutput(site_dir)
    with locks.serialized(session):
        # The lock first, then the events: one pass at a time, each taking all that wait.
        locks.lock(session, [LATEST])
        rows = work.waiting(session=session, stage=work.FIRST)
        if not rows:
            return 0, output.report
        changes = [Change.of(row.event) for row in rows]
        items = queries.items_by_id(session, {change.item_id for change in changes})
        targets: set[Target] = set()
        for place in map(_place, items):
            targets |= first_targets(place)
        locks.lock(session, targets)
        # The clock after the locks: whatever was published before them is shown, even when
        # its own event rendered these pages while this one waited.
        renderer = Renderer(session, Site.from_settings(get_settings()), output, utcnow())
        for target in in_order(targets | {LATEST}):
            renderer.render(target)
        work.passed_first(session=session, rows=rows)
    return len(rows), output.report


def render_rest_pass(*, session: Session, site_dir: Path) -> tuple[int, RenderReport]:
    """The other pages of every event whose first pass is done; how many events."""
    output = SiteOutput(site_dir)
    with locks.serialized(session):
        locks.lock(session, [ARCHIVE])
        rows = work.waiting(session=session, stage=work.REST)
        if not rows:
            return 0, output.report
        changes = [(row, Change.of(row.event)) for row in rows]
        items = queries.items_by_id(session, {change.item_id for _, change in changes})
        current = {item.id: _place(item) for item in items}
        dates = {item.id: item.published_at for item in items}
        now = utcnow()
        targets: set[Target] = set()
        months: set[str] = set()
        for _, change in changes:
            place = current.get(change.item_id)
            targets |= touched_targets(current=place, previous=change.before) - first_targets(place)
            months |= {where.month for where in (place, change.before) if where is not None}
        targets |= _neighbours(session, changes, dates, now=now)
        ids = {change.item_id for _, change in changes}
        targets.update(ItemUrl(month, slug) for month, slug in queries.redirects_to(session, ids))
        targets.add(ARCHIVE)
        locks.lock(session, targets)
        renderer = Renderer(
            session, Site.from_settings(get_settings()), output, utcnow(), months=months
        )
        # After the locks: the old URL's page group is locked, so no two workers can wait on
        # each other's insert of this row while holding the other's lock.
        for _, change in changes:
            place = current.get(change.item_id)
            if place is not None and change.before is not None and change.was_public:
                if (change.before.month, change.before.slug) != (place.month, place.slug):
                    _remember_redirect(session, change.before, change.item_id)
        # The archive last: it writes the month counts, and on SQLite a write holds the
        # database's one write lock until the commit.
        for target in in_order(targets - {ARCHIVE}):
            renderer.render(target)
        renderer.render(ARCHIVE)
        work.done(session=session, rows=rows)
    return len(rows), output.report


def _neighbours(
    session: Session,
    changes: list[tuple[RenderWork, Change]],
    dates: dict[uuid.UUID, datetime],
    *,
    now: datetime,
) -> set[Target]:
    """The pages whose previous/next links may show a changed item, at any of its places.

    A neighbour's page rendered in the first pass of the changed item, or in a later first
    pass, was rendered after the item's change: it is not rendered again."""
    passes: dict[uuid.UUID, int] = {}  # an item's latest first pass in this batch
    for row, change in changes:
        passes[change.item_id] = max(passes.get(change.item_id, 0), row.first_pass or 0)
    found: set[Target] = set()
    for row, change in changes:
        times = {dates[change.item_id]} if change.item_id in dates else set()
        if change.before_at is not None:
            times.add(change.before_at)
        for published_at in sorted(times):
            position = (published_at, change.item_id)
            for neighbour in (
                queries.older(session, position, now=now),
                queries.newer(session, position, now=now),
            ):
                if neighbour is None:
                    continue
                if passes.get(neighbour.id, 0) >= (row.first_pass or 0) > 0:
                    continue
                found.add(ItemUrl(neighbour.month, neighbour.slug))
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
