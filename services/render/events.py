"""Applying the waiting item events in batches: every page they touch, rendered from the
database's current state, each page once per batch.

In two passes, each one transaction that the caller commits (see tasks.py), each begun by
taking one page group's lock and then every event waiting for that pass:

1. first: under the latest items' lock, the items' pages, the latest items (front page,
   /aktuellt/, site feeds: what readers look for first), then the pages that link to the
   items (their neighbours' previous/next links) and the pages at their old URLs.
2. rest: under the archive's lock, the months, regions and topics they were and are in, and
   the archive.

The two passes lock different page groups, so a burst's first pass never waits for the one
before's second. Whoever holds a pass's lock takes all the events that arrived while the pass
before ran, so a burst costs a few renders of each shared page, not one per event. Each page
group is locked (PostgreSQL advisory locks) before it is read and until its files are
written, so any number of workers converge on what a full rebuild writes; the item pages are
written by first passes only, so the latest items' lock covers them.
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
    MonthPages,
    Place,
    TagIndex,
    TagPages,
    Target,
    YearPages,
    in_order,
    place_from_event,
    touched_targets,
)
from services.render.renderer import Renderer, site_of
from shared.db import is_postgres, utcnow
from shared.events import parse_event
from shared.models import Item, RenderRedirect
from shared.visibility import is_visible


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
    """The pages of every event waiting for its first pass (see above); how many events."""
    output = SiteOutput(site_dir)
    with locks.serialized(session, "first"):
        # The lock first, then the events: one pass at a time, each taking all that wait.
        locks.lock(session, [LATEST])
        rows = work.waiting(session=session, stage=work.FIRST)
        if not rows:
            return 0, output.report
        changes = [Change.of(row.event) for row in rows]
        items = {item.id: item for item in queries.items_by_id(session, _ids(changes))}
        own = {ItemUrl(item.month, item.slug) for item in items.values()}
        # Item pages are rendered only in first passes, one at a time under the latest items'
        # lock: they need no lock of their own (a round trip each, 200 in a full batch).
        # The clock after the locks: whatever was published before them is shown, even when
        # its own event rendered these pages while this one waited.
        renderer = Renderer(session, site_of(session), output, utcnow())
        # The batch's visible items and their neighbours in one read, under the locks.
        renderer.know_run([item for item in items.values() if is_visible(item, now=renderer.now)])
        # After the locks: the old URL's page group is locked, so no two workers can wait on
        # each other's insert of this row while holding the other's lock.
        for change in changes:
            item = items.get(change.item_id)
            if item is not None and change.before is not None and change.was_public:
                if (change.before.month, change.before.slug) != (item.month, item.slug):
                    _remember_redirect(session, change.before, change.item_id)
        for target in [*in_order(own), LATEST]:
            renderer.render(target)
        # What readers look for is written: now the pages that link to the items, looked up
        # only now so that finding them does not delay the rest.
        others = _linking(session, changes, items, now=renderer.now) - own
        for target in in_order(others):
            renderer.render(target)
        work.passed_first(session=session, rows=rows)
    return len(rows), output.report


def render_rest_pass(*, session: Session, site_dir: Path) -> tuple[int, RenderReport]:
    """The months, regions, topics and archive of every event whose first pass is done; how
    many events."""
    output = SiteOutput(site_dir)
    with locks.serialized(session, "rest"):
        locks.lock(session, [ARCHIVE])
        rows = work.waiting(session=session, stage=work.REST)
        if not rows:
            return 0, output.report
        changes = [Change.of(row.event) for row in rows]
        items = queries.items_by_id(session, _ids(changes))
        places = [_place(item) for item in items] + [c.before for c in changes if c.before]
        rest_kinds = MonthPages | YearPages | TagPages | TagIndex
        targets: set[Target] = set()
        for place in places:
            targets |= {
                target
                for target in touched_targets(current=place)
                if isinstance(target, rest_kinds)
            }
        locks.lock(session, targets)
        months = {place.month for place in places}
        tags = {("region", slug) for place in places for slug in place.regions}
        tags |= {("topic", slug) for place in places for slug in place.topics}
        renderer = Renderer(session, site_of(session), output, utcnow(), months=months, tags=tags)
        # A month that gains its first item or loses its last changes the previous/next links
        # of the months beside it; a month page lists hundreds of items, so only then.
        had = queries.month_counts(session, months)
        renderer.count_months()
        renderer.count_tags()
        has = queries.month_counts(session, months)
        appeared_or_gone = {
            month for month in months if bool(had.get(month)) != bool(has.get(month))
        }
        if not is_postgres(session):
            # SQLite has one writer at a time, from its first write to its commit: the counts
            # are committed now, so that ingest's writes wait for them, not for every page
            # below. Recounting is idempotent; the events stay waiting until work.done.
            session.commit()
        for target in in_order(targets | _neighbours(session, appeared_or_gone)):
            renderer.render(target)
        renderer.render(ARCHIVE)
        work.done(session=session, rows=rows)
    return len(rows), output.report


def _ids(changes: list[Change]) -> set[uuid.UUID]:
    return {change.item_id for change in changes}


def _linking(
    session: Session, changes: list[Change], items: dict[uuid.UUID, Item], *, now: datetime
) -> set[Target]:
    """Pages that show the changed items or stood where they were: the neighbours whose
    previous/next links may show an item at any of its places, its old URLs."""
    found: set[Target] = set()
    for change in changes:
        item = items.get(change.item_id)
        times = {item.published_at} if item is not None else set()
        if change.before is not None:
            found.add(ItemUrl(change.before.month, change.before.slug))
            times.add(change.before_at)
        for published_at in sorted(times):
            position = (published_at, change.item_id)
            for neighbour in (
                queries.older(session, position, now=now),
                queries.newer(session, position, now=now),
            ):
                if neighbour is not None:
                    found.add(ItemUrl(neighbour.month, neighbour.slug))
    redirects = queries.redirects_to(session, _ids(changes))
    found.update(ItemUrl(month, slug) for month, slug in redirects)
    return found


def _neighbours(session: Session, months: set[str]) -> set[Target]:
    """The month and year pages whose previous/next links name one of `months` or its year,
    or would (counted now): a year whose month appeared or went may itself have done so.

    Not locked on their own: every event renders its month and year pages holding the
    archive's lock, so no two renders of one overlap, and a lock taken now, after the others,
    could wait in a cycle."""
    found: set[Target] = set()
    for month in months:
        found.update(MonthPages(m) for m in queries.adjacent_months(session, month) if m)
    for year in {month[:4] for month in months}:
        found.update(YearPages(y) for y in queries.adjacent_years(session, year) if y)
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
