"""Bounces and complaints end to end: newsletters sent through a real SMTP server with a VERP
return address, the bounces that real mail servers write delivered into a real IMAP mailbox
(Dovecot), the poller deciding on them, and the policy's decisions in the export."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from services.notify import mailbox, newsletters, preferences, privacy, subscriptions, tasks, verp
from shared.config import get_settings
from shared.db import session_scope, utcnow
from shared.models import Bounce, Delivery, Subscriber, SuppressedAddress
from tests import bounce_mail, imap
from tests.integration.test_notify_support import add_subscribers, make_item, published, use_smtp

BOUNCE_ADDRESS = "bounces@example.se"


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest) -> str:
    """SQLite for most tests here; those the policy's SQL matters to run on both."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


BOTH_DATABASES = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(scope="module")
def dovecot() -> Iterator[imap.Dovecot]:
    """A real IMAP server (Dovecot) for the module's tests."""
    with imap.dovecot() as server:
        yield server


@pytest.fixture
def bounce_box(db, dovecot, smtp_server, monkeypatch) -> tuple[imap.Dovecot, str]:
    """A fresh bounce mailbox the poller reads, VERP on, mail to the test SMTP server."""
    user = dovecot.new_user()
    monkeypatch.setenv("NEWSROOM_BOUNCE_ADDRESS", BOUNCE_ADDRESS)
    monkeypatch.setenv("NEWSROOM_BOUNCE_MAILBOX_URL", dovecot.url(user))
    use_smtp(monkeypatch, smtp_server.url)
    return dovecot, user


def send_newsletter(smtp_server, *people: str) -> dict[str, tuple[str, object]]:
    """One item to `people`; each recipient's (envelope sender, message) as the SMTP
    server received them."""
    before = len(smtp_server.messages)
    with session_scope() as session:
        key, ids = newsletters.plan_item_newsletter(
            session=session, event=published(make_item()), now=utcnow()
        )
    assert tasks.deliver(newsletter=key, subscriber_ids=ids).sent == len(people)
    smtp_server.wait_for(before + len(people))
    return {
        rcpts[0]: (sender, message)
        for message, (sender, rcpts) in list(
            zip(smtp_server.messages, smtp_server.envelopes, strict=True)
        )[before:]
    }


def subscriber(email: str) -> Subscriber:
    with session_scope() as session:
        found = session.scalars(select(Subscriber).where(Subscriber.email == email)).one()
        session.expunge(found)
        return found


def bounces_of(email: str) -> list[Bounce]:
    with session_scope() as session:
        rows = session.scalars(
            select(Bounce)
            .join(Subscriber, Subscriber.id == Bounce.subscriber_id)
            .where(Subscriber.email == email)
            .order_by(Bounce.id)
        ).all()
        session.expunge_all()
        return list(rows)


def delivery_status(email: str) -> list[str]:
    with session_scope() as session:
        return list(
            session.scalars(
                select(Delivery.status)
                .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
                .where(Subscriber.email == email)
                .order_by(Delivery.id)
            )
        )


def test_each_newsletter_has_its_own_signed_return_address(bounce_box, smtp_server):
    add_subscribers("a@example.se", "b@example.se", regions=("region-skane",))
    sent = send_newsletter(smtp_server, "a@example.se", "b@example.se")
    senders = {sender for sender, _ in sent.values()}
    assert len(senders) == 2  # one per delivery
    for email, (sender, message) in sent.items():
        local, domain = sender.split("@")
        assert domain == "example.se" and local.startswith("bounces+d")
        # The From header stays the site's sender; only the envelope carries the tag.
        assert "bounces" not in str(message["From"])
        delivery_id, mac = verp.find([sender])
        assert verp.verify(delivery_id=delivery_id, mac=mac, link_id=subscriber(email).link_id)
        assert verp.find([str(message["Message-ID"])]) == (delivery_id, mac)


def test_without_a_bounce_address_the_envelope_sender_is_mail_from(db, smtp_server, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    add_subscribers("a@example.se", regions=("region-skane",))
    sender, message = send_newsletter(smtp_server, "a@example.se")["a@example.se"]
    assert sender == "nyheter@localhost"
    assert verp.find([str(message["Message-ID"])]) is None


@BOTH_DATABASES
def test_hard_bounce_suppresses_at_once_and_the_mail_is_deleted(bounce_box, smtp_server):
    server, user = bounce_box
    add_subscribers("a@example.se", "b@example.se", regions=("region-skane",))
    sender, original = send_newsletter(smtp_server, "a@example.se", "b@example.se")["b@example.se"]
    dsn = bounce_mail.postfix_dsn(
        envelope_sender=sender,
        recipient="b@example.se",
        original=original,
        status="5.1.1",
        diagnostic="550 5.1.1 <b@example.se>: Recipient address rejected: User unknown",
    )
    server.deliver(user, dsn)
    server.deliver(user, dsn)  # the same report twice: one decision
    counted = {"kind": "hard", "source": "mailbox"}
    before = REGISTRY.get_sample_value("newsroom_bounces_total", counted) or 0
    assert tasks.poll_bounces.apply().get() == {"suppressed": 1, "duplicate": 1}
    assert REGISTRY.get_sample_value("newsroom_bounces_total", counted) == before + 1
    assert server.messages(user) == []

    gone = subscriber("b@example.se")
    assert gone.status == "suppressed" and "5.1.1" in gone.suppressed_reason
    [decision] = bounces_of("b@example.se")
    assert (decision.kind, decision.status_code, decision.decision, decision.source) == (
        "hard",
        "5.1.1",
        "suppressed",
        "mailbox",
    )
    assert "User unknown" in decision.diagnostic
    assert delivery_status("b@example.se") == ["bounced"]
    assert subscriber("a@example.se").status == "confirmed"

    # Never mailed again: the next newsletter goes to a@ alone.
    assert set(send_newsletter(smtp_server, "a@example.se")) == {"a@example.se"}


@BOTH_DATABASES
def test_soft_bounces_suppress_after_the_limit(bounce_box, smtp_server, monkeypatch):
    server, user = bounce_box
    monkeypatch.setenv("NEWSROOM_SOFT_BOUNCE_LIMIT", "2")
    monkeypatch.setenv("NEWSROOM_SOFT_BOUNCE_DAYS", "7")
    get_settings.cache_clear()
    add_subscribers("full@example.se", regions=("region-skane",))
    outcomes = []
    for _ in range(2):
        sender, original = send_newsletter(smtp_server, "full@example.se")["full@example.se"]
        server.deliver(
            user,
            bounce_mail.postfix_dsn(
                envelope_sender=sender,
                recipient="full@example.se",
                original=original,
                status="4.2.2",
                diagnostic="552 4.2.2 Mailbox full",
            ),
        )
        outcomes.append(mailbox.poll().outcomes)
        if len(outcomes) == 1:
            assert subscriber("full@example.se").status == "confirmed"
    assert outcomes == [{"counted": 1}, {"suppressed": 1}]
    decisions = bounces_of("full@example.se")
    assert [(b.kind, b.decision) for b in decisions] == [
        ("soft", "counted"),
        ("soft", "suppressed"),
    ]
    assert "1 av 2" in decisions[0].reason and "gränsen är 2" in decisions[1].reason
    assert subscriber("full@example.se").status == "suppressed"


def test_a_delay_warning_is_no_bounce(bounce_box, smtp_server):
    server, user = bounce_box
    add_subscribers("slow@example.se", regions=("region-skane",))
    sender, original = send_newsletter(smtp_server, "slow@example.se")["slow@example.se"]
    server.deliver(
        user,
        bounce_mail.postfix_dsn(
            envelope_sender=sender,
            recipient="slow@example.se",
            original=original,
            status="4.4.1",
            diagnostic="connect to mx.example.net: Connection timed out",
            action="delayed",
        ),
    )
    assert mailbox.poll().outcomes == {"not_a_failure": 1}
    assert bounces_of("slow@example.se") == []
    assert server.messages(user) == []


def test_complaint_suppresses_by_the_original_headers(bounce_box, smtp_server):
    server, user = bounce_box
    add_subscribers("arg@example.se", regions=("region-skane",))
    _, original = send_newsletter(smtp_server, "arg@example.se")["arg@example.se"]
    server.deliver(user, bounce_mail.arf_report(original=original))
    assert mailbox.poll().outcomes == {"suppressed": 1}
    [decision] = bounces_of("arg@example.se")
    assert (decision.kind, decision.decision) == ("complaint", "suppressed")
    assert subscriber("arg@example.se").status == "suppressed"
    assert delivery_status("arg@example.se") == ["complained"]


def test_odd_formats_are_read_by_the_bounce_detectors(bounce_box, smtp_server):
    server, user = bounce_box
    add_subscribers("q@example.se", regions=("region-skane",))
    sender, _ = send_newsletter(smtp_server, "q@example.se")["q@example.se"]
    server.deliver(user, bounce_mail.qmail_bounce(envelope_sender=sender, recipient="q@example.se"))
    assert mailbox.poll().outcomes == {"suppressed": 1}
    [decision] = bounces_of("q@example.se")
    assert (decision.kind, decision.status_code) == ("hard", "5.1.1")


def test_an_unreadable_mail_is_kept_in_its_folder(bounce_box, smtp_server):
    server, user = bounce_box
    auto_reply = bounce_mail.out_of_office(to=BOUNCE_ADDRESS)
    server.deliver(user, auto_reply)
    assert mailbox.poll().outcomes == {"unreadable": 1}
    assert server.messages(user) == []
    [kept] = server.messages(user, get_settings().bounce_keep_folder)
    assert kept.replace(b"\r\n", b"\n") == auto_reply.replace(b"\r\n", b"\n")
    # The next poll finds nothing new: the kept mail is not read over and over.
    assert mailbox.poll().outcomes == {}


def test_a_bounce_for_a_delivery_that_no_longer_exists(bounce_box, smtp_server):
    server, user = bounce_box
    add_subscribers("old@example.se", regions=("region-skane",))
    sender, original = send_newsletter(smtp_server, "old@example.se")["old@example.se"]
    with session_scope() as session:
        assert privacy.forget_subscriber(session=session, email="old@example.se", now=utcnow())
    server.deliver(
        user,
        bounce_mail.postfix_dsn(
            envelope_sender=sender,
            recipient="old@example.se",
            original=original,
            status="5.1.1",
            diagnostic="550 5.1.1 User unknown",
        ),
    )
    assert mailbox.poll().outcomes == {"unknown_delivery": 1}
    assert server.messages(user) == []
    with session_scope() as session:
        assert session.scalars(select(Bounce)).all() == []


def test_a_forged_tag_suppresses_nobody(bounce_box, smtp_server):
    server, user = bounce_box
    add_subscribers("victim@example.se", regions=("region-skane",))
    sender, original = send_newsletter(smtp_server, "victim@example.se")["victim@example.se"]
    delivery_id, mac = verp.find([sender])
    forged = sender.replace(mac, "0" * len(mac))
    server.deliver(
        user,
        bounce_mail.postfix_dsn(
            envelope_sender=forged,
            recipient="victim@example.se",
            original=original,
            status="5.1.1",
            diagnostic="550 5.1.1 User unknown",
        ).replace(sender.encode(), forged.encode()),
    )
    assert mailbox.poll().outcomes == {"unknown_delivery": 1}
    assert subscriber("victim@example.se").status == "confirmed"


def test_decisions_are_exported_and_forgotten(bounce_box, smtp_server):
    server, user = bounce_box
    add_subscribers("exp@example.se", regions=("region-skane",))
    sender, original = send_newsletter(smtp_server, "exp@example.se")["exp@example.se"]
    server.deliver(
        user,
        bounce_mail.postfix_dsn(
            envelope_sender=sender,
            recipient="exp@example.se",
            original=original,
            status="5.2.1",
            diagnostic="550 5.2.1 Mailbox disabled",
        ),
    )
    mailbox.poll()
    with session_scope() as session:
        data = privacy.export_subscriber(session=session, email="exp@example.se")
    assert data["subscription"]["status"] == "suppressed"
    [exported] = data["bounces"]
    assert exported["kind"] == "hard" and exported["decision"] == "suppressed"
    assert exported["status_code"] == "5.2.1" and "Permanent studs" in exported["reason"]
    assert exported["newsletter"] == data["deliveries"][0]["newsletter"]
    with session_scope() as session:
        assert privacy.forget_subscriber(session=session, email="exp@example.se", now=utcnow())
    with session_scope() as session:
        assert session.scalars(select(Bounce)).all() == []
        [kept] = session.scalars(select(SuppressedAddress)).all()
        assert kept.reason == "bounced"
    # Forgotten, the address is still never mailed: asking again brings no confirmation.
    with session_scope() as session:
        event = subscriptions.request_subscription(
            session=session,
            request=preferences.validate_request(email="exp@example.se"),
            source="api",
            now=utcnow(),
        )
    handled = tasks.handle_subscription.apply(kwargs={"event": event.model_dump(mode="json")})
    assert handled.get() is False
    assert smtp_server.to("exp@example.se") == [original]


def test_the_mailbox_can_be_read_over_pop3(bounce_box, smtp_server, monkeypatch):
    server, user = bounce_box
    monkeypatch.setenv("NEWSROOM_BOUNCE_MAILBOX_URL", server.pop3_url(user))
    get_settings.cache_clear()
    add_subscribers("p@example.se", regions=("region-skane",))
    sender, original = send_newsletter(smtp_server, "p@example.se")["p@example.se"]
    dsn = bounce_mail.postfix_dsn(
        envelope_sender=sender,
        recipient="p@example.se",
        original=original,
        status="5.1.1",
        diagnostic="550 5.1.1 User unknown",
    )
    auto_reply = bounce_mail.out_of_office(to=BOUNCE_ADDRESS)
    for mail in (dsn, auto_reply, dsn):
        server.deliver(user, mail)
    assert mailbox.poll().outcomes == {"suppressed": 1, "unreadable": 1, "duplicate": 1}
    assert subscriber("p@example.se").status == "suppressed"
    # POP3 has no folders: the unreadable mail stays in the mailbox, the rest is deleted.
    [kept] = server.messages(user)
    assert kept.replace(b"\r\n", b"\n") == auto_reply.replace(b"\r\n", b"\n")
