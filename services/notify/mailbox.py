"""The bounce mailbox, read over IMAP (imaplib) or POP3 (poplib): each report is decided on
(bounces) and committed before its mail is deleted, so a crash in between only means reading
it again, which decides nothing twice. A mail nobody can read is never deleted: over IMAP it
is moved to a folder of its own (NEWSROOM_BOUNCE_KEEP_FOLDER) for a person to look at; POP3
has no folders, so there it stays in the mailbox.
"""

from __future__ import annotations

import imaplib
import logging
import poplib
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from services.notify import bounces, reports
from shared.config import get_settings
from shared.db import session_scope, utcnow

log = logging.getLogger(__name__)

# Mails read per poll at most; the next poll reads the rest.
POLL_LIMIT = 500


@dataclass
class PollResult:
    """What one poll did with the mails it found, by outcome (recorded, duplicate, …)."""

    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


@dataclass(frozen=True)
class Mailbox:
    """Where the bounce mailbox is: `imap://user:pass@host:port/INBOX` (or `imaps://`)."""

    host: str
    port: int
    user: str
    password: str
    folder: str
    tls: bool

    pop3: bool = False

    @classmethod
    def parse(cls, url: str) -> Mailbox:
        """`imap://`, `imaps://`, `pop3://` or `pop3s://` with user, password and port."""
        parts = urlsplit(url)
        ports = {"imap": 143, "imaps": 993, "pop3": 110, "pop3s": 995}
        if parts.scheme not in ports:
            raise ValueError(f"NEWSROOM_BOUNCE_MAILBOX_URL: unsupported scheme {parts.scheme!r}")
        tls = parts.scheme.endswith("s")
        return cls(
            pop3=parts.scheme.startswith("pop3"),
            host=parts.hostname or "localhost",
            port=parts.port or ports[parts.scheme],
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
            tls=tls,
        )


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextmanager
def connect(mailbox: Mailbox, timeout: float = 30.0) -> Iterator[imaplib.IMAP4]:
    """A signed-in IMAP connection with the bounce folder selected (read-write)."""
    if mailbox.tls:
        imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            mailbox.host, mailbox.port, ssl_context=ssl.create_default_context(), timeout=timeout
        )
    else:
        imap = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=timeout)
    try:
        imap.login(mailbox.user, mailbox.password)
        status, _ = imap.select(_quoted(mailbox.folder))
        if status != "OK":
            raise imaplib.IMAP4.error(f"cannot select {mailbox.folder}")
        yield imap
        imap.close()  # expunges what was flagged \\Deleted
    finally:
        try:
            imap.logout()
        except (OSError, imaplib.IMAP4.error):
            pass


def decide(raw: bytes) -> str:
    """Read one bounce mail and apply the policy in a unit of work of its own; return the
    outcome (a decision, duplicate, unknown_delivery, not_a_failure). Raises
    reports.Unreadable for a mail that must be kept."""
    finding = reports.read_safely(raw)
    if finding.kind is None:
        bounces.REPORTS.labels("not_a_failure").inc()
        return "not_a_failure"
    delivery_id, mac = finding.tag
    report = bounces.Report(
        kind=finding.kind,
        delivery_id=delivery_id,
        mac=mac,
        source="mailbox",
        status_code=finding.status_code,
        diagnostic=finding.diagnostic,
    )
    with session_scope() as session:
        return bounces.record(session=session, report=report, now=utcnow())


def _keep(imap: imaplib.IMAP4, uid: bytes, folder: str) -> None:
    """Move a mail to the keep folder (made when missing): MOVE, or COPY and delete."""
    imap.create(_quoted(folder))  # "already exists" is an answer, not an error
    _, capabilities = imap.capability()
    if b"MOVE" in (capabilities[0] or b"").upper().split():
        status, _ = imap.uid("MOVE", uid, _quoted(folder))
        if status == "OK":
            return
    status, _ = imap.uid("COPY", uid, _quoted(folder))
    if status != "OK":
        # Cannot copy it: leave it where it is, unseen (it was read with BODY.PEEK).
        log.error("bounce mail %s could not be moved to %s; left in place", uid, folder)
        return
    imap.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")


def poll(
    *, url: str | None = None, handle: Callable[[bytes], str] = decide, limit: int = POLL_LIMIT
) -> PollResult:
    """Read every mail in the bounce folder once: decide, then delete it; keep the
    unreadable ones (moved to the keep folder)."""
    settings = get_settings()
    url = url or settings.bounce_mailbox_url
    result = PollResult()
    if not url:
        return result
    box = Mailbox.parse(url)
    if box.pop3:
        return _poll_pop3(box, handle=handle, limit=limit)
    with connect(box) as imap:
        status, data = imap.uid("SEARCH", "NOT DELETED")
        if status != "OK":
            raise imaplib.IMAP4.error(f"SEARCH failed: {data!r}")
        uids = (data[0] or b"").split()[:limit]
        for uid in uids:
            status, fetched = imap.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((part[1] for part in fetched if isinstance(part, tuple)), None)
            if status != "OK" or raw is None:
                continue  # gone meanwhile (another poller took it)
            try:
                outcome = handle(raw)
            except reports.Unreadable as exc:
                log.warning("bounce mail %s kept in %s: %s", uid, settings.bounce_keep_folder, exc)
                bounces.REPORTS.labels("unreadable").inc()
                _keep(imap, uid, settings.bounce_keep_folder)
                result.add("unreadable")
                continue
            imap.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
            result.add(outcome)
    return result


def _poll_pop3(box: Mailbox, *, handle: Callable[[bytes], str], limit: int) -> PollResult:
    """The same over POP3: handled mails are deleted at QUIT (a connection lost before it
    deletes nothing, and the next poll reads them again); unreadable ones stay."""
    result = PollResult()
    if box.tls:
        pop: poplib.POP3 = poplib.POP3_SSL(
            box.host, box.port, context=ssl.create_default_context(), timeout=30
        )
    else:
        pop = poplib.POP3(box.host, box.port, timeout=30)
    try:
        pop.user(box.user)
        pop.pass_(box.password)
        count = len(pop.list()[1])
        for number in range(1, min(count, limit) + 1):
            _, lines, _ = pop.retr(number)
            raw = b"\r\n".join(lines) + b"\r\n"
            try:
                outcome = handle(raw)
            except reports.Unreadable as exc:
                log.warning("bounce mail %s left in the mailbox: %s", number, exc)
                bounces.REPORTS.labels("unreadable").inc()
                result.add("unreadable")
                continue
            pop.dele(number)
            result.add(outcome)
        pop.quit()
    except BaseException:
        pop.close()
        raise
    return result
