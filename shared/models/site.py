"""What the site is built from besides the items (render and search): the outbox, render's
work, counts, backlog and redirects, the search index."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime, utcnow


class RenderRedirect(Base):
    """Render: an item URL that was public and now points to where the item moved."""

    __tablename__ = "render_redirects"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), primary_key=True)
    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )


class RenderMonth(Base):
    """Render: how many visible items a month holds, for /arkiv/ and the sitemap index.

    Kept by the renderer under the archive's page lock: an event recounts only the months it
    touches, so the archive costs the same at any size; a rebuild recounts every month.
    """

    __tablename__ = "render_months"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class RenderTag(Base):
    """Render: how many visible items a region or topic has and its newest, for /region/ and
    /amne/. Kept as render_months is, under the index page's lock: an event recounts only
    the tags of its item (before and after), a rebuild every tag."""

    __tablename__ = "render_tags"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # "region" or "topic"
    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    newest_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # None: no visible item


class RenderBacklog(Base):
    """Render: an event whose pages could not all be written (a full or read-only disk...).

    Kept until a render of it succeeds: the render service's periodic repair applies it again,
    so the site converges without an operator once the disk is writable.
    """

    __tablename__ = "render_backlog"

    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    event: Mapped[dict[str, Any]] = mapped_column(JSON)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str] = mapped_column(Text)


class RenderWork(Base):
    """Render: an item event not yet rendered, written with the event (`shared.outbox`), so
    render takes every committed event in a batch, whether or not its message came yet.

    A render worker takes the waiting events in two passes, each one transaction: the item
    pages, the latest items and the pages linking to the items (`stage` "first", then
    "rest"), then their months, regions, topics and the archive (then "done", kept a day).
    A worker that dies mid-pass rolls back, leaving the rows waiting for the next pass.
    """

    __tablename__ = "render_work"
    __table_args__ = (Index("ix_render_work_stage_id", "stage", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    event: Mapped[dict[str, Any]] = mapped_column(JSON)
    stage: Mapped[str] = mapped_column(String(8), default="first")  # first, rest, done
    # A scheduled item's event: not rendered before its time (or its message, if earlier).
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxEvent(Base):
    """An event written in the same transaction as its change; the relay publishes it later."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unpublished", "relayed_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Not relayed before this time: how a scheduled item's event waits for its publication.
    deliver_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    relayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class SearchDocument(Base):
    """Search: an item as the index holds it, kept by `search.index_item` from item events.

    Only published items have one (scheduled ones too: they become findable at their time,
    since every search checks the item's visibility itself). The text is what snippets are
    cut from; `vector` is PostgreSQL's weighted tsvector (title A, summary B, body C), while
    SQLite keeps the stemmed words in the FTS5 table `search_fts` (rowid = `id`).
    """

    __tablename__ = "search_documents"
    __table_args__ = (
        Index("ix_search_documents_published_at", "published_at"),
        Index("ix_search_documents_vector", "vector", postgresql_using="gin").ddl_if(
            dialect="postgresql"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), unique=True
    )
    item_version: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    vector: Mapped[str | None] = mapped_column(TSVECTOR().with_variant(Text(), "sqlite"))


class SearchWord(Base):
    """Search: every word the indexed items have used, for "Menade du …?" suggestions."""

    __tablename__ = "search_words"
    __table_args__ = (
        Index(
            "ix_search_words_trigram",
            "word",
            postgresql_using="gin",
            postgresql_ops={"word": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    word: Mapped[str] = mapped_column(String(60), primary_key=True)
