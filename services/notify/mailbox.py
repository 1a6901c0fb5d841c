"""The bounce mailbox, read over IMAP (imaplib): each report is decided on (bounces) and
committed before its mail is deleted, so a crash in between only means reading it again,
which decides nothing twice. A mail nobody can read is moved to a folder of its own
(NEWSROOM_BOUNCE_KEEP_FOLDER) for a person to look at, never deleted.
"""

from __future__ import annotations

import imaplib
import logging
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

    @classmethod
    def parse(cls, url: str) -> Mailbox:
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps"):
            raise ValueError(f"NEWSROOM_BOUNCE_MAILBOX_URL: unsupported scheme {parts.scheme!r}")
        tls = parts.scheme == "imaps"
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (993 if tls else 143),
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
    finding = reports.read(raw)
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
    with connect(Mailbox.parse(url)) as imap:
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
