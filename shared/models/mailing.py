"""The mailing list (the notify service's tables): subscribers, the send ledger, suppressions
and bounces, digests and immediate windows."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime, utcnow


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
