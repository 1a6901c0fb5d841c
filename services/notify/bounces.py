"""The bounce policy: what a bounce or complaint about one delivery does to its address.

A hard bounce (5.x.x) or a complaint suppresses the address at once; soft bounces (4.x.x)
suppress it once NEWSROOM_SOFT_BOUNCE_LIMIT of them arrived within NEWSROOM_SOFT_BOUNCE_DAYS.
A suppressed subscriber (status `suppressed`, "spärrad") is never mailed again, not even a
confirmation mail. Every decision is a row of `bounces` (one per delivery, so the same
report read twice decides once), shown in the subscriber's export.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import String, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from services.notify import verp
from services.notify.reports import status_of
from shared.config import get_settings
from shared.models import Bounce, Delivery, Subscriber

log = logging.getLogger(__name__)

BOUNCES = Counter(
    "newsroom_bounces_total", "Bounces and complaints recorded, by kind.", ["kind", "source"]
)
# What became of each report read: recorded, duplicate, unknown_delivery (no such row, or
# a tag that does not match it), not_a_failure (delayed, delivered) or unreadable (kept).
REPORTS = Counter(
    "newsroom_bounce_reports_total", "Bounce reports handled, by outcome.", ["outcome"]
)

DELIVERY_STATUS = {"hard": "bounced", "soft": "bounced", "complaint": "complained"}


@dataclass(frozen=True)
class Report:
    """A bounce or complaint about the delivery a VERP tag names."""

    kind: str  # hard, soft or complaint
    delivery_id: int
    mac: str
    source: str  # mailbox or webhook
    status_code: str | None = None
    diagnostic: str | None = None


def _reason(kind: str, status_code: str | None, soft_count: int = 0) -> tuple[str, bool]:
    """The decision's reason in Swedish, and whether it suppresses the address."""
    settings = get_settings()
    code = f" ({status_code})" if status_code else ""
    if kind == "hard":
        return f"Permanent studs{code}: adressen tar inte emot e-post.", True
    if kind == "complaint":
        return "Klagomål: mottagaren anmälde utskicket som oönskat.", True
    limit, days = settings.soft_bounce_limit, settings.soft_bounce_days
    if soft_count >= limit:
        return f"Tillfällig studs{code}: {soft_count} på {days} dagar, gränsen är {limit}.", True
    return f"Tillfällig studs{code}: {soft_count} av {limit} på {days} dagar.", False


def suppress(subscriber: Subscriber, *, reason: str, now: datetime) -> None:
    """Mark an address suppressed: nothing is sent to it again."""
    subscriber.status = "suppressed"
    subscriber.suppressed_at = now
    subscriber.suppressed_reason = reason


def record(*, session: Session, report: Report, now: datetime) -> str:
    """Apply the policy to one report; return the outcome: the decision (suppressed,
    counted, already_suppressed), or duplicate or unknown_delivery, which change nothing."""
    delivery = session.get(Delivery, report.delivery_id)
    subscriber = session.get(Subscriber, delivery.subscriber_id) if delivery else None
    if subscriber is None or not verp.verify(
        delivery_id=report.delivery_id, mac=report.mac, link_id=subscriber.link_id
    ):
        # A delivery forgotten since (its subscriber erased), or a tag that is not ours.
        log.info("bounce for delivery %s, which does not exist (any more)", report.delivery_id)
        REPORTS.labels("unknown_delivery").inc()
        return "unknown_delivery"
    if session.scalar(select(Bounce.id).where(Bounce.delivery_id == delivery.id)) is not None:
        REPORTS.labels("duplicate").inc()
        return "duplicate"
    soft_count = 0
    if report.kind == "soft":
        since = now - timedelta(days=get_settings().soft_bounce_days)
        soft_count = 1 + session.scalar(
            select(func.count())
            .select_from(Bounce)
            .where(Bounce.subscriber_id == subscriber.id, Bounce.kind == "soft")
            .where(Bounce.received_at > since)
        )
    reason, suppresses = _reason(report.kind, report.status_code, soft_count)
    if subscriber.status == "suppressed":
        decision = "already_suppressed"
    elif suppresses:
        decision = "suppressed"
    else:
        decision = "counted"
    written = session.execute(
        _insert(session)
        .values(
            delivery_id=delivery.id,
            subscriber_id=subscriber.id,
            kind=report.kind,
            status_code=report.status_code,
            diagnostic=report.diagnostic,
            source=report.source,
            received_at=now,
            decision=decision,
            reason=reason,
        )
        .on_conflict_do_nothing(index_elements=["delivery_id"])
    ).rowcount
    if not written:  # a concurrent reader of the same report was first
        REPORTS.labels("duplicate").inc()
        return "duplicate"
    if delivery.status in ("sent", "sending"):
        delivery.status = DELIVERY_STATUS[report.kind]
        delivery.error = reason
    if decision == "suppressed":
        suppress(subscriber, reason=reason, now=now)
    BOUNCES.labels(report.kind, report.source).inc()
    REPORTS.labels("recorded").inc()
    log.info("delivery %s: %s bounce, %s", delivery.id, report.kind, decision)
    return decision


def _insert(bind: Session | Connection):
    """An INSERT into bounces that can skip a row already there, in the bind's dialect."""
    dialect = bind.dialect.name if isinstance(bind, Connection) else bind.get_bind().dialect.name
    return (postgres_insert if dialect == "postgresql" else sqlite_insert)(Bounce)


def record_refusal(connection: Connection, *, delivery_id: int, error: str, now: datetime) -> None:
    """An SMTP server refused a delivery's recipient for good while it was sent (5xx): the
    same decision as a hard bounce, on the ledger's own connection (see ledger.Ledger)."""
    status = status_of(error)
    reason, _ = _reason("hard", status)
    owner = select(Delivery.subscriber_id).where(Delivery.id == delivery_id).scalar_subquery()
    connection.execute(
        update(Subscriber)
        .where(Subscriber.id == owner)
        .values(status="suppressed", suppressed_at=now, suppressed_reason=error)
    )
    connection.execute(
        _insert(connection)
        .from_select(
            [
                "delivery_id",
                "subscriber_id",
                "kind",
                "status_code",
                "diagnostic",
                "source",
                "received_at",
                "decision",
                "reason",
            ],
            select(
                Delivery.id,
                Delivery.subscriber_id,
                _literal("hard"),
                _literal(status),
                _literal(error[:500]),
                _literal("smtp"),
                _literal(now, Bounce.received_at.type),
                _literal("suppressed"),
                _literal(reason),
            ).where(Delivery.id == delivery_id),
        )
        .on_conflict_do_nothing(index_elements=["delivery_id"])
    )
    BOUNCES.labels("hard", "smtp").inc()


def _literal(value, type_=None):
    return literal(value, type_=type_ or String())
