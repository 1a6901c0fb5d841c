"""Notify's logic: subscriptions with double opt-in, the delivery ledger, newsletters, privacy.

Plain functions with keyword-only arguments; the API and the Celery tasks are thin shells
around them, and unit tests call them directly.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from prometheus_client import Counter
from sqlalchemy import and_, bindparam, case, delete, func, or_, select, update
from sqlalchemy import text as sql
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.notify import mail, rendering
from services.notify.tokens import InvalidToken, email_digest, make_token, read_token
from shared import metrics, taxonomy
from shared.config import get_settings
from shared.db import get_engine, is_postgres, session_scope, utcnow
from shared.events import parse_event
from shared.models import Delivery, Item, Subscriber, SuppressedAddress
from shared.visibility import is_visible

log = logging.getLogger(__name__)

FREQUENCIES = ("immediate", "weekly")
# Regions or topics one request may list (the API's schema says the same).
MAX_CHOICES = 100
# Unconfirmed subscriptions are forgotten after this long (the confirm link lives as long).
PENDING_TTL = timedelta(days=30)
# How far ahead a not-yet-visible item is waited for by retrying; farther ones come back
# through the outbox's deliver_after when they are published.
SCHEDULE_WAIT_LIMIT = timedelta(hours=1)
CONFIRM_PREFIX = "confirm:"
# A claimed row older than this has outlived its batch's whole retry schedule (about 2 h).
STALLED_AFTER = timedelta(hours=3)
# A row still `sending` this long after its take was in flight when its worker died (an SMTP
# conversation lasts at most the SMTP timeout, 30 s): it is sent again, at most one duplicate.
IN_FLIGHT_AFTER = timedelta(minutes=10)

CONSENT_TEXT = (
    "Jag vill få nyheter från {site_title} via e-post om de regioner och ämnen jag valt. "
    "Adressen används bara för detta, och jag kan när som helst avsluta prenumerationen "
    "med länken i varje mejl."
)

MAILS = Counter("newsroom_notify_mails_total", "Mails handed to the transport", ["kind", "result"])
SUBSCRIPTIONS = Counter("newsroom_notify_subscription_requests_total", "Subscription requests")


class InvalidSubscription(ValueError):
    """The request's fields are wrong; `errors` is the `{field, message}` list (Swedish)."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


class NotYetVisible(Exception):
    """The item is published with a time still ahead; try again in `wait` seconds."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"item visible in {wait:.0f} s")
        self.wait = wait


@dataclass(frozen=True)
class Preferences:
    """What a subscriber wants; empty regions or topics mean all of them."""

    regions: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    frequency: str = "immediate"


@dataclass(frozen=True)
class SubscriptionRequest:
    email: str
    preferences: Preferences


@dataclass
class BatchResult:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retry: list[str] = field(default_factory=list)


# --- validation and matching -------------------------------------------------------------


def normalise_email(email: str) -> str:
    """The address as stored: validated (syntax only, no DNS), ASCII (an international
    domain in its xn-- form) and lower-cased.

    Addresses with non-ASCII before the @ are refused: they need SMTPUTF8 all the way,
    which few receiving servers offer.
    """
    result = validate_email(email.strip(), check_deliverability=False, allow_smtputf8=False)
    return (result.ascii_email or result.normalized).lower()


def validate_preferences(
    *, regions: Iterable[str], topics: Iterable[str], frequency: str | None
) -> Preferences:
    """Check slugs against the taxonomy and the frequency; raise InvalidSubscription."""
    errors: list[dict[str, str]] = []
    regions, topics = list(regions), list(topics)
    for name, values in (("regions", regions), ("topics", topics)):
        if len(values) > MAX_CHOICES:
            errors.append({"field": name, "message": f"Högst {MAX_CHOICES} val."})
    regions = tuple(dict.fromkeys(r for r in regions if r))
    topics = tuple(dict.fromkeys(t for t in topics if t))
    unknown_regions = [slug for slug in regions if slug not in taxonomy.regions()]
    unknown_topics = [slug for slug in topics if slug not in taxonomy.topics()]
    # A few names are enough to help; a flood of junk gets no longer an answer.
    if unknown_regions:
        message = "Okänd region: " + ", ".join(unknown_regions[:5])
        errors.append({"field": "regions", "message": message})
    if unknown_topics:
        errors.append(
            {"field": "topics", "message": "Okänt ämne: " + ", ".join(unknown_topics[:5])}
        )
    frequency = "immediate" if frequency is None else frequency
    if frequency not in FREQUENCIES:
        errors.append({"field": "frequency", "message": "Välj immediate eller weekly."})
    if errors:
        raise InvalidSubscription(errors)
    return Preferences(regions=regions, topics=topics, frequency=frequency)


def validate_request(
    *,
    email: str,
    regions: Iterable[str] = (),
    topics: Iterable[str] = (),
    frequency: str | None = None,
) -> SubscriptionRequest:
    """A checked, normalised subscription request; raise InvalidSubscription."""
    errors: list[dict[str, str]] = []
    normalised = ""
    try:
        normalised = normalise_email(email or "")
    except EmailNotValidError:
        local_part = (email or "").strip().rpartition("@")[0]
        if local_part and not local_part.isascii():
            message = (
                "Adresser med å, ä, ö eller andra specialtecken före @ kan vi inte skicka till."
            )
        else:
            message = "Ange en giltig e-postadress."
        errors.append({"field": "email", "message": message})
    try:
        preferences = validate_preferences(regions=regions, topics=topics, frequency=frequency)
    except InvalidSubscription as exc:
        errors.extend(exc.errors)
    if errors:
        raise InvalidSubscription(errors)
    return SubscriptionRequest(email=normalised, preferences=preferences)


def matches(
    *,
    regions: Sequence[str],
    topics: Sequence[str],
    item_regions: Sequence[str],
    item_topics: Sequence[str],
) -> bool:
    """Whether an item concerns a subscriber: regions × topics, an empty choice is everything."""
    region_ok = not regions or not set(regions).isdisjoint(item_regions)
    topic_ok = not topics or not set(topics).isdisjoint(item_topics)
    return region_ok and topic_ok


def email_hash(email: str) -> str:
    """The SHA-256 of an address, what is kept of it after `forget_subscriber`."""
    return hashlib.sha256(email.encode()).hexdigest()


# --- subscriptions -----------------------------------------------------------------------


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
        .where(Delivery.newsletter.startswith(CONFIRM_PREFIX))
        .where(Delivery.claimed_at > now - timedelta(days=1))
    )
    if recent >= limit:
        log.info("confirmation mail limit reached for subscriber %s", subscriber.id)
        return None
    delivery = Delivery(
        newsletter=f"{CONFIRM_PREFIX}{uuid.uuid4().hex}",
        subscriber_id=subscriber.id,
        status="claimed",
        claimed_at=now,
    )
    session.add(delivery)
    session.flush()
    return delivery.id


def subscriber_for_token(*, session: Session, purpose: str, token: str) -> Subscriber:
    """The subscriber a valid token of this purpose names; raise InvalidToken otherwise."""
    subscriber_id, digest = read_token(purpose, token)  # type: ignore[arg-type]
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or email_digest(subscriber.email) != digest:
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


def update_preferences(
    *, session: Session, subscriber: Subscriber, preferences: Preferences
) -> None:
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
    manage = make_token("manage", subscriber_id=subscriber.id, email=subscriber.email)
    leave = make_token("unsubscribe", subscriber_id=subscriber.id, email=subscriber.email)
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
        token = make_token("confirm", subscriber_id=subscriber.id, email=subscriber.email)
        context["confirm_url"] = f"{get_settings().public_url}/prenumeration/bekrafta?token={token}"
        subject = f"Bekräfta din prenumeration på {site_title}"
    return mail.build_message(
        to=subscriber.email,
        subject=subject,
        text=rendering.render("mail/confirm.txt", **context),
        html=rendering.render_mail_html("mail/confirm.html", **context),
        now=now,
    )


# --- the ledger --------------------------------------------------------------------------


_deliveries = Delivery.__table__
_CLAIM_POSTGRES = sql(
    "INSERT INTO deliveries (newsletter, subscriber_id, status, claimed_at, attempts)"
    " SELECT :newsletter, unnest(CAST(:ids AS integer[])), 'claimed', :now, 0"
    " ON CONFLICT (newsletter, subscriber_id) DO NOTHING"
)


def claim(
    *, session: Session, newsletter: str, subscriber_ids: Iterable[int], now: datetime
) -> None:
    """Reserve ledger rows; rows that exist (claimed, sent, …) are left alone."""
    ids = list(subscriber_ids)
    if not ids:
        return
    if is_postgres(session):
        # One statement per 10,000 rows (the array parameter costs some 250 bytes a row in
        # this process while it is sent): 100,000 rows in a fraction of a second.
        for start in range(0, len(ids), 10_000):
            session.execute(
                _CLAIM_POSTGRES,
                {"newsletter": newsletter, "ids": ids[start : start + 10_000], "now": now},
            )
        return
    session.execute(
        sqlite_insert(_deliveries).on_conflict_do_nothing(
            index_elements=["newsletter", "subscriber_id"]
        ),
        [
            {
                "newsletter": newsletter,
                "subscriber_id": sid,
                "status": "claimed",
                "claimed_at": now,
                "attempts": 0,
            }
            for sid in ids
        ],
    )


def waiting(*, session: Session, newsletter: str) -> list[int]:
    """Subscribers whose ledger row for this newsletter is claimed and not yet sent."""
    # Streamed: only the ids are kept, not every row fetched at once besides them.
    return list(
        session.scalars(
            select(Delivery.subscriber_id)
            .where(Delivery.newsletter == newsletter, Delivery.status == "claimed")
            .order_by(Delivery.subscriber_id)
            .execution_options(yield_per=10_000)
        )
    )


_d = _deliveries.c
_TAKE = bindparam("take", type_=_d.id.type)
# Built once, run for every mail: one statement, one round trip and (in autocommit) one commit
# that takes the row `take` (claimed -> sending, the compare-and-set; claimed_at becomes the
# time of the take, so `stalled` can tell a mail in flight now from one whose worker died) and
# marks the row `done`, the mail SMTP accepted before, sent. RETURNING says what was updated:
# `take` is among the ids only if this task won its row.
_STEP = (
    _deliveries.update()
    .where(or_(and_(_d.id == _TAKE, _d.status == "claimed"), _d.id == bindparam("done")))
    .values(
        status=case((_d.id == _TAKE, "sending"), else_="sent"),
        attempts=case((_d.id == _TAKE, _d.attempts + 1), else_=_d.attempts),
        claimed_at=case(
            (_d.id == _TAKE, bindparam("at", type_=_d.claimed_at.type)), else_=_d.claimed_at
        ),
        sent_at=case(
            (_d.id == _TAKE, _d.sent_at), else_=bindparam("sent_at", type_=_d.sent_at.type)
        ),
        error=case((_d.id == _TAKE, _d.error), else_=None),
    )
    .returning(_d.id)
)


class _Ledger:
    """A batch's ledger writes around each send: one autocommitted statement per mail.

    Before a mail goes out its row moves from claimed to sending in a committed
    compare-and-set: only one of two duplicated or concurrent tasks gets each row. The same
    statement marks the mail before it sent, so at any moment at most one row of a batch is
    `sending` with its mail possibly accepted: the one in flight, or the one just accepted
    and not yet marked. A crash leaves that row `sending`, and `stalled` sends it again after
    IN_FLIGHT_AFTER: at most one duplicate per crashed batch, never more. Takes are not
    batched on purpose: taking 100 rows at once would leave up to 100 accepted mails
    `sending` at a crash, and the sweep would send every one of them twice.
    """

    def __init__(self) -> None:
        # One pooled connection for the batch, in autocommit: each statement is its own
        # transaction, with no BEGIN or COMMIT round trips.
        self._connection = get_engine().connect().execution_options(isolation_level="AUTOCOMMIT")
        self._postgres = self._connection.dialect.name == "postgresql"
        # The mail SMTP accepted last, not yet marked sent: (delivery id, when).
        self._done: tuple[int, datetime] | None = None
        if self._postgres:
            # Commits return before their WAL is flushed: a crashed worker loses nothing,
            # since the server has the commit; only the database server itself crashing in
            # the next fraction of a second could forget a take and repeat that mail. It
            # saves an fsync per mail, the limit of a batch's pace. SQLite's synchronous=NORMAL
            # in WAL mode (shared.db) makes the same trade. Reset before the connection goes
            # back to the pool.
            try:
                self._connection.execute(sql("SET synchronous_commit TO OFF"))
            except BaseException:
                self._connection.close()
                raise

    def _step(self, take: int | None) -> bool:
        done, sent_at = self._done or (None, None)
        now = utcnow()
        updated = (
            self._connection.execute(
                _STEP, {"take": take, "at": now, "done": done, "sent_at": sent_at or now}
            )
            .scalars()
            .all()
        )
        self._done = None
        return take is not None and take in updated

    def close(self) -> None:
        """Mark the last mail sent and let the connection go."""
        try:
            if self._done is not None:
                self._step(None)
            if self._postgres:
                self._connection.execute(sql("RESET synchronous_commit"))
        except BaseException:
            self._connection.invalidate()  # never back to the pool with our session settings
            raise
        finally:
            self._connection.close()

    def _record(self, delivery_id: int, *, status: str, error: str, suppress: bool) -> None:
        if status == "failed":
            metrics.MAILS_FAILED.inc()  # shared/metrics.py; the ledger keeps the detail
        if self._done is not None:
            self._step(None)
        if suppress:
            # Before the row's own update: a crash in between leaves the row `sending`, and
            # the mail the sweep would send again is skipped for its suppressed address.
            owner = select(Delivery.subscriber_id).where(Delivery.id == delivery_id)
            self._connection.execute(
                update(Subscriber)
                .where(Subscriber.id.in_(owner.scalar_subquery()))
                .values(suppressed_at=utcnow(), suppressed_reason=error)
            )
        self._connection.execute(
            update(Delivery).where(Delivery.id == delivery_id).values(status=status, error=error)
        )

    def send(
        self,
        transport: mail.Transport,
        *,
        delivery_id: int,
        recipient: str,
        message: EmailMessage | bytes,
        kind: str,
        result: BatchResult,
    ) -> None:
        """Send one ledger row's mail and record the outcome; re-raise what calls for a retry."""
        data = mail.message_bytes(message)
        if not self._step(delivery_id):
            return
        try:
            transport.send(recipient=recipient, data=data)
        except mail.PermanentFailure as exc:
            log.warning("address refused for good, suppressing it: %s", exc)
            self._record(delivery_id, status="failed", error=str(exc), suppress=True)
            MAILS.labels(kind, "refused").inc()
            result.failed += 1
            return
        except (mail.TemporaryFailure, mail.ConnectionFailure) as exc:
            # Not accepted: back to claimed so the retry sends it (and nothing that was).
            self._record(delivery_id, status="claimed", error=str(exc), suppress=False)
            MAILS.labels(kind, "deferred").inc()
            raise
        self._done = (delivery_id, utcnow())
        MAILS.labels(kind, "sent").inc()
        result.sent += 1


def send_confirmation(*, delivery_id: int, now: datetime | None = None) -> bool:
    """Send the confirmation mail a subscribe request reserved; False if it was not due."""
    now = now or utcnow()
    with session_scope() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.status != "claimed":
            return False
        subscriber = session.get(Subscriber, delivery.subscriber_id)
        if subscriber is None or subscriber.status == "unsubscribed":
            delivery.status = "skipped"
            return False
        message = confirmation_message(subscriber=subscriber, now=now)
        recipient = subscriber.email
    result = BatchResult()
    ledger = _Ledger()
    try:
        with mail.open_transport() as transport:
            ledger.send(
                transport,
                delivery_id=delivery_id,
                recipient=recipient,
                message=message,
                kind="confirmation",
                result=result,
            )
    finally:
        ledger.close()
    return result.sent == 1


# --- newsletters -------------------------------------------------------------------------


def plan_item_newsletter(
    *, session: Session, event: dict, now: datetime
) -> tuple[str, list[int]] | None:
    """Claim ledger rows for everyone an item event should reach; return the newsletter key
    and the subscribers still waiting for it, or None when the event mails nobody.

    Raise NotYetVisible when the item becomes visible shortly (the task retries then).
    """
    parsed = parse_event(event)
    if parsed.type == "item.withdrawn":
        return None
    item = session.get(Item, parsed.item_id)
    if item is None or item.status != "published":
        return None
    if item.published_at > now:
        wait = (item.published_at - now).total_seconds()
        if wait <= SCHEDULE_WAIT_LIMIT.total_seconds():
            raise NotYetVisible(wait + 1)
        return None
    if parsed.type == "item.updated" and is_visible(parsed.previous, now=parsed.occurred_at):
        return None  # an edit of something already out: whoever wanted it has had it
    newsletter = f"item:{item.id}"
    # Streamed: with 100,000 subscribers only the chosen ids are held, not every row.
    candidates = session.execute(
        select(Subscriber.id, Subscriber.regions, Subscriber.topics)
        .where(Subscriber.status == "confirmed", Subscriber.frequency == "immediate")
        .where(Subscriber.suppressed_at.is_(None))
        .execution_options(yield_per=2000)
    )
    chosen = [
        row.id
        for row in candidates
        if matches(
            regions=row.regions or [],
            topics=row.topics or [],
            item_regions=item.regions or [],
            item_topics=item.topics or [],
        )
    ]
    claim(session=session, newsletter=newsletter, subscriber_ids=chosen, now=now)
    return newsletter, waiting(session=session, newsletter=newsletter)


def digest_week(now: datetime) -> tuple[str, datetime, datetime]:
    """The ISO week a digest sent at `now` covers (the previous local week): key, start, end."""
    tz = ZoneInfo(get_settings().timezone)
    local = now.astimezone(tz)
    this_monday = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    # Aware arithmetic in a ZoneInfo zone is wall-clock arithmetic: midnight stays midnight
    # across a daylight-saving switch.
    start = this_monday - timedelta(days=7)
    end = this_monday
    year, week, _ = start.isocalendar()
    return f"digest:{year}-W{week:02d}", start.astimezone(UTC), end.astimezone(UTC)


def _week_items(session: Session, *, start: datetime, end: datetime, now: datetime) -> list[Item]:
    return list(
        session.scalars(
            select(Item)
            .where(Item.status == "published")
            .where(Item.published_at >= start, Item.published_at < end, Item.published_at <= now)
            .order_by(Item.published_at.desc())
        )
    )


def _digest_items(subscriber: Subscriber, items: Sequence[Item]) -> list[Item]:
    return [
        item
        for item in items
        if matches(
            regions=subscriber.regions or [],
            topics=subscriber.topics or [],
            item_regions=item.regions or [],
            item_topics=item.topics or [],
        )
    ]


def plan_digest(*, session: Session, now: datetime) -> tuple[str, list[int]]:
    """Claim ledger rows for the weekly subscribers with at least one matching item of the
    past week (nobody gets an empty digest); return the key and who is still waiting."""
    newsletter, start, end = digest_week(now)
    items = _week_items(session, start=start, end=end, now=now)
    chosen: list[int] = []
    if items:
        subscribers = session.scalars(
            select(Subscriber)
            .where(Subscriber.status == "confirmed", Subscriber.frequency == "weekly")
            .where(Subscriber.suppressed_at.is_(None))
        )
        chosen = [s.id for s in subscribers if _digest_items(s, items)]
    claim(session=session, newsletter=newsletter, subscriber_ids=chosen, now=now)
    return newsletter, waiting(session=session, newsletter=newsletter)


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

    MANAGE = "__NEWSROOM_MANAGE_URL__"
    UNSUBSCRIBE = "__NEWSROOM_UNSUBSCRIBE_URL__"

    def __init__(self, *, now: datetime) -> None:
        self.now = now

    def _render(
        self, key: Any, subject: str, template: str, **context: Any
    ) -> mail.PreparedMessage:
        """The shared part `key` names (it must change whenever the part would)."""
        found = _PARTS.get(key)
        if found is not None and time.monotonic() - found[0] < PARTS_REUSED_FOR:
            return found[1]
        context.update(manage_url=self.MANAGE, unsubscribe_url=self.UNSUBSCRIBE)
        prepared = mail.PreparedMessage(
            subject=subject,
            text=rendering.render(f"mail/{template}.txt", **context),
            html=rendering.render_mail_html(f"mail/{template}.html", **context),
            placeholders=(self.MANAGE, self.UNSUBSCRIBE),
            now=self.now,
        )
        if len(_PARTS) >= PARTS_KEPT:
            _PARTS.clear()
        _PARTS[key] = (time.monotonic(), prepared)
        return prepared

    def personal(self, prepared: mail.PreparedMessage, subscriber: Subscriber) -> bytes:
        urls = links(subscriber)
        return prepared.fill(
            to=subscriber.email,
            unsubscribe_url=urls["unsubscribe_url"],
            values={self.MANAGE: urls["manage_url"], self.UNSUBSCRIBE: urls["unsubscribe_url"]},
        )


class ItemNewsletter(_Newsletter):
    def __init__(self, item: Item | None, *, now: datetime) -> None:
        super().__init__(now=now)
        self.item = item if item is not None and is_visible(item, now=now) else None

    def message_for(self, subscriber: Subscriber, *, now: datetime) -> bytes | None:
        item = self.item
        if (
            item is None
            or subscriber.frequency != "immediate"
            or not matches(
                regions=subscriber.regions or [],
                topics=subscriber.topics or [],
                item_regions=item.regions or [],
                item_topics=item.topics or [],
            )
        ):
            return None
        parts = self._render(
            ("item", item.id, item.version),
            item.title,
            "item",
            item=item,
            item_url=get_settings().public_url + item.path,
        )
        return self.personal(parts, subscriber)


class DigestNewsletter(_Newsletter):
    def __init__(self, items: list[Item], *, week: str, now: datetime) -> None:
        super().__init__(now=now)
        self.items = items
        self.week = week

    def message_for(self, subscriber: Subscriber, *, now: datetime) -> bytes | None:
        if subscriber.frequency != "weekly":
            return None
        chosen = _digest_items(subscriber, self.items)
        if not chosen:
            return None
        week_number = int(self.week.rpartition("W")[2])
        subject = f"Veckans nyheter från {get_settings().site_title} – vecka {week_number}"
        # Subscribers with the same choices get the same items: render those once.
        parts = self._render(
            ("digest", self.week, tuple((item.id, item.version) for item in chosen)),
            subject,
            "digest",
            items=chosen,
            week=week_number,
        )
        return self.personal(parts, subscriber)


def _newsletter_for(session: Session, newsletter: str, *, now: datetime):
    kind, _, key = newsletter.partition(":")
    if kind == "item":
        return ItemNewsletter(session.get(Item, uuid.UUID(key)), now=now)
    if kind == "digest":
        year, week = key.split("-W")
        start = datetime.fromisocalendar(int(year), int(week), 1).replace(
            tzinfo=ZoneInfo(get_settings().timezone)
        )
        items = _week_items(
            session,
            start=start.astimezone(UTC),
            end=(start + timedelta(days=7)).astimezone(UTC),
            now=now,
        )
        return DigestNewsletter(items, week=key, now=now)
    raise ValueError(f"unknown newsletter {newsletter!r}")


def deliver_batch(
    *, newsletter: str, subscriber_ids: Sequence[int], now: datetime | None = None
) -> BatchResult:
    """Send one newsletter to a batch of subscribers over one connection.

    Only rows still `claimed` are sent, so a retried batch never resends what was accepted.
    A 5xx suppresses that address; a 4xx leaves the row claimed and carries on (421 and lost
    connections stop the batch); `result.retry` then says why the batch must run again.
    The ledger is committed around every message, on purpose: it must outlive a crash.
    """
    now = now or utcnow()
    result = BatchResult()
    with session_scope() as session:
        rows = session.execute(
            select(Delivery.id, Subscriber)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.newsletter == newsletter, Delivery.status == "claimed")
            .where(Delivery.subscriber_id.in_(list(subscriber_ids)))
            .order_by(Delivery.subscriber_id)
        ).all()
        content = _newsletter_for(session, newsletter, now=now)
        work: list[tuple[int, str, bytes]] = []
        unwanted: list[int] = []
        for delivery_id, subscriber in rows:
            message = None
            if subscriber.status == "confirmed" and subscriber.suppressed_at is None:
                message = content.message_for(subscriber, now=now)
            if message is None:
                unwanted.append(delivery_id)
            else:
                work.append((delivery_id, subscriber.email, message))
        if unwanted:
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(unwanted), Delivery.status == "claimed")
                .values(status="skipped")
            )
            result.skipped = len(unwanted)
    if not work:
        return result
    rate = get_settings().mail_rate_per_second
    interval = 1.0 / rate if rate > 0 else 0.0
    next_at = time.monotonic()
    ledger = _Ledger()
    try:
        with mail.open_transport() as transport:
            for delivery_id, recipient, message in work:
                if interval:
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    next_at = max(next_at, time.monotonic()) + interval
                try:
                    ledger.send(
                        transport,
                        delivery_id=delivery_id,
                        recipient=recipient,
                        message=message,
                        kind=newsletter.partition(":")[0],
                        result=result,
                    )
                except mail.TemporaryFailure as exc:
                    result.retry.append(str(exc))
                    if exc.code == 421:
                        break
                except mail.ConnectionFailure as exc:
                    result.retry.append(str(exc))
                    break
    finally:
        ledger.close()
    return result


def give_up(*, newsletter: str, subscriber_ids: Sequence[int], error: str) -> int:
    """Mark rows still claimed after the last retry as failed (the address is not at fault)."""
    with session_scope() as session:
        return session.execute(
            update(Delivery)
            .where(Delivery.newsletter == newsletter, Delivery.status == "claimed")
            .where(Delivery.subscriber_id.in_(list(subscriber_ids)))
            .values(status="failed", error=error)
        ).rowcount


def stalled(*, session: Session, now: datetime) -> dict[str, list[int]]:
    """Newsletter rows whose batch must have ended long ago: still claimed (its task was lost
    with an in-memory broker, say) or still sending (its worker died mid-mail). Those are
    claimed again and returned, newsletter key -> subscriber ids to send again. Stalled
    confirmation mails are dropped instead: a late one would only confuse."""
    lost = or_(
        and_(Delivery.status == "claimed", Delivery.claimed_at < now - STALLED_AFTER),
        and_(Delivery.status == "sending", Delivery.claimed_at < now - IN_FLIGHT_AFTER),
    )
    rows = session.execute(
        select(Delivery.newsletter, Delivery.subscriber_id)
        .where(lost)
        .order_by(Delivery.newsletter, Delivery.subscriber_id)
    ).all()
    found: dict[str, list[int]] = {}
    for newsletter, subscriber_id in rows:
        if not newsletter.startswith(CONFIRM_PREFIX):
            found.setdefault(newsletter, []).append(subscriber_id)
    confirmations = Delivery.newsletter.startswith(CONFIRM_PREFIX)
    session.execute(
        update(Delivery).where(lost, confirmations).values(status="skipped", error="stalled")
    )
    session.execute(
        update(Delivery).where(lost, ~confirmations).values(status="claimed", claimed_at=now)
    )
    return found


def batches(ids: Sequence[int], size: int | None = None) -> list[list[int]]:
    size = size or get_settings().mail_batch_size
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def send_weekly_digest(*, now: datetime | None = None) -> int:
    """Send this week's digest in this process (what `newsroom digest send` runs); return
    how many mails went out. Running it again the same week sends only what is missing."""
    now = now or utcnow()
    with session_scope() as session:
        newsletter, waiting_ids = plan_digest(session=session, now=now)
    sent = 0
    deferred: list[str] = []
    for batch in batches(waiting_ids):
        result = deliver_batch(newsletter=newsletter, subscriber_ids=batch, now=now)
        sent += result.sent
        deferred += result.retry
    if deferred:
        log.warning(
            "%s: %d mails deferred (%s); running it again sends only those",
            newsletter,
            len(deferred),
            deferred[0],
        )
    return sent


# --- privacy -----------------------------------------------------------------------------


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
    if subscriber is None and kept is None:
        return None
    data: dict[str, Any] = {"email": address}
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
    if kept is not None:
        data["suppression"] = {
            "email_sha256": kept.email_hash,
            "reason": kept.reason,
            "since": _iso(kept.created_at),
        }
    return data


def forget_subscriber(*, session: Session, email: str) -> bool:
    """Erase an address and its mail history, keeping only its SHA-256 (and why) so a
    bounced or departed address is recognised; False if nothing was stored."""
    address = _lenient(email)
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == address))
    if subscriber is None:
        return False
    if subscriber.suppressed_at is not None:
        reason = "bounced"
    elif subscriber.status == "confirmed":
        reason = "forgotten"
    else:
        reason = subscriber.status  # pending or unsubscribed
    session.execute(delete(Delivery).where(Delivery.subscriber_id == subscriber.id))
    session.delete(subscriber)
    digest = email_hash(address)
    kept = session.get(SuppressedAddress, digest)
    if kept is None:
        session.add(SuppressedAddress(email_hash=digest, reason=reason, created_at=utcnow()))
    else:
        kept.reason = reason
    return True
