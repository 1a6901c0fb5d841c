"""Which pages an event touches and which files each page group writes (pure, no I/O).

A target is a group of files rendered from one query, so one lock and one read cover it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

TAG_PREFIX = {"region": "region", "topic": "amne"}
FEED_FILES = ("rss.xml", "atom.xml", "feed.json")
GONE_PAGE = "410.html"

TagKind = Literal["region", "topic"]


def item_dir(month: str, slug: str) -> str:
    year, mm = month.split("-")
    return f"aktuellt/{year}/{mm}/{slug}"


def month_dir(month: str) -> str:
    year, mm = month.split("-")
    return f"arkiv/{year}/{mm}"


def tag_dir(kind: str, slug: str) -> str:
    return f"{TAG_PREFIX[kind]}/{slug}"


@dataclass(frozen=True, slots=True)
class ItemUrl:
    """The page at an item URL: the item, its gone or redirect page, or nothing."""

    month: str
    slug: str

    @property
    def key(self) -> tuple[str, ...]:
        return ("item", self.month, self.slug)

    @property
    def page(self) -> str:
        """The item's page, or the redirect page of an item that moved."""
        return f"{item_dir(self.month, self.slug)}/index.html"

    @property
    def gone_page(self) -> str:
        """The page of a withdrawn item, in place of `page`: web servers answer the URL of a
        folder holding it 410 Gone with it (deploy/nginx.conf, newsroom/sitefiles.py)."""
        return f"{item_dir(self.month, self.slug)}/{GONE_PAGE}"

    def files(self) -> tuple[str, ...]:
        return (self.page,)


@dataclass(frozen=True, slots=True)
class Latest:
    """The front page, /aktuellt/ and the site feeds: the latest items."""

    @property
    def key(self) -> tuple[str, ...]:
        return ("latest",)

    def files(self) -> tuple[str, ...]:
        return ("index.html", "aktuellt/index.html", *FEED_FILES)


@dataclass(frozen=True, slots=True)
class Archive:
    """/arkiv/, the sitemap index and the archive's own sitemap (its year and month pages):
    the months with their counts."""

    @property
    def key(self) -> tuple[str, ...]:
        return ("archive",)

    def files(self) -> tuple[str, ...]:
        return ("arkiv/index.html", "sitemap.xml", "sitemaps/arkiv.xml")


@dataclass(frozen=True, slots=True)
class MonthPages:
    """/arkiv/yyyy/mm/ and that month's sitemap."""

    month: str

    @property
    def key(self) -> tuple[str, ...]:
        return ("month", self.month)

    def files(self) -> tuple[str, ...]:
        return (f"{month_dir(self.month)}/index.html", f"sitemaps/{self.month}.xml")


@dataclass(frozen=True, slots=True)
class TagPages:
    """/region/{slug}/ or /amne/{slug}/ and its feeds."""

    kind: TagKind
    slug: str

    @property
    def key(self) -> tuple[str, ...]:
        return (self.kind, self.slug)

    def files(self) -> tuple[str, ...]:
        base = tag_dir(self.kind, self.slug)
        return (f"{base}/index.html", *(f"{base}/{name}" for name in FEED_FILES))


@dataclass(frozen=True, slots=True)
class YearPages:
    """/arkiv/yyyy/: a year's months with their counts."""

    year: str

    @property
    def key(self) -> tuple[str, ...]:
        return ("year", self.year)

    def files(self) -> tuple[str, ...]:
        return (f"arkiv/{self.year}/index.html",)


@dataclass(frozen=True, slots=True)
class TagIndex:
    """/region/ or /amne/: every region or topic with its count and its newest item."""

    kind: TagKind

    @property
    def key(self) -> tuple[str, ...]:
        return ("index", self.kind)

    def files(self) -> tuple[str, ...]:
        return (f"{TAG_PREFIX[self.kind]}/index.html",)


Target = ItemUrl | Latest | Archive | MonthPages | TagPages | YearPages | TagIndex

LATEST = Latest()
ARCHIVE = Archive()


def in_order(targets: Iterable[Target]) -> list[Target]:
    """Targets in one fixed order (by key), so every render goes through them alike."""
    return sorted(targets, key=lambda target: target.key)


@dataclass(frozen=True)
class Place:
    """Where an item is (or was) shown: its URL parts and its tags."""

    month: str
    slug: str
    regions: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()


def touched_targets(
    *,
    current: Place | None,
    previous: Place | None = None,
    neighbours: Iterable[tuple[str, str]] = (),
    redirects: Iterable[tuple[str, str]] = (),
) -> set[Target]:
    """The page groups an event touches: where the item is, where it was, and what links it."""
    targets: set[Target] = {LATEST, ARCHIVE}
    for place in (current, previous):
        if place is None:
            continue
        targets.add(ItemUrl(place.month, place.slug))
        targets.add(MonthPages(place.month))
        targets.add(YearPages(place.month[:4]))
        targets.update(TagPages("region", slug) for slug in place.regions)
        targets.update(TagPages("topic", slug) for slug in place.topics)
        # The indexes show each tag's count and newest item: only those of the item's tags.
        if place.regions:
            targets.add(TagIndex("region"))
        if place.topics:
            targets.add(TagIndex("topic"))
    # Neighbours show the item's title in their previous/next links; old URLs redirect to it.
    targets.update(ItemUrl(month, slug) for month, slug in neighbours)
    targets.update(ItemUrl(month, slug) for month, slug in redirects)
    return targets


def first_targets(current: Place | None) -> set[Target]:
    """What readers of an event look for first: the item's page and the latest items (front
    page, /aktuellt/, site feeds). An event renders these before its other targets."""
    targets: set[Target] = {LATEST}
    if current is not None:
        targets.add(ItemUrl(current.month, current.slug))
    return targets


def lock_key(target: Target) -> int:
    """A stable signed 64-bit key for PostgreSQL advisory locks, the same in every process."""
    digest = hashlib.blake2b("\x1f".join(("newsroom.render", *target.key)).encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def place_from_event(previous: dict | None) -> Place | None:
    """The place an `item.updated`/`item.withdrawn` event says the item had before."""
    if not previous:
        return None
    return Place(
        month=previous["month"],
        slug=previous["slug"],
        regions=tuple(previous.get("regions") or ()),
        topics=tuple(previous.get("topics") or ()),
    )
