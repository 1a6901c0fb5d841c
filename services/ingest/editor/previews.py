"""Förhandsgranska, the subscribers an item reaches, and "Skicka ett provmejl till mig":
questions to render and notify by task name (shared.previews), never their code.

A preview's page and mail are shown in sandboxed frames, each a document of its own with a
policy that allows their styles and no script at all (PREVIEW_CSP); the editor's pages keep
theirs. A frame's URL carries a signed token naming the stored answer and the person who
asked: nobody else can open it, and it expires with the answer (an hour).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi.responses import HTMLResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer

from shared import previews
from shared.celery_app import RESULT_SECONDS
from shared.config import get_settings
from shared.models import Contributor, Item
from shared.ratelimit import RateLimiter

from . import web

FRAME = f"{web.PREFIX}/forhandsvisning"
PREVIEW_CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
    "form-action 'none'; frame-ancestors 'self'; base-uri 'none'; sandbox"
)
FRAME_HEADERS = {
    **web.PAGE_HEADERS,
    "Content-Security-Policy": PREVIEW_CSP,
    "X-Frame-Options": "SAMEORIGIN",
}
UNAVAILABLE = (
    "Förhandsgranskningen kunde inte visas just nu: {what} svarar inte. Försök igen om en "
    "stund. Ingenting har sparats eller publicerats."
)
TEST_UNAVAILABLE = (
    "Provmejlet kunde inte skickas just nu: e-posttjänsten svarar inte. Försök igen om en stund."
)
# Test mails per person: five at once, then one every two minutes.
test_limiter = RateLimiter(rate=1 / 120, burst=5)


@dataclass
class Preview:
    """What "Förhandsgranska" shows: the frames' URLs and the mail's subject and text."""

    page_url: str | None = None
    mail_url: str | None = None
    subject: str = ""
    text: str = ""
    unavailable: list[str] | None = None


@dataclass(frozen=True)
class Reach:
    """Confirmed subscribers an item's regions and topics reach now (None: not known)."""

    immediate: int | None
    weekly: int | None

    @property
    def known(self) -> bool:
        return self.immediate is not None

    def phrase(self) -> str:
        """ "12 prenumeranter", "1 prenumerant", or "prenumeranterna" when not known."""
        if self.immediate is None:
            return "prenumeranterna"
        return f"{self.immediate} prenumerant{'' if self.immediate == 1 else 'er'}"


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().signing_key, salt="newsroom.editor.preview")


def _frame_url(task_id: str, part: str, user: Contributor) -> str:
    return f"{FRAME}/{_signer().dumps([task_id, part, user.id])}"


def preview(*, item: Item, user: Contributor) -> Preview:
    """Ask render for the item's page and notify for its newsletter (one after the other:
    each waits at most NEWSROOM_EDITOR_TASK_TIMEOUT)."""
    data = previews.item_payload(item)
    shown = Preview(unavailable=[])
    page_id, mail_id = str(uuid.uuid4()), str(uuid.uuid4())
    try:
        previews.ask(previews.PREVIEW_ITEM, {"item": data}, task_id=page_id)
        shown.page_url = _frame_url(page_id, "sida", user)
    except previews.Unavailable:
        shown.unavailable.append(UNAVAILABLE.format(what="webbplatsens sidmallar"))
    try:
        mail = previews.ask(previews.PREVIEW_NEWSLETTER, {"item": data}, task_id=mail_id)
        shown.mail_url = _frame_url(mail_id, "mejl", user)
        shown.subject, shown.text = mail["subject"], mail["text"]
    except previews.Unavailable:
        shown.unavailable.append(UNAVAILABLE.format(what="nyhetsbrevets e-posttjänst"))
    return shown


def frame(*, token: str, user: Contributor) -> HTMLResponse:
    """One preview frame (the page, or the mail's HTML part) for the person who asked."""
    try:
        task_id, part, owner = _signer().loads(token, max_age=RESULT_SECONDS)
    except (BadSignature, ValueError):
        task_id, owner = "", None
    stored = previews.answer(task_id) if owner == user.id else None
    if isinstance(stored, dict):
        stored = stored.get("html")
    if not isinstance(stored, str):
        return HTMLResponse(
            web.environment().get_template("preview_gone.html").render(),
            status_code=404,
            headers=FRAME_HEADERS,
        )
    return HTMLResponse(stored, headers=FRAME_HEADERS)


def reach(*, regions: list[str], topics: list[str], timeout: float | None = None) -> Reach:
    """How many subscribers an item with these tags would be mailed to now."""
    try:
        counts = previews.ask(
            previews.COUNT_RECIPIENTS, {"regions": regions, "topics": topics}, timeout=timeout
        )
    except previews.Unavailable:
        return Reach(None, None)
    return Reach(counts["immediate"], counts["weekly"])


def send_test(*, item: Item, user: Contributor) -> tuple[int, str]:
    """The item's newsletter to the signed-in person only; (HTTP status, what to tell them)."""
    if not user.email:
        return 409, "Du har ingen e-postadress i Redaktionen, så inget provmejl kan skickas."
    wait = test_limiter.wait_time(user.id)
    if wait:
        minutes = max(1, round(wait / 60))
        return 429, (
            f"Du har skickat flera provmejl på kort tid. Vänta {minutes} "
            f"minut{'' if minutes == 1 else 'er'} och försök igen."
        )
    try:
        previews.ask(
            previews.SEND_TEST_NEWSLETTER, {"item": previews.item_payload(item), "to": user.email}
        )
    except previews.Unavailable:
        return 503, TEST_UNAVAILABLE
    return 200, (
        f"Provmejlet är skickat till {user.email}. Det är nyhetsbrevet som prenumeranterna "
        "får, och bara du fick det. Ingenting har sparats."
    )


__all__ = ["FRAME", "PREVIEW_CSP", "Preview", "Reach", "frame", "preview", "reach", "send_test"]
