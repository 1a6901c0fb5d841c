"""Database models of every service. Services meet here and through events, never directly."""

from __future__ import annotations

import secrets
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
from sqlalchemy.dialects.postgresql import TSVECTOR
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


def new_link_id() -> str:
    """A random id for a subscriber's mail links: says nothing about who it is."""
    return secrets.token_urlsafe(16)


SUBSCRIBER_STATUSES = ("pending", "confirmed", "unsubscribed", "suppressed")
# Ledger row states; `bounced` and `complained` come later, from a bounce or an abuse report.
DELIVERY_STATUSES = (
    "claimed",
    "sending",
    "sent",
    "failed",
    "skipped",
    "bounced",
    "complained",
)


class Subscriber(Base):
    """A person on the mailing list; `status` is pending (väntar på bekräftelse), confirmed
    (aktiv), unsubscribed (avslutad) or suppressed (spärrad: a hard bounce, a complaint or
    too many soft bounces; never mailed again, not even a confirmation mail)."""

    __tablename__ = "subscribers"
    __table_args__ = (Index("ix_subscribers_status_frequency", "status", "frequency"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # What the signed links in its mails carry instead of the id or the address.
    link_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_link_id)
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    frequency: Mapped[str] = mapped_column(String(16), default="immediate")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_source: Mapped[str | None] = mapped_column(String(32))
    consent_text: Mapped[str | None] = mapped_column(Text)
    # When and why the address was suppressed (status `suppressed`): refused for good (SMTP
    # 5xx, a bounce), a complaint or too many soft bounces. Rows from before the status
    # existed may have these set with another status.
    suppressed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suppressed_reason: Mapped[str | None] = mapped_column(Text)


class Delivery(Base):
    """The ledger: one row per (newsletter, subscriber), claimed before the mail is sent.

    `status`: claimed (reserved, not yet accepted by SMTP), sending (handed to SMTP; sent
    again only by the stalled sweep, long after a crashed worker took it), sent, failed (5xx,
    a mail that cannot be built, or given up on; `error` says why), skipped (no longer
    wanted), bounced (accepted, then reported undeliverable by a bounce) or complained (its
    recipient reported it as abuse).
    """

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("newsletter", "subscriber_id", name="uq_delivery"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    newsletter: Mapped[str] = mapped_column(String(100))
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="claimed")
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # How often the stalled sweep had to send it again; it gives up after a few.
    sweeps: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SuppressedAddress(Base):
    """What is left of a forgotten subscriber: a hash of the address and why it is kept."""

    __tablename__ = "suppressed_addresses"

    email_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


BOUNCE_KINDS = ("hard", "soft", "complaint")
BOUNCE_DECISIONS = ("suppressed", "counted", "already_suppressed")


class Bounce(Base):
    """A bounce or complaint about one delivery and what was decided about its address.

    `kind`: hard (5.x.x), soft (4.x.x) or complaint (an abuse report). `decision`:
    suppressed (this report suppressed the address), counted (a soft bounce below the
    limit) or already_suppressed. `reason` says why, in Swedish, as the export shows it.
    One row per delivery: the same report read twice records one decision.
    """

    __tablename__ = "bounces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), unique=True
    )
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[str | None] = mapped_column(String(16))
    diagnostic: Mapped[str | None] = mapped_column(Text)
    # Where the report came from: smtp (refused while sending), mailbox or webhook.
    source: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decision: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)


class WebhookReceipt(Base):
    """A signature the bounce webhook accepted, kept while its timestamp is in the window,
    so that the same request sent again is refused."""

    __tablename__ = "webhook_receipts"

    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


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


class DigestItem(Base):
    """Notify: an item that became visible, and the digest that carries it (NULL: the next)."""

    __tablename__ = "notify_digest_items"

    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    visible_at: Mapped[datetime] = mapped_column(UTCDateTime)
    digest: Mapped[str | None] = mapped_column(String(100), index=True)


class Digest(Base):
    """Notify: one digest, made once; the items it carries were chosen when it was made."""

    __tablename__ = "notify_digests"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MailWindow(Base):
    """Notify: one immediate window (NEWSROOM_IMMEDIATE_WINDOW), shared by the subscribers
    whose window opened with the same mail. Items that become visible while it is open wait
    in it; closing it (once) decides its bundle; `dispatched_at` notes that the bundle's
    batches were queued."""

    __tablename__ = "notify_windows"
    __table_args__ = (Index("ix_notify_windows_open", "closed_at", "closes_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MailWindowMember(Base):
    """Notify: a subscriber whose window this is (kept after it closes: who had what)."""

    __tablename__ = "notify_window_members"

    window_id: Mapped[int] = mapped_column(
        ForeignKey("notify_windows.id", ondelete="CASCADE"), primary_key=True
    )
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class MailWindowItem(Base):
    """Notify: an item that became visible while the window was open, for its bundle."""

    __tablename__ = "notify_window_items"

    window_id: Mapped[int] = mapped_column(
        ForeignKey("notify_windows.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True, index=True
    )


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
