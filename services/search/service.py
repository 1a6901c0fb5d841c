"""A search from start to end: parse, find the candidates, rank, count, page, mark, suggest."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from markupsafe import Markup
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import extractOne
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.search import swedish
from services.search.filters import Filters, slugs
from services.search.index import backend
from services.search.query import Query, Term, parse
from services.search.snippets import Marker
from shared.models import Item, SearchDocument

# A search ranks the newest MATCH_LIMIT matches (after its filters): enough for every
# precise query; a broad one ("upphandling" in a large archive) is told there are more and
# narrowed by a year, a region or another word. It bounds the work of one search (bench:
# p99 at 100,000 items) whatever the archive's size.
MATCH_LIMIT = 1000
PAGE_SIZE = 20
# Recency: a new item's relevance counts double, a year-old one's 1.5 times, an old one's
# about once. A title match (five times a body match) still outranks a fresh body match.
RECENCY_DAYS = 365.0
# A match as the backends give it (up to MATCH_LIMIT per search, so plain values, cheap to
# make and to count): a row of the item's id, its time in seconds since the epoch, its local
# year, its regions and its topics as stored (filters.slugs reads them), its text relevance.


class CursorError(ValueError):
    """A cursor this service did not make."""


@dataclass(frozen=True)
class Hit:
    item_id: uuid.UUID
    title: str
    title_html: Markup
    snippet_html: Markup
    path: str
    published_at: datetime
    regions: list[str]
    topics: list[str]
    score: float


@dataclass
class Results:
    query: Query
    filters: Filters
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    capped: bool = False  # more than MATCH_LIMIT matched; `total` is MATCH_LIMIT
    offset: int = 0  # hits before this page
    next_cursor: str | None = None
    regions: list[tuple[str, int]] = field(default_factory=list)
    topics: list[tuple[str, int]] = field(default_factory=list)
    years: list[tuple[int, int]] = field(default_factory=list)
    suggestion: str | None = None


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after (score, id), scores reckoned at `now`."""

    now: datetime
    score: float
    item_id: uuid.UUID
    offset: int

    def encode(self) -> str:
        raw = json.dumps([self.now.isoformat(), self.score, self.item_id.hex, self.offset])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            now, score, item_id, offset = json.loads(raw)
            moment = datetime.fromisoformat(now)
            if moment.tzinfo is None or not isinstance(score, float) or offset < 0:
                raise ValueError("not ours")
            return cls(moment, score, uuid.UUID(hex=item_id), int(offset))
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
            raise CursorError("cursor") from None


def recency(published: float, now: float) -> float:
    """The factor a match's relevance is multiplied by for being recent, 2 down to 1 (both
    times in seconds since the epoch)."""
    age_days = max((now - published) / 86400.0, 0.0)
    return 1.0 + RECENCY_DAYS / (RECENCY_DAYS + age_days)


def search(
    *,
    session: Session,
    text: str | None,
    filters: Filters,
    now: datetime,
    cursor: str | None = None,
    page_size: int = PAGE_SIZE,
) -> Results:
    """One page of results for a reader's query; QueryError or CursorError for bad input."""
    query = parse(text)
    after = Cursor.decode(cursor) if cursor else None
    # The scores of every page are reckoned at the first page's time, so they do not move
    # between pages (visibility is always judged now).
    reference = after.now if after else now
    speaker = backend(session)
    rows = speaker.candidates(session, query=query, filters=filters, now=now, limit=MATCH_LIMIT + 1)
    results = Results(query=query, filters=filters, capped=len(rows) > MATCH_LIMIT)
    rows = rows[:MATCH_LIMIT]
    results.total = len(rows)
    _count_facets(results, rows)
    moment = reference.timestamp()
    ranked = sorted(
        ((row[5] * recency(row[1], moment), row[0].hex, row[0]) for row in rows),
        reverse=True,
    )
    if after:
        ranked = [r for r in ranked if (r[0], r[1]) < (after.score, after.item_id.hex)]
        results.offset = after.offset
    page = ranked[:page_size]
    if len(ranked) > page_size:
        last = page[-1]
        results.next_cursor = Cursor(
            reference, last[0], last[2], results.offset + page_size
        ).encode()
    results.hits = _hits(session, query, page)
    if not rows and not after:
        results.suggestion = suggest(session=session, query=query, now=now)
    return results


def _count_facets(results: Results, rows: list) -> None:
    # Up to MATCH_LIMIT rows, but few different lists of regions or topics among them: each
    # list is counted as stored, then read once.
    regions = _tally(Counter(row[3] for row in rows))
    topics = _tally(Counter(row[4] for row in rows))
    years = Counter(row[2] for row in rows)
    results.regions = sorted(regions.items(), key=lambda pair: (-pair[1], pair[0]))
    results.topics = sorted(topics.items(), key=lambda pair: (-pair[1], pair[0]))
    results.years = sorted(years.items(), reverse=True)


def _tally(stored: Counter) -> Counter:
    """The matches per slug, from the matches per stored list of slugs."""
    found: Counter = Counter()
    for text, count in stored.items():
        for slug in set(slugs(text)):
            found[slug] += count
    return found


def _hits(session: Session, query: Query, page: list) -> list[Hit]:
    if not page:
        return []
    ids = [item_id for _, _, item_id in page]
    found = {
        row.id: row
        for row in session.connection().execute(
            select(
                Item.id,
                Item.title,
                Item.month,
                Item.slug,
                Item.published_at,
                Item.regions,
                Item.topics,
                SearchDocument.summary,
                SearchDocument.body,
            )
            .join(SearchDocument, SearchDocument.item_id == Item.id)
            .where(Item.id.in_(ids))
        )
    }
    marker = Marker(*query.highlight_stems())
    hits = []
    for score, _, item_id in page:
        row = found.get(item_id)
        if row is None:  # gone between the two queries: withdrawn this very moment
            continue
        year, month = row.month.split("-")
        hits.append(
            Hit(
                item_id=item_id,
                title=row.title,
                title_html=marker.mark(row.title),
                snippet_html=marker.snippet(row.summary, row.body),
                path=f"/aktuellt/{year}/{month}/{row.slug}/",
                published_at=row.published_at,
                regions=list(row.regions or ()),
                topics=list(row.topics or ()),
                score=score,
            )
        )
    return hits


def suggest(*, session: Session, query: Query, now: datetime) -> str | None:
    """A query like the reader's that finds something ("Menade du …?"), or None.

    Each searched word that finds nothing by itself is replaced by the closest word of the
    vocabulary (at most one letter wrong in a short word, two in a longer one); the new query
    is offered only when it finds something.
    """
    speaker = backend(session)
    text = query.text
    changed = False
    for term in query.included:
        for word in term.words:
            if not word.isalpha() or word in swedish.STOPWORDS or len(word) < 3:
                continue
            alone = Query(text=word, terms=(Term((word,)),))
            if _finds_any(session, speaker, alone, now):
                continue
            limit = 1 if len(word) <= 4 else 2
            choices = [c for c in speaker.similar_words(session, word=word) if c != word]
            best = extractOne(word, choices, scorer=Levenshtein.distance, score_cutoff=limit)
            if best is None:
                continue
            pattern = re.compile(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", re.IGNORECASE)
            text = pattern.sub(best[0], text)
            changed = True
    if not changed:
        return None
    try:
        suggested = parse(text)
    except ValueError:
        return None
    return text if _finds_any(session, speaker, suggested, now) else None


def _finds_any(session: Session, speaker, query: Query, now: datetime) -> bool:
    # The search itself, for its newest match only: as bounded as a search, on any archive.
    return bool(speaker.candidates(session, query=query, filters=Filters(), now=now, limit=1))
