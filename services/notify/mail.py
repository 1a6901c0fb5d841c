"""Mail built with the `email` package: headers, text and HTML parts, DKIM, prepared newsletters."""

from __future__ import annotations

import binascii
import logging
import re
import secrets
import unicodedata
import uuid
from collections.abc import Sequence
from datetime import datetime
from email import headerregistry, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from functools import lru_cache
from pathlib import Path

from shared.config import Settings, get_settings
from shared.db import utcnow

log = logging.getLogger(__name__)

# Headers DKIM signs; RFC 8058 section 4 asks for both List-Unsubscribe headers to be signed.
DKIM_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"list-id",
)


class _URLListHeader(headerregistry.UnstructuredHeader):
    """`<https://…>` on one line, never encoded (RFC 2369): the default folder would turn a
    long URL into encoded words, which no mail client reads back as a link."""

    def fold(self, *, policy):
        return f"{self.name}: {self}{policy.linesep}"


_header_factory = headerregistry.HeaderRegistry()
_header_factory.map_to_type("list-unsubscribe", _URLListHeader)
# CRLF line ends and 78-column folding, as mail is sent, with the URL header kept whole.
MAIL_POLICY = policy.SMTP.clone(header_factory=_header_factory)


def sender_address(settings: Settings | None = None) -> str:
    """The bare address of NEWSROOM_MAIL_FROM, for the envelope."""
    return parseaddr((settings or get_settings()).mail_from)[1]


def one_line(text: str) -> str:
    """Header text on one line: line and paragraph separators (U+2028, U+2029, NEL, CR, LF,
    which the email package refuses in a header) and other control characters become spaces,
    and runs of spaces one."""
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    return " ".join(cleaned.split())


def new_placeholder(name: str) -> str:
    """A marker for a per-recipient value in a newsletter's text: random, so that no item
    text can hold it (2^-128 per try) and be taken for it."""
    return f"{name}-{secrets.token_hex(16)}"


def build_message(
    *,
    to: str,
    subject: str,
    text: str,
    html: str,
    unsubscribe_url: str | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> EmailMessage:
    """A UTF-8 message with a text part and an HTML alternative; newsletters pass an
    `unsubscribe_url` and get the RFC 2369 / RFC 8058 one-click headers."""
    settings = settings or get_settings()
    domain = sender_address(settings).rpartition("@")[2] or "localhost"
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = settings.mail_from
    message["To"] = Address(addr_spec=to)
    message["Subject"] = one_line(subject)
    message["Date"] = format_datetime(now or utcnow())
    message["Message-ID"] = make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain)
    if unsubscribe_url:
        message["List-Id"] = f"{settings.site_title} <nyheter.{domain}>"
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Quoted-printable keeps every line 7-bit: safe through any relay and stable under DKIM.
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


def message_bytes(message: EmailMessage | bytes, settings: Settings | None = None) -> bytes:
    """The message as sent (CRLF line ends), DKIM-signed when DKIM is configured; `message`
    is an EmailMessage or the bytes a PreparedMessage filled in."""
    data = message if isinstance(message, bytes) else message.as_bytes(policy=MAIL_POLICY)
    settings = settings or get_settings()
    if settings.dkim_domain and settings.dkim_selector and settings.dkim_private_key_file:
        import dkim  # optional dependency: only needed when signing is configured

        present = {
            line.split(b":", 1)[0].strip().lower()
            for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
            if line[:1] not in (b" ", b"\t")
        }
        signature = dkim.sign(
            data,
            settings.dkim_selector.encode(),
            settings.dkim_domain.encode(),
            _private_key(settings.dkim_private_key_file),
            include_headers=[h for h in DKIM_HEADERS if h in present],
        )
        data = signature + data
    return data


def _quoted_printable(text: str) -> bytes:
    """UTF-8 quoted-printable with CRLF line ends, 76-column soft breaks (RFC 2045)."""
    crlf = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    encoded = binascii.b2a_qp(crlf.encode(), istext=True)
    # b2a_qp breaks soft lines with the line end it saw first: make every one CRLF.
    return encoded.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class PreparedMessage:
    """A newsletter built and serialised once by the email package, kept as pieces around
    what differs per recipient: address, Message-ID, the List-Unsubscribe URL and the
    personal links in both bodies. `fill` only joins bytes, encoding just those links.

    The bodies are quoted-printable. Each static stretch is encoded once and ends in a soft
    line break ("=" CRLF, which decoders drop), and so does each link, so the encoded
    pieces join into valid QP with lines within 76 columns whatever a link's length.
    """

    def __init__(
        self,
        *,
        subject: str,
        text: str,
        html: str,
        placeholders: Sequence[str] = (),
        now: datetime | None = None,
        settings: Settings | None = None,
    ) -> None:
        settings = settings or get_settings()
        self.domain = sender_address(settings).rpartition("@")[2] or "localhost"
        self.placeholders = tuple(placeholders)
        # Where the email package's output differs per recipient, it is built around random
        # markers (`new_placeholder`), never fixed strings an item's text could contain.
        self._to = new_placeholder("to") + "@marker.invalid"
        self._message_id = new_placeholder("id") + "@marker.invalid"
        self._unsubscribe = new_placeholder("unsubscribe")
        text_marker, html_marker = new_placeholder("text"), new_placeholder("html")
        message = build_message(
            to=self._to,
            subject=subject,
            text=text_marker,
            html=html_marker,
            unsubscribe_url=self._unsubscribe,
            now=now,
            settings=settings,
        )
        message.replace_header("Message-ID", f"<{self._message_id}>")
        template = message.as_bytes(policy=MAIL_POLICY).decode("ascii")
        markers = (self._to, self._message_id, self._unsubscribe, text_marker, html_marker)
        for marker in markers:
            if template.count(marker) != 1:
                raise RuntimeError(f"template marker {marker} not found exactly once")
        bodies = {text_marker: text, html_marker: html}
        pieces: list[bytes | str] = []
        # The email package ends each body with a line end of its own: the bodies bring theirs.
        template = template.replace(f"{text_marker}\r\n", text_marker)
        template = template.replace(f"{html_marker}\r\n", html_marker)
        for index, chunk in enumerate(re.split(f"({'|'.join(map(re.escape, markers))})", template)):
            if index % 2 == 0:
                pieces.append(chunk.encode("ascii"))
            elif chunk in bodies:
                pieces.extend(self._body(bodies[chunk], self.placeholders))
            else:
                pieces.append(chunk)
        self._pieces = pieces

    @staticmethod
    def _body(body: str, placeholders: Sequence[str]) -> list[bytes | str]:
        body = body.rstrip("\r\n") + "\n"
        if not placeholders:
            return [_quoted_printable(body)]
        pieces: list[bytes | str] = []
        position = 0
        for match in re.finditer("|".join(map(re.escape, placeholders)), body):
            pieces += [_quoted_printable(body[position : match.start()]) + b"=\r\n", match[0]]
            position = match.end()
        pieces.append(_quoted_printable(body[position:]))
        return pieces

    def fill(
        self,
        *,
        to: str,
        unsubscribe_url: str,
        values: dict[str, str],
        message_tag: str | None = None,
    ) -> bytes:
        """One recipient's message: `to` an ASCII address, `values` each placeholder's text;
        `message_tag` (the delivery's VERP tag) begins the Message-ID, so that an abuse report
        quoting only the original's headers still names its delivery."""
        unique = uuid.uuid4().hex
        dynamic = {
            self._to: to.encode("ascii"),
            self._message_id: (f"{message_tag}.{unique[:12]}" if message_tag else unique).encode()
            + f"@{self.domain}".encode(),
            self._unsubscribe: unsubscribe_url.encode("ascii"),
        }
        for placeholder, value in values.items():
            dynamic[placeholder] = _quoted_printable(value) + b"=\r\n"
        return b"".join(p if isinstance(p, bytes) else dynamic[p] for p in self._pieces)


@lru_cache(maxsize=4)
def _private_key(path: Path) -> bytes:
    return path.read_bytes()
