"""Mail out: sending messages by SMTP, one connection per batch, or to `.eml` files."""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from services.notify.mail import sender_address
from shared.config import Settings, get_settings
from shared.db import utcnow

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A message was not accepted; `code` is the SMTP reply code when there was one."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class PermanentFailure(DeliveryError):
    """The server refused this recipient for good (5xx): suppress the address."""


class TemporaryFailure(DeliveryError):
    """The server asked to try again later (4xx)."""


class ConnectionFailure(DeliveryError):
    """No usable connection: nothing was accepted, the whole batch may be retried."""


class Transport(Protocol):
    def send(self, *, recipient: str, data: bytes, sender: str | None = None) -> None: ...

    def close(self) -> None: ...


class FileTransport:
    """Writes each message as a `.eml` file, atomically, under a unique name."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)

    def send(self, *, recipient: str, data: bytes, sender: str | None = None) -> None:
        # A file has no envelope: the sender (VERP) only matters to an SMTP server.
        name = f"{utcnow():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex}"
        partial = self.directory / f".{name}.tmp"
        partial.write_bytes(data)
        os.replace(partial, self.directory / f"{name}.eml")

    def close(self) -> None:
        pass


# A line starting with a dot, which SMTP's DATA doubles (the message ends at CRLF "." CRLF).
_DOT_LINE = re.compile(rb"^\.", re.MULTILINE)


class SMTPTransport:
    """One SMTP connection, opened on the first message and reused for the rest of a batch."""

    def __init__(self, url: str, *, sender: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in {"1", "true", "yes"}
        self.sender = sender
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None
        self._pipelining = False

    def _connect(self) -> smtplib.SMTP:
        try:
            if self.implicit_tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
            self._pipelining = smtp.has_extn("pipelining")
        except smtplib.SMTPResponseException as exc:
            raise ConnectionFailure(
                _reply(exc.smtp_code, exc.smtp_error), code=exc.smtp_code
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectionFailure(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        return smtp

    def send(self, *, recipient: str, data: bytes, sender: str | None = None) -> None:
        """Send one message; `sender` is its envelope sender (MAIL FROM), by default the
        transport's (NEWSROOM_MAIL_FROM's address)."""
        if self._smtp is None:
            self._smtp = self._connect()
        sender = sender or self.sender
        try:
            if self._pipelining:
                self._send_pipelined(self._smtp, recipient, data, sender)
            else:
                self._smtp.sendmail(sender, [recipient], data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = exc.recipients.get(recipient, (None, b""))
            self._raise_for(code, reply)
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            if isinstance(exc, smtplib.SMTPSenderRefused) and exc.smtp_code >= 500:
                # The server refuses our envelope sender: no recipient is at fault.
                self.close()
                raise ConnectionFailure(
                    _reply(exc.smtp_code, exc.smtp_error), code=exc.smtp_code
                ) from exc
            self._raise_for(exc.smtp_code, exc.smtp_error)
        except smtplib.SMTPResponseException as exc:
            self._raise_for(exc.smtp_code, exc.smtp_error)
        except OSError as exc:  # includes SMTPServerDisconnected: no reply, nothing accepted
            self._smtp = None
            raise ConnectionFailure(f"connection lost: {exc}") from exc

    def _send_pipelined(self, smtp: smtplib.SMTP, recipient: str, data: bytes, sender: str) -> None:
        """What `sendmail` does, in two round trips instead of four (RFC 2920 PIPELINING):
        MAIL, RCPT and DATA in one write, then the message once the server said 354. Raises
        what `sendmail` raises, so both paths fail alike."""
        if "\r" in recipient or "\n" in recipient:
            raise smtplib.SMTPRecipientsRefused({recipient: (553, b"invalid address")})
        smtp.send(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode())
        sender_code, sender_reply = smtp.getreply()
        recipient_code, recipient_reply = smtp.getreply()
        data_code, data_reply = smtp.getreply()
        envelope_ok = sender_code == 250 and recipient_code in (250, 251)
        if data_code == 354:
            # The message, dot-stuffed (RFC 5321 4.5.2); after a refused envelope only the
            # end of DATA, since nobody is there to deliver it to.
            body = b""
            if envelope_ok:
                body = _DOT_LINE.sub(b"..", data)
                if not body.endswith(b"\r\n"):
                    body += b"\r\n"
            smtp.send(body + b".\r\n")
            data_code, data_reply = smtp.getreply()
            if envelope_ok and data_code == 250:
                return
        try:
            smtp.rset()
        except smtplib.SMTPServerDisconnected:
            pass
        if sender_code != 250:
            raise smtplib.SMTPSenderRefused(sender_code, sender_reply, sender)
        if recipient_code not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({recipient: (recipient_code, recipient_reply)})
        raise smtplib.SMTPDataError(data_code, data_reply)

    def _raise_for(self, code: int | None, reply: bytes | str) -> None:
        text = _reply(code, reply)
        if code is not None and 500 <= code < 600:
            raise PermanentFailure(text, code=code)
        if code == 421:  # the server is closing the channel; reconnect for the next message
            self.close()
        raise TemporaryFailure(text, code=code)

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None


def _reply(code: int | None, reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {text}".strip()


def make_transport(settings: Settings | None = None) -> Transport:
    """The transport NEWSROOM_SMTP_URL names: ``smtp://``/``smtps://`` or ``file:``."""
    settings = settings or get_settings()
    if settings.mail_dir is not None:
        return FileTransport(settings.mail_dir)
    scheme = urlsplit(settings.smtp_url).scheme
    if scheme not in {"smtp", "smtps"}:
        raise ValueError(f"NEWSROOM_SMTP_URL: unsupported scheme {scheme!r}")
    return SMTPTransport(
        settings.smtp_url,
        sender=sender_address(settings),
        timeout=settings.smtp_timeout,
    )


@contextmanager
def open_transport(settings: Settings | None = None) -> Iterator[Transport]:
    """A transport for one batch, closed (SMTP QUIT) when the batch is done."""
    transport = make_transport(settings)
    try:
        yield transport
    finally:
        transport.close()
