"""Search on PostgreSQL: the `swedish` text search configuration, a weighted tsvector per
document (title A, summary B, body C) under a GIN index, tsqueries built from parsed words."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    func,
    literal_column,
    select,
    tablesample,
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
# Below this many table pages a sample would read most of the table: always use the index.
SAMPLE_PAGES = 100


def vector(*, title: str, summary: str, body: str) -> ColumnElement:
    """The document's weighted tsvector, from its words as services/search/swedish.py cuts
    them (lower-case in Python, so the database's locale changes nothing)."""

    def part(field: str, value: str, weight: str) -> ColumnElement:
        words = bindparam(field, " ".join(swedish.words(value)))
        return func.setweight(func.to_tsvector(SWEDISH, words), literal_column(f"'{weight}'"))

    return (
        part("v_title", title, "A")
        .op("||")(part("v_summary", summary, "B"))
        .op("||")(part("v_body", body, "C"))
    )


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


def _density(session: Session, *, q: ColumnElement, filters) -> tuple[float, float]:
    """(share of documents that match, documents in all), from a sample of ~100 pages.

    The planner cannot know this without statistics (autovacuum may be off): it is measured.
    """
    pages = session.scalar(select(func.pg_relation_size("search_documents"))) // 8192
    if pages < SAMPLE_PAGES:
        return 0.0, 0.0
    percent = 100.0 * SAMPLE_PAGES / pages
    sample = tablesample(SearchDocument.__table__, func.system(percent), name="sample", seed=7)
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
    where = search_filters.conditions(filters, now=now)
    density, documents = _density(session, q=q, filters=filters)
    newest_first = density * density * documents > limit
    # ts_match_vq is @@ in a form the planner cannot use the GIN index for: it then reads
    # the published_at index backwards and stops at `limit` matches.
    match = (
        func.ts_match_vq(SearchDocument.vector, q)
        if newest_first
        else SearchDocument.vector.op("@@")(q)
    )
    inner = (
        select(
            SearchDocument.item_id,
            SearchDocument.published_at,
            SearchDocument.vector,
            Item.regions,
            Item.topics,
        )
        .join(Item, Item.id == SearchDocument.item_id)
        .where(match, *where)
        .order_by(SearchDocument.published_at.desc())
        .limit(limit)
        .subquery()
    )
    # Ranked outside the LIMIT, so only the kept documents are ranked.
    relevance = func.ts_rank(WEIGHTS, inner.c.vector, tsquery(query, ranked=True), 1)
    return session.execute(
        select(inner.c.item_id, inner.c.published_at, inner.c.regions, inner.c.topics, relevance)
    ).all()


def any_match(session: Session, *, query: Query, now: datetime) -> bool:
    """Whether some visible document matches."""
    statement = (
        select(SearchDocument.id)
        .join(Item, Item.id == SearchDocument.item_id)
        .where(
            SearchDocument.vector.op("@@")(tsquery(query)),
            *search_filters.conditions(search_filters.Filters(), now=now),
        )
        .limit(1)
    )
    return session.scalar(statement) is not None


def similar_words(session: Session, *, word: str) -> list[str]:
    """Vocabulary words that share many trigrams with `word` (pg_trgm's GIN index)."""
    statement = (
        select(SearchWord.word)
        .where(SearchWord.word.op("%")(word))
        .order_by(SearchWord.word.op("<->")(word))
        .limit(30)
    )
    return list(session.scalars(statement))
