"""Engine and sessions: one session per request or task, committed only at that boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import DateTime, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from shared.config import get_settings


class UTCDateTime(TypeDecorator):
    """A timezone-aware datetime stored as UTC on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; every stored time carries its offset")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


def utcnow() -> datetime:
    return datetime.now(UTC)


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One engine per database URL and process."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # WAL lets the embedded worker thread read while a request writes.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    # No pre-ping: it costs a round trip on every checkout. A connection that died with the
    # server fails its first statement instead; SQLAlchemy then sees a disconnect and
    # invalidates the whole pool (every connection older than the error is replaced on its
    # next checkout), and the API answers that one request 503 with Retry-After.
    # A pool as large as the requests a process serves at once: a connection beyond
    # pool_size is closed when handed back, and one opened and closed per request costs a
    # PostgreSQL backend start each time. The ceiling (30 per process) is what it was.
    # No JIT compilation: the queries here are short, and without statistics (autovacuum may
    # be off) their estimated costs pass jit_above_cost, so a query of a few milliseconds
    # was compiled for ten (a search's sample at 100,000 documents: 13 ms, 10 of them JIT).
    return create_engine(url, pool_size=20, max_overflow=10, connect_args={"options": "-c jit=off"})


def get_engine() -> Engine:
    return engine_for(get_settings().database_url)


@lru_cache(maxsize=8)
def _sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url), expire_on_commit=False)


def new_session(database_url: str | None = None) -> Session:
    return _sessionmaker(database_url or get_settings().database_url)()


@contextmanager
def session_scope(database_url: str | None = None) -> Iterator[Session]:
    """A unit of work: commits when the block ends normally, rolls back otherwise; on the
    configured database unless `database_url` names another."""
    session = new_session(database_url)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def analyze(session: Session, *tables: str) -> None:
    """Planner statistics for tables a bulk load just filled (PostgreSQL; SQLite has none to
    keep). Autovacuum may be off, so nothing else would gather them."""
    if not is_postgres(session):
        return
    quote = session.get_bind().dialect.identifier_preparer.quote
    for table in tables:
        session.execute(text(f"ANALYZE {quote(table)}"))
