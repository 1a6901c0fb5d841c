"""The figures of Redaktionen's subscriber and newsletter pages and of notify's metrics, read
from the subscriber table and the send ledger: counts only, never who opened or clicked."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from services.notify.keys import CONFIRMATION_PREFIX, DigestKey, ItemKey, NewsletterKey
from shared.config import get_settings
from shared.models import Delivery, Item, Subscriber

# Subscriber states as Redaktionen names them; a suppressed address (refused for good by its
# mail server, or a `suppressed` status) counts as spärrad whatever its status says.
SUBSCRIBER_STATES = {
    "pending": "väntar på bekräftelse",
    "confirmed": "aktiv",
    "unsubscribed": "avslutad",
    "suppressed": "spärrad",
}
# Ledger states: claimed and sending wait; the rest are settled. `bounced` and `suppressed`
# rows are counted once the ledger holds them.
WAITING = ("claimed", "sending")
SETTLED = {
    "sent": "skickade",
    "failed": "misslyckade",
    "bounced": "studsade",
    "suppressed": "spärrade",
    "skipped": "hoppades över",
}


def stuck_after() -> timedelta:
    """A newsletter with rows waiting and nothing sent for this long is stuck (a batch lost
    with its worker, an SMTP server that keeps deferring); NEWSROOM_NEWSLETTER_STUCK_MINUTES.
    The stalled sweep sends such rows again after 3 hours."""
    return timedelta(minutes=get_settings().newsletter_stuck_minutes)


def _state():
    suppressed = or_(Subscriber.suppressed_at.is_not(None), Subscriber.status == "suppressed")
    return case((suppressed, "suppressed"), else_=Subscriber.status)


def subscriber_counts(*, session: Session) -> dict[str, int]:
    """Subscribers per state (pending, confirmed, unsubscribed, suppressed, and any other)."""
    state = _state()
    counts = dict.fromkeys(SUBSCRIBER_STATES, 0)
    for name, count in session.execute(select(state, func.count()).group_by(state)):
        counts[name] = counts.get(name, 0) + count
    return counts


def active_by_frequency(*, session: Session) -> dict[str, int]:
    """Active subscribers per frequency, counted by the database."""
    rows = session.execute(
        select(Subscriber.frequency, func.count())
        .where(_state() == "confirmed")
        .group_by(Subscriber.frequency)
    )
    return dict(rows.tuples().all())


@dataclass
class Choices:
    """What the active subscribers chose; an empty list means every region (or topic)."""

    regions: Counter = field(default_factory=Counter)
    topics: Counter = field(default_factory=Counter)
    frequencies: Counter = field(default_factory=Counter)
    all_regions: int = 0
    all_topics: int = 0
    total: int = 0


def active_choices(*, session: Session) -> Choices:
    """Regions, topics and frequencies of the active (confirmed, not suppressed) subscribers."""
    found = Choices()
    rows = session.execute(
        select(Subscriber.regions, Subscriber.topics, Subscriber.frequency)
        .where(_state() == "confirmed")
        .execution_options(yield_per=5000)
    )
    for regions, topics, frequency in rows:
        found.total += 1
        found.frequencies[frequency] += 1
        if regions:
            found.regions.update(set(regions))
        else:
            found.all_regions += 1
        if topics:
            found.topics.update(set(topics))
        else:
            found.all_topics += 1
    return found


@dataclass
class NewsletterStats:
    key: str
    kind: str  # "item" or "digest"
    title: str
    started_at: datetime
    last_sent_at: datetime | None
    statuses: dict[str, int]
    now: datetime

    @property
    def planned(self) -> int:
        return sum(self.statuses.values())

    @property
    def waiting(self) -> int:
        return sum(self.statuses.get(status, 0) for status in WAITING)

    @property
    def done(self) -> int:
        return self.planned - self.waiting

    @property
    def percent(self) -> int:
        return 100 if not self.planned else self.done * 100 // self.planned

    def count(self, status: str) -> int:
        return self.statuses.get(status, 0)

    @property
    def quiet_since(self) -> datetime:
        return self.last_sent_at or self.started_at

    @property
    def stuck(self) -> bool:
        """Rows wait and nothing was sent for `stuck_after()`."""
        return self.waiting > 0 and self.now - self.quiet_since > stuck_after()

    @property
    def state(self) -> str:
        if self.stuck:
            return "fastnat"
        return "skickas" if self.waiting else "klart"


def _newsletters():
    return ~Delivery.newsletter.startswith(CONFIRMATION_PREFIX)


def _titles(session: Session, keys: list[str]) -> dict[str, tuple[str, str]]:
    """key -> (kind, title): an item's headline, a digest's day."""
    found: dict[str, tuple[str, str]] = {}
    items: dict[uuid.UUID, str] = {}
    for key in keys:
        try:
            parsed = NewsletterKey.parse(key)
        except ValueError:
            found[key] = ("okänt", key)
            continue
        if isinstance(parsed, ItemKey):
            items[parsed.item_id] = key
            found[key] = ("item", "Nyhet som inte längre finns")
        elif isinstance(parsed, DigestKey):
            found[key] = ("digest", f"Veckobrev {parsed.period}")
    if items:
        for item_id, title in session.execute(
            select(Item.id, Item.title).where(Item.id.in_(list(items)))
        ):
            found[items[item_id]] = ("item", title)
    return found


def newsletters(
    *, session: Session, now: datetime, keys: list[str] | None = None, limit: int = 50
) -> list[NewsletterStats]:
    """The newsletters of the ledger (newest first, or those of `keys`) with their figures."""
    scope = select(
        Delivery.newsletter,
        func.min(Delivery.claimed_at).label("started"),
        func.max(Delivery.sent_at).label("last_sent"),
    ).where(_newsletters())
    if keys is not None:
        scope = scope.where(Delivery.newsletter.in_(keys))
    heads = session.execute(
        scope.group_by(Delivery.newsletter)
        .order_by(func.min(Delivery.claimed_at).desc())
        .limit(limit)
    ).all()
    chosen = [row.newsletter for row in heads]
    statuses: dict[str, dict[str, int]] = {key: {} for key in chosen}
    if chosen:
        for key, status, count in session.execute(
            select(Delivery.newsletter, Delivery.status, func.count())
            .where(Delivery.newsletter.in_(chosen))
            .group_by(Delivery.newsletter, Delivery.status)
        ):
            statuses[key][status] = count
    titles = _titles(session, chosen)
    return [
        NewsletterStats(
            key=row.newsletter,
            kind=titles[row.newsletter][0],
            title=titles[row.newsletter][1],
            started_at=row.started,
            last_sent_at=row.last_sent,
            statuses=statuses[row.newsletter],
            now=now,
        )
        for row in heads
    ]


def active_newsletters(
    *, session: Session, now: datetime, within: timedelta
) -> list[NewsletterStats]:
    """Newsletters with rows waiting, or begun within `within` (what the metrics show)."""
    keys = session.scalars(
        select(Delivery.newsletter)
        .where(_newsletters())
        .group_by(Delivery.newsletter)
        .having(
            or_(
                func.sum(case((Delivery.status.in_(WAITING), 1), else_=0)) > 0,
                func.min(Delivery.claimed_at) > now - within,
            )
        )
    ).all()
    return newsletters(session=session, now=now, keys=list(keys), limit=len(keys) or 1)


def errors(*, session: Session, key: str) -> list[tuple[str, str, int]]:
    """(status, reason, count) of a newsletter's rows that carry an error: the settled
    failures first, then the waiting rows deferred by a temporary error; most first."""
    rows = session.execute(
        select(Delivery.status, Delivery.error, func.count())
        .where(Delivery.newsletter == key, Delivery.error.is_not(None))
        .group_by(Delivery.status, Delivery.error)
    ).all()
    rows.sort(key=lambda row: (row[0] in WAITING, -row[2], row[1]))
    return [(status, error, count) for status, error, count in rows]


def waiting_addresses(*, session: Session, key: str, limit: int = 500) -> list[str]:
    """Addresses whose mail of this newsletter has not gone out yet (admins only)."""
    return list(
        session.scalars(
            select(Subscriber.email)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .where(Delivery.newsletter == key, Delivery.status.in_(WAITING))
            .order_by(Subscriber.email)
            .limit(limit)
        )
    )


__all__ = [
    "SETTLED",
    "SUBSCRIBER_STATES",
    "Choices",
    "NewsletterStats",
    "active_by_frequency",
    "active_choices",
    "active_newsletters",
    "errors",
    "newsletters",
    "stuck_after",
    "subscriber_counts",
    "waiting_addresses",
]
