"""The Celery app every service's tasks register on; only the broker URL differs by mode."""

from __future__ import annotations

from celery import Celery
from kombu import Queue

from shared.config import Settings, get_settings

QUEUES = ("render", "notify")


def _transport_options(broker_url: str) -> dict[str, float]:
    if broker_url.startswith("memory://"):
        # The in-process transport polls; its default second would delay every page by up to 1 s.
        return {"polling_interval": 0.02}
    # Redis redelivers an unacknowledged message after this many seconds; it must exceed the
    # longest task (a newsletter batch takes seconds) yet keep recovery after a crash short.
    return {"visibility_timeout": 300}


def create_celery(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    app = Celery("newsroom", broker=settings.broker_url, set_as_current=True)
    app.conf.update(
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="render",
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        timezone=settings.timezone,
        enable_utc=True,
        # At-least-once: a task is acknowledged only after it ran, and a worker killed mid-task
        # gives its message back. Every task is idempotent, so a redelivery is harmless.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One message at a time per process: tasks are short and a prefetched message would
        # wait behind a long one while another worker sits idle.
        worker_prefetch_multiplier=1,
        broker_transport_options=_transport_options(settings.broker_url),
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    return app


celery_app = create_celery()


def configure(settings: Settings) -> None:
    """Point the shared app at another broker (tests and `newsroom run` switch settings)."""
    celery_app.conf.broker_url = settings.broker_url
    celery_app.conf.broker_transport_options = _transport_options(settings.broker_url)
    celery_app.conf.timezone = settings.timezone
    # Connections pooled for the previous broker must not be reused for the new one.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
