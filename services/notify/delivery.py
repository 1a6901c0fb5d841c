"""Delivery: each recipient's mail, built from a newsletter's shared part (cached), and the
loop that hands a batch to one SMTP connection, writing the ledger around every mail."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from services.notify import ledger, mail, newsletters, rendering, subscriptions, verp
from services.notify import transport as transports
from services.notify.keys import BundleKey, DigestKey, ItemKey, NewsletterKey
from services.notify.ledger import BatchResult
from services.notify.preferences import wants
from shared.config import get_settings
from shared.models import Delivery, Item, Subscriber
from shared.visibility import is_visible

log = logging.getLogger(__name__)

# Shared parts of newsletters, kept between batches in this process: key -> (made at, part).
# A worker runs batch after batch of one newsletter, and rendering and serialising its shared
# part (some 5 ms) cost more than the batch's 100 personal mails together. A part is reused
# for a minute at most, so its Date header stays about right; an edited item has a new
# version, and so a new key.
_PARTS: dict[Any, tuple[float, mail.PreparedMessage]] = {}
PARTS_REUSED_FOR = 60.0
PARTS_KEPT = 64


class _Newsletter:
    """The part of a newsletter that is the same for every recipient, rendered and
    serialised once; each recipient's mail only fills in their address and their own
    settings and unsubscribe links (about 0.05 ms, against some 4 ms for building and
    folding a whole message with the email package each time)."""

    def __init__(self, *, now: datetime) -> None:
        self.now = now

    def _render(
        self, key: Any, subject: str, template: str, **context: Any
    ) -> mail.PreparedMessage:
        """The shared part `key` names (it must change whenever the part would)."""
        found = _PARTS.get(key)
        if found is not None and time.monotonic() - found[0] < PARTS_REUSED_FOR:
            return found[1]
        links = (mail.new_placeholder("manage"), mail.new_placeholder("unsubscribe"))
        context.update(manage_url=links[0], unsubscribe_url=links[1])
        prepared = mail.PreparedMessage(
            subject=subject,
            text=rendering.render(f"mail/{template}.txt", **context),
            html=rendering.render_mail_html(f"mail/{template}.html", **context),
            placeholders=links,
            now=self.now,
        )
        if len(_PARTS) >= PARTS_KEPT:
            _PARTS.clear()
        _PARTS[key] = (time.monotonic(), prepared)
        return prepared

    def item_part(self, item: Item) -> mail.PreparedMessage:
        """The shared part of one item's mail: its title as the subject, its whole text."""
        subject, template, context = item_mail(item)
        return self._render(("item", item.id, item.version), subject, template, **context)

    def personal(
        self, prepared: mail.PreparedMessage, subscriber: Subscriber, *, tag: str | None = None
    ) -> bytes:
        urls = subscriptions.links(subscriber)
        manage, unsubscribe = prepared.placeholders
        return prepared.fill(
            to=subscriber.email,
            unsubscribe_url=urls["unsubscribe_url"],
            values={manage: urls["manage_url"], unsubscribe: urls["unsubscribe_url"]},
            message_tag=tag,
        )


class ItemNewsletter(_Newsletter):
    """One item to its immediate subscribers."""

    def __init__(self, item: Item | None, *, now: datetime) -> None:
        super().__init__(now=now)
        wanted = item is not None and item.notify is not False and is_visible(item, now=now)
        self.item = item if wanted else None

    def message_for(self, subscriber: Subscriber, *, tag: str | None = None) -> bytes | None:
        item = self.item
        if item is None or subscriber.frequency != "immediate" or not wants(subscriber, item):
            return None
        return self.personal(self.item_part(item), subscriber, tag=tag)


class BundleNewsletter(_Newsletter):
    """The items that waited in an immediate window, each subscriber getting those it
    matches: one item as its own mail, more listed as the digest lists them."""

    def __init__(self, items: list[Item], *, key: BundleKey, now: datetime) -> None:
        super().__init__(now=now)
        self.items = items
        self.key = key

    def message_for(self, subscriber: Subscriber, *, tag: str | None = None) -> bytes | None:
        if subscriber.frequency != "immediate":
            return None  # weekly now: the digest brings these
        chosen = [item for item in self.items if wants(subscriber, item)]
        if not chosen:
            return None
        if len(chosen) == 1:
            return self.personal(self.item_part(chosen[0]), subscriber, tag=tag)
        site_title = get_settings().site_title
        parts = self._render(
            (str(self.key), tuple((item.id, item.version) for item in chosen)),
            f"{len(chosen)} nya nyheter från {site_title}",
            "bundle",
            items=chosen,
        )
        return self.personal(parts, subscriber, tag=tag)


def item_mail(item: Item) -> tuple[str, str, dict[str, Any]]:
    """The subject, template and context of an item's newsletter (sent, previewed, tested)."""
    return item.title, "item", {"item": item, "item_url": get_settings().public_url + item.path}


class DigestNewsletter(_Newsletter):
    """A digest's items, each weekly subscriber getting those it matches."""

    def __init__(self, items: list[Item], *, key: DigestKey, now: datetime) -> None:
        super().__init__(now=now)
        self.items = items
        self.key = key

    def message_for(self, subscriber: Subscriber, *, tag: str | None = None) -> bytes | None:
        if subscriber.frequency != "weekly":
            return None
        chosen = [item for item in self.items if wants(subscriber, item)]
        if not chosen:
            return None
        subject = f"Veckans nyheter från {get_settings().site_title} – vecka {self.key.week}"
        # Subscribers with the same choices get the same items: render those once.
        parts = self._render(
            (str(self.key), tuple((item.id, item.version) for item in chosen)),
            subject,
            "digest",
            items=chosen,
            week=self.key.week,
        )
        return self.personal(parts, subscriber, tag=tag)


def newsletter_for(
    *, session: Session, key: NewsletterKey, now: datetime
) -> ItemNewsletter | BundleNewsletter | DigestNewsletter:
    """What a newsletter's recipients are sent, as far as it is still wanted."""
    items = newsletters.contents(session=session, key=key, now=now)
    if isinstance(key, ItemKey):
        return ItemNewsletter(items[0] if items else None, now=now)
    if isinstance(key, BundleKey):
        return BundleNewsletter(items, key=key, now=now)
    if isinstance(key, DigestKey):
        return DigestNewsletter(items, key=key, now=now)
    raise ValueError(f"{key} is no newsletter")


@dataclass(frozen=True)
class Outgoing:
    """One mail ready for the wire, the ledger row it settles and its envelope sender (the
    row's VERP address; None: NEWSROOM_MAIL_FROM's)."""

    delivery_id: int
    recipient: str
    data: bytes
    sender: str | None = None


def outgoing(*, delivery_id: int, subscriber: Subscriber, data: bytes, tag: str) -> Outgoing:
    """A ledger row's mail with the row's own return address (VERP `tag`)."""
    return Outgoing(delivery_id, subscriber.email, data, verp.return_address(tag))


def prepare_batch(
    *,
    session: Session,
    key: NewsletterKey,
    subscriber_ids: Sequence[int],
    now: datetime,
    result: BatchResult,
) -> list[Outgoing]:
    """Each still-claimed recipient's mail; rows nobody wants any more become `skipped`."""
    rows = session.execute(
        select(Delivery.id, Subscriber)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.newsletter == str(key), Delivery.status == "claimed")
        .where(Delivery.subscriber_id.in_(list(subscriber_ids)))
        .order_by(Delivery.subscriber_id)
    ).all()
    if not rows:
        return []
    work: list[Outgoing] = []
    verp_on = bool(get_settings().bounce_address)
    unwanted: list[int] = []
    broken: dict[str, list[int]] = {}
    try:
        content = newsletter_for(session=session, key=key, now=now)
    except Exception as exc:
        if isinstance(exc, SQLAlchemyError):
            raise  # the database, not the newsletter: the task retries
        broken[_reason(key, exc)] = [delivery_id for delivery_id, _ in rows]
        rows = []
    for delivery_id, subscriber in rows:
        try:
            message = tag = None
            if subscriber.status == "confirmed" and subscriber.suppressed_at is None:
                tag = verp.tag(delivery_id=delivery_id, link_id=subscriber.link_id)
                # The Message-ID carries the tag only where bounces are read at all.
                message = content.message_for(subscriber, tag=tag if verp_on else None)
            if message is None or tag is None:
                unwanted.append(delivery_id)
            else:
                data = mail.message_bytes(message)
                work.append(
                    outgoing(delivery_id=delivery_id, subscriber=subscriber, data=data, tag=tag)
                )
        except Exception as exc:
            if isinstance(exc, SQLAlchemyError):
                raise
            broken.setdefault(_reason(key, exc), []).append(delivery_id)
    result.skipped += ledger.mark(
        session=session, delivery_ids=unwanted, status="skipped", error=None
    )
    # A mail that cannot be built now will not be built by a retry either: it fails, with
    # its reason, visibly, instead of staying claimed and being tried again for ever.
    for reason, ids in broken.items():
        result.failed += ledger.mark(
            session=session, delivery_ids=ids, status="failed", error=reason
        )
        ledger.count_mail(key.kind, "unbuildable", len(ids))
    return work


def _reason(key: NewsletterKey, exc: Exception) -> str:
    log.exception("%s: the mail cannot be built", key)
    return f"mail cannot be built: {exc.__class__.__name__}: {exc}"[:1000]


def prepare_confirmation(*, session: Session, delivery_id: int, now: datetime) -> list[Outgoing]:
    """The confirmation mail a subscribe request reserved, if it is still due."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.status != "claimed":
        return []
    subscriber = session.get(Subscriber, delivery.subscriber_id)
    if subscriber is None or subscriber.status in ("unsubscribed", "suppressed"):
        delivery.status = "skipped"
        return []
    message = subscriptions.confirmation_message(subscriber=subscriber, now=now)
    data = mail.message_bytes(message)
    tag = verp.tag(delivery_id=delivery_id, link_id=subscriber.link_id)
    return [outgoing(delivery_id=delivery_id, subscriber=subscriber, data=data, tag=tag)]


def send(*, work: Sequence[Outgoing], kind: str, result: BatchResult) -> BatchResult:
    """Send prepared mails over one connection, the ledger written around each (its own unit
    of work: see ledger.Ledger). A 5xx suppresses that address; a 4xx leaves the row claimed
    and carries on (421 and lost connections stop the batch); `result.retry` then says why
    the batch must run again."""
    if not work:
        return result
    rate = get_settings().mail_rate_per_second
    interval = 1.0 / rate if rate > 0 else 0.0
    next_at = time.monotonic()
    with ledger.Ledger() as book, transports.open_transport() as transport:
        for outgoing in work:
            if interval:
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                next_at = max(next_at, time.monotonic()) + interval
            try:
                book.send(
                    transport,
                    delivery_id=outgoing.delivery_id,
                    recipient=outgoing.recipient,
                    data=outgoing.data,
                    sender=outgoing.sender,
                    kind=kind,
                    result=result,
                )
            except transports.TemporaryFailure as exc:
                result.retry.append(str(exc))
                if exc.code == 421:
                    break
            except transports.ConnectionFailure as exc:
                result.retry.append(str(exc))
                break
    return result


def batches(ids: Sequence[int], size: int | None = None) -> list[list[int]]:
    """Recipients in batches of NEWSROOM_MAIL_BATCH_SIZE, one task and connection each."""
    size = size or get_settings().mail_batch_size
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]
