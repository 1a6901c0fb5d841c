"""The pages that lead readers to items: /region/ and /amne/ with each tag's count and newest
item, and /arkiv/{yyyy}/ with a year's months."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.render.pages import TAG_PREFIX
from services.render.views import Month, Site
from shared.models import Item


@dataclass(frozen=True)
class TagEntry:
    """One region or topic on /region/ or /amne/: its count and its newest visible item."""

    slug: str
    name: str
    count: int
    newest: Item | None


def render_year(
    site: Site,
    year: str,
    months: Sequence[Month],
    *,
    earlier: str | None = None,
    later: str | None = None,
) -> bytes:
    return site.page(
        "year.html",
        year=year,
        months=months,
        earlier=earlier,
        later=later,
        total=sum(month.count for month in months),
        canonical=site.absolute(f"/arkiv/{year}/"),
        feeds=site.feed_links(),
    )


def render_tag_index(site: Site, kind: str, entries: Sequence[TagEntry]) -> bytes:
    base = f"/{TAG_PREFIX[kind]}/"
    return site.page(
        "tag_index.html",
        kind=kind,
        entries=entries,
        canonical=site.absolute(base),
        feeds=site.feed_links(),
    )
