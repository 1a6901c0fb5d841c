"""Prometheus metrics every service shares; each process serves its own at `/metrics`.

Counters live in the process that does the work (requests in the APIs, relayed events in the
relays, tasks in the workers). What must be right across processes and restarts, the outbox lag
and the mail ledger, is read from the database when scraped (`DatabaseCollector`). A service
counts what only it knows (render time, mails sent) in metrics of its own, next to its tasks.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

HTTP_REQUESTS = Counter(
    "newsroom_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "newsroom_http_request_duration_seconds", "Time to answer an HTTP request.", ["route"]
)
EVENTS_RELAYED = Counter(
    "newsroom_events_relayed_total", "Outbox events handed to the broker.", ["type"]
)
TASKS = Counter("newsroom_tasks_total", "Celery tasks run, by outcome.", ["task", "state"])
TASK_DURATION = Histogram(
    "newsroom_task_duration_seconds",
    "Run time of Celery tasks.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_DURATION.labels(route).observe(seconds)


class DatabaseCollector:
    """Outbox lag and mail ledger, read from the database at scrape time."""

    def describe(self) -> Any:
        # Names only, so registering does not query the database.
        yield GaugeMetricFamily("newsroom_outbox_lag_seconds", "")
        yield GaugeMetricFamily("newsroom_outbox_pending_events", "")
        yield GaugeMetricFamily("newsroom_mail_deliveries", "", labels=["status"])

    def collect(self) -> Any:
        from sqlalchemy import func, select

        from shared.db import new_session, utcnow
        from shared.models import Delivery, OutboxEvent

        lag = GaugeMetricFamily(
            "newsroom_outbox_lag_seconds",
            "Age of the oldest due outbox event not yet relayed (0 when none waits).",
        )
        waiting = GaugeMetricFamily(
            "newsroom_outbox_pending_events", "Due outbox events not yet relayed."
        )
        ledger = GaugeMetricFamily(
            "newsroom_mail_deliveries",
            "Newsletter deliveries in the ledger, by status.",
            labels=["status"],
        )
        try:
            with new_session() as session:
                now = utcnow()
                due = (OutboxEvent.relayed_at.is_(None)) & (
                    OutboxEvent.deliver_after.is_(None) | (OutboxEvent.deliver_after <= now)
                )
                count, oldest = session.execute(
                    select(
                        func.count(),
                        func.min(func.coalesce(OutboxEvent.deliver_after, OutboxEvent.created_at)),
                    ).where(due)
                ).one()
                for status, n in session.execute(
                    select(Delivery.status, func.count()).group_by(Delivery.status)
                ):
                    ledger.add_metric([status], n)
        except Exception:  # a scrape must not fail because the database is down
            log.warning("metrics: database unreachable", exc_info=True)
            return
        lag.add_metric([], (now - oldest).total_seconds() if oldest is not None else 0.0)
        waiting.add_metric([], count)
        yield lag
        yield waiting
        yield ledger


_registered = False


def register_database_collector() -> None:
    """Serve the database-derived metrics from this process (idempotent)."""
    global _registered
    if not _registered:
        REGISTRY.register(DatabaseCollector())
        _registered = True


def connect_celery_signals() -> None:
    """Count tasks and time them from Celery's signals."""
    from celery import signals

    started: dict[str, float] = {}

    @signals.task_prerun.connect(weak=False)
    def _start(task_id=None, **_: Any) -> None:
        started[task_id] = time.perf_counter()

    @signals.task_postrun.connect(weak=False)
    def _finish(task_id=None, task=None, state=None, **_: Any) -> None:
        begun = started.pop(task_id, None)
        name = getattr(task, "name", "unknown")
        TASKS.labels(name, state or "UNKNOWN").inc()
        if begun is None:
            return
        TASK_DURATION.labels(name).observe(time.perf_counter() - begun)

    @signals.worker_init.connect(weak=False)
    def _serve(**_: Any) -> None:
        # Workers have no HTTP app: NEWSROOM_METRICS_PORT opens one for Prometheus. Prefork
        # children count into PROMETHEUS_MULTIPROC_DIR, which this server adds up.
        from shared.config import get_settings

        port = get_settings().metrics_port
        if not port:
            return
        from prometheus_client import CollectorRegistry, multiprocess, start_http_server

        registry = REGISTRY
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        start_http_server(port, registry=registry)

    @signals.worker_process_shutdown.connect(weak=False)
    def _forget(pid=None, **_: Any) -> None:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(pid or os.getpid())
