"""Who may render what at once: per page group on PostgreSQL, one render at a time on SQLite."""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.render.pages import Target, lock_key
from shared.db import is_postgres

# On SQLite renders are serialized (a lock in the process and a lock file beside the
# database), so the last writer of a file has read the newest committed state.
_sqlite_lock = threading.Lock()


@contextmanager
def serialized(session: Session) -> Iterator[None]:
    """On SQLite, one render at a time: in this process and in others on the same file."""
    if is_postgres(session):
        yield  # PostgreSQL: advisory locks per page group, taken by lock()
        return
    database = session.get_bind().url.database
    with _sqlite_lock:
        if not database or database == ":memory:":
            yield
            return
        # `newsroom rebuild` may run beside `newsroom run`: a file lock covers both processes.
        with open(f"{database}.render-lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def lock(session: Session, targets: Iterable[Target]) -> None:
    """Take a transaction-scoped advisory lock per page group, in one global order.

    Held until the session's transaction ends: the caller's commit releases them."""
    if not is_postgres(session):
        return
    # Sorted keys: two workers never wait for each other in a cycle.
    for key in sorted({lock_key(target) for target in targets}):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
