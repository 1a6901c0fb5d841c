"""VERP tags and the reading of bounce reports, without servers."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from services.notify import reports, verp
from shared.config import get_settings
from tests import bounce_mail


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("NEWSROOM_SECRET_KEY", "unit-test-secret-0123456789abcdef")
    monkeypatch.setenv("NEWSROOM_BOUNCE_ADDRESS", "studs@example.se")
    get_settings.cache_clear()


def original(message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Hållbar upphandling <nyheter@example.se>"
    message["To"] = "anna@example.net"
    message["Subject"] = "Nyhet"
    message["Message-ID"] = message_id
    message.set_content("Text")
    return message


def test_a_tag_names_one_delivery_of_one_subscriber_and_cannot_be_forged():
    sender = verp.envelope_sender(delivery_id=123456, link_id="abc")
    assert sender.startswith("studs+d2n9c-") and sender.endswith("@example.se")
    # Mail servers may fold the local part's case.
    delivery_id, mac = verp.find(["<" + sender.upper() + ">"])
    assert delivery_id == 123456
    assert verp.verify(delivery_id=123456, mac=mac, link_id="abc")
    assert not verp.verify(delivery_id=123456, mac=mac, link_id="another subscriber")
    assert not verp.verify(delivery_id=123457, mac=mac, link_id="abc")
    assert not verp.verify(delivery_id=123456, mac="0" * verp.MAC_LENGTH, link_id="abc")
    assert verp.find(["studs@example.se", "nyheter@example.se"]) is None


def test_without_a_bounce_address_there_is_no_return_address_of_its_own(monkeypatch):
    monkeypatch.delenv("NEWSROOM_BOUNCE_ADDRESS")
    get_settings.cache_clear()
    assert verp.envelope_sender(delivery_id=1, link_id="abc") is None


def test_a_dsn_is_mapped_by_the_returned_headers_when_its_envelope_is_lost():
    tag = verp.tag(delivery_id=77, link_id="abc")
    dsn = bounce_mail.postfix_dsn(
        envelope_sender="studs@example.se",  # delivered without its tag
        recipient="anna@example.net",
        original=original(f"<{tag}.0123456789ab@example.se>"),
        status="5.7.1",
        diagnostic="550 5.7.1 Message rejected as spam",
    )
    finding = reports.read(dsn.replace(b"Return-Path: <studs@example.se>\r\n", b""))
    assert finding.kind == "hard" and finding.status_code == "5.7.1"
    assert finding.tag == verp.find([tag + "@"])
    assert "rejected as spam" in finding.diagnostic


def test_reports_that_name_no_delivery_are_unreadable():
    dsn = bounce_mail.postfix_dsn(
        envelope_sender="studs@example.se",
        recipient="anna@example.net",
        original=original("<elsewhere@example.org>"),
        status="5.1.1",
        diagnostic="550 5.1.1 User unknown",
    )
    with pytest.raises(reports.Unreadable):
        reports.read(dsn)
    with pytest.raises(reports.Unreadable):
        reports.read(bounce_mail.out_of_office(to="studs@example.se"))


@pytest.mark.parametrize(
    ("status", "kind"),
    [("5.1.1", "hard"), ("4.2.2", "soft"), ("2.0.0", None), ("okänd", None), (None, None)],
)
def test_status_codes_decide_the_kind(status, kind):
    assert reports.kind_of(status) == kind


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage \x80" * 50,
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\n"
        b"Content-Type: message/delivery-status\r\n\r\n",
        b"Content-Type: multipart/report; report-type=feedback-report\r\n\r\nno parts",
        b"Content-Type: message/rfc822\r\n\r\nContent-Type: text/rfc822-headers\r\n\r\n\xff",
    ],
)
def test_broken_mail_is_unreadable_never_an_error(raw):
    with pytest.raises(reports.Unreadable):
        reports.read_safely(raw)
