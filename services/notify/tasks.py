"""Notify's Celery tasks: thin shells that open a session and call service.py."""

from __future__ import annotations

import logging

from celery.schedules import crontab
from sqlalchemy.exc import InterfaceError, OperationalError

from services.notify import mail, service
from shared.celery_app import MAX_COUNTDOWN_SECONDS, celery_app
from shared.config import get_settings
from shared.db import session_scope, utcnow

log = logging.getLogger(__name__)

QUEUE = "notify"
# Backoff for deferred mail (SMTP 4xx, lost connections): 30 s, then every 45 s (the longest
# countdown the broker's visibility timeout allows), about 2 h in all before a batch gives up;
# `notify.resume_stalled` picks up what is left after a longer outage.
RETRY_BASE_SECONDS = 30
MAX_RETRIES = 160


# Every task is idempotent, so one that met an unreachable database simply runs again.
DB_RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 5,
    "retry_backoff_max": MAX_COUNTDOWN_SECONDS,
}


def _backoff(retries: int) -> int:
    return min(RETRY_BASE_SECONDS * 2**retries, MAX_COUNTDOWN_SECONDS)


def dispatch_batches(newsletter: str, subscriber_ids: list[int]) -> int:
    """Queue one `notify.deliver_batch` per batch of recipients; return how many batches."""
    chunks = service.batches(subscriber_ids)
    for chunk in chunks:
        deliver_batch.apply_async(
            kwargs={"newsletter": newsletter, "subscriber_ids": chunk}, queue=QUEUE
        )
    return len(chunks)


# 100 retries of at most 45 s cover SCHEDULE_WAIT_LIMIT (1 h) for an item about to appear.
@celery_app.task(name="notify.handle_event", bind=True, acks_late=True, max_retries=100, **DB_RETRY)
def handle_event(self, event: dict) -> int:
    """Mail a newly visible item to its immediate subscribers; returns recipients queued."""
    try:
        with session_scope() as session:
            planned = service.plan_item_newsletter(session=session, event=event, now=utcnow())
    except service.NotYetVisible as exc:
        raise self.retry(countdown=min(exc.wait, MAX_COUNTDOWN_SECONDS)) from exc
    if planned is None:
        return 0
    newsletter, waiting = planned
    dispatch_batches(newsletter, waiting)
    return len(waiting)


@celery_app.task(
    name="notify.deliver_batch", bind=True, acks_late=True, max_retries=MAX_RETRIES, **DB_RETRY
)
def deliver_batch(self, newsletter: str, subscriber_ids: list[int]) -> int:
    """Send one newsletter to a batch of recipients on one SMTP connection; returns mails sent."""
    result = service.deliver_batch(newsletter=newsletter, subscriber_ids=subscriber_ids)
    if result.retry:
        if self.request.retries >= self.max_retries:
            service.give_up(
                newsletter=newsletter, subscriber_ids=subscriber_ids, error=result.retry[-1]
            )
            log.error("%s: giving up on %d deferred mails", newsletter, len(result.retry))
        else:
            raise self.retry(countdown=_backoff(self.request.retries))
    return result.sent


@celery_app.task(
    name="notify.send_confirmation", bind=True, acks_late=True, max_retries=MAX_RETRIES, **DB_RETRY
)
def send_confirmation(self, delivery_id: int) -> bool:
    """Send the double opt-in mail a subscription request reserved in the ledger."""
    try:
        return service.send_confirmation(delivery_id=delivery_id)
    except (mail.TemporaryFailure, mail.ConnectionFailure) as exc:
        raise self.retry(countdown=_backoff(self.request.retries), exc=exc) from exc


@celery_app.task(name="notify.send_digest", acks_late=True, max_retries=5, **DB_RETRY)
def send_digest() -> int:
    """Claim this week's digest and queue its batches; returns recipients queued."""
    with session_scope() as session:
        newsletter, waiting = service.plan_digest(session=session, now=utcnow())
    dispatch_batches(newsletter, waiting)
    return len(waiting)


@celery_app.task(name="notify.expire_pending", acks_late=True, max_retries=5, **DB_RETRY)
def expire_pending() -> int:
    """Forget subscriptions left unconfirmed for 30 days."""
    with session_scope() as session:
        return service.expire_pending(session=session, now=utcnow())


@celery_app.task(name="notify.resume_stalled", acks_late=True, max_retries=5, **DB_RETRY)
def resume_stalled() -> int:
    """Queue again the batches whose tasks were lost; returns recipients queued."""
    with session_scope() as session:
        found = service.stalled(session=session, now=utcnow())
    for newsletter, subscriber_ids in found.items():
        dispatch_batches(newsletter, subscriber_ids)
    return sum(len(ids) for ids in found.values())


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
    return {
        "notify-weekly-digest": {
            "task": "notify.send_digest",
            "schedule": parse_cron(get_settings().digest_schedule),
            "options": {"queue": QUEUE},
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
    }


# Redaktionen's mails (sign-in codes, returned reviews) register on import.
from services.notify import editor_mail as _editor_mail  # noqa: E402, F401
