"""One rate limiter for every API: a token bucket per key (a contributor, a client address).

A bucket holds up to `burst` requests and refills at `rate` a second, so a client may send a
burst at once and then keeps a steady pace. Limits are read when used, from a function of the
settings, and buckets start afresh when the limits change. Counts live in this process: enough
to bound a flood from one client; what protects inboxes lives in the database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import NamedTuple


class Limits(NamedTuple):
    rate: float  # requests a second, once the burst is used up
    burst: int


def per_minute(count: int) -> Limits:
    """`count` requests a minute: all at once, or spread out."""
    return Limits(rate=count / 60.0, burst=count)


class RateLimiter:
    """A token bucket per key, in this process's memory (at most `max_keys` buckets)."""

    def __init__(
        self,
        *,
        rate: float | None = None,
        burst: int | None = None,
        limits: Callable[[], Limits] | None = None,
        max_keys: int = 10_000,
    ) -> None:
        if limits is None:
            if rate is None or burst is None:
                raise TypeError("give rate and burst, or a limits function")
            fixed = Limits(rate=rate, burst=burst)
            limits = lambda: fixed  # noqa: E731
        self._limits = limits
        self._current: Limits | None = None
        self.max_keys = max_keys
        self._buckets: dict[Hashable, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_time(self, key: Hashable) -> float:
        """Take one request for `key`: 0 when allowed, else the seconds until one is."""
        limits = self._limits()
        now = time.monotonic()
        with self._lock:
            if limits != self._current:
                self._buckets.clear()
                self._current = limits
            rate, burst = limits
            if len(self._buckets) >= self.max_keys and key not in self._buckets:
                self._prune(now, limits)
            tokens, stamp = self._buckets.get(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - stamp) * rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            # No refill at all (a limit of 0): ask to come back in an hour.
            return (1 - tokens) / rate if rate > 0 else 3600.0

    def _prune(self, now: float, limits: Limits) -> None:
        # A bucket that has refilled is the same as no bucket: forget it.
        rate, burst = limits
        for key, (tokens, stamp) in list(self._buckets.items()):
            if tokens + (now - stamp) * rate >= burst:
                del self._buckets[key]
        if len(self._buckets) >= self.max_keys:
            # Still full of active clients: forget the least recently seen half.
            by_age = sorted(self._buckets, key=lambda k: self._buckets[k][1])
            for key in by_age[: len(by_age) // 2]:
                del self._buckets[key]

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


def retry_after(wait: float) -> str:
    """A Retry-After value (whole seconds, at least 1) for a wait in seconds."""
    return str(max(1, int(wait + 0.999)))


__all__ = ["Limits", "RateLimiter", "per_minute", "retry_after"]
