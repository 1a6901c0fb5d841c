"""Mails of Redaktionen, the web editor: a sign-in code and link, an invitation, an item
returned by review.

Ingest sends these by task name (`notify.send_editor_mail` on the notify queue) after its
commit; notify owns every template and the sending. A sign-in mail past its expiry is not
sent (the person asks for a new code); a redelivered task may send a mail twice, which is
harmless for both kinds (the same code, the same comment).
"""

from __future__ import annotations

import logging
from datetime import datetime

from services.notify import ledger, mail, rendering, transport
from shared.celery_app import MAX_COUNTDOWN_SECONDS, celery_app
from shared.db import utcnow

log = logging.getLogger(__name__)

TASK = "notify.send_editor_mail"
# kind -> (template base name, subject with the context's fields)
KINDS = {
    "sign_in": ("editor_sign_in", "Din inloggningskod till Redaktionen: {code}"),
    "review_returned": ("editor_review_returned", "Din nyhet har skickats tillbaka: {title}"),
    "invitation": ("editor_invitation", "Du är inbjuden till Redaktionen"),
}
RETRY_BASE_SECONDS = 10
MAX_RETRIES = 40


def editor_message(*, kind: str, to: str, context: dict, now: datetime | None = None):
    """The mail of `kind` to `to`, rendered from notify's Swedish templates."""
    template, subject = KINDS[kind]
    return mail.build_message(
        to=to,
        subject=subject.format(**context),
        text=rendering.render(f"mail/{template}.txt", **context),
        html=rendering.render_mail_html(f"mail/{template}.html", **context),
        now=now,
    )


def send_editor_mail_now(*, kind: str, to: str, context: dict) -> bool:
    """Send one editor mail; False when it expired before it could go."""
    expires = context.get("expires_at")
    if expires and datetime.fromisoformat(expires) <= utcnow():
        log.info("editor mail %s expired before sending", kind)
        return False
    message = editor_message(kind=kind, to=to, context=context)
    with transport.open_transport() as connection:
        connection.send(recipient=to, data=mail.message_bytes(message))
    ledger.count_mail(f"editor-{kind}", "sent")
    return True


@celery_app.task(name=TASK, bind=True, acks_late=True, max_retries=MAX_RETRIES)
def send_editor_mail(self, kind: str, to: str, context: dict) -> bool:
    """Send a mail of Redaktionen; SMTP deferrals and outages are retried with backoff."""
    try:
        return send_editor_mail_now(kind=kind, to=to, context=context)
    except transport.PermanentFailure:
        log.warning("editor mail %s refused for good by the receiving server", kind)
        return False
    except (transport.TemporaryFailure, transport.ConnectionFailure) as exc:
        countdown = min(RETRY_BASE_SECONDS * 2**self.request.retries, MAX_COUNTDOWN_SECONDS)
        raise self.retry(countdown=countdown, exc=exc) from exc


__all__ = ["KINDS", "TASK", "editor_message", "send_editor_mail", "send_editor_mail_now"]
