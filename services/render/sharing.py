"""What machines read from a page: Open Graph and Twitter card tags, schema.org JSON-LD."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin

from markupsafe import Markup, escape

from services.render.views import Site, plain
from shared import media
from shared.models import Item

# A script element's text ends at the first "</script" whatever JSON says, and "<!--" changes
# how it is parsed: in JSON-LD these characters are written as \u escapes, which JSON reads as
# the same characters (the HTML spec's advice for data blocks).
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


# An item counts as edited when saved again more than this long after its publication time
# (a draft published at once is saved at its publication time, give or take a second).
EDIT_GRACE = timedelta(minutes=1)


def edited(item: Item) -> bool:
    """Whether an item page says "Uppdaterad": the item was changed after it was published."""
    if (item.version or 1) == 1 or item.updated_at is None:
        return False
    return item.updated_at - item.published_at > EDIT_GRACE


def json_ld(data: dict[str, Any]) -> Markup:
    """A JSON-LD script element that no text inside it can end or change."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).translate(_SCRIPT_SAFE)
    # U+2028/2029 are valid JSON but not JavaScript source: escaped too, for older readers.
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(f'<script type="application/ld+json">{text}</script>')


def image_url(site: Site, item: Item) -> str | None:
    """The absolute URL of an item's image, when it has one (an uploaded one: its widest JPEG)."""
    image = media.item_image(item)
    if image is None:
        return None
    url = image.feed.path if image.feed is not None else image.src
    return urljoin(site.settings.public_url + "/", url)


def _publisher(site: Site) -> dict[str, Any]:
    return {
        "@type": "Organization",
        "name": site.settings.site_title,
        "url": site.absolute("/"),
        "logo": {"@type": "ImageObject", "url": site.absolute("/static/logo.png")},
    }


def news_article(site: Site, item: Item, *, edited: bool) -> dict[str, Any]:
    """The schema.org NewsArticle of an item page."""
    url = site.absolute(item.path)
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "url": url,
        "headline": plain(item.title),
        "description": plain(item.summary),
        "inLanguage": "sv-SE",
        "datePublished": site.iso(item.published_at),
        "dateModified": site.iso(item.updated_at if edited else item.published_at),
        "publisher": _publisher(site),
    }
    if item.author_name:
        data["author"] = {"@type": "Person", "name": item.author_name}
    else:
        data["author"] = {"@type": "Organization", "name": site.settings.site_title}
    if image := image_url(site, item):
        data["image"] = [image]
    tags = [site.regions.get(s, s) for s in item.regions or ()]
    tags += [site.topics.get(s, s) for s in item.topics or ()]
    if tags:
        data["keywords"] = tags
    return data


def item_tags(site: Site, item: Item, *, edited: bool) -> Markup:
    """The head of an item page for sharing: Open Graph, Twitter card and NewsArticle."""
    image = image_url(site, item)
    properties = [
        ("og:type", "article"),
        ("og:locale", "sv_SE"),
        ("og:site_name", site.settings.site_title),
        ("og:title", plain(item.title)),
        ("og:description", plain(item.summary)),
        ("og:url", site.absolute(item.path)),
        ("article:published_time", site.iso(item.published_at)),
    ]
    if edited:
        properties.append(("article:modified_time", site.iso(item.updated_at)))
    names = [
        ("twitter:card", "summary_large_image" if image else "summary"),
        ("twitter:title", plain(item.title)),
        ("twitter:description", plain(item.summary)),
    ]
    if image:
        properties.append(("og:image", image))
        names.append(("twitter:image", image))
        if alt := (item.image or {}).get("alt"):
            properties.append(("og:image:alt", plain(alt)))
            names.append(("twitter:image:alt", plain(alt)))
    lines = [
        f'<meta property="{escape(key)}" content="{escape(value)}">' for key, value in properties
    ]
    lines += [f'<meta name="{escape(key)}" content="{escape(value)}">' for key, value in names]
    lines.append(json_ld(news_article(site, item, edited=edited)))
    return Markup("\n".join(lines))


def website(site: Site) -> Markup:
    """The front page's schema.org WebSite, with the search as its SearchAction."""
    return json_ld(
        {
            "@context": "https://schema.org",
            "@type": "WebSite",
            "name": site.settings.site_title,
            "url": site.absolute("/"),
            "inLanguage": "sv-SE",
            "potentialAction": {
                "@type": "SearchAction",
                "target": {
                    "@type": "EntryPoint",
                    "urlTemplate": site.absolute("/sok/") + "?q={search_term_string}",
                },
                "query-input": "required name=search_term_string",
            },
        }
    )
