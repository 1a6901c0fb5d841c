"""Search on PostgreSQL: the `swedish` text search configuration, a weighted tsvector per
document (title A, summary B, body C) under a GIN index, tsqueries built from parsed words."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSQUERY, insert
from sqlalchemy.orm import Session

from services.search import filters as search_filters
from services.search import sampling, swedish
from services.search.query import Query, Term
from shared.config import get_settings
from shared.models import Item, ItemTag, SearchDocument, SearchWord
from shared.visibility import visible

SWEDISH = literal_column("'swedish'::regconfig")
# ts_rank's weights of D, C, B and A: a word in the title counts five times one in the body.
WEIGHTS = literal_column("'{0.1, 0.2, 0.4, 1.0}'::float4[]")


def _weighted(words: ColumnElement, weight: str) -> ColumnElement:
    return func.setweight(func.to_tsvector(SWEDISH, words), literal_column(f"'{weight}'"))


def _vector() -> ColumnElement:
    """The document's tsvector from the parameters of its row: its words weighted by field
    (title A, summary B, body C) and its labels (filters.labels) unweighted."""
    parts = [
        _weighted(bindparam(name, type_=String), weight)
        for name, weight in (("v_title", "A"), ("v_summary", "B"), ("v_body", "C"))
    ]
    labels = func.array_to_tsvector(bindparam("v_labels", type_=ARRAY(String)))
    return parts[0].op("||")(parts[1]).op("||")(parts[2]).op("||")(labels)


def _parameters(row: dict, labels: list[str]) -> dict:
    # The words as services/search/swedish.py cuts them, lower-case in Python, so the
    # database's locale changes nothing and a phrase means the same on both databases.
    return {
        **row,
        "v_title": " ".join(swedish.words(row["title"])),
        "v_summary": " ".join(swedish.words(row["summary"])),
        "v_body": " ".join(swedish.words(row["body"])),
        "v_labels": labels,
    }


def _upsert(*, guarded: bool):
    columns = ("item_id", "item_version", "published_at", "title", "summary", "body")
    statement = insert(SearchDocument).values(
        {**{name: bindparam(name) for name in columns}, "vector": _vector()}
    )
    return statement.on_conflict_do_update(
        index_elements=[SearchDocument.item_id],
        set_={name: statement.excluded[name] for name in (*columns[1:], "vector")},
        # An event handled late must not put back an older text over a newer one.
        where=SearchDocument.item_version <= statement.excluded.item_version if guarded else None,
    )


def write(session: Session, *, row: dict, labels: list[str]) -> int | None:
    """Insert or replace a document; returns its id, or None when a newer version is there."""
    statement = _upsert(guarded=True).returning(SearchDocument.id)
    return session.scalar(statement, _parameters(row, labels))


def write_many(session: Session, *, rows: list[dict], labels: list[list[str]]) -> None:
    """Insert or replace many documents in one executemany (a reindex: every one rewritten)."""
    if rows:
        session.execute(
            _upsert(guarded=False),
            [_parameters(row, found) for row, found in zip(rows, labels, strict=True)],
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


def gin_query(q: ColumnElement, filters: search_filters.Filters) -> ColumnElement:
    """What the GIN index is asked: the text and the filters' labels, so that it returns only
    documents that pass the region, topic and year too (each is still checked on the item)."""
    labelled = search_filters.label_query(filters)
    return q.op("&&")(cast(bindparam("labels", labelled), TSQUERY)) if labelled else q


def tsquery(query: Query, *, ranked: bool = False) -> ColumnElement:
    """The tsquery of a parsed query: every included term, none of the excluded ones (or,
    `ranked`, the included ones only: ts_rank counts nothing for a query with a negation)."""
    parts = [_operand(term) for term in query.included]
    if not ranked:
        parts += [f"!({_operand(term)})" for term in query.excluded]
    name = "ranked" if ranked else "tsquery"
    return func.to_tsquery(SWEDISH, bindparam(name, " & ".join(parts)))


# Planner settings of each kind of plan, for the transaction (set_config(..., true)). One
# process at a time per search: no parallel workers, whose start costs more than they save.
_GIN_PLAN = {"enable_seqscan": "off", "enable_bitmapscan": "on", "enable_sort": "on"}
_ORDERED_PLAN = {"enable_seqscan": "on", "enable_bitmapscan": "off", "enable_sort": "off"}


def _plan(session: Session, *, gin: bool) -> None:
    """Make the planner take the GIN index (a bitmap scan), or an index read in order, for
    this transaction.

    Without statistics (autovacuum may be off, and no ANALYZE is assumed) it guesses that
    0.5 % of the documents match any text; with a LIMIT it may then read a whole index or
    table in order to find the few, or sort thousands of rows for a LIMIT an index read in
    order would reach after a few. The plan is chosen here, from measured shares.
    """
    settings = {**(_GIN_PLAN if gin else _ORDERED_PLAN), "max_parallel_workers_per_gather": "0"}
    key = (session.get_transaction(), gin)  # the settings last as long as the transaction
    if session.info.get("search_plan") != key:
        calls = ", ".join(f"set_config('{name}', :{name}, true)" for name in settings)
        session.execute(text(f"SELECT {calls}"), settings)
        session.info["search_plan"] = key


def candidates(
    session: Session, *, query: Query, filters: search_filters.Filters, now: datetime, limit: int
) -> list:
    """The `limit` newest visible documents that match, newest first, as the rows
    of a match service.py describes.

    Three plans for one answer, chosen by the rows each would read, estimated from measured
    shares (sampling.py): the GIN index returns every match of the text and the filters'
    labels; the published_at index is read newest first (within the year, when one is chosen)
    until `limit` documents match everything; or the item_tags index of the region (or
    topic) is, likewise.
    """
    q = tsquery(query)
    gin = gin_query(q, filters)
    shares = sampling.measure(session, q=q, gin=gin, filters=filters, limit=limit)
    plan = _cheapest(shares, filters, limit)
    _plan(session, gin=plan == "gin")
    if plan == "gin":
        # An order no index gives, so that the GIN index finds the matches (no sequential
        # scan either: _plan) and only they are sorted.
        match = SearchDocument.vector.op("@@")(gin)
        order = (SearchDocument.published_at + literal_column("interval '0'")).desc()
        if shares.since is not None:
            # Only the newest documents that should hold the matches kept: the GIN index's
            # bitmap and the published_at index's are ANDed before a row is read. Short of
            # `limit` matches there, the whole index is asked: the answer is the same.
            window = and_(match, SearchDocument.published_at >= shares.since)
            rows = _candidates(session, query, window, order, filters, None, now, limit)
            if len(rows) == limit:
                return rows
    else:
        # ts_match_vq is @@ in a form the planner cannot use the GIN index for: it reads the
        # published_at (or item_tags) index backwards and stops at `limit` matches.
        match = func.ts_match_vq(SearchDocument.vector, gin)
        order = SearchDocument.published_at.desc()
    driver = sampling.driving_tag(filters) if plan == "tag" else None
    return _candidates(session, query, match, order, filters, driver, now, limit)


def _candidates(session, query, match, order, filters, driver, now, limit) -> list:
    # The items are joined after the LIMIT: a document whose item is not visible now is rare
    # (a scheduled item, or one withdrawn a moment ago), and the join per match is what a
    # broad query would otherwise spend most of its time on. SLACK more documents are kept
    # for those; should still fewer than `limit` be left, the exact query runs.
    run = (session, query, match, order, filters, driver, now, limit)
    rows = _ranked(*run, joined_first=False)
    if len(rows) < limit and rows.truncated:
        rows = _ranked(*run, joined_first=True)
    return rows.rows


def _cheapest(shares: sampling.Shares, filters: search_filters.Filters, limit: int) -> str:
    """The plan that reads the fewest rows: "gin", "newest" or "tag"."""
    if not shares.documents:
        return "gin"  # a small index: every plan is fast, and this one never reads more
    every = shares.documents
    # Read newest first, a plan stops after limit / (share of what it reads that matches)
    # rows, or at the end of what it reads (the year's documents, the tag's rows).
    found = max(shares.gin, 1e-9) * every
    gin = shares.gin * every
    if shares.since is not None:  # within the window only (see candidates)
        gin = min(gin, limit * sampling.WINDOW_MARGIN)
    costs = {
        "gin": gin,
        "newest": min(shares.year * every, limit * shares.year * every / found),
    }
    if sampling.driving_tag(filters):
        costs["tag"] = min(shares.tag * every, limit * shares.tag * every / found)
    return min(costs, key=costs.__getitem__)


SLACK = 50


class _Rows:
    def __init__(self, rows: list, truncated: bool) -> None:
        self.rows, self.truncated = rows, truncated

    def __len__(self) -> int:
        return len(self.rows)


def on_item(filters: search_filters.Filters) -> list[ColumnElement[bool]]:
    """The region and topic filters checked on the item's own row, as the index's labels
    may lag behind it for a moment (the item changed, its event not yet indexed)."""
    found = []
    for column, slug in ((Item.regions, filters.region), (Item.topics, filters.topic)):
        if slug:
            found.append(cast(column, JSONB).op("?")(slug))
    return found


def _ranked(
    session, query, match, order, filters, driver, now, limit, *, joined_first: bool
) -> _Rows:
    # The documents are narrowed by their labels (in `match`) and the year; the region and
    # topic are checked once more on the items of those kept, with their visibility.
    checks = [visible(now), *on_item(filters)]
    year = search_filters.Filters(year=filters.year)
    documents = select(
        SearchDocument.item_id, SearchDocument.published_at, SearchDocument.vector
    ).where(match, *search_filters.narrowing(year))
    if driver is not None:
        # Newest first along the tag's index (kind, slug, published_at): the driving tag is
        # the join itself, so the planner can stop at the LIMIT.
        kind, slug = ("region", driver.region) if driver.region else ("topic", driver.topic)
        documents = documents.join(ItemTag, ItemTag.item_id == SearchDocument.item_id).where(
            ItemTag.kind == kind, ItemTag.slug == slug
        )
        order = ItemTag.published_at.desc()
    if joined_first:
        documents = documents.join(Item, Item.id == SearchDocument.item_id).where(*checks)
    kept = limit if joined_first else limit + SLACK
    inner = documents.order_by(order).limit(kept).subquery()
    # Ranked outside the LIMIT, so only the kept documents are ranked.
    relevance = func.ts_rank(WEIGHTS, inner.c.vector, tsquery(query, ranked=True), 1)
    # The time as seconds and the local year as a number: a thousand rows of plain floats and
    # ints cost a fraction of a thousand datetimes converted twice (service.py: a match).
    zone = bindparam("zone", get_settings().timezone)
    statement = (
        select(
            inner.c.item_id,
            cast(func.extract("epoch", inner.c.published_at), Float),
            cast(func.extract("year", func.timezone(zone, inner.c.published_at)), Integer),
            search_filters.TAGS_AS_TEXT[0],
            search_filters.TAGS_AS_TEXT[1],
            relevance,
            and_(*checks),
        )
        .join(Item, Item.id == inner.c.item_id)
        .order_by(inner.c.published_at.desc())
    )
    # Core execution: a thousand plain rows, without the ORM's per-row bookkeeping.
    found = session.connection().execute(statement).all()
    rows = [row[:6] for row in found if row[6]]
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
