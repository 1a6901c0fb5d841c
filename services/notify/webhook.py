"""The bounce webhook: a mail provider posts the facts of a bounce or complaint as JSON.

Signed like Stripe's and Slack's: `X-Newsroom-Timestamp` (Unix seconds) and
`X-Newsroom-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`, keyed with
NEWSROOM_BOUNCE_WEBHOOK_SECRET. A timestamp outside the window is refused, and so is a
signature seen before (a replay); errors are problem+json in Swedish.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from services.notify import bounces, reports, verp
from shared import problems
from shared.config import get_settings
from shared.db import session_scope, utcnow
from shared.models import WebhookReceipt

router = APIRouter()

PATH = "/api/notify/bounces"
# Bodies larger than this are no bounce report.
MAX_BODY = 64 * 1024


class BounceIn(BaseModel):
    """One bounce or complaint, as a provider reports it."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["bounce", "complaint"] = Field(examples=["bounce"])
    # The envelope sender the mail was sent from: our VERP address, which names the delivery.
    envelope_sender: str = Field(
        max_length=320, examples=["bounces+d1a-0123456789abcdef0123@example.se"]
    )
    # For a bounce: the enhanced status code (RFC 3463), 5.x.x permanent or 4.x.x temporary.
    status: str | None = Field(default=None, max_length=16, examples=["5.1.1"])
    diagnostic: str | None = Field(
        default=None, max_length=2000, examples=["550 5.1.1 No such user"]
    )


class BounceOutcome(BaseModel):
    outcome: str = Field(
        examples=["suppressed"],
        description="suppressed, counted, already_suppressed, duplicate or unknown_delivery",
    )


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Newsroom-Signature` value of a body sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def _check_signature(body: bytes, timestamp: str | None, sent: str | None) -> str:
    """The signature if it is valid and fresh; a Problem otherwise."""
    settings = get_settings()
    secret = settings.bounce_webhook_secret
    if not secret:
        raise problems.Problem(503, "Webhooken för studsar är inte aktiverad.")
    if not timestamp or not sent:
        raise problems.Problem(
            401, "Signatur saknas: skicka X-Newsroom-Timestamp och X-Newsroom-Signature."
        )
    try:
        at = int(timestamp)
    except ValueError:
        raise problems.Problem(401, "X-Newsroom-Timestamp ska vara sekunder sedan 1970.") from None
    if abs(time.time() - at) > settings.bounce_webhook_window_seconds:
        raise problems.Problem(
            401, "Tidsstämpeln är för gammal eller ligger i framtiden; signera begäran på nytt."
        )
    if not hmac.compare_digest(signature(secret, timestamp, body), sent.strip()):
        raise problems.Problem(401, "Signaturen stämmer inte.")
    return sent.strip()


def _accept(signed: str, body: BounceIn) -> str:
    """Refuse a replay, then apply the policy; one unit of work."""
    now = utcnow()
    window = timedelta(seconds=get_settings().bounce_webhook_window_seconds)
    key = hashlib.sha256(signed.encode()).hexdigest()
    found = verp.find([body.envelope_sender])
    kind = "complaint" if body.type == "complaint" else reports.kind_of(body.status)
    with session_scope() as session:
        # Signatures older than the window (twice, for clocks apart) can no longer be replayed.
        session.execute(delete(WebhookReceipt).where(WebhookReceipt.received_at < now - 2 * window))
        try:
            with session.begin_nested():
                session.add(WebhookReceipt(signature=key, received_at=now))
                session.flush()
        except IntegrityError:
            raise problems.Problem(409, "Begäran har redan tagits emot (samma signatur).") from None
        if found is None:
            bounces.REPORTS.labels("unknown_delivery").inc()
            return "unknown_delivery"
        report = bounces.Report(
            kind=kind or "hard",
            delivery_id=found[0],
            mac=found[1],
            source="webhook",
            status_code=reports.status_of(body.status) if body.status else None,
            diagnostic=" ".join((body.diagnostic or "").split())[:500] or None,
        )
        return bounces.record(session=session, report=report, now=now)


@router.post(
    PATH,
    response_model=BounceOutcome,
    tags=["bounces"],
    summary="A bounce or complaint from a mail provider (signed)",
    responses=problems.problem_responses(401, 409, 413, 415, 422, 503),
    # The body is read as bytes (the signature covers them exactly) and checked by hand.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": BounceIn.model_json_schema()}},
        }
    },
)
async def receive_bounce(
    request: Request,
    x_newsroom_timestamp: Annotated[str | None, Header()] = None,
    x_newsroom_signature: Annotated[str | None, Header()] = None,
) -> BounceOutcome:
    """Record a bounce or complaint about the delivery its envelope sender names."""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise problems.Problem(413, f"Högst {MAX_BODY // 1024} kB.")
    signed = _check_signature(body, x_newsroom_timestamp, x_newsroom_signature)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise problems.Problem(415, "Skicka JSON.")
    try:
        parsed = BounceIn.model_validate_json(body)
    except ValidationError as exc:
        raise problems.Problem(
            422, "Uppgifterna uppfyller inte kraven.", errors=problems.swedish_errors(exc.errors())
        ) from exc
    if parsed.type == "bounce" and reports.kind_of(parsed.status) is None:
        raise problems.Problem(
            422,
            "Uppgifterna uppfyller inte kraven.",
            errors=[{"field": "status", "message": "ska vara en statuskod som 5.1.1 eller 4.2.2"}],
        )
    outcome = await run_in_threadpool(_accept, signed, parsed)
    return BounceOutcome(outcome=outcome)
