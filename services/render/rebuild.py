"""The whole site from the database, shared between forked processes that read one snapshot.

A rebuild is an edge of its own, as a task is: it opens its sessions (one per process) and
commits them, since its helper processes cannot share a caller's session.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from services.render import locks, media_files, queries
from services.render.output import RenderReport, SiteOutput
from services.render.pages import LATEST, ItemUrl, MonthPages, TagIndex, TagPages, YearPages
from services.render.queries import Bounds
from services.render.renderer import Renderer, count_months, count_tags, site_of
from services.render.views import Site
from shared.db import get_engine, session_scope, utcnow
from shared.models import Item
from shared.visibility import visible

Progress = Callable[[int, int], None]

# A rebuild renders item pages in runs of this many, in date order; each process takes the
# next run when done with one, so all finish together (3 queries per run).
RUN = 500


def rebuild(*, site_dir: Path, progress: Progress | None = None, workers: int = 1) -> RenderReport:
    """Render the whole site, streaming items; remove files that no longer belong.

    The report counts files and lists no path: a rebuild's memory does not grow with the size
    of the site (over an existing site, the paths it produced are still remembered for the
    removal of what no longer belongs).

    Up to `workers` processes render item pages at once: this one and forked helpers, when
    the database is one other processes can open. On PostgreSQL they all read one snapshot
    of the database (exported by this process).

    With `workers` > 1, call it only from a process that runs no other thread: a forked
    helper gets a copy of every lock as it was at the fork, held or not, but only the thread
    that forked. `newsroom rebuild`, `seed` and `run` call it before any other thread starts.
    """
    site_dir = Path(site_dir)
    url = get_engine().url
    postgres = url.get_backend_name() == "postgresql"
    shareable = postgres or url.database not in (None, "", ":memory:")
    helpers = max(workers - 1, 0) if shareable else 0
    snapshot = helpers > 0 and postgres
    counted_at = None
    if snapshot:
        # Every process of the rebuild reads the same snapshot of the database. The month and
        # tag counts are a unit of work of their own, committed before it: in the
        # repeatable-read transaction, writing a row an event changed meanwhile would fail.
        counted_at = utcnow()
        with session_scope() as session:
            count_months(session, now=counted_at)
            count_tags(session, now=counted_at)
    with session_scope() as session:
        return _render_site(
            session, site_dir, progress, counted_at=counted_at, helpers=helpers, snapshot=snapshot
        )


def _render_site(
    session: Session,
    site_dir: Path,
    progress: Progress | None,
    *,
    counted_at: datetime | None,
    helpers: int,
    snapshot: bool,
) -> RenderReport:
    with locks.serialized(session):
        # The clock under the lock (on SQLite, after any render it waited for), unless the
        # month counts were taken at a time of their own.
        now = counted_at or utcnow()
        # The snapshot first: the transaction's first query (the footer's pages) fixes it.
        snapshot_id = _export_snapshot(session) if snapshot else None
        site = site_of(session)
        # Into an empty folder nothing needs removing afterwards, so no path is remembered.
        fresh = not site_dir.exists() or not any(site_dir.iterdir())
        output = SiteOutput(site_dir, remember=not fresh, fresh=fresh, paths=False)
        renderer = Renderer(session, site, output, now, with_media=False)
        renderer.tags_counted = counted_at is not None  # counted before the snapshot
        unlisted = Item.status != "published"
        total = session.scalar(select(func.count()).where(or_(visible(now), unlisted))) or 0
        runs = _Runs(queries.run_bounds(session, now=now, size=RUN))

        def report_progress() -> None:
            if progress:
                progress(runs.done.value, total)

        report_progress()
        task = {"site_dir": site_dir, "now": now, "fresh": fresh, "snapshot": snapshot_id}
        with _helpers(helpers, runs, **task) as tasks:
            try:
                renderer.render_chrome()
                # Every stored medium, used by an item or not: its URL was answered at upload.
                media_files.publish_all(session=session, output=output)
                renderer.render(LATEST)
                months = renderer.render_archive(count=counted_at is None)
                for month in months:
                    renderer.render(MonthPages(month.month))
                for year in sorted({month.year for month in months}):
                    renderer.render(YearPages(year))
                for tag in _all_tags(session, site):
                    renderer.render(tag)
                renderer.render(TagIndex("region"))
                renderer.render(TagIndex("topic"))
                for bounds in runs:
                    runs.count(renderer.write_items(bounds))
                    report_progress()
                for item in queries.stream(session, unlisted, ascending=True):
                    renderer.render(ItemUrl(item.month, item.slug))
                    runs.count(1)
                    if runs.done.value % 100 == 0:
                        report_progress()
                for month, slug in queries.orphan_redirects(session):
                    renderer.render(ItemUrl(month, slug))
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


def _all_tags(session: Session, site: Site) -> list[TagPages]:
    """Every region and topic of the taxonomy, plus any that items still carry."""
    tags = {("region", slug) for slug in site.regions} | {("topic", slug) for slug in site.topics}
    tags |= queries.item_tags(session)
    return [TagPages(kind, slug) for kind, slug in sorted(tags) if kind in ("region", "topic")]


# Sharing a rebuild between processes -------------------------------------------------------


class _Runs:
    """The runs of item pages of one rebuild, taken one at a time by each of its processes."""

    def __init__(self, bounds: list[Bounds]) -> None:
        context = multiprocessing.get_context("fork")
        self.bounds = bounds
        self.next = context.Value("i", 0)  # shared with forked helpers, as `done` is
        self.done = context.Value("i", 0)  # pages written, for the progress bar

    def __iter__(self) -> Iterator[Bounds]:
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
    # The helper's own session: a process of its own, this is its edge.
    with session_scope() as session:
        if snapshot is not None:
            _import_snapshot(session, snapshot)
        output = SiteOutput(site_dir, remember=not fresh, fresh=fresh, paths=False)
        renderer = Renderer(session, site_of(session), output, now, with_media=False)
        for bounds in _runs:
            _runs.count(renderer.write_items(bounds))
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
