"""Bounce mail as real mail servers write it, built around a mail our test SMTP server took:
Postfix's delivery status notifications (RFC 3464), an abuse report in the Abuse Reporting
Format (RFC 5965) as mailbox providers' feedback loops send it, qmail's plain-text bounce,
and an auto-reply that is none of those."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

from shared.db import utcnow

BOUNDARY = "4F1C21E2B8.1764662400/mx.example.net"
ARF_BOUNDARY = "feedback-report-7d3a"


def _headers(original: EmailMessage) -> str:
    """The original's header block as it went over the wire (CRLF folded to LF)."""
    raw = original.as_bytes().split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    return raw.decode("ascii").replace("\r\n", "\n")


def postfix_dsn(
    *,
    envelope_sender: str,
    recipient: str,
    original: EmailMessage,
    status: str,
    diagnostic: str,
    action: str = "failed",
) -> bytes:
    """A Postfix bounce: multipart/report; report-type=delivery-status, with the notice, the
    machine-readable report and the returned message's headers; delivered to the VERP
    address (Delivered-To, as Postfix's local delivery writes it)."""
    date = format_datetime(utcnow())
    notice = (
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients. It's attached below.\n"
        if action == "failed"
        else "####################################################################\n"
        "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
        "####################################################################\n"
    )
    text = f"""Return-Path: <>
Delivered-To: {envelope_sender}
Received: by mx.example.net (Postfix)
\tid 4F1C21E2B8; {date}
Date: {date}
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {envelope_sender}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="{BOUNDARY}"
Content-Transfer-Encoding: 8bit
Message-Id: <20261202080000.4F1C21E2B8@mx.example.net>

This is a MIME-encapsulated message.

--{BOUNDARY}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

{notice}
For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<{recipient}>: host mx.example.net[192.0.2.25] said: {diagnostic} (in reply to
    RCPT TO command)

--{BOUNDARY}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
X-Postfix-Queue-ID: 4F1C21E2B8
X-Postfix-Sender: rfc822; {envelope_sender}
Arrival-Date: {date}

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; {diagnostic}

--{BOUNDARY}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 8bit

Return-Path: <{envelope_sender}>
{_headers(original)}

--{BOUNDARY}--
"""
    return text.replace("\n", "\r\n").encode()


def arf_report(*, original: EmailMessage, reported_to: str = "bounces@example.se") -> bytes:
    """An abuse report (RFC 5965) as a feedback loop sends it: to the sender's registered
    address (no VERP tag), with the whole original message, its recipient redacted and no
    Return-Path, so only the original's own headers name the delivery."""
    headers = _headers(original).replace(str(original["To"]), "redacted@mail.example.net")
    body = original.get_body(("plain",))
    date = format_datetime(utcnow())
    text = f"""From: Feedback Loop <fbl@mail.example.net>
To: {reported_to}
Subject: FW: {original["Subject"]}
Date: {date}
Message-ID: <fbl-7d3a@mail.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
\tboundary="{ARF_BOUNDARY}"

--{ARF_BOUNDARY}
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.10 on {date}.

--{ARF_BOUNDARY}
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/1.0
Version: 1
Source-IP: 192.0.2.10
Arrival-Date: {date}
Reported-Domain: example.se

--{ARF_BOUNDARY}
Content-Type: message/rfc822
Content-Disposition: inline

{headers}

{body.get_content() if body is not None else ""}
--{ARF_BOUNDARY}--
"""
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def qmail_bounce(*, envelope_sender: str, recipient: str) -> bytes:
    """qmail's bounce: plain text, no report part; only a bounce detector reads it."""
    text = f"""Return-Path: <>
Delivered-To: {envelope_sender}
Date: {format_datetime(utcnow())}
From: MAILER-DAEMON@qmail.example.net
To: {envelope_sender}
Subject: failure notice

Hi. This is the qmail-send program at qmail.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{recipient}>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

Return-Path: <{envelope_sender}>
Subject: Nyhet
"""
    return text.replace("\n", "\r\n").encode()


def out_of_office(*, to: str) -> bytes:
    """An auto-reply to the return address: no bounce, nothing anyone can decide on."""
    text = f"""From: Anna Andersson <anna@example.net>
To: {to}
Subject: =?utf-8?q?Fr=C3=A5nvarande?=
Date: {format_datetime(utcnow())}
Auto-Submitted: auto-replied
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Jag är på semester till och med den 4 januari.
"""
    return text.replace("\n", "\r\n").encode()
