"""The figures of Redaktionen's subscriber and newsletter pages as Prometheus gauges, read
from the database at scrape time: per state and per newsletter, never per address."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily

from services.notify.admin import stats
from shared.db import new_session, utcnow

log = logging.getLogger(__name__)

# Newsletters shown: those still sending and those begun in the last week, so the number of
# series stays bounded however many newsletters the ledger keeps.
RECENT = timedelta(days=7)


class SubscriberCollector:
    def describe(self) -> Any:
        yield GaugeMetricFamily("newsroom_subscribers", "", labels=["status"])
        yield GaugeMetricFamily(
            "newsroom_subscribers_active_by_frequency", "", labels=["frequency"]
        )
        yield GaugeMetricFamily(
            "newsroom_newsletter_recipients", "", labels=["newsletter", "kind", "status"]
        )
        yield GaugeMetricFamily("newsroom_newsletter_stuck", "", labels=["newsletter", "kind"])

    def collect(self) -> Any:
        subscribers = GaugeMetricFamily(
            "newsroom_subscribers",
            "Subscribers by status (pending, confirmed, unsubscribed, suppressed).",
            labels=["status"],
        )
        frequencies = GaugeMetricFamily(
            "newsroom_subscribers_active_by_frequency",
            "Active subscribers by frequency.",
            labels=["frequency"],
        )
        recipients = GaugeMetricFamily(
            "newsroom_newsletter_recipients",
            "Recipients of each newsletter sending or begun in the last 7 days, by ledger"
            " status (planned is the sum; claimed and sending still wait).",
            labels=["newsletter", "kind", "status"],
        )
        stuck = GaugeMetricFamily(
            "newsroom_newsletter_stuck",
            "1 when a newsletter's rows wait and nothing was sent for"
            " NEWSROOM_NEWSLETTER_STUCK_MINUTES.",
            labels=["newsletter", "kind"],
        )
        try:
            with new_session() as session:
                counts = stats.subscriber_counts(session=session)
                frequency_counts = stats.active_by_frequency(session=session)
                letters = stats.active_newsletters(session=session, now=utcnow(), within=RECENT)
        except Exception:  # a scrape must not fail because the database is down
            log.warning("metrics: database unreachable", exc_info=True)
            return
        for status, count in counts.items():
            subscribers.add_metric([status], count)
        for frequency in ("immediate", "weekly"):
            frequencies.add_metric([frequency], frequency_counts.get(frequency, 0))
        for letter in letters:
            for status in dict.fromkeys((*stats.WAITING, *stats.SETTLED, *letter.statuses)):
                recipients.add_metric([letter.key, letter.kind, status], letter.count(status))
            stuck.add_metric([letter.key, letter.kind], 1 if letter.stuck else 0)
        yield subscribers
        yield frequencies
        yield recipients
        yield stuck


_registered = False


def register() -> None:
    """Serve these gauges from this process's /metrics (idempotent)."""
    global _registered
    if not _registered:
        REGISTRY.register(SubscriberCollector())
        _registered = True
