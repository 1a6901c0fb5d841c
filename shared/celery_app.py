"""The Celery app every service's tasks register on; only the broker URL differs by mode."""

from __future__ import annotations

import threading

from celery import Celery
from kombu import Queue

from shared import heap
from shared import logging as _logging
from shared import metrics as _metrics
from shared.config import Settings, get_settings

QUEUES = ("render", "notify", "search")


# The longest countdown of any retry: below the Redis visibility timeout (60 s), so a message
# waiting in a worker for its retry is never handed to a second worker meanwhile.
MAX_COUNTDOWN_SECONDS = 45
RESULT_SECONDS = 3600


def _transport_options(settings: Settings) -> dict[str, float]:
    if settings.is_embedded:
        # The in-process transport polls; its default second would delay every page by up to 1 s.
        return {"polling_interval": 0.02}
    return {
        # Redis has no real acknowledgements: kombu keeps a delivered message in an "unacked"
        # set and gives it back to the queue once it is older than this, which is how the
        # messages of a worker killed with -9 come back: within about a minute, not kombu's
        # default hour. It must exceed the longest a worker holds a message: the longest task
        # (an SMTP batch, seconds) and every countdown, since a retried task waits in its
        # worker unacked; so no task retries later than MAX_COUNTDOWN_SECONDS.
        # NEWSROOM_BROKER_VISIBILITY_TIMEOUT (seconds) overrides it: the fault-injection suite
        # (tests/faults/) sets it shorter still to measure redelivery after a `kill -9`.
        "visibility_timeout": settings.broker_visibility_timeout,
        # How often workers sweep the unacked set for such expired messages: kombu's default
        # is every 10 s but scans only every 10th sweep (~100 s); scan on every sweep so an
        # abandoned message is back within ~10 s of its visibility timeout.
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
    }


def create_celery(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    app = Celery(
        "newsroom",
        broker=settings.broker_url,
        backend=settings.results_url,
        set_as_current=True,
    )
    app.conf.update(
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="render",
        task_serializer="json",
        accept_content=["json"],
        # Results are kept only by the tasks a caller waits for (Redaktionen's previews and
        # counts: `ignore_result=False` on each), for an hour: a preview's frames read its
        # result again while the page is open.
        task_ignore_result=True,
        result_expires=RESULT_SECONDS,
        timezone=settings.timezone,
        enable_utc=True,
        # At-least-once: a task is acknowledged only after it ran (acks_late), and a message
        # whose worker process died mid-task is rejected back onto the queue instead of being
        # acknowledged as failed (reject_on_worker_lost). Every task is idempotent, so running
        # one twice is harmless; losing one is not.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # Default prefetch: one message at a time per process, so a prefetched message never
        # waits behind a long task while another worker sits idle. docker-compose.yml sets it
        # per queue with --prefetch-multiplier: 1 for notify (SMTP batches take seconds), 4 for
        # render (many short tasks; fewer round trips to Redis, and page locks serialise
        # writers anyway). A prefetched message is unacked, so a crash redelivers it too.
        worker_prefetch_multiplier=1,
        broker_transport_options=_transport_options(settings),
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    return app


celery_app = create_celery()
# Event ids in every task's logs, task counters and timings (shared/logging.py, metrics.py).
_logging.connect_celery_signals()
_metrics.connect_celery_signals()
heap.connect_celery_signals()  # no full collection walks a worker's startup heap


def configure(settings: Settings) -> None:
    """Point the shared app at another broker (tests and `newsroom run` switch settings)."""
    celery_app.conf.broker_url = settings.broker_url
    celery_app.conf.result_backend = settings.results_url
    celery_app.conf.broker_transport_options = _transport_options(settings)
    celery_app.conf.timezone = settings.timezone
    # Connections pooled for the previous broker must not be reused for the new one.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    # Nor a result backend made for it (cached on the app, or per thread).
    celery_app._backend_cache = None
    celery_app._local = threading.local()
