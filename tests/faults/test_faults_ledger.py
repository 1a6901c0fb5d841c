"""The notify ledger after a crash: a mail whose worker died while handing it to SMTP."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import update

from services.notify import ledger, newsletters, tasks
from shared.db import session_scope, utcnow
from shared.models import Delivery
from tests.integration.test_notify_support import add_subscribers, make_item, published, use_smtp

PEOPLE = ["a@example.se", "b@example.se", "c@example.se"]


def test_a_mail_in_flight_at_a_crash_is_sent_later(db, smtp_server, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    add_subscribers(*PEOPLE)
    with session_scope() as session:
        newsletter, ids = newsletters.plan_item_newsletter(
            session=session, event=published(make_item()), now=utcnow()
        )
        # What a worker killed between its take (claimed -> sending) and SMTP's 250 leaves:
        # the row in `sending`, long ago, and the batch task redelivered or resumed.
        session.execute(
            update(Delivery)
            .where(Delivery.newsletter == str(newsletter), Delivery.subscriber_id == ids[0])
            .values(status="sending", claimed_at=utcnow() - timedelta(hours=4))
        )
    tasks.deliver(newsletter=newsletter, subscriber_ids=ids)  # the redelivered batch
    with session_scope() as session:  # what notify.resume_stalled does, every 5 minutes
        found = ledger.stalled(session=session, now=utcnow())
    for stalled_newsletter, stalled_ids in found.items():
        tasks.deliver(newsletter=stalled_newsletter, subscriber_ids=stalled_ids)
    got = Counter(rcpt for _, rcpts in smtp_server.envelopes for rcpt in rcpts)
    assert got == Counter(PEOPLE)
