"""The one rate limiter both APIs use (shared/ratelimit.py)."""

from __future__ import annotations

from shared.config import get_settings
from shared.ratelimit import Limits, RateLimiter, per_minute, retry_after


def test_a_burst_then_a_wait_per_key():
    limiter = RateLimiter(rate=0.5, burst=3)
    assert [limiter.wait_time("1.2.3.4") for _ in range(3)] == [0, 0, 0]
    wait = limiter.wait_time("1.2.3.4")
    assert 0 < wait <= 2
    assert retry_after(wait) in ("1", "2")
    assert limiter.wait_time("5.6.7.8") == 0  # each key has its own bucket


def test_per_minute_allows_that_many_at_once():
    limiter = RateLimiter(limits=lambda: per_minute(10))
    assert [limiter.wait_time("a") for _ in range(10)] == [0] * 10
    assert 0 < limiter.wait_time("a") <= 6


def test_limits_are_read_when_used_and_buckets_reset_when_they_change(monkeypatch):
    """The ingest limiter follows the settings of the moment, not those at import."""
    from services.ingest import api

    monkeypatch.setenv("NEWSROOM_INGEST_BURST", "2")
    get_settings.cache_clear()
    assert [api.limiter.wait_time("token") for _ in range(3)][-1] > 0
    monkeypatch.setenv("NEWSROOM_INGEST_BURST", "5")
    get_settings.cache_clear()
    assert [api.limiter.wait_time("token") for _ in range(5)] == [0] * 5
    assert api.limiter.wait_time("token") > 0


def test_memory_is_bounded_by_max_keys():
    limits = Limits(rate=1.0, burst=1)
    limiter = RateLimiter(limits=lambda: limits, max_keys=100)
    for n in range(1_000):
        limiter.wait_time(f"10.0.{n // 256}.{n % 256}")
    assert len(limiter._buckets) <= 100
