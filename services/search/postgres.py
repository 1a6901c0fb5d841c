"""Search on PostgreSQL: the `swedish` text search configuration, a weighted tsvector per
document (title A, summary B, body C) under a GIN index, tsqueries built from parsed words."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    bindparam,
    func,
    literal_column,
    select,
    tablesample,
    text,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.search import filters as search_filters
from services.search import swedish
from services.search.query import Query, Term
from shared.models import Item, SearchDocument, SearchWord

SWEDISH = literal_column("'swedish'::regconfig")
# ts_rank's weights of D, C, B and A: a word in the title counts five times one in the body.
WEIGHTS = literal_column("'{0.1, 0.2, 0.4, 1.0}'::float4[]")
# The sample reads about SAMPLE_PAGES pages (~1,000 documents); below MIN_PAGES pages (a few
# thousand documents) every plan is fast, and the GIN index is used without sampling.
SAMPLE_PAGES = 100
MIN_PAGES = 200
PAGES_TTL = 60.0  # seconds: the table's size changes slowly
_page_counts: dict[str, tuple[float, int]] = {}


def _weighted(words: ColumnElement, weight: str) -> ColumnElement:
    return func.setweight(func.to_tsvector(SWEDISH, words), literal_column(f"'{weight}'"))


def vector(*, title: str, summary: str, body: str) -> ColumnElement:
    """The document's weighted tsvector, from its words as services/search/swedish.py cuts
    them (lower-case in Python, so the database's locale changes nothing)."""
    parts = [
        _weighted(bindparam(name, " ".join(swedish.words(value)), type_=String), weight)
        for name, value, weight in (
            ("v_title", title, "A"),
            ("v_summary", summary, "B"),
            ("v_body", body, "C"),
        )
    ]
    return parts[0].op("||")(parts[1]).op("||")(parts[2])


def vector_of_params() -> ColumnElement:
    """`vector` of the parameters v_title, v_summary and v_body of each row (executemany)."""
    parts = [
        _weighted(bindparam(name, type_=String), weight)
        for name, weight in (("v_title", "A"), ("v_summary", "B"), ("v_body", "C"))
    ]
    return parts[0].op("||")(parts[1]).op("||")(parts[2])


def write(session: Session, *, row: dict) -> int | None:
    """Insert or replace a document; returns its id, or None when a newer version is there."""
    statement = insert(SearchDocument).values(
        **row, vector=vector(title=row["title"], summary=row["summary"], body=row["body"])
    )
    statement = statement.on_conflict_do_update(
        index_elements=[SearchDocument.item_id],
        set_={
            name: statement.excluded[name]
            for name in ("item_version", "published_at", "title", "summary", "body", "vector")
        },
        # An event handled late must not put back an older text over a newer one.
        where=SearchDocument.item_version <= statement.excluded.item_version,
    ).returning(SearchDocument.id)
    return session.scalar(statement)


def write_many(session: Session, *, rows: list[dict]) -> None:
    """Insert or replace many documents in one executemany (a reindex)."""
    if not rows:
        return
    statement = insert(SearchDocument).values(
        item_id=bindparam("item_id"),
        item_version=bindparam("item_version"),
        published_at=bindparam("published_at"),
        title=bindparam("title"),
        summary=bindparam("summary"),
        body=bindparam("body"),
        vector=vector_of_params(),
    )
    statement = statement.on_conflict_do_update(
        index_elements=[SearchDocument.item_id],
        set_={
            name: statement.excluded[name]
            for name in ("item_version", "published_at", "title", "summary", "body", "vector")
        },
    )
    session.execute(
        statement,
        [
            {
                **row,
                "v_title": " ".join(swedish.words(row["title"])),
                "v_summary": " ".join(swedish.words(row["summary"])),
                "v_body": " ".join(swedish.words(row["body"])),
            }
            for row in rows
        ],
    )


def remove(session: Session, *, document_id: int) -> None:
    """Nothing beyond the row itself: its vector goes with it."""


def add_words(session: Session, words: list[str]) -> None:
    """Add words to the vocabulary; sorted, so concurrent writers lock them in one order."""
    for start in range(0, len(words), 5000):
        chunk = words[start : start + 5000]
        session.execute(
            insert(SearchWord).on_conflict_do_nothing(), [{"word": word} for word in chunk]
        )


def _operand(term: Term) -> str:
    # Only letters and digits reach to_tsquery (query.py cut them out), each quoted; the
    # configuration stems them, so a prefix is given as the once-stemmed word it comes from.
    if term.prefix:
        return f"'{swedish.stem(term.words[0])}':*"
    return " <-> ".join(f"'{word}'" for word in term.words)


def tsquery(query: Query, *, ranked: bool = False) -> ColumnElement:
    """The tsquery of a parsed query: every included term, none of the excluded ones (or,
    `ranked`, the included ones only: ts_rank counts nothing for a query with a negation)."""
    parts = [_operand(term) for term in query.included]
    if not ranked:
        parts += [f"!({_operand(term)})" for term in query.excluded]
    name = "ranked" if ranked else "tsquery"
    return func.to_tsquery(SWEDISH, bindparam(name, " & ".join(parts)))


def _pages(session: Session) -> int:
    """The size of search_documents in pages, looked up at most every PAGES_TTL seconds."""
    url = str(session.get_bind().url)
    checked, pages = _page_counts.get(url, (-PAGES_TTL, 0))
    if time.monotonic() - checked >= PAGES_TTL:
        pages = session.scalar(select(func.pg_relation_size("search_documents"))) // 8192
        _page_counts[url] = (time.monotonic(), pages)
    return pages


def _plan(session: Session, *, gin: bool) -> None:
    """Make the planner take the GIN index (a bitmap scan) or not, for this transaction.

    Without statistics (autovacuum may be off, and no ANALYZE is assumed) it guesses that
    0.5 % of the documents match; with a LIMIT it may then read a whole index or table in
    order to find the few. The plan is chosen here, from a measured share, not guessed.
    """
    wanted = "off" if gin else "on"
    key = (id(session.get_transaction()), wanted)
    if session.info.get("search_plan") != key:
        session.execute(
            text("SELECT set_config('enable_seqscan', :wanted, true)"), {"wanted": wanted}
        )
        session.info["search_plan"] = key


def _density(session: Session, *, q: ColumnElement, filters) -> tuple[float, float]:
    """(share of documents that match, documents in all), from a sample of ~100 pages.

    The planner cannot know this without statistics (autovacuum may be off): it is measured.
    """
    pages = _pages(session)
    if pages < MIN_PAGES:
        return 0.0, 0.0
    percent = min(100.0, 100.0 * SAMPLE_PAGES / max(pages, 1))
    sample = tablesample(
        SearchDocument.__table__, func.system(percent), name="sample", seed=literal_column("7")
    )
    matches = and_(
        func.ts_match_vq(sample.c.vector, q),
        *search_filters.narrowing(filters, documents=sample),
    )
    counts = select(func.count(), func.count().filter(matches)).select_from(sample)
    rows, matched = session.execute(counts).one()
    if not rows:
        return 0.0, 0.0
    return matched / rows, rows * 100.0 / percent


def candidates(
    session: Session, *, query: Query, filters: search_filters.Filters, now: datetime, limit: int
) -> list:
    """The `limit` newest visible documents that match, each with its text relevance.

    Two plans for one answer, chosen by the measured share of matching documents: few match
    -> the GIN index finds them all and the newest are kept; many match -> the documents are
    read newest first (the published_at index) until `limit` match, which reads fewer rows.
    """
    q = tsquery(query)
    density, documents = _density(session, q=q, filters=filters)
    # Reading newest first examines about limit / density documents; the GIN index returns
    # all density * documents matches: the smaller of the two wins.
    newest_first = density * density * documents > limit
    _plan(session, gin=not newest_first)
    # ts_match_vq is @@ in a form the planner cannot use the GIN index for: it then reads
    # the published_at index backwards and stops at `limit` matches.
    if newest_first:
        # ts_match_vq is @@ in a form the planner cannot use the GIN index for: it reads the
        # published_at index backwards and stops at `limit` matches.
        match = func.ts_match_vq(SearchDocument.vector, q)
        order = SearchDocument.published_at.desc()
    else:
        # An order no index gives, so that the GIN index finds the matches (no sequential
        # scan either: _plan) and only they are sorted.
        match = SearchDocument.vector.op("@@")(q)
        order = (SearchDocument.published_at + literal_column("interval '0'")).desc()
    # The items are joined after the LIMIT: a document whose item is not visible now is rare
    # (a scheduled item, or one withdrawn a moment ago), and the join per match is what a
    # broad query would otherwise spend most of its time on. SLACK more documents are kept
    # for those; should still fewer than `limit` be left, the exact query runs.
    rows = _ranked(session, query, match, order, filters, now, limit, joined_first=False)
    if len(rows) < limit and rows.truncated:
        rows = _ranked(session, query, match, order, filters, now, limit, joined_first=True)
    return rows.rows


SLACK = 50


class _Rows:
    def __init__(self, rows: list, truncated: bool) -> None:
        self.rows, self.truncated = rows, truncated

    def __len__(self) -> int:
        return len(self.rows)


def _ranked(session, query, match, order, filters, now, limit, *, joined_first: bool) -> _Rows:
    visible_now = search_filters.conditions(search_filters.Filters(), now=now)
    documents = select(
        SearchDocument.item_id, SearchDocument.published_at, SearchDocument.vector
    ).where(match, *search_filters.narrowing(filters))
    if joined_first:
        documents = documents.join(Item, Item.id == SearchDocument.item_id).where(*visible_now)
    kept = limit if joined_first else limit + SLACK
    inner = documents.order_by(order).limit(kept).subquery()
    # Ranked outside the LIMIT, so only the kept documents are ranked.
    relevance = func.ts_rank(WEIGHTS, inner.c.vector, tsquery(query, ranked=True), 1)
    statement = select(
        inner.c.item_id,
        inner.c.published_at,
        search_filters.TAGS_AS_TEXT[0],
        search_filters.TAGS_AS_TEXT[1],
        relevance,
        and_(*visible_now),
    ).join(Item, Item.id == inner.c.item_id)
    found = session.execute(statement).all()
    rows = sorted((row[:5] for row in found if row[5]), key=lambda row: row[1], reverse=True)
    return _Rows(rows[:limit], truncated=len(found) == kept and len(rows) < limit)


def similar_words(session: Session, *, word: str) -> list[str]:
    """Vocabulary words that share many trigrams with `word` (pg_trgm's GIN index)."""
    statement = (
        select(SearchWord.word)
        .where(SearchWord.word.op("%")(word))
        .order_by(SearchWord.word.op("<->")(word))
        .limit(30)
    )
    return list(session.scalars(statement))
