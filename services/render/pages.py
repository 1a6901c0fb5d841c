"""Which pages an event touches and which files each page group writes (pure, no I/O)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

# A target is a group of files rendered from one query, so one lock and one read cover it:
#   ("item", month, slug)  the item page at that URL (or its gone/redirect page)
#   ("latest",)            front page, /aktuellt/ and the site feeds (the latest items)
#   ("archive",)           /arkiv/ and the sitemap index (months with counts)
#   ("month", month)       /arkiv/yyyy/mm/ and that month's sitemap
#   ("region", slug)       /region/{slug}/ and its feeds; ("topic", slug) likewise under /amne/
Target = tuple[str, ...]

LATEST: Target = ("latest",)
ARCHIVE: Target = ("archive",)
TAG_PREFIX = {"region": "region", "topic": "amne"}
FEED_FILES = ("rss.xml", "atom.xml", "feed.json")


@dataclass(frozen=True)
class Place:
    """Where an item is (or was) shown: its URL parts and its tags."""

    month: str
    slug: str
    regions: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()


def item_target(month: str, slug: str) -> Target:
    return ("item", month, slug)


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
        targets.add(item_target(place.month, place.slug))
        targets.add(("month", place.month))
        targets.update(("region", slug) for slug in place.regions)
        targets.update(("topic", slug) for slug in place.topics)
    # Neighbours show the item's title in their previous/next links; old URLs redirect to it.
    targets.update(item_target(month, slug) for month, slug in neighbours)
    targets.update(item_target(month, slug) for month, slug in redirects)
    return targets


def first_targets(current: Place | None) -> set[Target]:
    """What readers of an event look for first: the item's page and the latest items (front
    page, /aktuellt/, site feeds). An event renders these before its other targets."""
    targets: set[Target] = {LATEST}
    if current is not None:
        targets.add(item_target(current.month, current.slug))
    return targets


def item_dir(month: str, slug: str) -> str:
    year, mm = month.split("-")
    return f"aktuellt/{year}/{mm}/{slug}"


def month_dir(month: str) -> str:
    year, mm = month.split("-")
    return f"arkiv/{year}/{mm}"


def tag_dir(kind: str, slug: str) -> str:
    return f"{TAG_PREFIX[kind]}/{slug}"


def target_files(target: Target) -> tuple[str, ...]:
    """The files (relative to the site folder) a target renders."""
    kind = target[0]
    if kind == "item":
        return (f"{item_dir(target[1], target[2])}/index.html",)
    if kind == "latest":
        return ("index.html", "aktuellt/index.html", *FEED_FILES)
    if kind == "archive":
        return ("arkiv/index.html", "sitemap.xml")
    if kind == "month":
        return (f"{month_dir(target[1])}/index.html", f"sitemaps/{target[1]}.xml")
    if kind in TAG_PREFIX:
        base = tag_dir(kind, target[1])
        return (f"{base}/index.html", *(f"{base}/{name}" for name in FEED_FILES))
    raise ValueError(f"unknown target {target!r}")


def lock_key(target: Target) -> int:
    """A stable signed 64-bit key for PostgreSQL advisory locks, the same in every process."""
    digest = hashlib.blake2b("\x1f".join(("newsroom.render", *target)).encode(), digest_size=8)
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
