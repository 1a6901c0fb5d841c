"""Feeds of items with uploaded media: RSS's one enclosure and Atom's enclosure links with
the exact length and type of the published file, JSON Feed's `image` and `attachments`, and
none of the W3C feed validator's rules broken (tests/unit/test_feed_validator_rules.py)."""

from __future__ import annotations

import json
import uuid

import feedparser
import pytest
from lxml import etree

from services.render import feeds, views
from shared import media
from shared.config import Settings
from shared.taxonomy import DEFAULT_REGIONS, DEFAULT_TOPICS
from tests.unit.test_feed_validator_rules import A, atom_problems, rss_problems, sample_items

BASE = "https://nyheter.exempel.se"
PHOTO = "/media/0123456789abcdef/"
REPORT = "/media/fedcba9876543210/"


def _file(folder: str, variant: str, name: str, kind: str, size: int, width=None, height=None):
    return media.PublishedFile(variant, folder + name, kind, size, width, height)


def stored_photo() -> media.StoredMedia:
    files = [_file(PHOTO, "original", "bild.jpg", "image/jpeg", 480_000, 1000, 700)]
    for width, height in ((480, 336), (960, 672), (1000, 700)):
        for kind, extension, size in (("avif", "avif", 20_000), ("webp", "webp", 30_000)):
            name = f"bild-{width}.{extension}"
            files.append(
                _file(PHOTO, f"{kind}-{width}", name, f"image/{kind}", size, width, height)
            )
        name = f"bild-{width}.jpg"
        files.append(
            _file(PHOTO, f"jpeg-{width}", name, "image/jpeg", 40_000 + width, width, height)
        )
    files.append(_file(PHOTO, "jpeg-600", "bild-600.jpg", "image/jpeg", 41_600, 600, 420))
    return media.StoredMedia(str(uuid.uuid4()), "image", PHOTO, files[0], tuple(files))


def stored_report() -> media.StoredMedia:
    original = _file(REPORT, "original", "rapport.pdf", "application/pdf", 2_411_725)
    return media.StoredMedia(str(uuid.uuid4()), "document", REPORT, original, (original,))


@pytest.fixture
def site() -> views.Site:
    return views.Site(
        settings=Settings(base_url=BASE), regions=DEFAULT_REGIONS, topics=DEFAULT_TOPICS
    )


@pytest.fixture
def items():
    photo, report = stored_photo(), stored_report()
    media.remember(photo)
    media.remember(report)
    items = sample_items()
    items[0].image = {"media_id": photo.id, "alt": "Deltagare vid workshopen & <samtalet>"}
    items[0].attachments = [
        {"title": "Verksamhetsrapport 2020", "media_id": report.id},
        {"title": "Program", "url": "https://exempel.se/program.pdf"},
    ]
    items[1].image = {"media_id": photo.id, "decorative": True}
    items[1].attachments = []
    yield items
    media.forget()
    feeds.clear_entries()


def test_feeds_with_media_break_none_of_the_validator_rules(site, items):
    written = feeds.render_feeds(site, feeds.site_scope(site), items)
    assert rss_problems(written["rss.xml"], BASE + "/rss.xml") == []
    assert atom_problems(written["atom.xml"], BASE + "/atom.xml") == []
    for name in ("rss.xml", "atom.xml"):
        parsed = feedparser.parse(written[name])
        assert not parsed.bozo, (name, parsed.get("bozo_exception"))


def test_rss_carries_the_uploaded_document_with_its_exact_length(site, items):
    rss = etree.fromstring(feeds.render_feeds(site, feeds.site_scope(site), items)["rss.xml"])
    first, second = rss.findall("channel/item")[:2]
    assert [dict(e.attrib) for e in first.findall("enclosure")] == [
        {"url": BASE + REPORT + "rapport.pdf", "length": "2411725", "type": "application/pdf"}
    ]
    # Without a document: the image, its widest JPEG.
    assert [dict(e.attrib) for e in second.findall("enclosure")] == [
        {"url": BASE + PHOTO + "bild-1000.jpg", "length": "41000", "type": "image/jpeg"}
    ]


def test_atom_links_every_file_with_length_and_type(site, items):
    atom = etree.fromstring(feeds.render_feeds(site, feeds.site_scope(site), items)["atom.xml"])
    entry = atom.findall(f"{A}entry")[0]
    enclosures = [dict(link.attrib) for link in entry.findall(f"{A}link[@rel='enclosure']")]
    assert enclosures == [
        {
            "href": BASE + REPORT + "rapport.pdf",
            "rel": "enclosure",
            "type": "application/pdf",
            "title": "Verksamhetsrapport 2020",
            "length": "2411725",
        },
        {
            "href": "https://exempel.se/program.pdf",
            "rel": "enclosure",
            "type": "application/pdf",
            "title": "Program",
        },
        {
            "href": BASE + PHOTO + "bild-1000.jpg",
            "rel": "enclosure",
            "type": "image/jpeg",
            "title": "Deltagare vid workshopen & <samtalet>",
            "length": "41000",
        },
    ]


def test_json_feed_has_the_image_and_the_documents(site, items):
    document = json.loads(feeds.render_feeds(site, feeds.site_scope(site), items)["feed.json"])
    first, second = document["items"][:2]
    assert first["image"] == second["image"] == BASE + PHOTO + "bild-1000.jpg"
    assert first["attachments"] == [
        {
            "url": BASE + REPORT + "rapport.pdf",
            "mime_type": "application/pdf",
            "title": "Verksamhetsrapport 2020",
            "size_in_bytes": 2411725,
        },
        {
            "url": "https://exempel.se/program.pdf",
            "mime_type": "application/pdf",
            "title": "Program",
        },
    ]
    assert "attachments" not in second


def test_sizes_in_swedish():
    assert media.human_size(2_411_725) == "2,3 MB"
    assert media.human_size(3 * 1024 * 1024) == "3 MB"
    assert media.human_size(87_000) == "85 kB"
    assert media.human_size(900) == "900 byte"
    assert media.format_name("application/pdf") == "PDF"
    assert (
        media.format_name("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        == "Word"
    )
