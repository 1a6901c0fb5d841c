"""A serving process's startup heap, kept out of the garbage collector's full collections."""

from __future__ import annotations

import gc
import os

_frozen_in: int | None = None  # the process that froze its heap (a forked child has not)


def freeze_once() -> None:
    """Move what is alive once the process is ready (modules, routes, tables, templates) to
    the collector's permanent generation; once per process, later calls do nothing.

    A full collection walks every object the collector tracks: at the search service's
    hundred thousand or so, 75 ms on the bench machine, a pause that fell on about one search
    in fifteen (its p99); 75 to 185 ms in render and notify workers, where it held up a
    published item's pages. Frozen, those objects are walked no more; what is made later,
    requests' garbage included, is collected as before.
    """
    global _frozen_in
    if _frozen_in == os.getpid():
        return
    _frozen_in = os.getpid()
    gc.collect()  # nothing already dead is kept for good
    gc.freeze()


def connect_celery_signals() -> None:
    """Freeze a Celery worker's heap once it is ready, and each pool process's once it has
    started (a forked child collects what it inherited, frozen or not, on its own)."""
    from celery import signals

    signals.worker_ready.connect(lambda **_: freeze_once(), weak=False)
    signals.worker_process_init.connect(lambda **_: freeze_once(), weak=False)
