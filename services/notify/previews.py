"""What Redaktionen asks notify while an item is written: its newsletter exactly as
subscribers will get it, how many subscribers it would reach now, and a test newsletter to
its author only. Each answer is waited for (`shared.previews.ask`), so these tasks keep
their results; none writes to the ledger's rows or mails a subscriber.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.notify import ledger, mail, rendering, transport
from services.notify.delivery import item_mail
from services.notify.preferences import wants
from shared import media
from shared.celery_app import celery_app
from shared.config import get_settings
from shared.db import session_scope
from shared.models import Item, Subscriber
from shared.previews import item_from_payload

log = logging.getLogger(__name__)

TEST_SUBJECT = "Provmejl: {subject}"


def _links() -> dict[str, str]:
    # Each subscriber's mail carries their own settings and unsubscribe links; a preview and
    # a test mail, read by the author, point at the subscribe page instead.
    page = get_settings().public_url + "/prenumerera/"
    return {"manage_url": page, "unsubscribe_url": page}


def newsletter(item: Item) -> dict[str, str]:
    """Subject, text and HTML of the item's newsletter, from the templates it is sent with."""
    with session_scope() as session:
        media.load_for(session, [item])  # its image and documents, as the mail shows them
    subject, template, context = item_mail(item)
    context.update(_links())
    return {
        "subject": subject,
        "text": rendering.render(f"mail/{template}.txt", **context),
        "html": rendering.render_mail_html(f"mail/{template}.html", **context),
    }


def count_recipients(*, session: Session, regions: list[str], topics: list[str]) -> dict[str, int]:
    """Confirmed subscribers (not suppressed) an item with these tags would reach, now: at
    once (immediate) and in the weekly digest."""
    tags = Item(regions=list(regions), topics=list(topics))
    counts = {"immediate": 0, "weekly": 0}
    rows = session.execute(
        select(Subscriber.frequency, Subscriber.regions, Subscriber.topics)
        .where(Subscriber.status == "confirmed", Subscriber.suppressed_at.is_(None))
        .execution_options(yield_per=2000)
    )
    for row in rows:
        if row.frequency in counts and wants(row, tags):
            counts[row.frequency] += 1
    return counts


def test_message(*, item: Item, to: str) -> EmailMessage:
    """The item's newsletter to its author, its subject saying it is a test."""
    parts = newsletter(item)
    return mail.build_message(
        to=to,
        subject=TEST_SUBJECT.format(subject=parts["subject"]),
        text=parts["text"],
        html=parts["html"],
    )


@celery_app.task(name="notify.preview_newsletter", ignore_result=False)
def preview_newsletter(*, item: dict) -> dict[str, str]:
    """An unsaved item's newsletter: subject, text part and HTML part."""
    return newsletter(item_from_payload(item))


@celery_app.task(name="notify.count_recipients", ignore_result=False)
def count(*, regions: list[str], topics: list[str]) -> dict[str, int]:
    """How many subscribers an item with these regions and topics reaches now."""
    with session_scope() as session:
        return count_recipients(session=session, regions=regions, topics=topics)


# Not retried: the author waits for the answer and asks again (a late retry would arrive
# after the page said it failed). Counted with the other mail, as "test_newsletter".
@celery_app.task(name="notify.send_test_newsletter", ignore_result=False, acks_late=False)
def send_test_newsletter(*, item: dict, to: str) -> bool:
    """Send the item's real newsletter to `to` (the signed-in author) only."""
    message = test_message(item=item_from_payload(item), to=to)
    try:
        with transport.open_transport() as connection:
            connection.send(recipient=to, data=mail.message_bytes(message))
    except transport.PermanentFailure:
        ledger.count_mail("test_newsletter", "refused")
        raise
    except transport.DeliveryError:
        ledger.count_mail("test_newsletter", "deferred")
        raise
    ledger.count_mail("test_newsletter", "sent")
    return True


__all__ = ["count_recipients", "newsletter", "test_message"]
