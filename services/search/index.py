"""Keeping the index: an item's document written from the item as it is now, removed when the
item is no longer published; the whole index refilled from the items."""

from __future__ import annotations

import uuid
from types import ModuleType

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.search import postgres, sqlite, swedish
from services.search.filters import labels
from shared.db import is_postgres
from shared.models import Item, SearchDocument

# Vocabulary words: what a reader might mistype and be offered instead ("Menade du …?").
VOCABULARY_LENGTHS = range(3, 41)


def backend(session: Session) -> ModuleType:
    """The module that speaks this session's database."""
    return postgres if is_postgres(session) else sqlite


def document_row(item: Item) -> dict:
    """What the index keeps of an item: its text (for snippets too) and its version."""
    return {
        "item_id": item.id,
        "item_version": item.version,
        "published_at": item.published_at,
        "title": swedish.normalize(item.title),
        "summary": swedish.normalize(item.summary),
        "body": swedish.plain_text(item.body_html),
    }


def vocabulary(row: dict) -> set[str]:
    """The words of a document worth suggesting: letters only, not stop words."""
    found = set()
    for field in ("title", "summary", "body"):
        for word in swedish.words(row[field]):
            if word.isalpha() and len(word) in VOCABULARY_LENGTHS:
                found.add(word)
    return found - swedish.STOPWORDS


def index_item(*, session: Session, item_id: uuid.UUID) -> str:
    """Bring the item's document up to date; returns "indexed", "removed" or "unchanged".

    Idempotent and order-proof: it reads the item as it is now, so an event handled twice or
    late writes the same document (and never an older version over a newer one).
    """
    speaker = backend(session)
    item = session.get(Item, item_id)
    if item is None or item.status != "published":
        # Drafts and withdrawn items have no document. A scheduled item keeps one: every
        # search checks visibility on the item itself, so it is found from its time on.
        return "removed" if _remove(session, speaker, item_id) else "unchanged"
    current = session.scalar(
        select(SearchDocument.item_version).where(SearchDocument.item_id == item_id)
    )
    if current is not None and current >= item.version:
        return "unchanged"
    row = document_row(item)
    found = labels(item.regions, item.topics, item.published_at)
    if speaker.write(session, row=row, labels=found) is None:
        return "unchanged"
    speaker.add_words(session, sorted(vocabulary(row)))
    return "indexed"


def _remove(session: Session, speaker: ModuleType, item_id: uuid.UUID) -> bool:
    document_id = session.scalar(select(SearchDocument.id).where(SearchDocument.item_id == item_id))
    if document_id is None:
        return False
    speaker.remove(session, document_id=document_id)
    session.execute(delete(SearchDocument).where(SearchDocument.id == document_id))
    return True


def unfilled(*, session: Session) -> bool:
    """Whether the index is empty while published items exist (a database upgraded to search,
    or restored without it)."""
    has_documents = session.scalar(select(SearchDocument.id).limit(1)) is not None
    return not has_documents and (
        session.scalar(select(Item.id).where(Item.status == "published").limit(1)) is not None
    )


def reindex(*, session: Session, batch: int = 1000, progress=None) -> int:
    """Write the document of every published item again and drop every other; returns how
    many documents the index holds. For a new installation, a restore, or a changed stemmer
    (every document is rewritten, even at the same version)."""
    speaker = backend(session)
    words: set[str] = set()
    ids = list(session.scalars(select(Item.id).where(Item.status == "published")))
    wanted = set(ids)
    stale = [
        document_id
        for document_id, item_id in session.execute(
            select(SearchDocument.id, SearchDocument.item_id)
        )
        if item_id not in wanted
    ]
    for document_id in stale:
        speaker.remove(session, document_id=document_id)
    if stale:
        session.execute(delete(SearchDocument).where(SearchDocument.id.in_(stale)))
    # Plain rows of the columns a document needs: ORM items (with their tags) cost more to
    # load than the documents cost to write.
    columns = (
        Item.id,
        Item.version,
        Item.published_at,
        Item.title,
        Item.summary,
        Item.body_html,
        Item.regions,
        Item.topics,
    )
    for start in range(0, len(ids), batch):
        items = session.execute(select(*columns).where(Item.id.in_(ids[start : start + batch])))
        rows, found = [], []
        for item in items:
            rows.append(document_row(item))
            found.append(labels(item.regions, item.topics, item.published_at))
        speaker.write_many(session, rows=rows, labels=found)
        for row in rows:
            words |= vocabulary(row)
        if progress is not None:
            progress(min(start + batch, len(ids)), len(ids))
    speaker.add_words(session, sorted(words))
    return len(ids)
