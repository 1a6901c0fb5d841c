"""Renders page groups (targets) from the database's current state into a site folder."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import partial

from sqlalchemy import and_, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.render import failures, feeds, media_files, navigation, queries, views
from services.render.output import SiteOutput
from services.render.pages import (
    Archive,
    ItemUrl,
    Latest,
    MonthPages,
    TagIndex,
    TagKind,
    TagPages,
    Target,
    YearPages,
    item_dir,
    tag_dir,
)
from services.render.queries import Bounds
from services.render.views import Month, Site
from shared import media
from shared.config import get_settings
from shared.db import is_postgres
from shared.models import Item, RenderMonth, RenderTag
from shared.sitepages import footer_pages
from shared.visibility import is_visible, visible


def count_months(session: Session, *, now: datetime, months: Iterable[str] | None = None) -> None:
    """Bring the render_months rows of `months` (None: of every month) up to date."""
    # Visible ones counted among all rows of a month, no status in the WHERE clause: the
    # month's rows through the (month, slug) index at any statistics (queries.py).
    query = select(Item.month, func.count().filter(visible(now))).group_by(Item.month)
    if months is not None:
        months = sorted(set(months))
        query = query.where(Item.month.in_(months))
    counts = {month: count for month, count in session.execute(query) if count}
    stale = select(RenderMonth.month).where(RenderMonth.month.not_in(counts))
    if months is not None:
        stale = stale.where(RenderMonth.month.in_(months))
    gone = list(session.scalars(stale))
    if gone:
        session.execute(delete(RenderMonth).where(RenderMonth.month.in_(gone)))
    if counts:
        dialect = postgresql if is_postgres(session) else sqlite
        statement = dialect.insert(RenderMonth).values(
            [{"month": month, "count": count} for month, count in sorted(counts.items())]
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[RenderMonth.month], set_={"count": statement.excluded.count}
            )
        )


def site_of(session: Session) -> Site:
    """The site as every page shows it now: settings, taxonomy and the footer's pages."""
    return Site.from_settings(get_settings(), footer=footer_pages(session))


def count_tags(
    session: Session, *, now: datetime, tags: Iterable[tuple[str, str]] | None = None
) -> None:
    """Bring the render_tags rows of `tags` ((kind, slug); None: every tag) up to date: each
    one's count of visible items and its newest."""
    rows = []
    for kind in ("region", "topic"):
        slugs = None if tags is None else {slug for k, slug in tags if k == kind}
        if slugs == set():
            continue
        counts = queries.tag_counts(session, kind, now=now, slugs=slugs)
        stale = select(RenderTag.slug).where(RenderTag.kind == kind)
        if slugs is not None:
            stale = stale.where(RenderTag.slug.in_(sorted(slugs)))
        gone = [slug for slug in session.scalars(stale) if slug not in counts]
        if gone:
            session.execute(
                delete(RenderTag).where(RenderTag.kind == kind, RenderTag.slug.in_(gone))
            )
        for slug, count in sorted(counts.items()):
            found = queries.tag_items(session, kind, slug, now=now, limit=1)
            newest_id = found[0].id if found else None
            rows.append({"kind": kind, "slug": slug, "count": count, "newest_id": newest_id})
    if rows:
        dialect = postgresql if is_postgres(session) else sqlite
        statement = dialect.insert(RenderTag).values(rows)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[RenderTag.kind, RenderTag.slug],
                set_={"count": statement.excluded.count, "newest_id": statement.excluded.newest_id},
            )
        )


class Renderer:
    """Renders page groups from the current database state into a site folder."""

    def __init__(
        self,
        session: Session,
        site: Site,
        output: SiteOutput,
        now: datetime,
        *,
        months: Iterable[str] | None = None,
        tags: Iterable[tuple[str, str]] | None = None,
        with_media: bool = True,
    ) -> None:
        self.session = session
        # Write an item's media files with its page (a rebuild writes them all at once).
        self.with_media = with_media
        self.site = site
        self.output = output
        self.now = now
        # The months whose item counts may have changed (an event's); None: every month.
        self.months = None if months is None else sorted(set(months))
        self.counted = False  # whether render_months holds those counts yet
        # The tags (kind, slug) whose counts may have changed; None: every tag.
        self.tags = None if tags is None else sorted(set(tags))
        self.tags_counted = False  # whether render_tags holds those counts yet
        # Visible items read already with their neighbours, by URL (see `know_run`).
        self.known: dict[tuple[str, str], tuple[Item, Item | None, Item | None]] = {}

    def know_run(self, items: Sequence[Item]) -> None:
        """Read the visible items from the oldest of `items` to the newest in date order at
        once, so that their pages need no query each (a burst: new items follow each other).
        Not when other items lie between more than as many again."""
        positions = sorted((item.published_at, item.id) for item in items)
        if not positions:
            return
        lowest, highest = positions[0], positions[-1]
        limit = 2 * len(positions) + 2
        run = queries.visible_from(self.session, lowest, now=self.now, limit=limit)
        ends = [index for index, item in enumerate(run) if (item.published_at, item.id) == highest]
        if not run or (run[0].published_at, run[0].id) != lowest or not ends:
            return
        end = ends[0]
        older = queries.older(self.session, lowest, now=self.now)
        for index in range(end + 1):
            if index + 1 < len(run):
                newer = run[index + 1]
            elif len(run) < limit:
                newer = None  # the newest visible item
            else:
                position = (run[index].published_at, run[index].id)
                newer = queries.newer(self.session, position, now=self.now)
            item = run[index]
            self.known[(item.month, item.slug)] = (item, newer, older)
            older = item

    def render(self, target: Target) -> None:
        match target:
            case ItemUrl(month, slug):
                self.render_item_url(month, slug)
            case Latest():
                self.render_latest()
            case Archive():
                self.render_archive()
            case MonthPages(month):
                self.render_month(month)
            case TagPages(kind, slug):
                self.render_tag(kind, slug)
            case YearPages(year):
                self.render_year(year)
            case TagIndex(kind):
                self.render_tag_index(kind)
            case _:
                raise ValueError(f"unknown target {target!r}")

    def render_item_url(self, month: str, slug: str) -> None:
        """Whatever belongs at an item URL: the item, a gone page, a redirect, or nothing."""
        url = ItemUrl(month, slug)
        if (month, slug) in self.known:
            item, newer, older = self.known[(month, slug)]
            self.write_item(item, newer=newer, older=older)
            self.output.remove(url.gone_page)
            return
        item = queries.item_at(self.session, month, slug)
        if item is not None:
            if is_visible(item, now=self.now):
                position = (item.published_at, item.id)
                self.write_item(
                    item,
                    newer=queries.newer(self.session, position, now=self.now),
                    older=queries.older(self.session, position, now=self.now),
                )
                self.output.remove(url.gone_page)
            elif item.status == "withdrawn":
                self.write_gone(url)
            else:
                self.remove_url(url)  # draft or scheduled: not public yet
            return
        moved = queries.moved_from(self.session, month, slug)
        target = next(
            (candidate for candidate in moved if is_visible(candidate, now=self.now)), None
        )
        if target is not None:
            self.output.write(url.page, views.render_redirect(self.site, target))
            self.output.remove(url.gone_page)
        elif any(candidate.status == "withdrawn" for candidate in moved):
            self.write_gone(url)
        else:
            self.remove_url(url)

    def write_gone(self, url: ItemUrl) -> None:
        """The Swedish page of a withdrawn item in place of its page: answered 410 Gone."""
        self.output.write(url.gone_page, views.render_gone(self.site))
        self.output.remove(url.page)

    def remove_url(self, url: ItemUrl) -> None:
        self.output.remove(url.gone_page)
        self.output.remove(url.page)  # and its folder, now empty

    def write_items(self, bounds: Bounds) -> int:
        """The pages of the visible items after `after` up to `until` in date order; how many.

        A window of three over the stream: each page's neighbours come from the stream itself
        (a query only at the ends), so memory stays flat and there is no query per item."""
        after, until = bounds
        condition = visible(self.now)
        if after is not None:
            condition = and_(condition, queries.after(after))
        if until is not None:
            condition = and_(condition, queries.up_to(until))
        older: Item | None = None
        this: Item | None = None
        count = 0
        for newer in queries.stream(self.session, condition, ascending=True):
            if this is None:
                if after is not None:
                    position = (newer.published_at, newer.id)
                    older = queries.older(self.session, position, now=self.now)
            else:
                self.write_item(this, newer=newer, older=older)
                older = this
            this = newer
            count += 1
        if this is not None:
            newer = None
            if until is not None:
                newer = queries.newer(self.session, (this.published_at, this.id), now=self.now)
            self.write_item(this, newer=newer, older=older)
        return count

    def write_item(self, item: Item, *, newer: Item | None, older: Item | None) -> None:
        path = f"{item_dir(item.month, item.slug)}/index.html"
        ids = media.item_media_ids(item)
        if ids:
            media.load(self.session, ids)
            if self.with_media:
                # Before the page: whoever reads it finds its images and documents there.
                media_files.publish(session=self.session, output=self.output, media_ids=ids)
        try:
            page = views.render_item(self.site, item, newer=newer, older=older)
        except Exception as error:
            if not failures.is_data_fault(error):
                raise
            self.left_out("item_page", item, error)
            self.remove_url(ItemUrl(item.month, item.slug))  # no stale page, no empty folder
            return
        self.output.write(path, page)

    def left_out(self, what: str, item: Item, error: Exception) -> None:
        """An item render could not render into an item page, a listing or a feed."""
        failures.left_out(item.id, what, error)
        self.output.report.failed.add(str(item.id))

    def listing(
        self,
        render: Callable[[Sequence[Item]], bytes],
        items: Sequence[Item],
        *,
        with_media: bool = True,
    ) -> tuple[bytes, list[Item]]:
        """A page that lists items, and the items it shows: all but those it cannot show.

        `with_media`: read the media the items show first (a month's list shows none, and its
        items are loaded without those columns)."""
        if with_media:
            media.load_for(self.session, items)
        try:
            return render(items), list(items)
        except Exception as error:
            if not failures.is_data_fault(error):
                raise
        # Rare, so simple: each item alone finds the ones at fault (a fault of the page itself
        # fails without any item too, and stops the render).
        shown = []
        for item in items:
            try:
                render([item])
            except Exception as error:
                if not failures.is_data_fault(error):
                    raise
                self.left_out("listing", item, error)
            else:
                shown.append(item)
        return render(shown), shown

    def write_feeds(self, scope: feeds.FeedScope, base: str, items: Sequence[Item]) -> None:
        left_out = partial(self.left_out, "feed")
        media.load_for(self.session, items)
        for name, data in feeds.render_feeds(self.site, scope, items, left_out=left_out).items():
            self.output.write(f"{base}{name}", data)

    def render_latest(self) -> None:
        items = queries.latest(self.session, now=self.now)
        pages = queries.static_pages(self.session)
        front, _ = self.listing(lambda shown: views.render_front(self.site, shown, pages), items)
        self.output.write("index.html", front)
        latest, _ = self.listing(lambda shown: views.render_latest(self.site, shown), items)
        self.output.write("aktuellt/index.html", latest)
        self.write_feeds(feeds.site_scope(self.site), "", items)

    def render_archive(self, *, count: bool = True) -> list[Month]:
        """The archive and its sitemaps; `count`: bring the month counts up to date first."""
        if count:
            self.count_months()
        query = select(RenderMonth.month, RenderMonth.count).order_by(RenderMonth.month.desc())
        months = [Month(month, count) for month, count in self.session.execute(query)]
        self.output.write("arkiv/index.html", views.render_archive(self.site, months))
        self.output.write("sitemap.xml", views.render_sitemap_index(self.site, months))
        self.output.write("sitemaps/arkiv.xml", views.render_archive_sitemap(self.site, months))
        return months

    def count_months(self) -> None:
        """Bring the counts of the months this render covers up to date, once."""
        if not self.counted:
            count_months(self.session, now=self.now, months=self.months)
            self.counted = True

    def render_month(self, month: str) -> None:
        page, sitemap = MonthPages(month).files()
        items = queries.month_items(self.session, month, now=self.now)
        if not items:
            self.output.remove(page)
            self.output.remove(sitemap)
            return
        earlier, later = queries.adjacent_months(self.session, month)
        data, shown = self.listing(
            lambda shown: views.render_month(self.site, month, shown, earlier=earlier, later=later),
            items,
            with_media=False,
        )
        self.output.write(page, data)
        self.output.write(sitemap, views.render_month_sitemap(self.site, shown))

    def render_tag(self, kind: TagKind, slug: str) -> None:
        items = queries.tag_items(self.session, kind, slug, now=self.now)
        base = tag_dir(kind, slug)
        page, _ = self.listing(lambda shown: views.render_tag(self.site, kind, slug, shown), items)
        self.output.write(f"{base}/index.html", page)
        self.write_feeds(feeds.tag_scope(self.site, kind, slug), f"{base}/", items)

    def render_static_pages(self) -> None:
        """Every static page and the sitemap of the site's own pages."""
        pages = queries.static_pages(self.session)
        for page in pages:
            self.output.write(f"{page.slug}/index.html", views.render_static_page(self.site, page))
        self.output.write("sitemaps/sidor.xml", views.render_pages_sitemap(self.site, pages))

    def render_static_page(self, slug: str) -> None:
        """One static page as the database holds it now: written, or removed when deleted."""
        page = queries.static_page(self.session, slug)
        if page is None:
            self.output.remove(f"{slug}/index.html")
        else:
            self.output.write(f"{slug}/index.html", views.render_static_page(self.site, page))

    def render_year(self, year: str) -> None:
        (page,) = YearPages(year).files()
        months = [Month(month, count) for month, count in queries.year_months(self.session, year)]
        if months:
            earlier, later = queries.adjacent_years(self.session, year)
            self.output.write(
                page, navigation.render_year(self.site, year, months, earlier=earlier, later=later)
            )
        else:
            self.output.remove(page)

    def count_tags(self) -> None:
        """Bring the counts of the tags this render covers up to date, once."""
        if not self.tags_counted:
            count_tags(self.session, now=self.now, tags=self.tags)
            self.tags_counted = True

    def render_tag_index(self, kind: TagKind) -> None:
        """/region/ or /amne/: each tag's count and newest item, as render_tags holds them."""
        self.count_tags()
        query = select(RenderTag.slug, RenderTag.count, RenderTag.newest_id).where(
            RenderTag.kind == kind
        )
        counted = {
            slug: (count, newest_id) for slug, count, newest_id in self.session.execute(query)
        }
        newest = queries.listed_by_id(self.session, [n for _, n in counted.values() if n])
        names = self.site.regions if kind == "region" else self.site.topics
        entries = []
        for slug in [*names, *sorted(set(counted) - set(names))]:
            count, newest_id = counted.get(slug, (0, None))
            item = newest.get(newest_id) if count else None
            entries.append(navigation.TagEntry(slug, self.site.tag_name(kind, slug), count, item))
        (page,) = TagIndex(kind).files()
        self.output.write(page, navigation.render_tag_index(self.site, kind, entries))

    def render_chrome(self) -> None:
        """Files no item event changes: stylesheet, crawler files, 404, subscribe, static pages."""
        for source in sorted(views.STATIC.rglob("*")):
            if source.is_file():
                relative = source.relative_to(views.STATIC).as_posix()
                self.output.write(f"static/{relative}", source.read_bytes())
        # Browsers ask for /favicon.ico whatever a page says (feeds, files): the same icon.
        self.output.write("favicon.ico", (views.STATIC / "favicon.ico").read_bytes())
        self.output.write("robots.txt", views.render_robots(self.site))
        self.output.write("404.html", views.render_not_found(self.site))
        self.output.write("prenumerera/index.html", views.render_subscribe(self.site))
        self.render_static_pages()
