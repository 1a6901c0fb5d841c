"""The site's static pages (/{slug}/): which slugs the site's own URLs keep, which pages a
public body must have. Shared by ingest (which refuses a slug) and render (which writes)."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.models import Page

# Every first path segment the site, its services or its web server answer themselves.
RESERVED_SLUGS = frozenset(
    {
        "aktuellt",
        "amne",
        "api",
        "arkiv",
        "media",
        "metrics",
        "healthz",
        "prenumeration",
        "prenumerera",
        "readyz",
        "redaktion",
        "region",
        "sitemaps",
        "sok",
        "static",
    }
)
# Pages the network must have as a public body (and /vision/): they can be edited, not deleted.
REQUIRED_SLUGS = ("om-oss", "kontakt", "tillganglighetsredogorelse", "personuppgifter", "vision")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_MAX = 80


def slug_problem(slug: str) -> str | None:
    """Why `slug` cannot be a page's address (in Swedish), or None when it can."""
    if not slug:
        return "Skriv en adress för sidan, till exempel om-oss."
    if len(slug) > SLUG_MAX or not SLUG.fullmatch(slug):
        return (
            f"Adressen får bara innehålla små bokstäver a–z, siffror och bindestreck "
            f"(högst {SLUG_MAX} tecken), till exempel om-oss."
        )
    # The web server sends every path that begins with /redaktion to the editor (nginx.conf).
    if slug in RESERVED_SLUGS or slug.startswith("redaktion"):
        return f"Adressen /{slug}/ används redan av webbplatsen. Välj en annan adress."
    return None


def footer_pages(session: Session) -> tuple[tuple[str, str], ...]:
    """(slug, title) of every static page, by slug: the links of every page's footer."""
    query = (
        select(Page.slug, Page.title).where(Page.slug.not_in(RESERVED_SLUGS)).order_by(Page.slug)
    )
    return tuple((slug, title) for slug, title in session.execute(query))


__all__ = ["REQUIRED_SLUGS", "RESERVED_SLUGS", "SLUG", "footer_pages", "slug_problem"]
