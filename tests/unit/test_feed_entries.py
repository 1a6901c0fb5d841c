"""Feed entries are built once per version of an item and reused: never stale, never different."""

from __future__ import annotations

import json
from datetime import timedelta

import feedparser

from services.render import feeds, views
from shared.config import Settings
from tests.unit.test_feed_validator_rules import _site, sample_items


def test_reused_entries_give_the_same_bytes_as_new_ones():
    site, items = _site(), sample_items()
    scope = feeds.site_scope(site)
    feeds.clear_entries()
    fresh = feeds.render_feeds(site, scope, items)
    assert feeds.render_feeds(site, scope, items) == fresh
    # A tag feed reuses the same entries; the site feed is unchanged after it.
    feeds.render_feeds(site, feeds.tag_scope(site, "region", "region-skane"), items[:5])
    assert feeds.render_feeds(site, scope, items) == fresh
    assert feeds.render_rss(site, scope, items) == fresh["rss.xml"]
    assert feeds.render_atom(site, scope, items) == fresh["atom.xml"]
    assert feeds.render_json_feed(site, scope, items) == fresh["feed.json"]


def test_an_edit_shows_at_once_and_keeps_the_entry_id():
    site, items = _site(), sample_items()[:3]
    scope = feeds.site_scope(site)
    before = feeds.render_feeds(site, scope, items)
    item = items[1]
    item.title = "Ny rubrik om Jämtland"
    item.updated_at += timedelta(hours=1)
    after = feedparser.parse(feeds.render_feeds(site, scope, items)["atom.xml"])
    assert after.entries[1].title == "Ny rubrik om Jämtland"
    assert after.entries[1].id == feedparser.parse(before["atom.xml"]).entries[1].id
    # Even a change that leaves `updated_at` as it was is never served from the cache.
    item.summary = "Ändrad utan ny tid."
    document = json.loads(feeds.render_json_feed(site, scope, items))
    assert document["items"][1]["summary"] == "Ändrad utan ny tid."
    assert document["items"][1]["id"] == f"urn:uuid:{item.id}"


def test_each_site_gets_its_own_entries():
    items = sample_items()[:2]
    other = views.Site(
        settings=Settings(public_url="https://nyheter.example.se"),
        regions=_site().regions,
        topics=_site().topics,
    )
    for site in (_site(), other):
        rss = feeds.render_rss(site, feeds.site_scope(site), items).decode()
        assert f"<link>{site.absolute(items[0].path)}</link>" in rss
