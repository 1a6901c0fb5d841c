"""Privacy (GDPR): export everything stored about an address, or forget it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.notify.preferences import normalise_email
from services.notify.subscriptions import email_hash, requests_of
from shared.models import Bounce, Delivery, OutboxEvent, Subscriber, SuppressedAddress


def _lenient(email: str) -> str:
    try:
        return normalise_email(email)
    except EmailNotValidError:
        return email.strip().lower()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_subscriber(*, session: Session, email: str) -> dict | None:
    """Everything stored about an address, as JSON-ready data; None if nothing is."""
    address = _lenient(email)
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == address))
    kept = session.get(SuppressedAddress, email_hash(address))
    requests = requests_of(session=session, email=address)
    if subscriber is None and kept is None and not requests:
        return None
    data: dict[str, Any] = {"email": address}
    if requests:
        data["requests"] = [
            {
                "at": _iso(event.occurred_at),
                "regions": list(event.regions),
                "topics": list(event.topics),
                "frequency": event.frequency,
                "source": event.source,
            }
            for _, event in requests
        ]
    if subscriber is not None:
        data["subscription"] = {
            "status": subscriber.status,
            "regions": list(subscriber.regions or []),
            "topics": list(subscriber.topics or []),
            "frequency": subscriber.frequency,
            "created_at": _iso(subscriber.created_at),
            "confirmed_at": _iso(subscriber.confirmed_at),
            "unsubscribed_at": _iso(subscriber.unsubscribed_at),
            "suppressed_at": _iso(subscriber.suppressed_at),
            "suppressed_reason": subscriber.suppressed_reason,
            "consent": {
                "at": _iso(subscriber.consent_at),
                "source": subscriber.consent_source,
                "text": subscriber.consent_text,
            },
        }
        deliveries = session.scalars(
            select(Delivery).where(Delivery.subscriber_id == subscriber.id).order_by(Delivery.id)
        )
        data["deliveries"] = [
            {
                "newsletter": d.newsletter,
                "status": d.status,
                "claimed_at": _iso(d.claimed_at),
                "sent_at": _iso(d.sent_at),
                "error": d.error,
            }
            for d in deliveries
        ]
        data["bounces"] = [
            {
                "newsletter": newsletter,
                "kind": b.kind,
                "status_code": b.status_code,
                "diagnostic": b.diagnostic,
                "source": b.source,
                "received_at": _iso(b.received_at),
                "decision": b.decision,
                "reason": b.reason,
            }
            for b, newsletter in session.execute(
                select(Bounce, Delivery.newsletter)
                .join(Delivery, Delivery.id == Bounce.delivery_id)
                .where(Bounce.subscriber_id == subscriber.id)
                .order_by(Bounce.id)
            ).all()
        ]
    if kept is not None:
        data["suppression"] = {
            "email_sha256": kept.email_hash,
            "reason": kept.reason,
            "since": _iso(kept.created_at),
        }
    return data


def forget_subscriber(*, session: Session, email: str, now: datetime) -> bool:
    """Erase an address and its mail history, keeping only its SHA-256 (and why) so a
    bounced or departed address is recognised; False if nothing was stored."""
    address = _lenient(email)
    requests = [row_id for row_id, _ in requests_of(session=session, email=address)]
    if requests:
        session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(requests)))
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == address))
    if subscriber is None:
        return bool(requests)
    if subscriber.status == "suppressed" or subscriber.suppressed_at is not None:
        complained = session.scalar(
            select(Bounce.id).where(
                Bounce.subscriber_id == subscriber.id, Bounce.kind == "complaint"
            )
        )
        reason = "complained" if complained is not None else "bounced"
    elif subscriber.status == "confirmed":
        reason = "forgotten"
    else:
        reason = subscriber.status  # pending or unsubscribed
    session.execute(delete(Bounce).where(Bounce.subscriber_id == subscriber.id))
    session.execute(delete(Delivery).where(Delivery.subscriber_id == subscriber.id))
    session.delete(subscriber)
    digest = email_hash(address)
    kept = session.get(SuppressedAddress, digest)
    if kept is None:
        session.add(SuppressedAddress(email_hash=digest, reason=reason, created_at=now))
    else:
        kept.reason = reason
    return True
