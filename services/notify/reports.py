"""Reading bounce mail: delivery status notifications (RFC 3464), abuse reports (RFC 5965)
and, for the odd formats some servers still send, GNU Mailman's detectors (flufl.bounce).

What a report says about an address is taken from its structured parts; which delivery it
is about only from the VERP tag (services.notify.verp), found in the addresses it was sent
to or in the headers of the returned original, never from the text of its body.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
from dataclasses import dataclass
from email.message import Message

from services.notify import verp

log = logging.getLogger(__name__)

# Where a bounce shows the address it was sent to (our VERP address): the headers the
# delivering server adds, then To.
ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
# The returned original's headers that carry the tag: the return path its receiver recorded,
# and its Message-ID, which begins with the tag (mail.PreparedMessage.fill).
ORIGINAL_HEADERS = ("Return-Path", "Message-ID")
STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
# Diagnostics are kept to this many characters: enough for any server's explanation.
DIAGNOSTIC_LENGTH = 500


class Unreadable(Exception):
    """Not a report this reader understands, or one that names none of our deliveries."""


@dataclass(frozen=True)
class Finding:
    """What one report says: `kind` hard, soft or complaint (None: a report that is no
    failure, such as "delayed" or "delivered"), about the delivery `tag` names."""

    kind: str | None
    tag: tuple[int, str]
    status_code: str | None = None
    diagnostic: str | None = None


def kind_of(status: str | None) -> str | None:
    """hard for 5.x.x, soft for 4.x.x, None for anything else (2.x.x: delivered)."""
    match = STATUS.search(status or "")
    if match is None:
        return None
    return {"5": "hard", "4": "soft"}.get(match[1])


def status_of(text: str | None) -> str | None:
    """The enhanced status code (RFC 3463) in a text, or its basic SMTP code."""
    match = STATUS.search(text or "")
    if match:
        return match[0]
    basic = re.match(r"\s*([245]\d\d)\b", text or "")
    return basic[1] if basic else None


def _clean(text: str | None) -> str | None:
    if not text:
        return None
    return " ".join(str(text).split())[:DIAGNOSTIC_LENGTH] or None


def _parts(message: Message) -> list[Message]:
    return list(message.walk())


def _original_headers(message: Message) -> list[Message]:
    """The returned original message (message/rfc822) or its headers (text/rfc822-headers)."""
    found: list[Message] = []
    for part in _parts(message):
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list):
                found.extend(p for p in payload if isinstance(p, Message))
        elif kind == "text/rfc822-headers":
            text = part.get_payload(decode=True) or b""
            found.append(email.message_from_bytes(bytes(text), policy=email.policy.compat32))
    return found


def _tag(message: Message, *extra: str) -> tuple[int, str] | None:
    """The VERP tag in `extra`, the report's envelope headers or the original's headers."""
    texts = list(extra)
    texts += [str(v) for name in ENVELOPE_HEADERS for v in message.get_all(name, [])]
    for original in _original_headers(message):
        texts += [str(v) for name in ORIGINAL_HEADERS for v in original.get_all(name, [])]
    return verp.find(texts)


def _fields(part: Message) -> list[Message]:
    """The header blocks of a message/delivery-status or message/feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    if isinstance(payload, str):  # some parsers leave it as text: blocks between blank lines
        blocks = re.split(r"\r?\n\s*\r?\n", payload.strip())
        return [email.message_from_string(block, policy=email.policy.compat32) for block in blocks]
    return []


def _delivery_status(message: Message, part: Message) -> Finding:
    blocks = _fields(part)
    recipients = [b for b in blocks[1:] if b.get("Action") or b.get("Status")]
    if not recipients:
        raise Unreadable("a delivery status notification without a recipient")
    # One recipient per mail (VERP); were there more, the worst outcome counts.
    ranked = sorted(recipients, key=lambda b: {"hard": 0, "soft": 1}.get(_block_kind(b), 2))
    block = ranked[0]
    tag = _tag(message, str(blocks[0].get("Original-Envelope-Id", "")))
    if tag is None:
        raise Unreadable("a delivery status notification that names none of our deliveries")
    action = str(block.get("Action", "")).strip().lower()
    kind = _block_kind(block)
    status = status_of(str(block.get("Status", "")))
    return Finding(
        kind=kind if action == "failed" else None,
        tag=tag,
        status_code=status,
        diagnostic=_clean(block.get("Diagnostic-Code")),
    )


def _block_kind(block: Message) -> str | None:
    if str(block.get("Action", "")).strip().lower() != "failed":
        return None
    return kind_of(str(block.get("Status", ""))) or "hard"


def _feedback_report(message: Message, part: Message) -> Finding:
    fields = _fields(part)
    report = fields[0] if fields else Message()
    tag = _tag(message, str(report.get("Original-Mail-From", "")))
    if tag is None:
        raise Unreadable("an abuse report that names none of our deliveries")
    feedback = _clean(report.get("Feedback-Type")) or "abuse"
    return Finding(kind="complaint", tag=tag, status_code=None, diagnostic=feedback)


def _odd_format(raw: bytes, message: Message) -> Finding:
    """A bounce in a format of its own (qmail, old Exim, Postfix before DSNs, …): GNU
    Mailman's detectors say whether it reports a failure, permanent or temporary."""
    from flufl.bounce import all_failures

    legacy = email.message_from_bytes(raw, policy=email.policy.compat32)
    try:
        temporary, permanent = all_failures(legacy)
    except Exception as exc:  # a detector choking on a malformed mail: keep the mail
        raise Unreadable(f"bounce detectors failed: {exc}") from exc
    if not temporary and not permanent:
        raise Unreadable("neither a report nor a bounce any detector recognises")
    tag = _tag(message)
    if tag is None:
        raise Unreadable("a bounce that names none of our deliveries")
    text = _body_text(message)
    return Finding(
        kind="hard" if permanent else "soft",
        tag=tag,
        status_code=status_of(text) or ("5.0.0" if permanent else "4.0.0"),
        diagnostic=_clean(text),
    )


def _body_text(message: Message) -> str:
    for part in _parts(message):
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True) or b""
            charset = part.get_content_charset() or "utf-8"
            try:
                return bytes(payload).decode(charset, errors="replace")
            except LookupError:
                return bytes(payload).decode("utf-8", errors="replace")
    return ""


def read(raw: bytes) -> Finding:
    """What a bounce mail says and which delivery it is about; Unreadable otherwise."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    if message.get_content_type() == "multipart/report":
        report_type = str(message.get_param("report-type", "")).lower()
        for part in _parts(message):
            kind = part.get_content_type()
            if kind == "message/delivery-status" and report_type in ("delivery-status", ""):
                return _delivery_status(message, part)
            if kind == "message/feedback-report":
                return _feedback_report(message, part)
    return _odd_format(raw, message)


def read_safely(raw: bytes) -> Finding:
    """`read`, with any failure of a malformed mail's parsing as Unreadable: one broken mail
    must never stop the mailbox from being read."""
    try:
        return read(raw)
    except Unreadable:
        raise
    except Exception as exc:
        log.warning("bounce mail could not be parsed", exc_info=True)
        raise Unreadable(f"cannot be parsed: {exc.__class__.__name__}: {exc}") from exc
