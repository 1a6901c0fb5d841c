"""The feeds: RSS 2.0 and Atom 1.0 (feedgen) and JSON Feed 1.1, for the site and each tag.

An item's entry depends on the item and the site only, and the same item appears in the site
feed, in its regions' and topics' feeds and in every feed written after it, so each entry is
built once per version of the item and each feed gets copies of its XML and its JSON.
"""

from __future__ import annotations

import copy
import html
import json
import mimetypes
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from feedgen.entry import FeedEntry
from feedgen.ext.dc import DcEntryExtension, DcExtension
from feedgen.feed import FeedGenerator
from lxml import etree
from lxml import html as lxml_html

from services.render import failures
from services.render.pages import TAG_PREFIX, tag_dir
from services.render.views import FEED_TYPES, LATEST_IN_FEED, Site, plain
from shared import media
from shared.models import Item

# An empty feed still needs an `updated` time, and it must not come from the clock.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# Entries kept per process (about 15 kB each): the 50 of every feed (1 + 22 regions + 17
# topics) fit.
ENTRY_CACHE_SIZE = 2048


@dataclass(frozen=True)
class FeedScope:
    """Which feed: the whole site (base "/") or one region or topic."""

    base: str
    title: str
    description: str


# What XML 1.0 cannot hold (lxml refuses to build a document with it): control characters,
# U+FFFE, U+FFFF and lone surrogates. Data stored before ingest refused them, or by another
# path, must not cost the site its feeds.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    """The text without the characters XML cannot hold."""
    return _NOT_XML.sub("", text)


def site_scope(site: Site) -> FeedScope:
    title = _xml(site.settings.site_title)
    return FeedScope("/", title, f"Nyheter från {title}")


def tag_scope(site: Site, kind: str, slug: str) -> FeedScope:
    name = _xml(site.tag_name(kind, slug))
    return FeedScope(
        _xml(f"/{tag_dir(kind, slug)}/"),
        f"{_xml(site.settings.site_title)}: {name}",
        f"Nyheter om {name}" if kind == "topic" else f"Nyheter från {name}",
    )


def _categories(site: Site, item: Item) -> list[tuple[str, str, str]]:
    """(term, label, scheme) for each region and topic of an item."""
    return [
        (_xml(slug), _xml(site.tag_name(kind, slug)), site.absolute(f"/{TAG_PREFIX[kind]}/"))
        for kind, slugs in (("region", item.regions), ("topic", item.topics))
        for slug in slugs or ()
    ]


def _attachment_type(url: str) -> str:
    return mimetypes.guess_type(urlsplit(url).path)[0] or "application/octet-stream"


# What a URI may hold besides letters, digits and "-._~" (RFC 3986 reserved characters and "%").
_URI_SAFE = ";/?:@&=+$,!*'()%#"
_URI = re.compile(r"[A-Za-z0-9\-._~;/?:@&=+$,!*'()%#]*")


def _uri(url: str) -> str:
    """An IRI as a URI (feeds require URIs): the host in IDNA, other characters that a URI
    cannot hold (å, ä, ö, "|", ...) as UTF-8 percent-escapes; a URI is returned unchanged."""
    if _URI.fullmatch(url):
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if not netloc.isascii():
        try:
            netloc = netloc.encode("idna").decode("ascii")
        except UnicodeError:  # not a host name IDNA can write: escaped like the rest
            netloc = quote(netloc, safe=":[]")
    return urlunsplit((parts.scheme, netloc, *(quote(part, safe=_URI_SAFE) for part in parts[2:])))


# An href or src that does not start with a scheme (nh3 always writes attributes in "").
_RELATIVE_REF = re.compile(r'\s(?:href|src)="(?![A-Za-z][A-Za-z0-9+.\-]*:)')


def _absolute_links(fragment: str, base: str) -> str:
    """The HTML with its relative links resolved against `base`: a feed entry is read away
    from the page it came from, and feed readers do not all apply xml:base."""
    if not _RELATIVE_REF.search(fragment):
        return fragment
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    root.make_links_absolute(base, resolve_base_href=False, handle_failures="ignore")
    return lxml_html.tostring(root, encoding="unicode")[len("<div>") : -len("</div>")]


class _Entry(FeedEntry):
    """One item's entry: its RSS and Atom XML and its JSON, built once with feedgen. Each
    feed gets copies of the XML (an lxml element has one parent)."""

    def __init__(self, site: Site, item: Item) -> None:
        super().__init__()
        # As load_extension("dc") does, without its import attempts (a file system search).
        self.register_extension("dc", DcEntryExtension, atom=False, rss=True)
        url = _xml(site.absolute(item.path))
        attachments = _enclosures(site, item)
        categories = _categories(site, item)
        body_html = _absolute_links(_xml(item.body_html), url)
        title, summary = _xml(item.title), _xml(plain(item.summary))
        author = _xml(item.author_name) if item.author_name else None
        self.id(f"urn:uuid:{item.id}")
        self.guid(f"urn:uuid:{item.id}", permalink=False)
        self.title(title)
        self.link(href=url, rel="alternate", type="text/html")
        if attachments:
            # RSS holds one enclosure per item: the first whose length is known (an uploaded
            # document, else the uploaded image); Atom gets all of them in _atom_links.
            first = next((found for found in attachments if found.length), attachments[0])
            self.enclosure(url=first.href, length=first.length or 0, type=first.type)
        self.published(item.published_at)
        self.updated(item.updated_at)
        self.summary(summary)
        # RSS's description is HTML: the plain-text summary goes in escaped.
        self.description(html.escape(summary, quote=False))
        self.content(body_html, type="html")
        if author:
            self.author({"name": author})
            self.dc.dc_creator(author)
        for term, label, scheme in categories:
            self.category(term=term, label=label, scheme=scheme)
        # Both in one document: an element made on its own has a whole document to itself.
        self._xml = etree.Element("entry")
        self._xml.append(super().rss_entry())
        self._xml.append(_atom_links(super().atom_entry(), url, attachments))
        data = _json_entry(
            site,
            item,
            url=url,
            title=title,
            summary=summary,
            author=author,
            body_html=body_html,
            categories=categories,
            attachments=attachments,
        )
        self.json = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        FeedEntry.__init__(self)  # what feedgen kept to build them is not needed any more
        self.updated_at = item.updated_at  # the feed's own `updated` is its newest entry's

    # lxml copies an element with all it holds (copy.copy does not need deepcopy's memo).
    def rss_entry(self, extensions: bool = True) -> etree._Element:
        return copy.copy(self._xml[0])

    def atom_entry(self, extensions: bool = True) -> etree._Element:
        return copy.copy(self._xml[1])


@dataclass(frozen=True)
class Enclosure:
    """A file an entry carries: a document, or the item's uploaded image (last)."""

    href: str
    title: str | None
    type: str
    length: int | None  # exact for uploaded media; unknown for a link elsewhere
    image: bool = False  # JSON Feed has `image` for it, and lists documents only


def _enclosures(site: Site, item: Item) -> list[Enclosure]:
    found = []
    for document in media.item_documents(item):
        title = _xml(document.title) if document.title else None
        if document.uploaded:
            href = _uri(site.absolute(document.href))
            found.append(Enclosure(href, title, document.content_type or "", document.size))
        else:
            href = _uri(document.href)
            found.append(Enclosure(href, title, _attachment_type(href), None))
    image = media.item_image(item)
    if image is not None and image.feed is not None:
        href = _uri(site.absolute(image.feed.path))
        title = _xml(image.alt) if image.alt else None
        found.append(Enclosure(href, title, image.feed.content_type, image.feed.size, image=True))
    return found


def _image_url(site: Site, item: Item) -> str | None:
    """The item's image for JSON Feed's `image`: the widest JPEG of an uploaded one."""
    image = media.item_image(item)
    if image is None:
        return None
    if image.feed is not None:
        return _uri(site.absolute(image.feed.path))
    return _uri(image.src)


def _atom_links(entry: etree._Element, url: str, attachments: list[Enclosure]) -> etree._Element:
    """Write the entry's links ourselves: feedgen 1.0 drops their rel, type and title.
    (feedgen's entry elements have no namespace: they take the feed's default one.)"""
    for link in entry.findall("link"):
        entry.remove(link)
    position = list(entry).index(entry.find("title")) + 1
    links = [{"href": url, "rel": "alternate", "type": "text/html"}]
    for attachment in attachments:
        link = {"href": attachment.href, "rel": "enclosure", "type": attachment.type}
        if attachment.title:
            link["title"] = attachment.title
        if attachment.length:
            link["length"] = str(attachment.length)
        links.append(link)
    for offset, attributes in enumerate(links):
        entry.insert(position + offset, etree.Element("link", attributes))
    return entry


_ENTRIES: dict[Any, tuple[tuple, _Entry]] = {}


def _entry(site: Site, item: Item) -> _Entry:
    """The item's entry, from the cache when nothing it is built from has changed (compared
    field by field, so an edit that keeps `updated_at` cannot serve a stale entry)."""
    state = (
        site,
        item.updated_at,
        item.version,
        item.title,
        item.summary,
        item.body_html,
        item.month,
        item.slug,
        item.published_at,
        item.author_name,
        item.regions,
        item.topics,
        item.attachments,
        item.image,
    )
    cached = _ENTRIES.get(item.id)
    if cached is not None and cached[0] == state:
        return cached[1]
    entry = _Entry(site, item)
    if len(_ENTRIES) >= ENTRY_CACHE_SIZE:
        _ENTRIES.pop(next(iter(_ENTRIES)), None)  # the oldest
    _ENTRIES[item.id] = (state, entry)
    return entry


def clear_entries() -> None:
    """Forget every built entry (the next feeds build theirs again)."""
    _ENTRIES.clear()


def _feed_links(fg: FeedGenerator, site: Site, scope: FeedScope, self_name: str) -> None:
    # feedgen takes the last feed link for RSS's <link>: the alternate must come last.
    href = site.absolute(scope.base + self_name)
    fg.link(href=href, rel="self", type=FEED_TYPES[self_name], replace=True)
    fg.link(href=site.absolute(scope.base), rel="alternate", type="text/html")


LeftOut = Callable[[Item, Exception], None]


def _entries(site: Site, items: Sequence[Item], left_out: LeftOut | None) -> list[_Entry]:
    """The entries of a feed's items. An item whose entry cannot be built is left out and
    passed to `left_out`; without one, the error stands."""
    built = []
    for item in items[:LATEST_IN_FEED]:
        try:
            built.append(_entry(site, item))
        except Exception as error:
            if left_out is None or not failures.is_data_fault(error):
                raise
            left_out(item, error)
    return built


def _feed_generator(site: Site, scope: FeedScope, entries: list[_Entry]) -> FeedGenerator:
    fg = FeedGenerator()
    fg.register_extension("dc", DcExtension, DcEntryExtension, atom=False, rss=True)
    fg.id(site.absolute(scope.base))
    fg.title(scope.title)
    fg.subtitle(scope.description)
    fg.language(site.settings.language)
    # Atom requires an author per entry; the site is the author of entries that name none.
    fg.author({"name": _xml(site.settings.site_title)})
    # The newest change among the entries: the feed changes only when its data does.
    fg.updated(max((entry.updated_at for entry in entries), default=EPOCH))
    for entry in entries:
        fg.add_entry(entry, order="append")
    return fg


def render_rss(
    site: Site, scope: FeedScope, items: Sequence[Item], *, left_out: LeftOut | None = None
) -> bytes:
    fg = _feed_generator(site, scope, _entries(site, items, left_out))
    _feed_links(fg, site, scope, "rss.xml")
    return fg.rss_str(pretty=True)


def render_atom(
    site: Site, scope: FeedScope, items: Sequence[Item], *, left_out: LeftOut | None = None
) -> bytes:
    fg = _feed_generator(site, scope, _entries(site, items, left_out))
    _feed_links(fg, site, scope, "atom.xml")
    return fg.atom_str(pretty=True)


def _json_entry(
    site: Site,
    item: Item,
    *,
    url: str,
    title: str,
    summary: str,
    author: str | None,
    body_html: str,
    categories: list[tuple[str, str, str]],
    attachments: list[Enclosure],
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": f"urn:uuid:{item.id}",
        "url": url,
        "title": title,
        "summary": summary,
        "content_html": body_html,
        "date_published": item.published_at.isoformat(),
        "date_modified": item.updated_at.isoformat(),
        "tags": [label for _term, label, _scheme in categories],
        "language": site.settings.language,
    }
    if author:
        data["authors"] = [{"name": author}]
    image = _image_url(site, item)
    if image:
        data["image"] = image
    if any(not attachment.image for attachment in attachments):
        data["attachments"] = [
            {
                "url": attachment.href,
                "mime_type": attachment.type,
                **({"title": attachment.title} if attachment.title else {}),
                **({"size_in_bytes": attachment.length} if attachment.length else {}),
            }
            for attachment in attachments
            if not attachment.image
        ]
    return data


def render_json_feed(
    site: Site, scope: FeedScope, items: Sequence[Item], *, left_out: LeftOut | None = None
) -> bytes:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1), key order fixed for byte stability."""
    return _json_feed(site, scope, _entries(site, items, left_out))


def _json_feed(site: Site, scope: FeedScope, entries: list[_Entry]) -> bytes:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": scope.title,
        "description": scope.description,
        "home_page_url": site.absolute(scope.base),
        "feed_url": site.absolute(scope.base + "feed.json"),
        "language": site.settings.language,
    }
    # Compact, as json.dumps(..., separators=(",", ":")) writes it; "items" comes last.
    head = json.dumps(feed, ensure_ascii=False, separators=(",", ":"))[:-1]
    return f'{head},"items":[{",".join(entry.json for entry in entries)}]}}\n'.encode()


def render_feeds(
    site: Site, scope: FeedScope, items: Sequence[Item], *, left_out: LeftOut | None = None
) -> dict[str, bytes]:
    """rss.xml, atom.xml and feed.json for one scope (one feedgen build for both XML feeds).

    An item whose entry cannot be built is left out of all three and passed to `left_out`."""
    entries = _entries(site, items, left_out)
    fg = _feed_generator(site, scope, entries)
    _feed_links(fg, site, scope, "rss.xml")
    rss = fg.rss_str(pretty=True)
    _feed_links(fg, site, scope, "atom.xml")
    atom = fg.atom_str(pretty=True)
    return {"rss.xml": rss, "atom.xml": atom, "feed.json": _json_feed(site, scope, entries)}
