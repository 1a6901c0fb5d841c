"""What narrows a search besides its words: region, topic and year, and visibility itself."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Text, and_, cast, exists, select

from shared import taxonomy
from shared.config import get_settings
from shared.models import Item, ItemTag, SearchDocument
from shared.visibility import visible

FIRST_YEAR, LAST_YEAR = 1900, 2999
# An item's regions and topics as the JSON text they are stored as: for up to 1,000 candidates
# a search counts them, and decoding that many JSON values cost more than the query.
TAGS_AS_TEXT = (cast(Item.regions, Text), cast(Item.topics, Text))
_QUOTED = re.compile(r'"([^"\\]*)"')


def slugs(stored: str | None) -> list[str]:
    """The slugs of a JSON array of strings, as TAGS_AS_TEXT gives it."""
    if not stored:
        return []
    if "\\" in stored:  # an escaped character: let the JSON parser read it
        return list(json.loads(stored))
    return _QUOTED.findall(stored)


class FilterError(ValueError):
    """A filter that names nothing that exists; `field` says which, the message why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Filters:
    region: str | None = None
    topic: str | None = None
    year: int | None = None

    @classmethod
    def checked(cls, *, region: str | None, topic: str | None, year: int | None) -> Filters:
        """Filters from a request; FilterError (in Swedish) for an unknown region or topic."""
        region, topic = region or None, topic or None
        if region is not None and region not in taxonomy.regions():
            raise FilterError("region", f"Det finns ingen region som heter ”{region[:60]}”.")
        if topic is not None and topic not in taxonomy.topics():
            raise FilterError("topic", f"Det finns inget ämne som heter ”{topic[:60]}”.")
        if year is not None and not FIRST_YEAR <= year <= LAST_YEAR:
            raise FilterError("year", f"Året måste ligga mellan {FIRST_YEAR} och {LAST_YEAR}.")
        return cls(region=region, topic=topic, year=year)


def labels(regions, topics, published_at: datetime) -> list[str]:
    """An item's filter values as words of its own kind ("region:region-skane", "year:2021"),
    which PostgreSQL's index holds beside the text: a word of the text has no ":"."""
    year = published_at.astimezone(ZoneInfo(get_settings().timezone)).year
    return [
        *(f"region:{slug}" for slug in regions or ()),
        *(f"topic:{slug}" for slug in topics or ()),
        f"year:{year}",
    ]


def wanted_labels(filters: Filters) -> list[str]:
    """The labels an item needs to pass `filters`."""
    found = [f"region:{filters.region}"] if filters.region else []
    found += [f"topic:{filters.topic}"] if filters.topic else []
    return found + ([f"year:{filters.year}"] if filters.year else [])


def label_query(filters: Filters) -> str:
    """The tsquery text of the labels `filters` want ("" for none): quoted, so a slug is a
    single lexeme whatever it holds."""
    quoted = (label.replace("\\", "\\\\").replace("'", "''") for label in wanted_labels(filters))
    return " & ".join(f"'{label}'" for label in quoted)


def narrowing(filters: Filters, *, documents=None) -> list[ColumnElement[bool]]:
    """SQL conditions for the filters on `search_documents` (or a sample of it)."""
    table = SearchDocument.__table__ if documents is None else documents
    found = []
    for kind, slug in (("region", filters.region), ("topic", filters.topic)):
        if slug:
            # An alias: the query around it may read item_tags itself (postgres.py's plans).
            tags = ItemTag.__table__.alias(f"{kind}_filter")
            found.append(
                exists(
                    select(tags.c.item_id).where(
                        tags.c.item_id == table.c.item_id,
                        tags.c.kind == kind,
                        tags.c.slug == slug,
                    )
                )
            )
    if filters.year:
        # The year of the item's local date, as its URL and the archive have it.
        zone = ZoneInfo(get_settings().timezone)
        start = datetime(filters.year, 1, 1, tzinfo=zone)
        end = datetime(filters.year + 1, 1, 1, tzinfo=zone)
        found.append(and_(table.c.published_at >= start, table.c.published_at < end))
    return found


def conditions(filters: Filters, *, now: datetime) -> list[ColumnElement[bool]]:
    """SQL conditions on `search_documents` joined with `items`: the item is visible now
    (the item's own row decides, so a withdrawn or scheduled item is never found, even before
    its event reached the index) and matches the filters."""
    return [visible(now), *narrowing(filters)]
