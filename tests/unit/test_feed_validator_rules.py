"""The rules of the W3C feed validator that apply to our RSS 2.0 and Atom 1.0 feeds.

The validator itself cannot be installed here, so each check below restates one of its rules
in our own words and names, in a comment, the validator message it stands for. The checks
return the names of the messages a feed would get; our feeds must get none, and deliberately
broken feeds show that each kind of check reports what it should.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from html.entities import name2codepoint
from importlib.resources import files
from urllib.parse import urlsplit

import feedparser
import html5lib
import pytest
from babel import Locale, UnknownLocaleError
from lxml import etree

from services.render import feeds, views
from shared.config import Settings
from shared.markup import render_markdown
from shared.models import Item
from shared.taxonomy import DEFAULT_REGIONS, DEFAULT_TOPICS

ATOM = "http://www.w3.org/2005/Atom"
A = f"{{{ATOM}}}"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
DC = "http://purl.org/dc/elements/1.1/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)

# Characters of a URI (RFC 2396/3986): anything else (å, space, "|", ...) must be escaped.
URI_CHARS = r"[A-Za-z0-9;/?:@&=+$.\-_!~*'()%,#]"
ABSOLUTE_URI = re.compile(rf"[A-Za-z][A-Za-z0-9+.\-]*:{URI_CHARS}+")
HTTP_URL = re.compile(
    rf"https?://(?:[A-Za-z0-9\-]+\.)+[A-Za-z0-9][A-Za-z0-9\-]*(?::\d+)?/{URI_CHARS}*"
)
URN_UUID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MIME = re.compile(r"[A-Za-z0-9!#$&^_.+\-]+/[A-Za-z0-9!#$&^_.+\-]+")
RFC2822 = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r" \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}"
)
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HTML_END_TAG = re.compile(r"</[A-Za-z][A-Za-z0-9]*\s*>")
CHAR_REF = re.compile(r"&(#?\w+)")
UNSAFE_ELEMENTS = {
    "script",
    "style",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "form",
    "input",
    "button",
    "textarea",
    "select",
    "link",
    "meta",
    "base",
    "svg",
    "math",
}
REGISTERED_RELS = {"alternate", "self", "enclosure", "related", "via"}
RSS_CHANNEL = {
    "title",
    "link",
    "description",
    "language",
    "copyright",
    "managingEditor",
    "webMaster",
    "pubDate",
    "lastBuildDate",
    "category",
    "generator",
    "docs",
    "cloud",
    "ttl",
    "image",
    "rating",
    "textInput",
    "skipHours",
    "skipDays",
    f"{A}link",
    "item",
}
RSS_ITEM = {
    "title",
    "link",
    "description",
    "author",
    "category",
    "comments",
    "enclosure",
    "guid",
    "pubDate",
    "source",
    f"{{{CONTENT}}}encoded",
    f"{{{DC}}}creator",
}
ATOM_FEED = {
    "author",
    "category",
    "contributor",
    "generator",
    "icon",
    "id",
    "link",
    "logo",
    "rights",
    "subtitle",
    "title",
    "updated",
    "entry",
}
ATOM_ENTRY = {
    "author",
    "category",
    "content",
    "contributor",
    "id",
    "link",
    "published",
    "rights",
    "source",
    "summary",
    "title",
    "updated",
}


# The checks ---------------------------------------------------------------------------------


def _plausible(moment: datetime, problems: list[str]) -> None:
    # ImplausibleDate: before 1990 or more than ten minutes ahead of the clock.
    if moment.year < 1990 or moment > datetime.now(UTC) + timedelta(minutes=10):
        problems.append("ImplausibleDate")


def _rfc2822(value: str | None, problems: list[str]) -> None:
    # InvalidRFC2822Date / ProblematicalRFC822Date: "Thu, 29 Apr 2021 07:00:00 +0000" exactly;
    # IncorrectDOW: the weekday is the date's.
    if value is None or not RFC2822.fullmatch(value):
        problems.append("InvalidRFC2822Date")
        return
    moment = parsedate_to_datetime(value)
    if WEEKDAYS[moment.weekday()] != value[:3]:
        problems.append("IncorrectDOW")
    _plausible(moment, problems)


def _rfc3339(value: str | None, problems: list[str]) -> None:
    # InvalidRFC3339Date: seconds and an offset are required.
    if value is None or not RFC3339.fullmatch(value):
        problems.append("InvalidRFC3339Date")
        return
    _plausible(datetime.fromisoformat(value), problems)


def _absolute_uri(value: str | None, problems: list[str], message: str) -> None:
    # InvalidFullLink / InvalidIRI / InvalidUriChar: absolute, and only URI characters.
    if not value or not ABSOLUTE_URI.fullmatch(value):
        problems.append(message)


def _canonical(value: str, problems: list[str]) -> None:
    # NonCanonicalURI: ids compare character by character, so they must be written in the
    # one normal form: lower-case scheme and host, no default port, no dot segments,
    # upper-case percent-escapes.
    if value.startswith("urn:"):
        # InvalidUUID: a urn:uuid id is the UUID in its canonical lower-case form.
        if not URN_UUID.fullmatch(value) or str(uuid.UUID(value[9:])) != value[9:]:
            problems.append("InvalidUUID")
        return
    parts = urlsplit(value)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    if (
        value.split(":", 1)[0] != parts.scheme
        or parts.netloc != parts.netloc.lower()
        or (parts.port is not None and parts.port == default_port)
        or not parts.path
        or re.search(r"(^|/)\.\.?(/|$)", parts.path)
        or re.search(r"%[0-9a-f]?[a-f]", value)
    ):
        problems.append("NonCanonicalURI")


def _nonhtml(text: str | None, problems: list[str], message: str, *, rss: bool) -> None:
    # ContainsHTML (RSS) / ContainsUndeclaredHTML (Atom type="text"): plain text that an
    # aggregator could take for HTML: an HTML end tag, or a character reference.
    text = text or ""
    references = CHAR_REF.findall(text)
    if HTML_END_TAG.search(text) or any(
        name in name2codepoint or name == "apos" or not name.isalpha() for name in references
    ):
        problems.append(message)
    # CharacterData (RSS Profile): "<" before a letter or "/" in plain text.
    elif rss and re.search(r"&#[x0-9]|<[/a-zA-Z]", text):
        problems.append("CharacterData")


def _html(fragment: str | None, problems: list[str]) -> None:
    """RSS description and content:encoded, Atom content type="html"."""
    # NotHtml: the validator parses escaped HTML with html5lib in strict mode.
    try:
        tree = html5lib.HTMLParser(strict=True).parseFragment(fragment or "")
    except html5lib.html5parser.ParseError:
        problems.append("NotHtml")
        return
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.rsplit("}", 1)[-1]
        # SecurityRisk: elements that run code, load other documents or take input.
        if tag in UNSAFE_ELEMENTS:
            problems.append("SecurityRisk")
        for name, value in element.attrib.items():
            # SecurityRiskAttr / DangerousStyleAttr: event handlers and style attributes.
            if name.lower().startswith("on") or name.lower() == "style":
                problems.append("SecurityRiskAttr")
            if name in ("href", "src"):
                # ContainsRelRef: a link an aggregator cannot resolve away from the page.
                if not re.match(r"[A-Za-z][A-Za-z0-9+.\-]*:", value):
                    problems.append("ContainsRelRef")
                # SecurityRisk (javascript:, data: ...): only the web and mail.
                elif urlsplit(value).scheme.lower() not in ("http", "https", "mailto"):
                    problems.append("SecurityRisk")


def _characters(document: bytes, problems: list[str]) -> None:
    # BadCharacters: C1 controls (Windows-1252 read as Latin-1) or U+FFFD in the text.
    if re.search("[\x80-\x9f\ufffd]", document.decode("utf-8")):
        problems.append("BadCharacters")
    # SAXError: well-formed XML in UTF-8 with its declaration.
    if not document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>"):
        problems.append("SAXError")


def _language(value: str | None, problems: list[str]) -> None:
    # InvalidLanguage / MissingDCLanguage: an ISO 639 language code.
    try:
        Locale.parse((value or "").replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        problems.append("InvalidLanguage")


def rss_problems(document: bytes, location: str) -> list[str]:
    """What the validator would report on an RSS 2.0 feed served at `location`."""
    problems: list[str] = []
    _characters(document, problems)
    root = etree.fromstring(document)
    # InvalidRSSVersion; ReservedPrefix / NonstdPrefix / UnknownNamespace: the standard
    # prefixes of the namespaces the validator knows, nothing else.
    if root.tag != "rss" or root.get("version") != "2.0":
        problems.append("InvalidRSSVersion")
    if not set(root.nsmap.items()) <= {("atom", ATOM), ("content", CONTENT), ("dc", DC)}:
        problems.append("UnknownNamespace")
    [channel] = root.findall("channel")
    names = [child.tag for child in channel]
    # UndefinedElement: only RSS 2.0 elements and known extensions.
    if set(names) - RSS_CHANNEL:
        problems.append("UndefinedElement")
    # MisplacedItem (RSS Profile): the channel's elements come before its items.
    if "item" in names and set(names[names.index("item") :]) != {"item"}:
        problems.append("MisplacedItem")
    # MissingTitle / MissingLink / MissingDescription; DuplicateElement.
    for name in ("title", "link", "description"):
        if names.count(name) != 1:
            problems.append("MissingElement")
    _nonhtml(channel.findtext("title"), problems, "ContainsHTML", rss=True)
    _nonhtml(channel.findtext("description"), problems, "ContainsHTML", rss=True)
    _absolute_uri(channel.findtext("link"), problems, "InvalidFullLink")
    _language(channel.findtext("language"), problems)
    if channel.find("lastBuildDate") is not None:
        _rfc2822(channel.findtext("lastBuildDate"), problems)
    # MissingAtomSelfLink; SelfDoesntMatchLocation; SelfNotAtom.
    selfs = [link for link in channel.findall(f"{A}link") if link.get("rel") == "self"]
    if len(selfs) != 1:
        problems.append("MissingAtomSelfLink")
    elif selfs[0].get("href") != location:
        problems.append("SelfDoesntMatchLocation")
    elif selfs[0].get("type") != "application/rss+xml":
        problems.append("SelfNotAtom")
    guids: set[str] = set()
    for item in channel.iter("item"):
        children = [child.tag for child in item]
        if set(children) - RSS_ITEM:
            problems.append("UndefinedElement")
        # ItemMustContainTitleOrDescription; DuplicateElement.
        if "title" not in children and "description" not in children:
            problems.append("ItemMustContainTitleOrDescription")
        if any(children.count(name) > 1 for name in ("title", "link", "description", "guid")):
            problems.append("DuplicateElement")
        # NeedDescriptionBeforeContent (RSS Profile).
        encoded = f"{{{CONTENT}}}encoded"
        if encoded in children and (
            "description" not in children or children.index("description") > children.index(encoded)
        ):
            problems.append("NeedDescriptionBeforeContent")
        # DuplicateItemSemantics: author and dc:creator say the same.
        if "author" in children and f"{{{DC}}}creator" in children:
            problems.append("DuplicateItemSemantics")
        _nonhtml(item.findtext("title"), problems, "ContainsHTML", rss=True)
        _absolute_uri(item.findtext("link"), problems, "InvalidFullLink")
        _html(item.findtext("description"), problems)
        if item.find(encoded) is not None:
            _html(item.findtext(encoded), problems)
        _rfc2822(item.findtext("pubDate"), problems)
        # MissingGuid; DuplicateValue; InvalidPermalink: a urn:uuid is no permalink.
        guid = item.find("guid")
        if guid is None:
            problems.append("MissingGuid")
        else:
            if guid.text in guids:
                problems.append("DuplicateValue")
            guids.add(guid.text)
            if guid.get("isPermaLink") != "false" and not HTTP_URL.fullmatch(guid.text or ""):
                problems.append("InvalidPermalink")
        for category in item.findall("category"):
            # NotBlank; ContainsHTML.
            if not (category.text or "").strip():
                problems.append("NotBlank")
            _nonhtml(category.text, problems, "ContainsHTML", rss=True)
        enclosures = item.findall("enclosure")
        # DuplicateEnclosure: one enclosure per item.
        if len(enclosures) > 1:
            problems.append("DuplicateEnclosure")
        for enclosure in enclosures:
            # InvalidURLAttribute: an http(s) URL on a named host, in URI characters.
            if not HTTP_URL.fullmatch(enclosure.get("url") or ""):
                problems.append("InvalidURLAttribute")
            # MissingAttribute / InvalidIntegerAttribute / UseZeroForUnknown.
            if not (enclosure.get("length") or "").isdigit():
                problems.append("InvalidIntegerAttribute")
            # InvalidMIMEAttribute.
            if not MIME.fullmatch(enclosure.get("type") or ""):
                problems.append("InvalidMIMEAttribute")
    return problems


def _atom_links(parent: etree._Element, problems: list[str]) -> list[etree._Element]:
    links = parent.findall(f"{A}link")
    alternates = [
        (link.get("type"), link.get("hreflang"))
        for link in links
        if link.get("rel", "alternate") == "alternate"
    ]
    # DuplicateAtomLink: one alternate link per type and language.
    if len(alternates) != len(set(alternates)):
        problems.append("DuplicateAtomLink")
    for link in links:
        # UnregisteredAtomLinkRel.
        if link.get("rel", "alternate") not in REGISTERED_RELS:
            problems.append("UnregisteredAtomLinkRel")
        # MissingHref; InvalidIRI (hrefs in URI characters).
        _absolute_uri(link.get("href"), problems, "InvalidIRI")
        # InvalidMIMEType.
        if link.get("type") is not None and not MIME.fullmatch(link.get("type")):
            problems.append("InvalidMIMEType")
        # AttrNotBlank; ContainsHTML (title).
        if link.get("title") is not None:
            if not link.get("title").strip():
                problems.append("AttrNotBlank")
            _nonhtml(link.get("title"), problems, "ContainsHTML", rss=False)
        # InvalidNonNegativeInteger (length).
        if link.get("length") is not None and not link.get("length").isdigit():
            problems.append("InvalidNonNegativeInteger")
    return links


def _text_construct(element: etree._Element | None, problems: list[str]) -> None:
    if element is None:
        return
    kind = element.get("type", "text")
    # InvalidTextType.
    if kind not in ("text", "html", "xhtml"):
        problems.append("InvalidTextType")
    # NotBlank.
    if not (element.text or "").strip() and not len(element):
        problems.append("NotBlank")
    if kind == "html":
        _html(element.text, problems)
    elif kind == "text":
        _nonhtml(element.text, problems, "ContainsUndeclaredHTML", rss=False)


def atom_problems(document: bytes, location: str) -> list[str]:
    """What the validator would report on an Atom 1.0 feed served at `location`."""
    problems: list[str] = []
    _characters(document, problems)
    root = etree.fromstring(document)
    # AvoidNamespacePrefix / UnknownNamespace: Atom as the default namespace, nothing else.
    if root.tag != f"{A}feed" or root.nsmap != {None: ATOM}:
        problems.append("AvoidNamespacePrefix")
    # MissingDCLanguage / InvalidLanguage: xml:lang on the feed.
    _language(root.get(XML_LANG), problems)
    names = [child.tag.removeprefix(A) for child in root]
    # UndefinedElement.
    if set(names) - ATOM_FEED:
        problems.append("UndefinedElement")
    # MisplacedMetadata: the feed's elements come before its entries.
    if "entry" in names and set(names[names.index("entry") :]) != {"entry"}:
        problems.append("MisplacedMetadata")
    # MissingElement (title, id, updated); DuplicateElement.
    for name in ("title", "id", "updated"):
        if names.count(name) != 1:
            problems.append("MissingElement")
    _canonical(root.findtext(f"{A}id") or "", problems)
    _rfc3339(root.findtext(f"{A}updated"), problems)
    _text_construct(root.find(f"{A}title"), problems)
    _text_construct(root.find(f"{A}subtitle"), problems)
    feed_author = root.find(f"{A}author") is not None
    links = _atom_links(root, problems)
    # MissingSelf; SelfDoesntMatchLocation; SelfNotAtom.
    selfs = [link for link in links if link.get("rel") == "self"]
    if len(selfs) != 1:
        problems.append("MissingSelf")
    elif selfs[0].get("href") != location:
        problems.append("SelfDoesntMatchLocation")
    elif selfs[0].get("type") != "application/atom+xml":
        problems.append("SelfNotAtom")
    ids: set[str] = set()
    updated: set[str] = set()
    for entry in root.iter(f"{A}entry"):
        children = [child.tag.removeprefix(A) for child in entry]
        if set(children) - ATOM_ENTRY:
            problems.append("UndefinedElement")
        # MissingElement: title, id, updated, and an author here or on the feed.
        for name in ("title", "id", "updated"):
            if children.count(name) != 1:
                problems.append("MissingElement")
        if "author" not in children and not feed_author:
            problems.append("MissingElement")
        for author in entry.findall(f"{A}author"):
            # MissingElement (name); ContainsEmail: a name, not an address.
            name = author.findtext(f"{A}name") or ""
            if not name.strip():
                problems.append("MissingElement")
            if "@" in name:
                problems.append("ContainsEmail")
        entry_id = entry.findtext(f"{A}id") or ""
        _canonical(entry_id, problems)
        # DuplicateEntries: one entry per id.
        if entry_id in ids:
            problems.append("DuplicateEntries")
        ids.add(entry_id)
        # DuplicateUpdated: two entries updated at the very same time.
        stamp = entry.findtext(f"{A}updated")
        if stamp in updated:
            problems.append("DuplicateUpdated")
        updated.add(stamp)
        _rfc3339(stamp, problems)
        if entry.find(f"{A}published") is not None:
            _rfc3339(entry.findtext(f"{A}published"), problems)
        entry_links = _atom_links(entry, problems)
        # MissingTextualContent / MissingContentOrAlternate.
        if "content" not in children and "summary" not in children:
            problems.append("MissingTextualContent")
        if "content" not in children and not any(
            link.get("rel", "alternate") == "alternate" for link in entry_links
        ):
            problems.append("MissingContentOrAlternate")
        for name in ("title", "summary", "content"):
            _text_construct(entry.find(f"{A}{name}"), problems)
        for category in entry.findall(f"{A}category"):
            # MissingAttribute (term); InvalidFullLink (scheme); ContainsHTML (label).
            if not (category.get("term") or "").strip():
                problems.append("MissingAttribute")
            if category.get("scheme") is not None:
                _absolute_uri(category.get("scheme"), problems, "InvalidFullLink")
            _nonhtml(category.get("label"), problems, "ContainsHTML", rss=False)
    return problems


# The feeds ---------------------------------------------------------------------------------


def _site() -> views.Site:
    return views.Site(settings=Settings(), regions=DEFAULT_REGIONS, topics=DEFAULT_TOPICS)


def sample_items() -> list[Item]:
    """The sample items, newest first, with what the samples lack: authors, attachments
    (also at non-ASCII and IDN addresses), images, relative links, "<" and "&" in text and
    markup that the sanitizer has to remove."""
    data = json.loads((files("shared") / "data" / "sample_items.json").read_text("utf-8"))
    items = []
    for n, raw in enumerate(data["items"]):
        published = datetime.fromisoformat(raw["published_at"]).astimezone(UTC)
        body = raw["body"]
        if n % 3 == 0:
            body += (
                "\n\nLäs mer i [arkivet](/arkiv/), [om oss](../../../../vision/) och [här](#slut)."
                "\n\n![Karta över Skåne](/media/karta-skåne.png)"
                '\n\n<p onclick="alert(1)" style="color:red">Ö</p><script>alert(2)</script>'
                '<iframe src="https://example.org/"></iframe>'
            )
        attachments = []
        if n % 4 == 0:
            attachments = [
                {
                    "title": "Årsrapport 2021",
                    "url": "https://exempel.se/dokument/årsrapport|2021.pdf",
                },
                {"title": "Bilaga", "url": "https://exämpel.se/bilaga.docx"},
            ]
        items.append(
            Item(
                id=uuid.uuid5(uuid.NAMESPACE_URL, f"newsroom-sample-{n}"),
                slug=f"nyhet-{n}",
                month=published.strftime("%Y-%m"),
                title=raw["title"] + (" & Blekinge: frågor och svar" if n == 1 else ""),
                summary=raw["summary"] + (" Utsläppen < 5 % & målen > 2030." if n == 2 else ""),
                body_md=body,
                body_html=render_markdown(body),
                published_at=published,
                updated_at=published + timedelta(days=1, seconds=n),
                regions=raw["regions"],
                topics=raw["topics"],
                author_name=["Åsa Öberg", "Jörgen Näslund", None][n % 3],
                attachments=attachments,
                image={"url": "https://exempel.se/bilder/skärgård.jpg", "alt": "Skärgård"}
                if n % 2
                else None,
                status="published",
                version=1,
            )
        )
    return sorted(items, key=lambda item: item.published_at, reverse=True)


def _scopes(site: views.Site, items: list[Item]):
    yield feeds.site_scope(site), items
    yield (
        feeds.tag_scope(site, "region", "region-skane"),
        [item for item in items if "region-skane" in item.regions],
    )
    yield (
        feeds.tag_scope(site, "topic", "miljo"),
        [item for item in items if "miljo" in item.topics],
    )
    yield feeds.tag_scope(site, "topic", "handskar"), []  # a tag with no items yet


def test_our_feeds_break_none_of_the_validator_rules():
    site, items = _site(), sample_items()
    for scope, scoped in _scopes(site, items):
        written = feeds.render_feeds(site, scope, scoped)
        base = site.absolute(scope.base)
        assert rss_problems(written["rss.xml"], base + "rss.xml") == [], scope
        assert atom_problems(written["atom.xml"], base + "atom.xml") == [], scope
        for name in ("rss.xml", "atom.xml"):
            parsed = feedparser.parse(written[name])
            assert not parsed.bozo, (name, parsed.get("bozo_exception"))
            assert len(parsed.entries) == len(scoped)


def test_feeds_read_back_as_the_items_say():
    site, items = _site(), sample_items()
    written = feeds.render_feeds(site, feeds.site_scope(site), items)
    rss, atom = (feedparser.parse(written[name]) for name in ("rss.xml", "atom.xml"))
    document = json.loads(written["feed.json"])
    for item, rss_entry, atom_entry, json_entry in zip(
        items, rss.entries, atom.entries, document["items"], strict=True
    ):
        assert rss_entry.id == atom_entry.id == json_entry["id"] == f"urn:uuid:{item.id}"
        assert rss_entry.title == atom_entry.title == item.title
        # The summary is plain text, "<" and "&" included: RSS carries it as HTML.
        assert rss_entry.summary_detail.type == "text/html"
        assert html.unescape(rss_entry.summary) == item.summary
        assert atom_entry.summary == json_entry["summary"] == item.summary
    with_links = next(item for item in items if "arkivet" in item.body_md)
    entry = next(e for e in atom.entries if e.id == f"urn:uuid:{with_links.id}")
    page = site.absolute(with_links.path)
    assert f'href="{site.absolute("/arkiv/")}"' in entry.content[0].value
    assert f'href="{site.absolute("/vision/")}"' in entry.content[0].value
    assert f'href="{page}#slut"' in entry.content[0].value
    assert "karta-sk%C3%A5ne.png" in entry.content[0].value
    attached = next(item for item in items if item.attachments)
    entry = next(e for e in atom.entries if e.id == f"urn:uuid:{attached.id}")
    assert [link.href for link in entry.links if link.rel == "enclosure"] == [
        "https://exempel.se/dokument/%C3%A5rsrapport%7C2021.pdf",
        "https://xn--exmpel-cua.se/bilaga.docx",
    ]


# The checks can fail ------------------------------------------------------------------------


def _one_feed() -> tuple[dict[str, bytes], str]:
    site = _site()
    written = feeds.render_feeds(site, feeds.site_scope(site), sample_items()[:3])
    return written, site.absolute("/")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (b'rel="self"', b'rel="related"', "MissingAtomSelfLink"),
        (b"/rss.xml", b"/feed.rss", "SelfDoesntMatchLocation"),
        (b'isPermaLink="false"', b'isPermaLink="true"', "InvalidPermalink"),
        (b"<pubDate>", b"<pubDate>Fri, ", "InvalidRFC2822Date"),
        (b"&lt;p&gt;", b"&lt;p onclick='x()'&gt;", "SecurityRiskAttr"),
        (b"&lt;p&gt;", b"&lt;a href='/x'&gt;x&lt;/a&gt;&lt;p&gt;", "ContainsRelRef"),
        (b"&lt;/p&gt;", b"&lt;/div&gt;", "NotHtml"),
        (b"<title>", b"<title>&lt;b&gt;fet&lt;/b&gt; ", "ContainsHTML"),
        (b"<language>sv", b"<language>svenska", "InvalidLanguage"),
        (
            b"<dc:creator>",
            b"<author>a@example.org (A)</author><dc:creator>",
            "DuplicateItemSemantics",
        ),
        (b"<docs>", b"<blink/><docs>", "UndefinedElement"),
    ],
)
def test_the_rss_checks_fail_on_a_broken_feed(old, new, expected):
    written, base = _one_feed()
    assert old in written["rss.xml"]
    broken = written["rss.xml"].replace(old, new, 1)
    assert expected in rss_problems(broken, base + "rss.xml")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (b'rel="self"', b'rel="via"', "MissingSelf"),
        (
            b'/atom.xml" rel="self" type="application/atom+xml"',
            b'/atom.xml" rel="self" type="text/xml"',
            "SelfNotAtom",
        ),
        (b"<id>urn:uuid:", b"<id>urn:uuid:X", "InvalidUUID"),
        (b"<id>http://localhost:8000/", b"<id>HTTP://localhost:8000/", "NonCanonicalURI"),
        (b"<updated>", b"<updated>2021-04-29 ", "InvalidRFC3339Date"),
        (
            b'type="text/html"/>\n    <updated>',
            b'type="text/html"/>\n    <link href="http://x.example/" type="text/html"/>\n'
            + b"    <updated>",
            "DuplicateAtomLink",
        ),
        (
            b'rel="alternate" type="text/html"/>\n    <updated>',
            b'rel="replies" type="text/html"/>\n    <updated>',
            "UnregisteredAtomLinkRel",
        ),
        (b"<summary>", b"<summary>Se &amp;amp; ", "ContainsUndeclaredHTML"),
        (b"&lt;/p&gt;", b"&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;", "SecurityRisk"),
        (b' xml:lang="sv"', b"", "InvalidLanguage"),
    ],
)
def test_the_atom_checks_fail_on_a_broken_feed(old, new, expected):
    written, base = _one_feed()
    assert old in written["atom.xml"]
    broken = written["atom.xml"].replace(old, new, 1)
    assert expected in atom_problems(broken, base + "atom.xml")


def test_duplicate_ids_and_times_are_reported():
    site = _site()
    item = sample_items()[0]
    twice = feeds.render_feeds(site, feeds.site_scope(site), [item, item])
    assert "DuplicateValue" in rss_problems(twice["rss.xml"], site.absolute("/rss.xml"))
    problems = atom_problems(twice["atom.xml"], site.absolute("/atom.xml"))
    assert {"DuplicateEntries", "DuplicateUpdated"} <= set(problems)
