"""How much of the index a query and its filters match, measured on a sample of
`search_documents` (PostgreSQL): what the choice of a search's plan rests on.

The planner cannot know it without statistics (autovacuum may be off, and no ANALYZE is
assumed); without them it guesses that 0.5 % of documents match any text query.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    DateTime,
    and_,
    cast,
    func,
    literal_column,
    select,
    tablesample,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY, aggregate_order_by
from sqlalchemy.orm import Session

from services.search import filters as search_filters
from shared.models import SearchDocument

# The sample reads about SAMPLE_PAGES pages (~1,000 documents); below MIN_PAGES pages (a few
# thousand documents) every plan is fast, and no sample is taken.
SAMPLE_PAGES = 100
MIN_PAGES = 200
PAGES_TTL = 60.0  # seconds: the table's size changes slowly
# A search's window of the newest documents is made to hold about this many times the matches
# it keeps, so that a sample's error rarely leaves it short (then the whole index is asked).
WINDOW_MARGIN = 2.0
_page_counts: dict[str, tuple[float, int]] = {}


@dataclass(frozen=True)
class Shares:
    """Shares of the documents: matching the text, the text and the filters' labels (what
    the GIN index returns and every plan keeps), the driving tag filter (region, else topic)
    alone, the year alone; and the documents in all. `since`: where the newest documents
    begin that should hold WINDOW_MARGIN times the matches asked for (None: the sample holds
    too few matches to say)."""

    text: float = 0.0
    gin: float = 0.0
    tag: float = 1.0
    year: float = 1.0
    documents: float = 0.0
    since: datetime | None = None


def pages(session: Session) -> int:
    """The size of search_documents in pages, looked up at most every PAGES_TTL seconds."""
    url = str(session.get_bind().url)
    checked, count = _page_counts.get(url, (-PAGES_TTL, 0))
    if time.monotonic() - checked >= PAGES_TTL:
        count = session.scalar(select(func.pg_relation_size("search_documents"))) // 8192
        _page_counts[url] = (time.monotonic(), count)
    return count


def driving_tag(filters: search_filters.Filters) -> search_filters.Filters | None:
    """The one tag filter a plan may read the item_tags index for (the region, else the
    topic), as Filters of its own."""
    if filters.region:
        return search_filters.Filters(region=filters.region)
    if filters.topic:
        return search_filters.Filters(topic=filters.topic)
    return None


def measure(
    session: Session,
    *,
    q: ColumnElement,
    gin: ColumnElement,
    filters: search_filters.Filters,
    limit: int = 1,
) -> Shares:
    """The shares, from a repeatable sample of about SAMPLE_PAGES pages, for a search that
    keeps `limit` matches; all zero for a small index (no sample needed)."""
    size = pages(session)
    if size < MIN_PAGES:
        return Shares()
    percent = min(100.0, 100.0 * SAMPLE_PAGES / max(size, 1))
    sample = tablesample(
        SearchDocument.__table__, func.system(percent), name="sample", seed=literal_column("7")
    )
    text = func.ts_match_vq(sample.c.vector, q)
    # The filters as the index's labels (matched on the sampled vectors, no join): what the
    # plans read the documents by, the item's own row checking them again on the few kept.
    matching = func.ts_match_vq(sample.c.vector, gin)
    tag = driving_tag(filters)
    year = search_filters.Filters(year=filters.year)

    def share(*conditions) -> ColumnElement:
        return func.count().filter(and_(*conditions)) if conditions else func.count()

    def labelled(wanted: search_filters.Filters) -> ColumnElement:
        labels = cast(search_filters.label_query(wanted), TSQUERY)
        return func.ts_match_vq(sample.c.vector, labels)

    # The sample's matches newest first: the one at `rank` is as far back as the window goes.
    rank = math.ceil(limit * percent / 100.0 * WINDOW_MARGIN)
    newest = func.array_agg(
        aggregate_order_by(sample.c.published_at, sample.c.published_at.desc()),
        type_=ARRAY(DateTime(timezone=True)),
    ).filter(matching)
    counts = select(
        func.count(),
        share(text),
        share(matching),
        share(*([labelled(tag)] if tag else ())),
        share(*search_filters.narrowing(year, documents=sample)),
        newest[rank],
    ).select_from(sample)
    rows, matched, matched_all, tagged, in_year, since = session.execute(counts).one()
    if not rows:
        return Shares()
    return Shares(
        text=matched / rows,
        gin=matched_all / rows,
        tag=tagged / rows,
        year=in_year / rows,
        documents=rows * 100.0 / percent,
        since=since,
    )
