"""Rendering without a database: Swedish dates, feeds from plain Item objects."""

import json
import uuid
from datetime import UTC, datetime

import feedparser

from services.render import feeds, views
from shared.config import Settings
from shared.models import Item


def _site() -> views.Site:
    return views.Site(
        settings=Settings(), regions={"region-skane": "Region Skåne"}, topics={"miljo": "Miljö"}
    )


def _item(**changes) -> Item:
    fields = dict(
        id=uuid.UUID("00000000-0000-4000-8000-000000000001"),
        slug="hej",
        month="2021-04",
        title="Hållbara inköp i Skåne",
        summary="Kort om åtgärder.",
        body_md="",
        body_html="<p>Brödtext med ö.</p>",
        published_at=datetime(2021, 4, 29, 7, tzinfo=UTC),
        updated_at=datetime(2021, 5, 2, 8, tzinfo=UTC),
        regions=["region-skane"],
        topics=["miljo"],
        author_name="Örjan Åberg",
        attachments=[{"title": "Plan", "url": "https://example.org/plan.pdf"}],
        image=None,
        status="published",
    )
    return Item(**{**fields, **changes})


def test_swedish_dates_have_no_abbreviation_dot():
    site = _site()
    assert site.format_date(datetime(2021, 4, 29, 7, tzinfo=UTC)) == "29 apr 2021"
    assert site.format_date(datetime(2021, 5, 31, 23, tzinfo=UTC)) == "1 juni 2021"  # local day
    for month in range(1, 13):
        assert "." not in site.format_date(datetime(2021, month, 10, tzinfo=UTC))
    assert site.month_name("2021-08") == "Augusti 2021"


def test_feeds_take_their_dates_from_the_data_and_repeat_byte_for_byte():
    site, items = _site(), [_item()]
    scope = feeds.site_scope(site)
    first = feeds.render_feeds(site, scope, items)
    assert feeds.render_feeds(site, scope, items) == first
    atom = feedparser.parse(first["atom.xml"])
    assert atom.feed.updated.startswith("2021-05-02T08:00:00")
    [entry] = atom.entries
    assert entry.id == "urn:uuid:00000000-0000-4000-8000-000000000001"
    assert [link.rel for link in entry.links] == ["alternate", "enclosure"]
    rss = feedparser.parse(first["rss.xml"])
    assert rss.entries[0].enclosures[0].href == "https://example.org/plan.pdf"
    feed = json.loads(first["feed.json"])
    assert feed["items"][0]["authors"] == [{"name": "Örjan Åberg"}]
    assert feed["items"][0]["tags"] == ["Region Skåne", "Miljö"]


def test_empty_feed_has_a_fixed_date():
    site = _site()
    rss = feedparser.parse(feeds.render_rss(site, feeds.site_scope(site), []))
    assert rss.feed.updated_parsed[:3] == (2000, 1, 1)


def test_a_time_to_the_microsecond_is_written_as_html_allows():
    # An item posted without a date is published "now", microseconds and all; HTML's
    # <time datetime> allows at most three digits of a second.
    moment = datetime(2021, 4, 29, 7, 0, 5, 198460, tzinfo=UTC)
    page = views.render_item(_site(), _item(published_at=moment), newer=None, older=None)
    assert '<time datetime="2021-04-29T09:00:05+02:00">29 apr 2021</time>' in page.decode()


def test_item_page_escapes_titles_but_keeps_sanitized_body():
    site = _site()
    page = views.render_item(
        site, _item(title="<script>x</script> & å"), newer=None, older=None
    ).decode()
    assert "&lt;script&gt;x&lt;/script&gt; &amp; å" in page
    assert "<p>Brödtext med ö.</p>" in page


def test_summaries_are_shown_as_written_on_one_line():
    site = _site()
    item = _item(summary="Nu publiceras vägledningen!\n\n- Vi är  glada.\u2028Läs mer")
    front = views.render_front(site, [item], []).decode()
    assert "<p>Nu publiceras vägledningen! - Vi är glada. Läs mer</p>" in front
    page = views.render_item(site, item, newer=None, older=None).decode()
    assert 'content="Nu publiceras vägledningen! - Vi är glada. Läs mer"' in page
    entry = json.loads(feeds.render_feeds(site, feeds.site_scope(site), [item])["feed.json"])
    assert entry["items"][0]["summary"] == "Nu publiceras vägledningen! - Vi är glada. Läs mer"
    # A no-break space on its own is meant; beside another space it is one space too many.
    assert views.plain("85\u00a0% av  dem\u00a0 här") == "85\u00a0% av dem här"


def test_item_page_prints_the_summary_once_when_the_body_begins_with_it():
    site = _site()
    once = [
        ("Tre regioner ses i Växjö.", "<p>Tre regioner ses i Växjö. De talar om textil.</p>"),
        ("Nu finns vägledningen!", "<p>Nu finns <strong>vägledningen</strong>!</p>"),
        ("Frukost & samtal\nom handskar.", "<p>Frukost &amp; samtal om handskar.</p>"),
        ("Ny rapport om handskar.", f'<p>Ny <a href="/{"x" * 900}">rapport</a> om handskar.</p>'),
    ]
    for summary, body in once:
        page = views.render_item(
            site, _item(summary=summary, body_html=body), newer=None, older=None
        ).decode()
        assert 'class="lead"' not in page, summary
    twice = [
        ("Tre regioner ses.", "<p>Tre regioner ses i Växjö.</p>"),
        ("Tre regioner", "<p>Tre regionerna ses.</p>"),
        ("Om handskar.", "<p>Något annat om handskar.</p>"),
    ]
    for summary, body in twice:
        page = views.render_item(
            site, _item(summary=summary, body_html=body), newer=None, older=None
        ).decode()
        assert f'<p class="lead">{summary}</p>' in page, summary


def test_a_body_that_is_the_summary_without_its_period_is_printed_once():
    page = views.render_item(
        _site(),
        _item(summary="Nu finns den!.", body_html="<p>Nu finns den!</p>"),
        newer=None,
        older=None,
    ).decode()
    assert 'class="lead"' not in page and "<p>Nu finns den!</p>" in page


def test_feeds_leave_out_the_characters_xml_cannot_hold():
    """U+FFFF and the other characters XML 1.0 forbids, in any field, from any path."""
    site, bad = _site(), "\uffff\ufffe\x01\x0b\x1f\ud7ff"
    item = _item(
        title=f"Rubrik{bad} om å",
        summary=f"Kort{bad} text.",
        body_html=f"<p>Brödtext{bad}</p>",
        author_name=f"Åsa{bad}",
        attachments=[{"title": f"Plan{bad}", "url": f"https://example.org/plan{bad}.pdf"}],
        regions=[f"region{bad}"],
    )
    for scope in (feeds.site_scope(site), feeds.tag_scope(site, "region", f"region{bad}")):
        out = feeds.render_feeds(site, scope, [item])
        for name in ("rss.xml", "atom.xml"):
            parsed = feedparser.parse(out[name])
            assert not parsed.bozo, parsed.get("bozo_exception")
            assert parsed.entries[0].title == "Rubrik\ud7ff om å"
        [entry] = json.loads(out["feed.json"])["items"]
        assert (
            entry["title"] == "Rubrik\ud7ff om å" and entry["summary"] == "Kort \ud7ff text."
        )  # \x0b and \x1f: white space
