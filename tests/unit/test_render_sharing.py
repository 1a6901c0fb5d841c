"""What machines and readers get from an item page and the front page: Open Graph, Twitter
card and schema.org JSON-LD (parsed and checked), byline, "Uppdaterad" and tag labels."""

from __future__ import annotations

import json
import re
from datetime import datetime

import html5lib

from services.render import sharing, views
from tests.unit.test_render_views import _item, _site

BASE = _site().settings.public_url
HOSTILE = 'Rubrik </script><script>alert(1)</script> <!-- & "citat" \u2028'


def _json_ld(page: str) -> list[dict]:
    """Every JSON-LD block of a page, read as a browser's HTML parser splits them."""
    document = html5lib.parse(page, namespaceHTMLElements=False)
    return [
        json.loads(script.text)
        for script in document.iter("script")
        if script.get("type") == "application/ld+json"
    ]


def _meta(page: str) -> dict[str, str]:
    document = html5lib.parse(page, namespaceHTMLElements=False)
    return {
        (meta.get("property") or meta.get("name")): meta.get("content")
        for meta in document.iter("meta")
        if meta.get("property") or meta.get("name")
    }


def _is_iso(value: str) -> bool:
    return datetime.fromisoformat(value).tzinfo is not None


def test_item_page_carries_a_valid_news_article():
    site = _site()
    image = {"url": "/media/bild-abc.jpg", "alt": "Förrådet"}
    page = views.render_item(site, _item(image=image), newer=None, older=None).decode()
    [article] = _json_ld(page)
    assert article["@context"] == "https://schema.org" and article["@type"] == "NewsArticle"
    url = BASE + "/aktuellt/2021/04/hej/"
    assert article["url"] == url and article["mainEntityOfPage"] == {"@type": "WebPage", "@id": url}
    assert article["headline"] == "Hållbara inköp i Skåne" and len(article["headline"]) <= 110
    assert article["description"] == "Kort om åtgärder."
    assert article["inLanguage"] == "sv-SE"
    assert _is_iso(article["datePublished"]) and _is_iso(article["dateModified"])
    assert article["datePublished"] <= article["dateModified"]
    assert article["author"] == {"@type": "Person", "name": "Örjan Åberg"}
    publisher = article["publisher"]
    assert publisher["@type"] == "Organization" and publisher["name"] == site.settings.site_title
    assert publisher["logo"]["@type"] == "ImageObject"
    assert publisher["logo"]["url"].endswith("/static/logo.png")
    assert article["image"] == [BASE + "/media/bild-abc.jpg"]
    assert article["keywords"] == ["Region Skåne", "Miljö"]


def test_item_page_open_graph_and_twitter_card():
    site = _site()
    image = {"url": "https://example.org/bild.jpg", "alt": "Förrådet"}
    meta = _meta(views.render_item(site, _item(image=image), newer=None, older=None).decode())
    assert meta["og:type"] == "article" and meta["og:locale"] == "sv_SE"
    assert meta["og:title"] == meta["twitter:title"] == "Hållbara inköp i Skåne"
    assert meta["og:description"] == meta["twitter:description"] == "Kort om åtgärder."
    assert meta["og:url"] == BASE + "/aktuellt/2021/04/hej/"
    assert meta["og:image"] == meta["twitter:image"] == "https://example.org/bild.jpg"
    assert meta["og:image:alt"] == "Förrådet"
    assert meta["twitter:card"] == "summary_large_image"
    # Without an image: a plain summary card and no image anywhere.
    page = views.render_item(site, _item(image=None), newer=None, older=None).decode()
    bare = _meta(page)
    assert bare["twitter:card"] == "summary" and "og:image" not in bare
    assert "image" not in _json_ld(page)[0]
    assert f'<link rel="canonical" href="{BASE}/aktuellt/2021/04/hej/">' in page


def test_hostile_titles_cannot_leave_the_json_ld_or_the_meta_tags():
    site = _site()
    item = _item(title=HOSTILE, summary=HOSTILE, author_name="</script>Eva")
    page = views.render_item(site, item, newer=None, older=None).decode()
    document = html5lib.parse(page, namespaceHTMLElements=False)
    scripts = list(document.iter("script"))
    assert [s.get("type") for s in scripts] == ["application/ld+json"]  # nothing else runs
    [article] = _json_ld(page)
    assert article["headline"] == sharing.plain(HOSTILE)
    assert article["author"]["name"] == "</script>Eva"
    assert "</script><script>" not in page and "<!--" not in page.split("<body>")[0]
    assert _meta(page)["og:title"] == sharing.plain(HOSTILE)


def test_front_page_names_the_site_and_its_search():
    site = _site()
    page = views.render_front(site, [_item()], []).decode()
    [website] = _json_ld(page)
    assert website["@context"] == "https://schema.org" and website["@type"] == "WebSite"
    assert website["url"] == BASE + "/" and website["name"]
    action = website["potentialAction"]
    assert action["@type"] == "SearchAction"
    template = action["target"]["urlTemplate"]
    assert template == BASE + "/sok/?q={search_term_string}"
    assert action["query-input"] == "required name=search_term_string"


def test_byline_names_author_and_update_and_tags_are_labels_not_headings():
    site = _site()
    edited = _item(version=2)  # saved again three days after its publication
    page = views.render_item(site, edited, newer=None, older=None).decode()
    byline = re.search(r'<p class="meta">.*?</p>', page).group(0)
    assert "Publicerad" in byline and "29 apr 2021" in byline
    assert '<span class="author">Örjan Åberg</span>' in byline
    assert 'Uppdaterad <time datetime="2021-05-02T10:00:00+02:00">2 maj 2021</time>' in byline
    assert '<a class="label" href="/region/region-skane/">Region Skåne</a>' in page
    assert '<a class="label" href="/amne/miljo/">Miljö</a>' in page
    assert not re.search(r"<h\d[^>]*>(Regioner|Ämnen)</h\d>", page)
    # Never edited, or saved only at its publication: no "Uppdaterad".
    for item in (
        _item(version=1),
        _item(version=3, updated_at=datetime.fromisoformat("2021-04-29T07:00:30+00:00")),
    ):
        assert "Uppdaterad" not in views.render_item(site, item, newer=None, older=None).decode()
