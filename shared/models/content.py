"""What contributors write and who they are (the ingest service's tables): contributors, items
and their tags, revisions and reviews, static pages, media, Redaktionen's sign-ins and
sessions, the audit log, idempotency keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from shared.db import Base, UTCDateTime, utcnow

ROLES = ("contributor", "editor", "admin")


ITEM_STATUSES = ("published", "draft", "withdrawn")


class Contributor(Base):
    """Someone who may post through the API; the token itself is never stored, only its hash.

    `email` is stored lower-case (see `normalize_email`), so that one unique index makes
    addresses unique and lookups case-insensitive: compare with `normalize_email(typed)`.
    """

    __tablename__ = "contributors"
    # Server defaults are not read back after INSERT (no RETURNING of columns an older schema
    # lacks); an unset review_required is loaded when first used.
    __mapper_args__ = {"eager_defaults": False}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    region: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), default="contributor")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "Granskas innan publicering": such a contributor sends items for review, never publishes.
    # Left to the database's default when unset: rows written with the columns of an older
    # schema (a migration test, an older process during an upgrade) stay valid.
    review_required: Mapped[bool] = mapped_column(server_default=false())
    # Regions beside `region` this contributor also writes for (an admin's choice); left to
    # the database's default when unset, as review_required.
    extra_regions: Mapped[list[str]] = mapped_column(JSON, server_default=text("'[]'"))

    @property
    def writes_for(self) -> list[str]:
        """Every region this contributor may publish for: its own first, then the others."""
        return [self.region, *[slug for slug in self.extra_regions or () if slug != self.region]]

    @validates("email")
    def _lower_case(self, _key: str, email: str | None) -> str | None:
        return normalize_email(email) if email is not None else None


def normalize_email(email: str) -> str:
    """An address as stored and looked up: without surrounding blanks, lower-case."""
    return email.strip().lower()


class Item(Base):
    """A news item. `month` (local time, "YYYY-MM") and `slug` make its URL."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("month", "slug", name="uq_items_month_slug"),
        Index("ix_items_status_published_at", "status", "published_at"),
        # Date order as render reads it (keyset on (published_at, id)): see
        # services/render/queries.py on plans without statistics.
        Index("ix_items_published_at_id", "published_at", "id"),
    )
    __mapper_args__ = {"eager_defaults": False}  # as Contributor's

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(120))
    month: Mapped[str] = mapped_column(String(7))
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    author_name: Mapped[str | None] = mapped_column(String(200))
    author_email: Mapped[str | None] = mapped_column(String(320))
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    image: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="published")
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The author's choice: mail subscribers when the item first becomes visible.
    # (Left to the database's default when unset, as Contributor.review_required.)
    notify: Mapped[bool] = mapped_column(server_default=true())
    contributor_id: Mapped[int | None] = mapped_column(ForeignKey("contributors.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    tags: Mapped[list[ItemTag]] = relationship(
        back_populates="item", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def path(self) -> str:
        """The item's URL path on the site."""
        year, month = self.month.split("-")
        return f"/aktuellt/{year}/{month}/{self.slug}/"


class ItemTag(Base):
    """One region or topic of an item, with its date copied so a tag page is one index scan."""

    __tablename__ = "item_tags"
    __table_args__ = (
        Index("ix_item_tags_kind_slug_published_item", "kind", "slug", "published_at", "item_id"),
    )

    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # "region" or "topic"
    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    visible: Mapped[bool] = mapped_column(default=True)

    item: Mapped[Item] = relationship(back_populates="tags")


class Page(Base):
    """A static page such as /vision/."""

    __tablename__ = "pages"

    slug: Mapped[str] = mapped_column(String(120), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """One admin action on people or pages: who did what to whom, when, with the details.

    `actor_name` is kept as it was (the command line has no contributor row, and a person may
    be renamed); `target` names what was changed ("Anna Ström", "sida:om-oss").
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("contributors.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class IdempotencyKey(Base):
    """The first answer to a POST with an `Idempotency-Key`, replayed when the client retries."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("contributor_id", "key", name="uq_idempotency_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contributor_id: Mapped[int] = mapped_column(ForeignKey("contributors.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


MEDIA_KINDS = ("image", "document")


class Media(Base):
    """An uploaded image or document, stored once per content (`sha256` of the uploaded bytes).

    Its bytes live in `media_files` (the sanitized original and every variant), so listing
    media never reads them.
    """

    __tablename__ = "media"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "image" or "document"
    # Of the file `path` serves: the sanitized original (a JPEG or PNG for any image).
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))  # slug of the uploaded name + extension
    contributor_id: Mapped[int | None] = mapped_column(ForeignKey("contributors.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    files: Mapped[list[MediaFile]] = relationship(
        back_populates="media", cascade="all, delete-orphan", order_by="MediaFile.variant"
    )

    @property
    def folder(self) -> str:
        """The URL folder of every file of this medium: content-hashed, so cacheable forever."""
        return f"/media/{self.sha256[:16]}/"

    @property
    def path(self) -> str:
        """The URL path of the sanitized original (an image) or the document."""
        return self.folder + self.name


class MediaFile(Base):
    """One file of a medium as published: `original` or a variant such as `avif-960`."""

    __tablename__ = "media_files"

    media_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media.id", ondelete="CASCADE"), primary_key=True
    )
    variant: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(160))  # file name under Media.folder
    content_type: Mapped[str] = mapped_column(String(100))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    # Deferred: loaded only when the bytes themselves are wanted (writing the file).
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)

    media: Mapped[Media] = relationship(back_populates="files")


class ItemRevision(Base):
    """One saved version of an item, written by the ingest service with every create and update."""

    __tablename__ = "item_revisions"

    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    contributor_id: Mapped[int | None] = mapped_column(
        ForeignKey("contributors.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    body_md: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    author_name: Mapped[str | None] = mapped_column(String(200))
    author_email: Mapped[str | None] = mapped_column(String(320))
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    image: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    notify: Mapped[bool] = mapped_column(Boolean, default=True)


class ItemReview(Base):
    """A request that an editor review an item; open until an editor publishes or returns it."""

    __tablename__ = "item_reviews"
    __table_args__ = (Index("ix_item_reviews_open", "decided_at", "requested_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), index=True
    )
    requested_by: Mapped[int | None] = mapped_column(
        ForeignKey("contributors.id", ondelete="SET NULL")
    )
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(
        ForeignKey("contributors.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))  # "published" or "returned"
    comment: Mapped[str | None] = mapped_column(Text)


class EditorSignIn(Base):
    """Redaktionen: one requested sign-in, a six-digit code and a link, used at most once.

    Known and unknown addresses get a row alike (an unknown one without contributor), so the
    answer and the rate limits are the same for both. Only hashes are stored.
    """

    __tablename__ = "editor_sign_ins"
    __table_args__ = (
        Index("ix_editor_sign_ins_email", "email_hash", "created_at"),
        Index("ix_editor_sign_ins_ip", "ip_hash", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_hash: Mapped[str] = mapped_column(String(64), unique=True)
    link_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    email_hash: Mapped[str] = mapped_column(String(64))
    ip_hash: Mapped[str] = mapped_column(String(64))
    contributor_id: Mapped[int | None] = mapped_column(
        ForeignKey("contributors.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)


class EditorSession(Base):
    """Redaktionen: a signed-in browser; the cookie holds a token, the table only its hash."""

    __tablename__ = "editor_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    contributor_id: Mapped[int] = mapped_column(
        ForeignKey("contributors.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
