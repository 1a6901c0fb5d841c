"""Notify's Celery tasks and the units of work they run: each opens its session (and a
batch its ledger connection), commits it, and calls the plain functions of the service."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from celery.schedules import crontab, schedule
from sqlalchemy.exc import InterfaceError, OperationalError

from services.notify import delivery, ledger, mailbox, newsletters, subscriptions, windows
from services.notify import transport as transports
from services.notify.keys import BundleKey, NewsletterKey
from services.notify.ledger import BatchResult
from shared.celery_app import MAX_COUNTDOWN_SECONDS, celery_app
from shared.config import get_settings
from shared.db import session_scope, utcnow
from shared.events import SubscriptionRequested

log = logging.getLogger(__name__)

QUEUE = "notify"
# Backoff for deferred mail (SMTP 4xx, lost connections): 30 s, then every 45 s (the longest
# countdown the broker's visibility timeout allows), about 2 h in all before a batch gives up;
# `notify.resume_stalled` picks up what is left after a longer outage.
RETRY_BASE_SECONDS = 30
MAX_RETRIES = 160
# How often beat closes the immediate windows that are due: a window closes at most this
# much later than NEWSROOM_IMMEDIATE_WINDOW after it opened.
CLOSE_WINDOWS_EVERY_SECONDS = 30.0
# Closed windows are kept this long (who had which items), then forgotten.
KEEP_WINDOWS = timedelta(days=30)


# Every task is idempotent, so one that met an unreachable database simply runs again.
DB_RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 5,
    "retry_backoff_max": MAX_COUNTDOWN_SECONDS,
}


def _backoff(retries: int) -> int:
    return min(RETRY_BASE_SECONDS * 2**retries, MAX_COUNTDOWN_SECONDS)


# --- units of work -----------------------------------------------------------------------


def deliver(
    *, newsletter: NewsletterKey | str, subscriber_ids: Sequence[int], now: datetime | None = None
) -> BatchResult:
    """Send one newsletter to a batch of subscribers over one connection.

    Only rows still `claimed` are sent, so a retried batch never resends what was accepted;
    `result.retry` says why the batch must run again.
    """
    now = now or utcnow()
    key = newsletter if isinstance(newsletter, NewsletterKey) else NewsletterKey.parse(newsletter)
    result = BatchResult()
    with session_scope() as session:
        work = delivery.prepare_batch(
            session=session, key=key, subscriber_ids=subscriber_ids, now=now, result=result
        )
    return delivery.send(work=work, kind=key.kind, result=result)


def confirm_by_mail(*, delivery_id: int, now: datetime | None = None) -> bool:
    """Send the confirmation mail a subscribe request reserved; False if it was not due."""
    with session_scope() as session:
        work = delivery.prepare_confirmation(
            session=session, delivery_id=delivery_id, now=now or utcnow()
        )
    result = delivery.send(work=work, kind="confirmation", result=BatchResult())
    return result.sent == 1


def send_digest_here(*, now: datetime | None = None) -> int:
    """Send the digest in this process (what `newsroom digest send` runs); return how many
    mails went out. Running it again sends only what is missing."""
    now = now or utcnow()
    with session_scope() as session:
        key, waiting = newsletters.plan_digest(session=session, now=now)
    sent = 0
    deferred: list[str] = []
    for batch in delivery.batches(waiting):
        result = deliver(newsletter=str(key), subscriber_ids=batch, now=now)
        sent += result.sent
        deferred += result.retry
    if deferred:
        log.warning(
            "%s: %d mails deferred (%s); running it again sends only those",
            key,
            len(deferred),
            deferred[0],
        )
    return sent


def close_windows_now(*, now: datetime | None = None) -> int:
    """Close every immediate window that is due (each once, in a transaction of its own) and
    queue the batches of the bundles closed windows still owe; return how many closed now.
    Run twice, late or at once by two workers: each window closes once and its bundle's
    ledger rows are sent once."""
    now = now or utcnow()
    closed = 0
    while True:
        with session_scope() as session:
            key = newsletters.plan_bundle(session=session, now=now)
        if key is None:
            break
        closed += 1
    # Also what a run that died between closing and queueing left; queued twice (two runs at
    # once), a batch sends only the rows still claimed.
    with session_scope() as session:
        owed = windows.undispatched(session)
    for window_id in owed:
        key = str(BundleKey(window_id))
        with session_scope() as session:
            waiting = ledger.waiting(session=session, newsletter=key)
        dispatch_batches(key, waiting)
        with session_scope() as session:
            windows.dispatched(session, window_id=window_id, now=now)
    return closed


def dispatch_batches(newsletter: str, subscriber_ids: list[int]) -> int:
    """Queue one `notify.deliver_batch` per batch of recipients; return how many batches."""
    chunks = delivery.batches(subscriber_ids)
    for chunk in chunks:
        deliver_batch.apply_async(
            kwargs={"newsletter": newsletter, "subscriber_ids": chunk}, queue=QUEUE
        )
    return len(chunks)


# --- tasks -------------------------------------------------------------------------------


# 100 retries of at most 45 s cover SCHEDULE_WAIT_LIMIT (1 h) for an item about to appear.
@celery_app.task(name="notify.handle_event", bind=True, acks_late=True, max_retries=100, **DB_RETRY)
def handle_event(self, event: dict) -> int:
    """Mail a newly visible item to its immediate subscribers; returns recipients queued."""
    try:
        with session_scope() as session:
            planned = newsletters.plan_item_newsletter(session=session, event=event, now=utcnow())
    except newsletters.NotYetVisible as exc:
        raise self.retry(countdown=min(exc.wait, MAX_COUNTDOWN_SECONDS)) from exc
    if planned is None:
        return 0
    key, waiting = planned
    dispatch_batches(str(key), waiting)
    return len(waiting)


@celery_app.task(
    name="notify.deliver_batch", bind=True, acks_late=True, max_retries=MAX_RETRIES, **DB_RETRY
)
def deliver_batch(self, newsletter: str, subscriber_ids: list[int]) -> int:
    """Send one newsletter to a batch of recipients on one SMTP connection; returns mails sent."""
    result = deliver(newsletter=newsletter, subscriber_ids=subscriber_ids)
    if result.retry:
        if self.request.retries >= self.max_retries:
            with session_scope() as session:
                ledger.give_up(
                    session=session,
                    newsletter=newsletter,
                    subscriber_ids=subscriber_ids,
                    error=result.retry[-1],
                )
            log.error("%s: giving up on %d deferred mails", newsletter, len(result.retry))
        else:
            raise self.retry(countdown=_backoff(self.request.retries))
    return result.sent


@celery_app.task(
    name="notify.handle_subscription",
    bind=True,
    acks_late=True,
    max_retries=MAX_RETRIES,
    **DB_RETRY,
)
def handle_subscription(self, event: dict) -> bool:
    """Apply a subscription request (`subscription.requested`) and send its confirmation
    mail; True if the mail went out now."""
    with session_scope() as session:
        delivery_id = subscriptions.subscribe(
            session=session, event=SubscriptionRequested.model_validate(event)
        )
    if delivery_id is None:
        return False
    try:
        return confirm_by_mail(delivery_id=delivery_id)
    except (transports.TemporaryFailure, transports.ConnectionFailure) as exc:
        raise self.retry(countdown=_backoff(self.request.retries), exc=exc) from exc


# Requests made before `notify.handle_subscription` queued this instead; kept while such
# messages may still wait in a queue.
@celery_app.task(
    name="notify.send_confirmation", bind=True, acks_late=True, max_retries=MAX_RETRIES, **DB_RETRY
)
def send_confirmation(self, delivery_id: int) -> bool:
    """Send the double opt-in mail a subscription request reserved in the ledger."""
    try:
        return confirm_by_mail(delivery_id=delivery_id)
    except (transports.TemporaryFailure, transports.ConnectionFailure) as exc:
        raise self.retry(countdown=_backoff(self.request.retries), exc=exc) from exc


@celery_app.task(name="notify.send_digest", acks_late=True, max_retries=5, **DB_RETRY)
def send_digest() -> int:
    """Claim the digest and queue its batches; returns recipients queued."""
    with session_scope() as session:
        key, waiting = newsletters.plan_digest(session=session, now=utcnow())
    dispatch_batches(str(key), waiting)
    return len(waiting)


@celery_app.task(name="notify.close_windows", acks_late=True, max_retries=5, **DB_RETRY)
def close_windows() -> int:
    """Close the immediate windows that are due and send their bundles; returns how many
    closed."""
    return close_windows_now()


@celery_app.task(name="notify.expire_pending", acks_late=True, max_retries=5, **DB_RETRY)
def expire_pending() -> int:
    """Forget subscriptions left unconfirmed for 30 days, applied subscription requests and
    immediate windows closed long ago."""
    with session_scope() as session:
        subscriptions.purge_requests(session=session, now=utcnow())
        windows.forget_closed(session, before=utcnow() - KEEP_WINDOWS)
        return subscriptions.expire_pending(session=session, now=utcnow())


@celery_app.task(name="notify.resume_stalled", acks_late=True, max_retries=5, **DB_RETRY)
def resume_stalled() -> int:
    """Queue again the batches whose tasks were lost; returns recipients queued."""
    with session_scope() as session:
        found = ledger.stalled(session=session, now=utcnow())
    for newsletter, subscriber_ids in found.items():
        dispatch_batches(newsletter, subscriber_ids)
    return sum(len(ids) for ids in found.values())


# One poll at a time: expires before the next is due, so a slow mailbox never piles them up.
@celery_app.task(name="notify.poll_bounces", acks_late=True, max_retries=5, **DB_RETRY)
def poll_bounces() -> dict[str, int]:
    """Read the bounce mailbox (NEWSROOM_BOUNCE_MAILBOX_URL) once: decide on each report,
    delete what was handled, keep what could not be read; returns outcomes counted."""
    return mailbox.poll().outcomes


def parse_cron(expression: str) -> crontab:
    """A crontab from "m h dom mon dow" (NEWSROOM_DIGEST_SCHEDULE)."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"NEWSROOM_DIGEST_SCHEDULE needs 5 fields, got {expression!r}")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    return crontab(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
    )


def beat_schedule() -> dict:
    """Notify's Celery beat entries; times are in NEWSROOM_TIMEZONE (the Celery app's zone)."""
    settings = get_settings()
    return {
        "notify-weekly-digest": {
            "task": "notify.send_digest",
            "schedule": parse_cron(settings.digest_schedule),
            "options": {"queue": QUEUE},
        },
        "notify-close-windows": {
            "task": "notify.close_windows",
            "schedule": schedule(timedelta(seconds=CLOSE_WINDOWS_EVERY_SECONDS)),
            # One waiting behind a busy queue is dropped: the next does its work.
            "options": {"queue": QUEUE, "expires": CLOSE_WINDOWS_EVERY_SECONDS},
        },
        "notify-resume-stalled": {
            "task": "notify.resume_stalled",
            "schedule": crontab(minute="*/5"),
            "options": {"queue": QUEUE},
        },
        "notify-expire-pending": {
            "task": "notify.expire_pending",
            "schedule": crontab(minute="17", hour="3"),
            "options": {"queue": QUEUE},
        },
        # Always scheduled, so beat needs no mailbox password: without
        # NEWSROOM_BOUNCE_MAILBOX_URL on the worker the task does nothing.
        "notify-poll-bounces": {
            "task": "notify.poll_bounces",
            "schedule": settings.bounce_poll_seconds,
            "options": {"queue": QUEUE, "expires": settings.bounce_poll_seconds},
        },
    }


# Redaktionen's mails (sign-in codes, returned reviews) and its questions (previews, counts,
# test newsletters) register on import.
from services.notify import editor_mail as _editor_mail  # noqa: E402, F401
from services.notify import previews as _previews  # noqa: E402, F401
