"""Rendering from data to bytes: Jinja2 pages and sitemaps (the feeds are in feeds.py)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlencode, urlsplit
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from markupsafe import escape as escape_html

from services.render.pages import FEED_FILES, month_dir, tag_dir
from shared import dates, layout, media, subscribing, taxonomy
from shared.config import Settings
from shared.models import Item, Page

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
LATEST_ON_FRONT = 10
LATEST_ON_PAGE = 30
LATEST_IN_FEED = 50
TAG_KIND_NAMES = {"region": "Region", "topic": "Ämne"}
FEED_TYPES = {
    "rss.xml": "application/rss+xml",
    "atom.xml": "application/atom+xml",
    "feed.json": "application/feed+json",
}


# Any white space but a plain or no-break space, or a run of two: one space in its place.
_SPACES = re.compile(r"\s*[^\S \u00a0\u2007\u202f]\s*|\s{2,}")
_TAG = re.compile(r"<[^>]*>?")  # a tag, or one cut off at the end of a piece of HTML
_OPENING_TAGS = re.compile(r"(?:\s*<[^>]*>)*")
_WORD = re.compile(r"\w")


def plain(text: str) -> str:
    """Text on one line as written: line breaks and runs of white space become one space."""
    # Most text has nothing to change: str methods see that in a fraction of a regex's time.
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return _SPACES.sub(" ", text).strip()


def begins_with(body_html: str, text: str) -> bool:
    """True when the body's text begins with `text`, or is `text` without its final period."""
    wanted = plain(text)
    if not wanted:
        return False
    # First as the body usually is, its text right after its opening tags: a few string
    # comparisons (the text of the whole body costs a third of the page's time).
    start = _OPENING_TAGS.match(body_html).end()
    escaped = html.escape(wanted, quote=False)
    if body_html.startswith(escaped, start):
        after = body_html[start + len(escaped) : start + len(escaped) + 2]
        if after[:1] not in ("<", "&") or after == "</":
            return not _WORD.match(after)
    else:
        probe = body_html[start : start + len(escaped)]
        if not any(mark in probe for mark in ("<", "&", "\n", "  ", "\u00a0")):
            return False  # other words, with no markup or spacing that could explain it
    head = body_html[: 2 * len(wanted) + 200]
    found = plain(html.unescape(_TAG.sub("", head)))
    if len(found) <= len(wanted) and len(head) < len(body_html):
        found = plain(html.unescape(_TAG.sub("", body_html)))
    if found.startswith(wanted):
        # A whole word: "Tre regioner" is not the start of "Tre regionerna".
        return not _WORD.match(found, len(wanted))
    return wanted.endswith(".") and found == wanted[:-1]


class FeedLink(NamedTuple):
    """An autodiscovery link in a page's head (attributes: Jinja reads them directly)."""

    href: str
    type: str
    title: str


@dataclass(frozen=True)
class Month:
    """One month of the archive: "YYYY-MM" and how many visible items it holds."""

    month: str
    count: int

    @property
    def year(self) -> str:
        return self.month[:4]


_SITES: dict[tuple[str, tuple[tuple[str, str], ...]], Site] = {}


@dataclass
class Site:
    """What every page needs to know about the site: URLs, language, time zone, taxonomy."""

    settings: Settings
    regions: dict[str, str] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)
    # (slug, title) of the static pages every page's footer links.
    footer: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings, footer: tuple[tuple[str, str], ...] = ()) -> Site:
        """The site for these settings and footer, reused so templates compile once per
        process (the footer changes only when a static page is added, renamed or deleted)."""
        key = (settings.model_dump_json(), footer)
        site = _SITES.get(key)
        if site is None:
            if len(_SITES) > 8:  # tests switch settings often; a process keeps one
                _SITES.clear()
            site = _SITES[key] = cls(
                settings=settings,
                regions=taxonomy.regions(),
                topics=taxonomy.topics(),
                footer=footer,
            )
        return site

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    @cached_property
    def prefix(self) -> str:
        """The path the site lives under ("" at the root of its host)."""
        return urlsplit(self.settings.public_url).path.rstrip("/")

    def url(self, path: str) -> str:
        """A root-relative link to a site path such as "/arkiv/"."""
        return self.prefix + path

    def absolute(self, path: str) -> str:
        return self.settings.public_url + path

    def tag_name(self, kind: str, slug: str) -> str:
        names = self.regions if kind == "region" else self.topics
        return names.get(slug, slug)

    @cached_property
    def env(self) -> Environment:
        env = Environment(
            loader=FileSystemLoader([TEMPLATES, layout.TEMPLATES]),
            autoescape=select_autoescape(["html", "xml"], default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # Templates change only with a deploy: no stat() of each template file per page.
            auto_reload=False,
        )
        env.globals.update(
            site=self,
            site_title=self.settings.site_title,
            lang=self.settings.language,
            absolute=self.absolute,
            region_name=lambda slug: self.regions.get(slug, slug),
            topic_name=lambda slug: self.topics.get(slug, slug),
            # Uploaded media the renderer has loaded (shared.media.load_for) before rendering.
            item_image=media.item_image,
            item_documents=media.item_documents,
        )
        # Filters, not globals: Jinja calls a filter directly (a global goes through
        # Context.call), and folds a filter of a constant, such as '/arkiv/'|url, into the
        # compiled template. Both are pure: their output depends on the site only.
        env.filters.update(
            # The same few paths on every page (menu, feeds, tags): each escaped once.
            url=lru_cache(maxsize=4096)(lambda path: escape_html(self.url(path))),
            item_url=lambda item: self.url(item.path),
            tag_links=self.tag_links,
            tag_labels=self.tag_labels,
            alternate_links=self.alternate_links,
            date=self.format_date,
            iso=self.iso,
            month_name=self.month_name,
            plain=plain,
            region_names=lambda slugs: ", ".join(self.regions.get(s, s) for s in slugs),
        )
        return env

    def tag_links(self, slugs: Iterable[str], kind: str) -> Markup:
        """The list of links to tag pages (the tag_links macro), made once per set of tags."""
        return self._tag_links(kind, tuple(slugs))

    @cached_property
    def _tag_links(self) -> Callable[[str, tuple[str, ...]], Markup]:
        return lru_cache(maxsize=4096)(self.env.get_template("_macros.html").module.tag_links)

    def tag_labels(self, slugs: Iterable[str], kind: str) -> Markup:
        """An item's regions or topics as small labels (list items), made once per set."""
        return self._tag_labels(kind, tuple(slugs))

    @cached_property
    def _tag_labels(self) -> Callable[[str, tuple[str, ...]], Markup]:
        return lru_cache(maxsize=4096)(self.env.get_template("_macros.html").module.tag_labels)

    def alternate_links(self, feeds: tuple[FeedLink, ...]) -> Markup:
        """A page head's feed links (the alternate_links macro), made once per set of feeds."""
        return self._alternate_links(feeds)

    @cached_property
    def _alternate_links(self) -> Callable[[tuple[FeedLink, ...]], Markup]:
        macro = self.env.get_template("_macros.html").module.alternate_links
        return lru_cache(maxsize=256)(macro)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)

    def format_date(self, moment: datetime) -> str:
        """A date as Swedish readers write it, "29 apr 2021"."""
        return dates.short_date(
            moment, timezone=self.settings.timezone, language=self.settings.language
        )

    def iso(self, moment: datetime) -> str:
        """Local time to the second: HTML's <time> takes at most three decimals."""
        return self.local(moment).isoformat(timespec="seconds")

    def month_name(self, month: str) -> str:
        """The heading of a month page: "April 2021" for "2021-04"."""
        year, mm = month.split("-")
        return dates.month_heading(int(year), int(mm), language=self.settings.language)

    def page(self, template: str, **context: Any) -> bytes:
        return self.env.get_template(template).render(**context).encode()

    def feed_links(self, base: str = "/", title: str | None = None) -> tuple[FeedLink, ...]:
        """Autodiscovery links for the feeds under `base` (the site's or a tag's)."""
        if base == "/" and title is None:
            return self.site_feed_links
        label = title or self.settings.site_title
        return tuple(
            FeedLink(self.url(base + name), FEED_TYPES[name], f"{label} ({kind})")
            for name, kind in zip(FEED_FILES, ("RSS", "Atom", "JSON Feed"), strict=True)
        )

    @cached_property
    def site_feed_links(self) -> tuple[FeedLink, ...]:
        """The site's own feed links, which every page shows (made once)."""
        return self.feed_links("/", self.settings.site_title)


# Pages ------------------------------------------------------------------------------------


def render_item(site: Site, item: Item, *, newer: Item | None, older: Item | None) -> bytes:
    from services.render import sharing  # which renders with this module's Site: imported late

    changed = sharing.edited(item)
    return site.page(
        "item.html",
        item=item,
        edited=changed,
        sharing=sharing.item_tags(site, item, edited=changed),
        # The summary leads the page, unless the body begins with it: then it is said once.
        lead=None if begins_with(item.body_html, item.summary) else item.summary,
        newer=newer,
        older=older,
        canonical=site.absolute(item.path),
        feeds=site.feed_links(),
    )


def render_gone(site: Site) -> bytes:
    return site.page("gone.html", feeds=site.feed_links(), noindex=True)


def render_redirect(site: Site, target: Item) -> bytes:
    return site.page(
        "redirect.html",
        target=target,
        canonical=site.absolute(target.path),
        feeds=site.feed_links(),
        noindex=True,
    )


def render_front(site: Site, items: Sequence[Item], pages: Sequence[Page]) -> bytes:
    from services.render import sharing

    return site.page(
        "front.html",
        items=items[:LATEST_ON_FRONT],
        website=sharing.website(site),
        static_pages=pages,
        canonical=site.absolute("/"),
        feeds=site.feed_links(),
    )


def render_latest(site: Site, items: Sequence[Item]) -> bytes:
    return site.page(
        "latest.html",
        items=items[:LATEST_ON_PAGE],
        canonical=site.absolute("/aktuellt/"),
        feeds=site.feed_links(),
    )


def render_archive(site: Site, months: Sequence[Month]) -> bytes:
    years: dict[str, list[Month]] = {}
    for month in months:
        years.setdefault(month.year, []).append(month)
    return site.page(
        "archive.html",
        years=years,
        total=sum(month.count for month in months),
        canonical=site.absolute("/arkiv/"),
        feeds=site.feed_links(),
    )


def render_month(
    site: Site,
    month: str,
    items: Sequence[Item],
    *,
    earlier: str | None = None,
    later: str | None = None,
) -> bytes:
    return site.page(
        "month.html",
        month=month,
        items=items,
        earlier=earlier,
        later=later,
        canonical=site.absolute(f"/{month_dir(month)}/"),
        feeds=site.feed_links(),
    )


def subscribe_link(kind: str, slug: str) -> str:
    """The subscription form's path with this region or topic chosen."""
    return "/prenumerera/?" + urlencode({"region" if kind == "region" else "amne": slug})


def render_tag(site: Site, kind: str, slug: str, items: Sequence[Item]) -> bytes:
    name = site.tag_name(kind, slug)
    base = f"/{tag_dir(kind, slug)}/"
    return site.page(
        "tag.html",
        kind=kind,
        kind_name=TAG_KIND_NAMES[kind],
        slug=slug,
        name=name,
        subscribe=subscribe_link(kind, slug),
        items=items[:LATEST_ON_PAGE],
        canonical=site.absolute(base),
        feeds=site.feed_links(base, f"{site.settings.site_title}: {name}") + site.feed_links(),
    )


def render_static_page(site: Site, page: Page) -> bytes:
    return site.page(
        "page.html",
        page=page,
        canonical=site.absolute(f"/{page.slug}/"),
        feeds=site.feed_links(),
    )


def render_subscribe(site: Site) -> bytes:
    return site.page(
        "subscribe.html",
        regions=site.regions,
        topics=site.topics,
        rule=subscribing.CHOICE_RULE,
        example=subscribing.CHOICE_EXAMPLE,
        # The text notify stores with each subscription: shown here word for word.
        consent=subscribing.consent_text(site.settings.site_title),
        canonical=site.absolute("/prenumerera/"),
        feeds=site.feed_links(),
    )


def render_not_found(site: Site) -> bytes:
    return site.page("404.html", feeds=site.feed_links(), noindex=True)


def render_robots(site: Site) -> bytes:
    return f"User-agent: *\nAllow: /\n\nSitemap: {site.absolute('/sitemap.xml')}\n".encode()


# Sitemaps ---------------------------------------------------------------------------------

_SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def render_sitemap(site: Site, urls: Sequence[tuple[str, datetime | None]]) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<urlset xmlns="{_SITEMAP_NS}">']
    for path, modified in urls:
        lastmod = f"<lastmod>{modified.date().isoformat()}</lastmod>" if modified else ""
        lines.append(f"  <url><loc>{escape(site.absolute(path))}</loc>{lastmod}</url>")
    lines.append("</urlset>\n")
    return "\n".join(lines).encode()


def render_month_sitemap(site: Site, items: Sequence[Item]) -> bytes:
    return render_sitemap(site, [(item.path, item.updated_at) for item in items])


def render_sitemap_index(site: Site, months: Sequence[Month]) -> bytes:
    parts = ["/sitemaps/sidor.xml", "/sitemaps/arkiv.xml"]
    parts += [f"/sitemaps/{month.month}.xml" for month in months]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<sitemapindex xmlns="{_SITEMAP_NS}">']
    lines += [f"  <sitemap><loc>{escape(site.absolute(part))}</loc></sitemap>" for part in parts]
    lines.append("</sitemapindex>\n")
    return "\n".join(lines).encode()


def render_archive_sitemap(site: Site, months: Sequence[Month]) -> bytes:
    """The archive's year and month pages, newest first."""
    years = sorted({month.month[:4] for month in months}, reverse=True)
    paths = [f"/arkiv/{year}/" for year in years]
    paths += [f"/{month_dir(month.month)}/" for month in months]
    return render_sitemap(site, [(path, None) for path in paths])


def render_pages_sitemap(site: Site, pages: Sequence[Page]) -> bytes:
    paths = ["/", "/aktuellt/", "/arkiv/", "/prenumerera/", "/region/", "/amne/"]
    paths += [f"/{tag_dir('region', slug)}/" for slug in site.regions]
    paths += [f"/{tag_dir('topic', slug)}/" for slug in site.topics]
    paths += [f"/{page.slug}/" for page in pages]
    return render_sitemap(site, [(path, None) for path in paths])
