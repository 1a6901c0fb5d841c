"""Keeping the index: an item's document written from the item as it is now, removed when the
item is no longer published; the whole index refilled from the items."""

from __future__ import annotations

import uuid
from types import ModuleType

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.search import postgres, sqlite, swedish
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
    if speaker.write(session, row=row) is None:
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


def reindex(*, session: Session, batch: int = 500, progress=None) -> int:
    """Write the document of every published item again and drop every other; returns how
    many documents the index holds. For a new installation, a restore, or a changed stemmer."""
    speaker = backend(session)
    kept = 0
    words: set[str] = set()
    ids = list(session.scalars(select(Item.id).where(Item.status == "published")))
    wanted = set(ids)
    for document_id, item_id in session.execute(
        select(SearchDocument.id, SearchDocument.item_id)
    ).all():
        if item_id not in wanted:
            speaker.remove(session, document_id=document_id)
            session.execute(delete(SearchDocument).where(SearchDocument.id == document_id))
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        items = session.scalars(select(Item).where(Item.id.in_(chunk))).all()
        for item in items:
            # Rewritten even at the same version: how a changed stemmer reaches every document.
            row = document_row(item)
            speaker.write(session, row=row)
            words |= vocabulary(row)
            kept += 1
        session.expunge_all()
        if progress is not None:
            progress(min(start + batch, len(ids)), len(ids))
    speaker.add_words(session, sorted(words))
    return kept
