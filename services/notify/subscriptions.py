"""Subscriptions with double opt-in: subscribe, confirm, change, unsubscribe, expire."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from prometheus_client import Counter
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.notify import ledger, mail, rendering
from services.notify.keys import CONFIRMATION_PREFIX, ConfirmationKey
from services.notify.preferences import Preferences, SubscriptionRequest, describe
from services.notify.tokens import InvalidToken, make_token, read_token
from shared import outbox, subscribing
from shared.config import get_settings
from shared.events import SubscriptionRequested
from shared.models import Delivery, OutboxEvent, Subscriber, SuppressedAddress

log = logging.getLogger(__name__)

# Unconfirmed subscriptions are forgotten after this long (the confirm link lives as long).
PENDING_TTL = timedelta(days=30)
# Applied subscription requests (each holds an address) are deleted from the outbox after
# this long.
REQUESTS_KEPT = timedelta(days=1)

# What a forgotten address's hash keeps as its reason when it was suppressed (privacy.py).
SUPPRESSED_REASONS = ("bounced", "complained")

SUBSCRIPTIONS = Counter("newsroom_notify_subscription_requests_total", "Subscription requests")


def email_hash(email: str) -> str:
    """The SHA-256 of an address, what is kept of it after it is forgotten."""
    return hashlib.sha256(email.encode()).hexdigest()


def consent_text() -> str:
    """The consent text the subscription form shows (shared.subscribing), for this site."""
    return subscribing.consent_text(get_settings().site_title)


def request_subscription(
    *, session: Session, request: SubscriptionRequest, source: str, now: datetime
) -> SubscriptionRequested:
    """Record a checked subscription request as an event (outbox) in the caller's
    transaction: the same single write whether the address is new, pending, confirmed or
    gone, so neither the answer nor its timing tells them apart. `subscribe` does the rest
    in the background."""
    SUBSCRIPTIONS.inc()
    event = SubscriptionRequested(
        occurred_at=now,
        email=request.email,
        regions=request.preferences.regions,
        topics=request.preferences.topics,
        frequency=request.preferences.frequency,
        source=source,
    )
    outbox.record(session, event)
    return event


def subscribe(*, session: Session, event: SubscriptionRequested) -> int | None:
    """Apply a subscription request; return the ledger id of its confirmation mail, or None
    when this address already got its share of mails today or is suppressed. Safe twice:
    the request's mail is one ledger row, and an older request never overwrites a newer
    one's choices.

    A confirmed address keeps its preferences (nobody changes them without a link from the
    mail); it gets a mail with its settings link instead.
    """
    key = ConfirmationKey(event.event_id.hex)
    done = session.scalar(select(Delivery.id).where(Delivery.newsletter == str(key)))
    if done is not None:
        return done
    now = event.occurred_at
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == event.email))
    if subscriber is not None and subscriber.status == "suppressed":
        # Bounced for good or complained: never mailed again, not even to confirm.
        log.info("subscriber %s is suppressed: no confirmation mail", subscriber.id)
        return None
    kept = session.get(SuppressedAddress, email_hash(event.email))
    if subscriber is None and kept is not None and kept.reason in SUPPRESSED_REASONS:
        log.info("a forgotten suppressed address asked again: no confirmation mail")
        return None
    if subscriber is None:
        subscriber = Subscriber(email=event.email, status="pending", created_at=now)
        try:
            with session.begin_nested():
                session.add(subscriber)
                session.flush()
        except IntegrityError:  # a concurrent request inserted the same address first
            subscriber = session.scalars(
                select(Subscriber).where(Subscriber.email == event.email)
            ).one()
    newer = subscriber.consent_at is None or subscriber.consent_at <= now
    if newer and (subscriber.status != "confirmed" or subscriber.suppressed_at is not None):
        subscriber.regions = list(event.regions)
        subscriber.topics = list(event.topics)
        subscriber.frequency = event.frequency
        subscriber.status = "pending"
        subscriber.consent_at = now
        subscriber.consent_source = event.source
        subscriber.consent_text = consent_text()

    limit = get_settings().confirmations_per_address_per_day
    recent = session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.subscriber_id == subscriber.id)
        .where(Delivery.newsletter.startswith(CONFIRMATION_PREFIX))
        .where(Delivery.claimed_at > now - timedelta(days=1))
    )
    if recent >= limit:
        log.info("confirmation mail limit reached for subscriber %s", subscriber.id)
        return None
    ledger.claim(session=session, newsletter=str(key), subscriber_ids=[subscriber.id], now=now)
    return session.scalar(select(Delivery.id).where(Delivery.newsletter == str(key)))


def requests_of(*, session: Session, email: str) -> list[tuple[int, SubscriptionRequested]]:
    """The subscription requests of an address still kept in the outbox: (row id, event)."""
    rows = session.execute(
        select(OutboxEvent.id, OutboxEvent.payload).where(
            OutboxEvent.type == SubscriptionRequested.model_fields["type"].default
        )
    )
    found = [(row_id, SubscriptionRequested.model_validate(payload)) for row_id, payload in rows]
    return [(row_id, event) for row_id, event in found if event.email == email]


def purge_requests(*, session: Session, now: datetime) -> int:
    """Delete relayed subscription requests older than REQUESTS_KEPT: the address they hold
    has served its purpose once the request was applied."""
    return session.execute(
        delete(OutboxEvent)
        .where(OutboxEvent.type == SubscriptionRequested.model_fields["type"].default)
        .where(OutboxEvent.relayed_at.is_not(None), OutboxEvent.created_at < now - REQUESTS_KEPT)
    ).rowcount


def subscriber_for_token(*, session: Session, purpose: str, token: str) -> Subscriber:
    """The subscriber a valid token of this purpose names; raise InvalidToken otherwise."""
    subject = read_token(purpose, token)  # type: ignore[arg-type]
    if isinstance(subject, str):
        subscriber = session.scalar(select(Subscriber).where(Subscriber.link_id == subject))
    else:
        # A link mailed before link ids: the id and the first 16 hex digits of the SHA-256
        # of the address it was sent to.
        subscriber_id, fingerprint = subject
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is not None and email_hash(subscriber.email)[:16] != fingerprint:
            subscriber = None
    if subscriber is None:
        raise InvalidToken("no such subscriber")
    return subscriber


def confirmation_state(subscriber: Subscriber) -> str:
    """What confirming would do: "pending" (confirm it), "already" (confirmed) or "inactive"
    (unsubscribed since the link was sent: an old link never resubscribes anyone)."""
    if subscriber.status == "confirmed" and subscriber.suppressed_at is None:
        return "already"
    return "pending" if subscriber.status == "pending" else "inactive"


def confirm(*, session: Session, token: str, now: datetime) -> str:
    """Confirm the subscription a confirm token names: "confirmed", or "already" or
    "inactive" as `confirmation_state` says."""
    subscriber = subscriber_for_token(session=session, purpose="confirm", token=token)
    state = confirmation_state(subscriber)
    if state != "pending":
        return state
    subscriber.status = "confirmed"
    subscriber.confirmed_at = now
    subscriber.unsubscribed_at = None
    subscriber.suppressed_at = None
    subscriber.suppressed_reason = None
    session.execute(
        delete(SuppressedAddress).where(
            SuppressedAddress.email_hash == email_hash(subscriber.email)
        )
    )
    return "confirmed"


def update_preferences(*, subscriber: Subscriber, preferences: Preferences) -> None:
    """Store a confirmed subscriber's new choices."""
    subscriber.regions = list(preferences.regions)
    subscriber.topics = list(preferences.topics)
    subscriber.frequency = preferences.frequency


def unsubscribe(*, session: Session, token: str, now: datetime) -> Subscriber:
    """Unsubscribe whoever an unsubscribe token names; doing it again changes nothing, and
    a suppressed address stays suppressed (an unsubscribed one could subscribe again)."""
    subscriber = subscriber_for_token(session=session, purpose="unsubscribe", token=token)
    if subscriber.status not in ("unsubscribed", "suppressed"):
        subscriber.status = "unsubscribed"
        subscriber.unsubscribed_at = now
    return subscriber


def expire_pending(*, session: Session, now: datetime) -> int:
    """Drop subscriptions left unconfirmed for 30 days; a former subscriber's row goes back
    to unsubscribed. Return how many expired."""
    cutoff = now - PENDING_TTL
    stale = session.scalars(
        select(Subscriber)
        .where(Subscriber.status == "pending")
        .where(func.coalesce(Subscriber.consent_at, Subscriber.created_at) < cutoff)
    ).all()
    for subscriber in stale:
        if subscriber.confirmed_at is None:
            session.execute(delete(Delivery).where(Delivery.subscriber_id == subscriber.id))
            session.delete(subscriber)
        else:
            subscriber.status = "unsubscribed"
    return len(stale)


def links(subscriber: Subscriber) -> dict[str, str]:
    """The personal settings and unsubscribe URLs of a subscriber."""
    base = get_settings().public_url
    manage = make_token("manage", link_id=subscriber.link_id)
    leave = make_token("unsubscribe", link_id=subscriber.link_id)
    return {
        "manage_url": f"{base}/prenumeration/installningar?token={manage}",
        "unsubscribe_url": f"{base}/prenumeration/avregistrera?token={leave}",
    }


def confirmation_message(*, subscriber: Subscriber, now: datetime) -> EmailMessage:
    """The double opt-in mail, or for a confirmed address a mail with its settings link."""
    site_title = get_settings().site_title
    already = subscriber.status == "confirmed" and subscriber.suppressed_at is None
    context: dict[str, Any] = {
        "already_confirmed": already,
        "manage_url": "",
        "confirm_url": "",
        "choice": describe(Preferences.of(subscriber)),
    }
    if already:
        context["manage_url"] = links(subscriber)["manage_url"]
        subject = f"Du prenumererar redan på {site_title}"
    else:
        token = make_token("confirm", link_id=subscriber.link_id)
        context["confirm_url"] = f"{get_settings().public_url}/prenumeration/bekrafta?token={token}"
        subject = f"Bekräfta din prenumeration på {site_title}"
    return mail.build_message(
        to=subscriber.email,
        subject=subject,
        text=rendering.render("mail/confirm.txt", **context),
        html=rendering.render_mail_html("mail/confirm.html", **context),
        now=now,
    )
