"""Hand a mail of Redaktionen to notify, by task name (services never import each other).

Sent straight to the broker after the commit rather than through the outbox: a lost sign-in
mail costs the person a new request (the page says so when the broker cannot be reached),
and a lost review comment is still shown on the item's page.
"""

from __future__ import annotations

import logging

from shared.celery_app import celery_app

log = logging.getLogger(__name__)

TASK, QUEUE = "notify.send_editor_mail", "notify"


def send(*, kind: str, to: str, context: dict) -> bool:
    """Queue the mail; False when the broker could not take it."""
    try:
        celery_app.send_task(TASK, kwargs={"kind": kind, "to": to, "context": context}, queue=QUEUE)
    except Exception:  # the broker is unreachable: say so to the person, keep the request
        log.exception("could not queue editor mail %s", kind)
        return False
    return True


__all__ = ["send"]
