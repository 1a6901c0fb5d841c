"""Render the static site from the database: one event's pages, or the whole site."""

from __future__ import annotations

import concurrent.futures
import fcntl
import multiprocessing
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import and_, delete, func, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, lazyload, load_only

from services.render import feeds, views
from services.render.output import RenderReport, SiteOutput
from services.render.pages import (
    LATEST,
    TAG_PREFIX,
    Place,
    Target,
    first_targets,
    item_dir,
    lock_key,
    place_from_event,
    tag_dir,
    target_files,
    touched_targets,
)
from services.render.views import Month, Site
from shared.config import get_settings
from shared.db import get_engine, is_postgres, session_scope, utcnow
from shared.events import parse_event
from shared.models import Item, ItemTag, Page, RenderMonth, RenderRedirect
from shared.visibility import is_visible, visible

__all__ = ["RenderReport", "apply_event", "needs_rebuild", "rebuild"]

Progress = Callable[[int, int], None]
Position = tuple[datetime, uuid.UUID]  # an item's place in date order

# Static pages may not take a name the site already uses.
RESERVED_SLUGS = {"aktuellt", "arkiv", "region", "amne", "prenumerera", "static", "sitemaps"}
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
# A rebuild renders item pages in runs of this many, in date order; each process takes the
# next run when done with one, so all finish together (3 queries per run).
RUN = 500
# On SQLite renders are serialized (a lock in the process and a lock file beside the
# database), so the last writer of a file has read the newest committed state.
_sqlite_lock = threading.Lock()


def apply_event(*, event: dict, site_dir: Path, session: Session | None = None) -> RenderReport:
    """Re-render every page an event touches from the database's current state."""
    if session is None:
        with session_scope() as own_session:
            return apply_event(event=event, site_dir=site_dir, session=own_session)
    parsed = parse_event(event)
    previous = getattr(parsed, "previous", None)
    with _serialized(session):
        item = session.get(
            Item, parsed.item_id, options=[lazyload(Item.tags)], populate_existing=True
        )
        current = _place(item) if item is not None else None
        before = place_from_event(previous.model_dump() if previous else None)
        site = Site.from_settings(get_settings())
        months = {place.month for place in (current, before) if place is not None}
        renderer = _Renderer(session, site, SiteOutput(site_dir), utcnow(), months=months)
        # What readers look for first (the item's page, /aktuellt/, the front page and the site
        # feeds) is written and its locks released (the commit) before the rest is even looked
        # up, so the next event waits neither for this one's archive, month and tag pages nor
        # for their locks. Each page group is still rendered under its own lock, from the
        # state committed when it was taken.
        first = first_targets(current)
        _lock(session, first)
        # The clock after the locks: whatever was published before them is shown, even when
        # its own event rendered these pages while this one waited.
        renderer.now = utcnow()
        for target in sorted(first):
            renderer.render(target)
        session.commit()
    # On SQLite too, another event's first pages may be rendered before this one's rest.
    with _serialized(session):
        positions = [(p, parsed.item_id) for p in _published_ats(item, previous)]
        targets = touched_targets(
            current=current,
            previous=before,
            neighbours=_neighbours(session, positions, renderer.now),
            redirects=session.execute(
                select(RenderRedirect.month, RenderRedirect.slug).where(
                    RenderRedirect.item_id == parsed.item_id
                )
            ).all(),
        )
        rest = targets - first
        _lock(session, rest)
        renderer.now = utcnow()
        # After the locks: the old URL's page group is locked, so no two workers can wait on
        # each other's insert of this row while holding the other's lock.
        moved = before is not None and item is not None and previous.status == "published"
        if moved and (before.month, before.slug) != (item.month, item.slug):
            _remember_redirect(session, before, item.id)
        for target in sorted(rest):
            renderer.render(target)
        return renderer.output.report


def rebuild(
    *,
    site_dir: Path,
    progress: Progress | None = None,
    session: Session | None = None,
    workers: int = 1,
) -> RenderReport:
    """Render the whole site, streaming items; remove files that no longer belong.

    The report counts files and lists no path: a rebuild's memory does not grow with the size
    of the site (over an existing site, the paths it produced are still remembered for the
    removal of what no longer belongs).

    Up to `workers` processes render item pages at once: this one and forked helpers, when
    the rebuild reads through its own sessions from a database other processes can open. On
    PostgreSQL they all read one snapshot of the database (exported by this process).

    With `workers` > 1, call it only from a process that runs no other thread: a forked
    helper gets a copy of every lock as it was at the fork, held or not, but only the thread
    that forked. `newsroom rebuild`, `seed` and `run` call it before any other thread starts.
    """
    if session is not None:
        return _rebuild(session, Path(site_dir), progress, helpers=0)
    with session_scope() as own_session:
        shareable = is_postgres(own_session) or own_session.get_bind().url.database not in (
            None,
            "",
            ":memory:",
        )
        helpers = max(workers - 1, 0) if shareable else 0
        return _rebuild(own_session, Path(site_dir), progress, helpers=helpers)


def _rebuild(
    session: Session, site_dir: Path, progress: Progress | None, *, helpers: int
) -> RenderReport:
    with _serialized(session):
        now = utcnow()
        site = Site.from_settings(get_settings())
        # Into an empty folder nothing needs removing afterwards, so no path is remembered.
        fresh = not site_dir.exists() or not any(site_dir.iterdir())
        output = SiteOutput(site_dir, remember=not fresh, fresh=fresh, paths=False)
        renderer = _Renderer(session, site, output, now)
        snapshot = None
        if helpers and is_postgres(session):
            # Every process of the rebuild reads the same snapshot of the database. The month
            # counts are written first, in a transaction of their own: in the repeatable-read
            # one, writing a row an event changed meanwhile would fail.
            renderer.count_months()
            session.commit()
            snapshot = _export_snapshot(session)
        unlisted = Item.status != "published"
        total = session.scalar(select(func.count()).where(or_(visible(now), unlisted))) or 0
        runs = _Runs(_run_bounds(session, now, RUN))

        def report_progress() -> None:
            if progress:
                progress(runs.done.value, total)

        report_progress()
        task = {"site_dir": site_dir, "now": now, "fresh": fresh, "snapshot": snapshot}
        with _helpers(helpers, runs, **task) as tasks:
            try:
                renderer.render_chrome()
                renderer.render(LATEST)
                months = renderer.render_archive(count=snapshot is None)
                for month in months:
                    renderer.render(("month", month.month))
                for kind, slug in _all_tags(session, site):
                    renderer.render((kind, slug))
                for after, until in runs:
                    runs.count(renderer.write_items(after, until))
                    report_progress()
                for item in _stream(session, unlisted, order="asc"):
                    renderer.render(("item", item.month, item.slug))
                    runs.count(1)
                    if runs.done.value % 100 == 0:
                        report_progress()
                for month, slug in _orphan_redirects(session):
                    renderer.render(("item", month, slug))
                while concurrent.futures.wait(tasks, timeout=0.2).not_done:
                    report_progress()
                for task in tasks:
                    report, produced = task.result()
                    output.report.add(report)
                    if output.produced is not None:
                        output.produced |= produced
            finally:
                runs.stop()  # after a failure here, helpers take no further run
        if not fresh:
            output.prune()
        if progress:
            progress(total, total)
        return output.report


def needs_rebuild(*, site_dir: Path) -> bool:
    """True when the site folder holds no rendered site yet (`newsroom run` then rebuilds)."""
    return not (Path(site_dir) / "index.html").exists()


# Reading ---------------------------------------------------------------------------------


def _place(item: Item) -> Place:
    return Place(item.month, item.slug, tuple(item.regions or ()), tuple(item.topics or ()))


def _published_ats(item: Item | None, previous) -> list[datetime]:
    times = {item.published_at} if item is not None else set()
    if previous is not None:
        times.add(previous.published_at)
    return sorted(times)


def _newest_first(query):
    return query.order_by(Item.published_at.desc(), Item.id.desc())


def _older(session: Session, published_at: datetime, item_id: uuid.UUID, now: datetime):
    """The visible item just before a position (published_at, id) in date order."""
    # One plain upper bound either way, so the (status, published_at) index gives a range
    # scan that stops at the first row; the OR alone made SQLite scan (45 ms at 100k items).
    # After `now` every visible item is older; up to `now` every older item is visible.
    if published_at > now:
        condition = visible(now)
    else:
        condition = and_(Item.status == "published", _before((published_at, item_id)))
    query = select(Item).options(lazyload(Item.tags)).where(condition)
    return session.scalars(_newest_first(query).limit(1)).first()


def _newer(session: Session, published_at: datetime, item_id: uuid.UUID, now: datetime):
    """The visible item just after a position (published_at, id) in date order."""
    query = (
        select(Item)
        .options(lazyload(Item.tags))
        .where(visible(now), _after((published_at, item_id)))
    )
    return session.scalars(query.order_by(Item.published_at, Item.id).limit(1)).first()


def _neighbours(session, positions, now) -> set[tuple[str, str]]:
    """Items whose previous/next links may show the item at any of its positions."""
    found = set()
    for published_at, item_id in positions:
        for neighbour in (
            _older(session, published_at, item_id, now),
            _newer(session, published_at, item_id, now),
        ):
            if neighbour is not None:
                found.add((neighbour.month, neighbour.slug))
    return found


def _stream(session: Session, condition, order: str) -> Iterator[Item]:
    query = select(Item).options(lazyload(Item.tags)).where(condition)
    if order == "asc":
        query = query.order_by(Item.published_at, Item.id)
    # yield_per: fetched in batches (a server-side cursor on PostgreSQL), never all at once.
    # The session holds unchanged objects weakly: each is freed once the caller drops it.
    yield from session.scalars(query.execution_options(yield_per=500))


def _after(position: Position):
    """Items later than a position (published_at, id) in date order."""
    published_at, item_id = position
    # The plain bound first: an index range scan on SQLite too.
    return and_(
        Item.published_at >= published_at,
        or_(Item.published_at > published_at, Item.id > item_id),
    )


def _before(position: Position):
    """Items earlier than a position (published_at, id) in date order."""
    published_at, item_id = position
    return and_(
        Item.published_at <= published_at,
        or_(Item.published_at < published_at, Item.id < item_id),
    )


def _up_to(position: Position):
    """Items at or before a position (published_at, id) in date order."""
    published_at, item_id = position
    return and_(
        Item.published_at <= published_at,
        or_(Item.published_at < published_at, Item.id <= item_id),
    )


def _run_bounds(
    session: Session, now: datetime, size: int
) -> list[tuple[Position | None, Position | None]]:
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


def _all_tags(session: Session, site: Site) -> list[tuple[str, str]]:
    """Every region and topic of the taxonomy, plus any that items still carry."""
    tags = {("region", slug) for slug in site.regions} | {("topic", slug) for slug in site.topics}
    tags |= {tuple(row) for row in session.execute(select(ItemTag.kind, ItemTag.slug).distinct())}
    return sorted(tag for tag in tags if tag[0] in TAG_PREFIX)


def _orphan_redirects(session: Session) -> list[tuple[str, str]]:
    """Old URLs that no item occupies today."""
    occupied = select(Item.id).where(
        Item.month == RenderRedirect.month, Item.slug == RenderRedirect.slug
    )
    query = select(RenderRedirect.month, RenderRedirect.slug).where(~occupied.exists()).distinct()
    return sorted(tuple(row) for row in session.execute(query))


# Sharing a rebuild between processes -------------------------------------------------------


class _Runs:
    """The runs of item pages of one rebuild, taken one at a time by each of its processes."""

    def __init__(self, bounds: list[tuple[Position | None, Position | None]]) -> None:
        context = multiprocessing.get_context("fork")
        self.bounds = bounds
        self.next = context.Value("i", 0)  # shared with forked helpers, as `done` is
        self.done = context.Value("i", 0)  # pages written, for the progress bar

    def __iter__(self) -> Iterator[tuple[Position | None, Position | None]]:
        while True:
            with self.next.get_lock():
                index = self.next.value
                self.next.value = index + 1
            if index >= len(self.bounds):
                return
            yield self.bounds[index]

    def count(self, pages: int) -> None:
        with self.done.get_lock():
            self.done.value += pages

    def stop(self) -> None:
        with self.next.get_lock():
            self.next.value = len(self.bounds)


_runs: _Runs | None = None  # in a helper process: the runs it shares with its parent


@contextmanager
def _helpers(count: int, runs: _Runs, **task) -> Iterator[list[concurrent.futures.Future]]:
    """`count` helper processes rendering runs; their futures give what each one wrote.

    Forked: they start with the parent's imports and compiled templates (spawned ones would
    spend a second each on those) and share `runs` by inheritance."""
    if not count:
        yield []
        return
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(
        count, mp_context=context, initializer=_start_helper, initargs=(runs,)
    ) as pool:
        yield [pool.submit(_help, **task) for _ in range(count)]


def _start_helper(runs: _Runs) -> None:
    global _runs
    _runs = runs
    # The parent's pooled connections are the parent's: this process opens its own.
    get_engine().dispose(close=False)


def _help(
    *, site_dir: Path, now: datetime, fresh: bool, snapshot: str | None
) -> tuple[RenderReport, set | None]:
    """A helper process of a rebuild: item pages, run after run, until none is left."""
    assert _runs is not None
    with session_scope() as session:
        if snapshot is not None:
            _import_snapshot(session, snapshot)
        output = SiteOutput(site_dir, remember=not fresh, fresh=fresh, paths=False)
        renderer = _Renderer(session, Site.from_settings(get_settings()), output, now)
        for after, until in _runs:
            _runs.count(renderer.write_items(after, until))
    return output.report, output.produced


_SNAPSHOT_ID = re.compile(r"[0-9A-F]+(-[0-9A-F]+)+")
_REPEATABLE_READ = {"isolation_level": "REPEATABLE READ"}


def _export_snapshot(session: Session) -> str:
    """Begin a repeatable-read transaction and name its snapshot for the helper processes.

    It stays importable while this transaction is open: until the rebuild, which waits for
    its helpers, ends."""
    session.connection(execution_options=_REPEATABLE_READ)
    return session.scalar(text("SELECT pg_export_snapshot()"))


def _import_snapshot(session: Session, snapshot: str) -> None:
    """Begin a repeatable-read transaction that sees exactly what the exporting one sees."""
    if not _SNAPSHOT_ID.fullmatch(snapshot):  # a literal in the statement: no parameters
        raise ValueError(f"not a snapshot id: {snapshot!r}")
    session.connection(execution_options=_REPEATABLE_READ)
    session.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))


# Writing ---------------------------------------------------------------------------------


@contextmanager
def _serialized(session: Session):
    """On SQLite, one render at a time: in this process and in others on the same file."""
    if is_postgres(session):
        yield  # PostgreSQL: advisory locks per page group, taken in _lock
        return
    database = session.get_bind().url.database
    with _sqlite_lock:
        if not database or database == ":memory:":
            yield
            return
        # `newsroom rebuild` may run beside `newsroom run`: a file lock covers both processes.
        with open(f"{database}.render-lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _lock(session: Session, targets: set[Target]) -> None:
    """Take a transaction-scoped advisory lock per page group, in one global order."""
    if not is_postgres(session):
        return
    # Sorted keys: two workers never wait for each other in a cycle.
    for key in sorted({lock_key(target) for target in targets}):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _remember_redirect(session: Session, place: Place, item_id: uuid.UUID) -> None:
    """Record that a public URL moved; a rebuild renders its redirect page from this row."""
    dialect = postgresql if is_postgres(session) else sqlite
    statement = dialect.insert(RenderRedirect).values(
        month=place.month, slug=place.slug, item_id=item_id
    )
    session.execute(statement.on_conflict_do_nothing())


class _Renderer:
    """Renders page groups from the current database state into a site folder."""

    def __init__(
        self,
        session: Session,
        site: Site,
        output: SiteOutput,
        now: datetime,
        *,
        months: Iterable[str] | None = None,
    ) -> None:
        self.session = session
        self.site = site
        self.output = output
        self.now = now
        # The months whose item counts may have changed (an event's); None: every month.
        self.months = None if months is None else sorted(set(months))

    def render(self, target: Target) -> None:
        kind = target[0]
        if kind == "item":
            self.render_item_url(target[1], target[2])
        elif kind == "latest":
            self.render_latest()
        elif kind == "archive":
            self.render_archive()
        elif kind == "month":
            self.render_month(target[1])
        elif kind in TAG_PREFIX:
            self.render_tag(kind, target[1])
        else:
            raise ValueError(f"unknown target {target!r}")

    def _latest(self) -> list[Item]:
        query = select(Item).options(lazyload(Item.tags)).where(visible(self.now))
        return list(self.session.scalars(_newest_first(query).limit(views.LATEST_IN_FEED)))

    def _pages(self) -> list[Page]:
        query = select(Page).where(Page.slug.not_in(RESERVED_SLUGS)).order_by(Page.slug)
        return list(self.session.scalars(query))

    def render_item_url(self, month: str, slug: str) -> None:
        """Whatever belongs at an item URL: the item, a gone page, a redirect, or nothing."""
        (path,) = target_files(("item", month, slug))
        item = self.session.scalars(
            select(Item).options(lazyload(Item.tags)).where(Item.month == month, Item.slug == slug)
        ).first()
        if item is not None:
            if is_visible(item, now=self.now):
                self.write_item(
                    item,
                    newer=_newer(self.session, item.published_at, item.id, self.now),
                    older=_older(self.session, item.published_at, item.id, self.now),
                )
            elif item.status == "withdrawn":
                self.output.write(path, views.render_gone(self.site))
            else:
                self.output.remove(path)  # draft or scheduled: not public yet
            return
        query = (
            select(Item)
            .options(lazyload(Item.tags))
            .join(RenderRedirect, RenderRedirect.item_id == Item.id)
            .where(RenderRedirect.month == month, RenderRedirect.slug == slug)
            .order_by(Item.updated_at.desc(), Item.id.desc())
        )
        moved = list(self.session.scalars(query))
        target = next(
            (candidate for candidate in moved if is_visible(candidate, now=self.now)), None
        )
        if target is not None:
            self.output.write(path, views.render_redirect(self.site, target))
        elif any(candidate.status == "withdrawn" for candidate in moved):
            self.output.write(path, views.render_gone(self.site))
        else:
            self.output.remove(path)

    def write_items(self, after: Position | None, until: Position | None) -> int:
        """The pages of the visible items after `after` up to `until` in date order; how many.

        A window of three over the stream: each page's neighbours come from the stream itself
        (a query only at the ends), so memory stays flat and there is no query per item."""
        condition = visible(self.now)
        if after is not None:
            condition = and_(condition, _after(after))
        if until is not None:
            condition = and_(condition, _up_to(until))
        older: Item | None = None
        this: Item | None = None
        count = 0
        for newer in _stream(self.session, condition, order="asc"):
            if this is None:
                if after is not None:
                    older = _older(self.session, newer.published_at, newer.id, self.now)
            else:
                self.write_item(this, newer=newer, older=older)
                older = this
            this = newer
            count += 1
        if this is not None:
            newer = None
            if until is not None:
                newer = _newer(self.session, this.published_at, this.id, self.now)
            self.write_item(this, newer=newer, older=older)
        return count

    def write_item(self, item: Item, *, newer: Item | None, older: Item | None) -> None:
        path = f"{item_dir(item.month, item.slug)}/index.html"
        self.output.write(path, views.render_item(self.site, item, newer=newer, older=older))

    def render_latest(self) -> None:
        items = self._latest()
        self.output.write("index.html", views.render_front(self.site, items, self._pages()))
        self.output.write("aktuellt/index.html", views.render_latest(self.site, items))
        for name, data in feeds.render_feeds(self.site, feeds.site_scope(self.site), items).items():
            self.output.write(name, data)

    def render_archive(self, *, count: bool = True) -> list[Month]:
        """The archive and the sitemap index; `count`: bring the month counts up to date first."""
        if count:
            self.count_months()
        query = select(RenderMonth.month, RenderMonth.count).order_by(RenderMonth.month.desc())
        months = [Month(month, count) for month, count in self.session.execute(query)]
        self.output.write("arkiv/index.html", views.render_archive(self.site, months))
        self.output.write("sitemap.xml", views.render_sitemap_index(self.site, months))
        return months

    def count_months(self) -> None:
        """Bring the render_months rows of `self.months` (or of all months) up to date."""
        query = select(Item.month, func.count()).where(visible(self.now)).group_by(Item.month)
        if self.months is not None:
            # One month's rows through the (month, slug) index: the same cost at any size.
            query = query.where(Item.month.in_(self.months))
        counts = dict(self.session.execute(query).all())
        stale = select(RenderMonth.month).where(RenderMonth.month.not_in(counts))
        if self.months is not None:
            stale = stale.where(RenderMonth.month.in_(self.months))
        gone = list(self.session.scalars(stale))
        if gone:
            self.session.execute(delete(RenderMonth).where(RenderMonth.month.in_(gone)))
        if counts:
            dialect = postgresql if is_postgres(self.session) else sqlite
            statement = dialect.insert(RenderMonth).values(
                [{"month": month, "count": count} for month, count in sorted(counts.items())]
            )
            self.session.execute(
                statement.on_conflict_do_update(
                    index_elements=[RenderMonth.month], set_={"count": statement.excluded.count}
                )
            )

    def render_month(self, month: str) -> None:
        page, sitemap = target_files(("month", month))
        # A month may hold hundreds of items: only the columns its list and sitemap show.
        listed = load_only(*(getattr(Item, name) for name in LISTED_COLUMNS))
        query = select(Item).options(listed, lazyload(Item.tags)).where(visible(self.now))
        items = list(self.session.scalars(_newest_first(query.where(Item.month == month))))
        if not items:
            self.output.remove(page)
            self.output.remove(sitemap)
            return
        self.output.write(page, views.render_month(self.site, month, items))
        self.output.write(sitemap, views.render_month_sitemap(self.site, items))

    def render_tag(self, kind: str, slug: str) -> None:
        # Newest first along the tag's own (kind, slug, published_at) index, which holds each
        # item's date: the first 50 visible ones are found at once, however many the tag has
        # (ordering by the items' index instead walks all items until 50 carry the tag).
        query = (
            select(Item)
            .options(lazyload(Item.tags))
            .join(ItemTag, ItemTag.item_id == Item.id)
            .where(
                ItemTag.kind == kind,
                ItemTag.slug == slug,
                ItemTag.published_at <= self.now,
                visible(self.now),
            )
            .order_by(ItemTag.published_at.desc(), ItemTag.item_id.desc())
            .limit(views.LATEST_IN_FEED)
        )
        items = list(self.session.scalars(query))
        base = tag_dir(kind, slug)
        self.output.write(f"{base}/index.html", views.render_tag(self.site, kind, slug, items))
        scope = feeds.tag_scope(self.site, kind, slug)
        for name, data in feeds.render_feeds(self.site, scope, items).items():
            self.output.write(f"{base}/{name}", data)

    def render_chrome(self) -> None:
        """Files no event changes: stylesheet, crawler files, 404, subscribe and static pages."""
        for source in sorted(views.STATIC.rglob("*")):
            if source.is_file():
                relative = source.relative_to(views.STATIC).as_posix()
                self.output.write(f"static/{relative}", source.read_bytes())
        self.output.write("robots.txt", views.render_robots(self.site))
        self.output.write("404.html", views.render_not_found(self.site))
        self.output.write("prenumerera/index.html", views.render_subscribe(self.site))
        pages = self._pages()
        for page in pages:
            self.output.write(f"{page.slug}/index.html", views.render_static_page(self.site, page))
        self.output.write("sitemaps/sidor.xml", views.render_pages_sitemap(self.site, pages))
