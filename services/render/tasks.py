"""Celery tasks of the render service: the edge where sessions are opened and committed."""

from __future__ import annotations

import logging
from pathlib import Path

from celery.utils.time import get_exponential_backoff_interval
from prometheus_client import Histogram
from sqlalchemy.exc import InterfaceError, OperationalError

from services.render import backlog, events, media_files, page_events, preview, work
from services.render.output import RenderReport, SiteOutput
from shared.celery_app import MAX_COUNTDOWN_SECONDS, celery_app
from shared.config import get_settings
from shared.db import session_scope, utcnow
from shared.events import MediaUploaded

RENDER_DURATION = Histogram(
    "newsroom_render_duration_seconds",
    "Time to render the pages of one event.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
log = logging.getLogger(__name__)

QUEUE = "render"
DATABASE_DOWN = (OperationalError, InterfaceError)
# Retries of an event whose pages could not be written (a full or read-only disk): backoff
# from 2 s up to MAX_COUNTDOWN_SECONDS, about 5 minutes in all. The event is in the backlog
# from its first failure on, and the periodic repair applies it again after that.
RETRIES = 10
REPAIR_EVERY_SECONDS = 60.0
REPAIR_BATCH = 100


def render_event(*, event: dict | None, site_dir: Path) -> RenderReport:
    """Add an item event to the work waiting, then render every event waiting; idempotent
    (each pass reads current state). With no event: only what waits."""
    if event is not None and event.get("type") == "page.updated":
        return page_events.render_page_event(event=event, site_dir=site_dir)
    report = RenderReport()
    if event is not None:
        # A unit of work of its own: once committed, whichever worker runs the next pass
        # takes it, while this one may still wait for that pass's lock.
        with session_scope() as session:
            if work.add(session=session, event=event) == work.DONE:
                return report  # another worker's batch rendered it after it was committed
    rendered = 0
    for render_pass in (events.render_first_pass, events.render_rest_pass):
        # Each pass is a unit of work of its own, committed before the next: the commit
        # releases its page locks, so the next batch waits for neither. Readers see the item
        # page, /aktuellt/ and the feeds during the first (bench/results/latest.md).
        while True:
            with session_scope() as session:
                count, done = render_pass(session=session, site_dir=site_dir)
            report.add(done)
            rendered += count if render_pass is events.render_first_pass else 0
            # A full batch may leave more behind: this event's too, in the order received.
            if count < work.BATCH:
                break
    if report.changed or rendered:
        log.info(
            "render: %d events, %d files written, %d removed",
            rendered,
            report.files_written,
            report.files_removed,
        )
    return report


# A database outage is waited out: the event is retried, never dropped (its pages would
# otherwise stay stale until the next event that touches them).
@celery_app.task(
    bind=True,
    name="render.handle_event",
    acks_late=True,
    autoretry_for=DATABASE_DOWN,
    retry_backoff=2,
    retry_backoff_max=MAX_COUNTDOWN_SECONDS,
    max_retries=None,
)
def handle_event(self, *, event: dict) -> dict:
    """Re-render the pages an item or page event touches; idempotent (reads current state)."""
    try:
        with RENDER_DURATION.time():
            report = render_event(event=event, site_dir=get_settings().site_dir)
    except DATABASE_DOWN:
        raise
    except Exception as error:
        # Anything else (a full disk, a read-only one...): kept in the database before the
        # retry, so the site is repaired even when the retries run out or the worker stops.
        with session_scope() as session:
            backlog.remember(session=session, event=event, error=error)
        countdown = get_exponential_backoff_interval(
            factor=2, retries=self.request.retries, maximum=MAX_COUNTDOWN_SECONDS
        )
        raise self.retry(exc=error, countdown=countdown, max_retries=RETRIES) from error
    if self.request.retries:
        with session_scope() as session:
            backlog.forget(session=session, event_id=event["event_id"])
    return {"written": report.files_written, "removed": report.files_removed}


@celery_app.task(
    name="render.publish_media",
    acks_late=True,
    autoretry_for=(*DATABASE_DOWN, OSError),
    retry_backoff=2,
    retry_backoff_max=MAX_COUNTDOWN_SECONDS,
    max_retries=RETRIES,
)
def publish_media(*, event: dict) -> dict:
    """Write an uploaded medium's files under /media/; idempotent (files that are there
    stay). An item that shows the medium writes them too, so a lost run costs nothing."""
    return {"written": publish_uploaded(event=event, site_dir=get_settings().site_dir)}


def publish_uploaded(*, event: dict, site_dir: Path) -> int:
    """The files of a `media.uploaded` event's medium into the site; how many were written."""
    media_id = MediaUploaded.model_validate(event).media_id
    with session_scope() as session:
        output = SiteOutput(site_dir)
        return media_files.publish(session=session, output=output, media_ids=[media_id])


@celery_app.task(name="render.repair", acks_late=True)
def repair() -> dict:
    """Apply again the events whose pages could not all be written; idempotent."""
    site_dir = get_settings().site_dir
    with session_scope() as session:
        waiting = backlog.waiting(session=session, limit=REPAIR_BATCH)
    repaired = 0
    for event in waiting:
        try:
            render_event(event=event, site_dir=site_dir)
        except DATABASE_DOWN:
            raise
        except Exception as error:
            with session_scope() as session:
                backlog.remember(session=session, event=event, error=error)
            log.warning("render: event %s still not rendered: %r", event["event_id"], error)
            if isinstance(error, OSError):
                break  # the disk still fails: the rest waits for the next run
            continue
        with session_scope() as session:
            backlog.forget(session=session, event_id=event["event_id"])
        repaired += 1
    if repaired:
        log.info("render: %d of %d waiting events rendered", repaired, len(waiting))
    # Events received by a worker that stopped before rendering them (none, normally: their
    # messages come back to another worker). A disk that still fails keeps them for the next
    # run, as it keeps the backlog.
    try:
        render_event(event=None, site_dir=site_dir)
    except OSError as error:
        log.warning("render: waiting events still not rendered: %r", error)
    with session_scope() as session:
        work.forget_done(session=session)
    return {"repaired": repaired, "waiting": len(waiting) - repaired}


# Redaktionen waits for the answer (shared.previews.ask); nothing is written, so a retry or a
# second run only renders the page again.
@celery_app.task(name="render.preview_item", ignore_result=False)
def preview_item(*, item: dict) -> str:
    """The HTML of an unsaved item's page, rendered by the site's own templates."""
    with session_scope() as session:
        return preview.preview_page(session=session, data=item, now=utcnow())


def beat_schedule() -> dict:
    """Render's Celery beat entries: the repair of what could not be written."""
    return {
        "render-repair": {
            "task": "render.repair",
            "schedule": REPAIR_EVERY_SECONDS,
            "options": {"queue": QUEUE},
        },
    }
