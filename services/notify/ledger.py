"""The delivery ledger: one row per (newsletter, subscriber), claimed before its mail is sent.

Row states: claimed (reserved, not yet accepted by SMTP) -> sending (handed to SMTP) -> sent;
or failed (refused for good, or given up on, with the reason in `error`), or skipped (no longer
wanted). A sent row becomes bounced or complained when a report about it arrives (bounces).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import and_, bindparam, case, func, literal, or_, select, update
from sqlalchemy import text as sql
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services.notify import bounces
from services.notify import transport as transports
from services.notify.keys import CONFIRMATION_PREFIX, NewsletterKey
from shared.db import get_engine, is_postgres, utcnow
from shared.models import Delivery

log = logging.getLogger(__name__)

# A claimed row older than this has outlived its batch's whole retry schedule (about 2 h).
STALLED_AFTER = timedelta(hours=3)
# A row still `sending` this long after its take was in flight when its worker died (an SMTP
# conversation lasts at most the SMTP timeout, 30 s): it is sent again, at most one duplicate.
IN_FLIGHT_AFTER = timedelta(minutes=10)
# A row the sweep has sent again this often without success (its worker dying on it each
# time, say) fails instead: some 9 hours after it was first due, never in a loop for ever.
MAX_SWEEPS = 3

MAILS = Counter("newsroom_notify_mails_total", "Mails handed to the transport", ["kind", "result"])
MAILS_SENT = Counter("newsroom_mails_sent_total", "Mails accepted by the SMTP server.")
MAILS_FAILED = Counter("newsroom_mails_failed_total", "Mails given up on (bounced or refused).")


def count_mail(kind: str, result: str, count: int = 1) -> None:
    """The one place mail is counted: sent, refused (5xx), deferred (4xx, lost connection)
    or unbuildable (failed before it was sent)."""
    MAILS.labels(kind, result).inc(count)
    if result == "sent":
        MAILS_SENT.inc(count)
    elif result in ("refused", "unbuildable"):
        MAILS_FAILED.inc(count)


@dataclass
class BatchResult:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retry: list[str] = field(default_factory=list)


_deliveries = Delivery.__table__
_CLAIM_POSTGRES = sql(
    "INSERT INTO deliveries (newsletter, subscriber_id, status, claimed_at, attempts)"
    " SELECT :newsletter, unnest(CAST(:ids AS integer[])), 'claimed', :now, 0"
    " ON CONFLICT (newsletter, subscriber_id) DO NOTHING"
)


def claim(
    *, session: Session, newsletter: str, subscriber_ids: Iterable[int], now: datetime
) -> None:
    """Reserve ledger rows; rows that exist (claimed, sent, …) are left alone."""
    ids = list(subscriber_ids)
    if not ids:
        return
    if is_postgres(session):
        # One statement per 10,000 rows (the array parameter costs some 250 bytes a row in
        # this process while it is sent): 100,000 rows in a fraction of a second.
        for start in range(0, len(ids), 10_000):
            session.execute(
                _CLAIM_POSTGRES,
                {"newsletter": newsletter, "ids": ids[start : start + 10_000], "now": now},
            )
        return
    session.execute(
        sqlite_insert(_deliveries).on_conflict_do_nothing(
            index_elements=["newsletter", "subscriber_id"]
        ),
        [
            {
                "newsletter": newsletter,
                "subscriber_id": sid,
                "status": "claimed",
                "claimed_at": now,
                "attempts": 0,
            }
            for sid in ids
        ],
    )


def waiting(*, session: Session, newsletter: str) -> list[int]:
    """Subscribers whose ledger row for this newsletter is claimed and not yet sent."""
    # Streamed: only the ids are kept, not every row fetched at once besides them.
    return list(
        session.scalars(
            select(Delivery.subscriber_id)
            .where(Delivery.newsletter == newsletter, Delivery.status == "claimed")
            .order_by(Delivery.subscriber_id)
            .execution_options(yield_per=10_000)
        )
    )


def mark(*, session: Session, delivery_ids: Sequence[int], status: str, error: str | None) -> int:
    """Settle rows still claimed (skipped, or failed with its reason); return how many."""
    if not delivery_ids:
        return 0
    return session.execute(
        update(Delivery)
        .where(Delivery.id.in_(list(delivery_ids)), Delivery.status == "claimed")
        .values(status=status, error=error)
    ).rowcount


def give_up(*, session: Session, newsletter: str, subscriber_ids: Sequence[int], error: str) -> int:
    """Mark rows still claimed after the last retry as failed (the address is not at fault)."""
    return session.execute(
        update(Delivery)
        .where(Delivery.newsletter == newsletter, Delivery.status == "claimed")
        .where(Delivery.subscriber_id.in_(list(subscriber_ids)))
        .values(status="failed", error=error)
    ).rowcount


def stalled(*, session: Session, now: datetime) -> dict[str, list[int]]:
    """Newsletter rows whose batch must have ended long ago: still claimed (its task was lost
    with an in-memory broker, say) or still sending (its worker died mid-mail). Those are
    claimed again and returned, newsletter key -> subscriber ids to send again; after
    MAX_SWEEPS such rounds they fail instead, with the reason. Stalled confirmation mails
    are dropped: a late one would only confuse."""
    lost = or_(
        and_(Delivery.status == "claimed", Delivery.claimed_at < now - STALLED_AFTER),
        and_(Delivery.status == "sending", Delivery.claimed_at < now - IN_FLIGHT_AFTER),
    )
    confirmations = Delivery.newsletter.startswith(CONFIRMATION_PREFIX)
    session.execute(
        update(Delivery).where(lost, confirmations).values(status="skipped", error="stalled")
    )
    exhausted = Delivery.sweeps >= MAX_SWEEPS
    session.execute(
        update(Delivery)
        .where(lost, exhausted)
        .values(
            status="failed",
            error=literal(f"given up after {MAX_SWEEPS} sweeps; last error: ")
            + func.coalesce(Delivery.error, "none"),
        )
    )
    rows = session.execute(
        select(Delivery.newsletter, Delivery.subscriber_id)
        .where(lost)
        .order_by(Delivery.newsletter, Delivery.subscriber_id)
    ).all()
    found: dict[str, list[int]] = {}
    unreadable: set[str] = set()
    for newsletter, subscriber_id in rows:
        try:
            NewsletterKey.parse(newsletter)
        except ValueError:
            unreadable.add(newsletter)
            continue
        found.setdefault(newsletter, []).append(subscriber_id)
    if unreadable:
        session.execute(
            update(Delivery)
            .where(lost, Delivery.newsletter.in_(unreadable))
            .values(status="failed", error="not a newsletter key")
        )
    session.execute(
        update(Delivery)
        .where(lost)
        .values(status="claimed", claimed_at=now, sweeps=Delivery.sweeps + 1)
    )
    return found


_d = _deliveries.c
_TAKE = bindparam("take", type_=_d.id.type)
# Built once, run for every mail: one statement, one round trip and (in autocommit) one commit
# that takes the row `take` (claimed -> sending, the compare-and-set; claimed_at becomes the
# time of the take, so `stalled` can tell a mail in flight now from one whose worker died) and
# marks the row `done`, the mail SMTP accepted before, sent. RETURNING says what was updated:
# `take` is among the ids only if this task won its row.
_STEP = (
    _deliveries.update()
    .where(or_(and_(_d.id == _TAKE, _d.status == "claimed"), _d.id == bindparam("done")))
    .values(
        status=case((_d.id == _TAKE, "sending"), else_="sent"),
        attempts=case((_d.id == _TAKE, _d.attempts + 1), else_=_d.attempts),
        claimed_at=case(
            (_d.id == _TAKE, bindparam("at", type_=_d.claimed_at.type)), else_=_d.claimed_at
        ),
        sent_at=case(
            (_d.id == _TAKE, _d.sent_at), else_=bindparam("sent_at", type_=_d.sent_at.type)
        ),
        error=case((_d.id == _TAKE, _d.error), else_=None),
    )
    .returning(_d.id)
)


class Ledger:
    """A batch's ledger writes around each send: one autocommitted statement per mail, on a
    connection of its own (a unit of work of its own, opened by the task's edge).

    Before a mail goes out its row moves from claimed to sending in a committed
    compare-and-set: only one of two duplicated or concurrent tasks gets each row. The same
    statement marks the mail before it sent, so at any moment at most one row of a batch is
    `sending` with its mail possibly accepted: the one in flight, or the one just accepted
    and not yet marked. A crash leaves that row `sending`, and `stalled` sends it again after
    IN_FLIGHT_AFTER: at most one duplicate per crashed batch, never more. Takes are not
    batched on purpose: taking 100 rows at once would leave up to 100 accepted mails
    `sending` at a crash, and the sweep would send every one of them twice.
    """

    def __init__(self) -> None:
        # Why a unit of work of its own, committing every statement, and not the task's
        # session: each take must be committed before its mail goes out (a crash must not
        # forget it), so a session would have to commit once a mail too. One pooled
        # connection in autocommit does that without BEGIN and COMMIT round trips. Measured
        # on PostgreSQL, 1,000 takes of one batch on two busy cores: 1.1 ms a mail here,
        # 1.6 ms for a session committing each take, 8.6 ms with synchronous commits.
        self._connection = get_engine().connect().execution_options(isolation_level="AUTOCOMMIT")
        self._postgres = self._connection.dialect.name == "postgresql"
        # The mail SMTP accepted last, not yet marked sent: (delivery id, when).
        self._done: tuple[int, datetime] | None = None
        if self._postgres:
            # Commits return before their WAL is flushed: a crashed worker loses nothing,
            # since the server has the commit; only the database server itself crashing in
            # the next fraction of a second could forget a take and repeat that mail. It
            # saves an fsync per mail, the limit of a batch's pace. SQLite's synchronous=NORMAL
            # in WAL mode (shared.db) makes the same trade. Reset before the connection goes
            # back to the pool.
            try:
                self._connection.execute(sql("SET synchronous_commit TO OFF"))
            except BaseException:
                self._connection.close()
                raise

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _step(self, take: int | None) -> bool:
        done, sent_at = self._done or (None, None)
        now = utcnow()
        updated = (
            self._connection.execute(
                _STEP, {"take": take, "at": now, "done": done, "sent_at": sent_at or now}
            )
            .scalars()
            .all()
        )
        self._done = None
        return take is not None and take in updated

    def close(self) -> None:
        """Mark the last mail sent and let the connection go."""
        try:
            if self._done is not None:
                self._step(None)
            if self._postgres:
                self._connection.execute(sql("RESET synchronous_commit"))
        except BaseException:
            self._connection.invalidate()  # never back to the pool with our session settings
            raise
        finally:
            self._connection.close()

    def _record(self, delivery_id: int, *, status: str, error: str, suppress: bool) -> None:
        if self._done is not None:
            self._step(None)
        if suppress:
            # Before the row's own update: a crash in between leaves the row `sending`, and
            # the mail the sweep would send again is skipped for its suppressed address.
            bounces.record_refusal(
                self._connection, delivery_id=delivery_id, error=error, now=utcnow()
            )
        self._connection.execute(
            update(Delivery).where(Delivery.id == delivery_id).values(status=status, error=error)
        )

    def send(
        self,
        transport: transports.Transport,
        *,
        delivery_id: int,
        recipient: str,
        data: bytes,
        kind: str,
        result: BatchResult,
        sender: str | None = None,
    ) -> None:
        """Send one ledger row's mail (from `sender`, its VERP address) and record the
        outcome; re-raise what calls for a retry."""
        if not self._step(delivery_id):
            return
        try:
            transport.send(recipient=recipient, data=data, sender=sender)
        except transports.PermanentFailure as exc:
            log.warning("address refused for good, suppressing it: %s", exc)
            self._record(delivery_id, status="failed", error=str(exc), suppress=True)
            count_mail(kind, "refused")
            result.failed += 1
            return
        except (transports.TemporaryFailure, transports.ConnectionFailure) as exc:
            # Not accepted: back to claimed so the retry sends it (and nothing that was).
            self._record(delivery_id, status="claimed", error=str(exc), suppress=False)
            count_mail(kind, "deferred")
            raise
        self._done = (delivery_id, utcnow())
        count_mail(kind, "sent")
        result.sent += 1
