"""Search in the embedded mode: SQLite's FTS5 over words stemmed in Python (the same Snowball
stemmer PostgreSQL uses), ranked by bm25 with the title and summary weighing more."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, column, delete, insert, select, table, text
from sqlalchemy.orm import Session

from services.search import filters as search_filters
from services.search import swedish
from services.search.query import Query, Term
from shared.config import get_settings
from shared.models import Item, SearchDocument, SearchWord

FTS = table("search_fts", column("rowid"), column("title"), column("summary"), column("body"))
# What a term found in the title, only in the summary, or only in the body adds to an item's
# relevance: PostgreSQL's weights A, B and C. (Not FTS5's bm25: its idf is nil for a word in
# half the items, so the title would stop counting for exactly the commonest words.)
WEIGHTS = (1.0, 0.4, 0.2)
MATCH = text("search_fts MATCH :match")


def write(session: Session, *, row: dict, labels: list[str] = ()) -> int | None:
    """Insert or replace a document and its FTS5 row; None when a newer version is there.
    (The labels are PostgreSQL's: FTS5 finds a small index's filters through item_tags.)"""
    current = session.execute(
        select(SearchDocument.id, SearchDocument.item_version).where(
            SearchDocument.item_id == row["item_id"]
        )
    ).one_or_none()
    if current is not None and current.item_version > row["item_version"]:
        return None  # an event handled late must not put back an older text
    if current is None:
        document_id = session.scalar(
            insert(SearchDocument).values(**row).returning(SearchDocument.id)
        )
    else:
        document_id = current.id
        session.execute(
            SearchDocument.__table__.update().where(SearchDocument.id == document_id).values(**row)
        )
        session.execute(delete(FTS).where(FTS.c.rowid == document_id))
    session.execute(
        insert(FTS).values(
            rowid=document_id,
            title=swedish.stems(row["title"]),
            summary=swedish.stems(row["summary"]),
            body=swedish.stems(row["body"]),
        )
    )
    return document_id


def write_many(session: Session, *, rows: list[dict], labels: list[list[str]]) -> None:
    """Insert or replace many documents (a reindex)."""
    for row in rows:
        write(session, row=row)


def remove(session: Session, *, document_id: int) -> None:
    """Drop the document's FTS5 row (the caller deletes the document)."""
    session.execute(delete(FTS).where(FTS.c.rowid == document_id))


def add_words(session: Session, words: list[str]) -> None:
    """Add words to the vocabulary."""
    for start in range(0, len(words), 5000):
        chunk = words[start : start + 5000]
        session.execute(
            insert(SearchWord).prefix_with("OR IGNORE"), [{"word": word} for word in chunk]
        )


def _operand(term: Term) -> str:
    # Stems are letters and digits only (query.py cut everything else out); each is quoted,
    # so no FTS5 syntax can come from the reader.
    if term.prefix:
        return f'"{term.prefix}"*'
    return '"' + " ".join(swedish.stem(word) for word in term.words) + '"'


def fts_query(query: Query) -> str:
    """The FTS5 query of a parsed query: every included term, none of the excluded ones."""
    found = " AND ".join(_operand(term) for term in query.included)
    return "".join([f"({found})", *(f" NOT {_operand(term)}" for term in query.excluded)])


def candidates(
    session: Session, *, query: Query, filters: search_filters.Filters, now: datetime, limit: int
) -> list:
    """The `limit` newest visible documents that match, newest first, as the rows
    of a match service.py describes."""
    statement = (
        select(
            SearchDocument.item_id,
            SearchDocument.published_at,
            search_filters.TAGS_AS_TEXT[0],
            search_filters.TAGS_AS_TEXT[1],
            FTS.c.title,
            FTS.c.summary,
        )
        .select_from(FTS)
        .join(SearchDocument, SearchDocument.id == FTS.c.rowid)
        .join(Item, Item.id == SearchDocument.item_id)
        .where(MATCH.bindparams(bindparam("match", fts_query(query))))
        .where(*search_filters.conditions(filters, now=now))
        .order_by(SearchDocument.published_at.desc())
        .limit(limit)
    )
    terms = [_matcher(term) for term in query.included]
    zone = ZoneInfo(get_settings().timezone)
    return [
        (
            item_id,
            published_at.timestamp(),
            published_at.astimezone(zone).year,
            regions,
            topics,
            _relevance(terms, title, summary),
        )
        for item_id, published_at, regions, topics, title, summary in session.execute(statement)
    ]


def _matcher(term: Term):
    if term.prefix:
        return lambda stems: any(stem.startswith(term.prefix) for stem in stems)
    wanted = [swedish.stem(word) for word in term.words]
    if len(wanted) == 1:
        return lambda stems: wanted[0] in stems
    size = len(wanted)
    return lambda stems: any(stems[n : n + size] == wanted for n in range(len(stems) - size + 1))


def _relevance(terms: list, title: str, summary: str) -> float:
    # Every term matched somewhere (FTS5 said so): where it is best placed decides its weight.
    title_stems, summary_stems = title.split(), summary.split()
    total = 0.0
    for found in terms:
        if found(title_stems):
            total += WEIGHTS[0]
        elif found(summary_stems):
            total += WEIGHTS[1]
        else:
            total += WEIGHTS[2]
    return total


def similar_words(session: Session, *, word: str) -> list[str]:
    """Vocabulary words within two letters of the length of `word` (the caller measures the
    edit distance)."""
    statement = select(SearchWord.word).where(
        text("length(word) BETWEEN :shortest AND :longest").bindparams(
            shortest=len(word) - 2, longest=len(word) + 2
        )
    )
    return list(session.scalars(statement))
