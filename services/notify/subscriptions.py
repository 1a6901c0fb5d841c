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

from services.notify import mail, rendering
from services.notify.keys import CONFIRMATION_PREFIX, ConfirmationKey
from services.notify.preferences import Preferences, SubscriptionRequest
from services.notify.tokens import InvalidToken, make_token, read_token
from shared.config import get_settings
from shared.models import Delivery, Subscriber, SuppressedAddress

log = logging.getLogger(__name__)

# Unconfirmed subscriptions are forgotten after this long (the confirm link lives as long).
PENDING_TTL = timedelta(days=30)

CONSENT_TEXT = (
    "Jag vill få nyheter från {site_title} via e-post om de regioner och ämnen jag valt. "
    "Adressen används bara för detta, och jag kan när som helst avsluta prenumerationen "
    "med länken i varje mejl."
)

SUBSCRIPTIONS = Counter("newsroom_notify_subscription_requests_total", "Subscription requests")


def email_hash(email: str) -> str:
    """The SHA-256 of an address, what is kept of it after it is forgotten."""
    return hashlib.sha256(email.encode()).hexdigest()


def consent_text() -> str:
    return CONSENT_TEXT.format(site_title=get_settings().site_title)


def subscribe(
    *, session: Session, request: SubscriptionRequest, source: str, now: datetime
) -> int | None:
    """Record a subscription request; return the ledger id of the confirmation mail to send
    after commit, or None when this address already got its share of mails today.

    A confirmed address keeps its preferences (nobody changes them without a link from the
    mail); it gets a mail with its settings link instead, so the answer never tells who
    subscribes.
    """
    SUBSCRIPTIONS.inc()
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == request.email))
    if subscriber is None:
        subscriber = Subscriber(email=request.email, status="pending", created_at=now)
        try:
            with session.begin_nested():
                session.add(subscriber)
                session.flush()
        except IntegrityError:  # a concurrent request inserted the same address first
            subscriber = session.scalars(
                select(Subscriber).where(Subscriber.email == request.email)
            ).one()
    if subscriber.status != "confirmed" or subscriber.suppressed_at is not None:
        subscriber.regions = list(request.preferences.regions)
        subscriber.topics = list(request.preferences.topics)
        subscriber.frequency = request.preferences.frequency
        subscriber.status = "pending"
        subscriber.consent_at = now
        subscriber.consent_source = source
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
    delivery = Delivery(
        newsletter=str(ConfirmationKey.new()),
        subscriber_id=subscriber.id,
        status="claimed",
        claimed_at=now,
    )
    session.add(delivery)
    session.flush()
    return delivery.id


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


def confirm(*, session: Session, token: str, now: datetime) -> str:
    """Confirm the subscription a confirm token names: "confirmed", "already" or "inactive"
    (unsubscribed since the link was sent: an old link never resubscribes anyone)."""
    subscriber = subscriber_for_token(session=session, purpose="confirm", token=token)
    if subscriber.status == "confirmed" and subscriber.suppressed_at is None:
        return "already"
    if subscriber.status != "pending":
        return "inactive"
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
    """Unsubscribe whoever an unsubscribe token names; doing it again changes nothing."""
    subscriber = subscriber_for_token(session=session, purpose="unsubscribe", token=token)
    if subscriber.status != "unsubscribed":
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
    context: dict[str, Any] = {"already_confirmed": already, "manage_url": "", "confirm_url": ""}
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
