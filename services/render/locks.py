"""Who may render what at once: per page group on PostgreSQL, one render at a time on SQLite."""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.render.pages import Target, lock_key
from shared.db import is_postgres

# On SQLite renders of the same pages are serialized (a lock in the process and a lock file
# beside the database), so the last writer of a file has read the newest committed state.
# The two passes of events write different pages (services/render/events.py): each has its
# own; a rebuild, which writes every page, takes both, always in this order.
PASSES = ("first", "rest")
_sqlite_locks = {name: threading.Lock() for name in PASSES}


@contextmanager
def serialized(session: Session, *passes: str) -> Iterator[None]:
    """On SQLite, one render of the given passes' pages at a time (all: every page), in this
    process and in others on the same file."""
    if is_postgres(session):
        yield  # PostgreSQL: advisory locks per page group, taken by lock()
        return
    with ExitStack() as stack:
        database = session.get_bind().url.database
        for name in [name for name in PASSES if name in (passes or PASSES)]:
            stack.enter_context(_sqlite_locks[name])
            if database and database != ":memory:":
                # `newsroom rebuild` may run beside `newsroom run`: a file lock covers both.
                handle = stack.enter_context(open(f"{database}.render-lock-{name}", "a+b"))
                fcntl.flock(handle, fcntl.LOCK_EX)
                stack.callback(fcntl.flock, handle, fcntl.LOCK_UN)
        yield


def lock(session: Session, targets: Iterable[Target]) -> None:
    """Take a transaction-scoped advisory lock per page group, in one global order.

    Held until the session's transaction ends: the caller's commit releases them."""
    if not is_postgres(session):
        return
    # Sorted keys: two workers never wait for each other in a cycle.
    for key in sorted({lock_key(target) for target in targets}):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
