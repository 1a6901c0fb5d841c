"""Notify's HTTP side: subscribe (JSON or form), confirm, preferences, one-click unsubscribe,
the bounce webhook, and Redaktionen's pages of subscribers and newsletters (services/notify/admin/).

`router` carries every notify route and is what the embedded app includes; `create_app()`
wraps it for a standalone deployment (`uvicorn services.notify.api:create_app --factory`).
Each route is a unit of work: it opens the session, calls the service and commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError

from services.notify import admin, pages, preferences, subscriptions, tasks, webhook
from services.notify.schemas import (
    PAGE_ROUTE,
    SUBSCRIBE_BODY,
    SUBSCRIBE_RESPONSES,
    SubscriptionAccepted,
    SubscriptionIn,
    swedish_errors,
)
from services.notify.tokens import InvalidToken
from shared import docs, heap, ops, outbox, problems, taxonomy
from shared import logging as shared_logging
from shared.config import get_settings
from shared.db import session_scope, utcnow
from shared.ratelimit import RateLimiter, per_minute, retry_after
from shared.redaktion import csrf

log = logging.getLogger(__name__)

router = APIRouter()

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


# --- rate limiting -----------------------------------------------------------------------

# Per client address; the per-address limit, which protects inboxes, lives in the database
# (service.subscribe).
ip_limiter = RateLimiter(limits=lambda: per_minute(get_settings().subscribe_per_ip_per_minute))


@dataclass(frozen=True)
class RateCheck:
    retry_after: float

    @property
    def allowed(self) -> bool:
        return self.retry_after <= 0


def client_rate(request: Request) -> RateCheck:
    """Dependency: count this subscription request against the client's IP."""
    host = request.client.host if request.client else "unknown"
    return RateCheck(ip_limiter.wait_time(host))


# --- routes ------------------------------------------------------------------------------


def _subscribe(request: preferences.SubscriptionRequest, source: str) -> None:
    """Record the request (outbox) and hand it to the worker after the commit; while the
    broker is down the outbox relay sends it once the broker is back."""
    with session_scope() as session:
        event = subscriptions.request_subscription(
            session=session, request=request, source=source, now=utcnow()
        )
    try:
        tasks.handle_subscription.apply_async(
            kwargs={"event": event.model_dump(mode="json")}, queue=tasks.QUEUE
        )
    except Exception:
        log.warning("broker unreachable: the outbox relay queues request %s", event.event_id)
        outbox.wake()
        return
    with session_scope() as session:
        outbox.mark_relayed(session, [event.event_id])


@router.post(
    "/api/v1/subscriptions",
    status_code=202,
    response_model=SubscriptionAccepted,
    tags=["subscriptions"],
    summary="Subscribe (double opt-in): JSON or an HTML form post",
    responses=SUBSCRIBE_RESPONSES,
    openapi_extra=SUBSCRIBE_BODY,
)
async def create_subscription(
    request: Request, rate: Annotated[RateCheck, Depends(client_rate)]
) -> Response:
    """Always 202 and the same body whether the address is new, pending, confirmed or gone;
    the confirmation (or, for a subscriber, a settings link) arrives by mail."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES:
        return await _subscribe_form(request, rate)
    if content_type != "application/json":
        raise problems.Problem(415, "Skicka JSON eller ett formulär.")
    if not rate.allowed:
        raise problems.Problem(
            429,
            "För många förfrågningar; försök igen om en stund.",
            headers={"Retry-After": retry_after(rate.retry_after)},
        )
    try:
        body = SubscriptionIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise problems.Problem(
            422, "Uppgifterna uppfyller inte kraven.", errors=swedish_errors(exc)
        ) from exc
    try:
        checked = preferences.validate_request(
            email=body.email, regions=body.regions, topics=body.topics, frequency=body.frequency
        )
    except preferences.InvalidSubscription as exc:
        raise problems.Problem(
            422, "Uppgifterna uppfyller inte kraven.", errors=exc.errors
        ) from exc
    await run_in_threadpool(_subscribe, checked, "api")
    return JSONResponse(SubscriptionAccepted().model_dump(), status_code=202)


def _cross_site(request: Request) -> bool:
    """Whether a browser posted this form from another site: its Origin (or, without one, its
    Referer) names neither the site's public address nor the host the request was sent to.
    Browsers send one of them with every form post; programs send neither and may post."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return False
    ours = {
        urlsplit(get_settings().public_url).netloc.lower(),
        request.headers.get("host", "").lower(),
    }
    return source == "null" or urlsplit(source).netloc.lower() not in ours


async def _subscribe_form(request: Request, rate: RateCheck) -> HTMLResponse:
    if _cross_site(request):
        return pages.cross_site_page()
    if not rate.allowed:
        return pages.page(
            "För många försök",
            "Vänta en stund och försök sedan igen.",
            status=429,
            error=True,
            headers={"Retry-After": retry_after(rate.retry_after)},
        )
    form = await request.form()
    email = str(form.get("email") or "")
    sent = _sent_choices(form)
    try:
        checked = preferences.validate_request(
            email=email, regions=sent.regions, topics=sent.topics, frequency=sent.frequency
        )
    except preferences.InvalidSubscription as exc:
        return pages.subscribe_form_page(email=email, chosen=sent, errors=exc.errors)
    await run_in_threadpool(_subscribe, checked, "form")
    return pages.accepted_page(checked.preferences)


def _sent_choices(form) -> preferences.Preferences:
    """The choices a form sent, as they were (checked or not)."""
    frequency = form.get("frequency")
    return preferences.Preferences(
        regions=tuple(str(v) for v in form.getlist("regions")),
        topics=tuple(str(v) for v in form.getlist("topics")),
        frequency=None if frequency is None else str(frequency),
    )


@router.get("/prenumerera/", response_class=HTMLResponse, include_in_schema=False)
def subscribe_form(
    region: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
    amne: Annotated[list[str], Query()] = [],  # noqa: B006
) -> HTMLResponse:
    """The subscription form with `?region=…&amne=…` ticked, made here so that it works
    without JavaScript (the site's static /prenumerera/ cannot read its query; the web
    server sends it here when there is one)."""
    regions, topics = taxonomy.regions(), taxonomy.topics()
    chosen = preferences.Preferences(
        regions=tuple(slug for slug in regions if slug in region),
        topics=tuple(slug for slug in topics if slug in amne),
    )
    return pages.subscribe_page(chosen)


# Not length-checked here: a token too long to be ours is a broken link like any other, and
# gets the same page (tokens.read_token refuses it unread).
Token = Annotated[str, Query(description="The signed link from the mail")]


@router.get("/prenumeration/bekrafta", **PAGE_ROUTE)
def confirm_page(token: Token = "") -> HTMLResponse:
    """The confirmation link's page: a button that confirms. A GET changes nothing, since
    mail scanners open every link in a mail."""
    try:
        with session_scope() as session:
            subscriber = subscriptions.subscriber_for_token(
                session=session, purpose="confirm", token=token
            )
            return pages.confirm_page(subscriber, token=token)
    except InvalidToken:
        return pages.invalid_link_page()


@router.post("/prenumeration/bekrafta", **PAGE_ROUTE)
def confirm_subscription(token: Token = "") -> HTMLResponse:
    """Confirm a subscription: the button on the confirmation link's page."""
    try:
        with session_scope() as session:
            outcome = subscriptions.confirm(session=session, token=token, now=utcnow())
    except InvalidToken:
        return pages.invalid_link_page()
    return pages.confirmed_page(outcome)


def _with_settings_link(token: str, action) -> HTMLResponse:
    """`action(subscriber)` for the confirmed subscriber a settings link names, in one unit
    of work; a page saying why not for a bad link or an address that no longer subscribes."""
    try:
        with session_scope() as session:
            subscriber = subscriptions.subscriber_for_token(
                session=session, purpose="manage", token=token
            )
            if subscriber.status != "confirmed":
                return pages.not_subscribed_page()
            return action(subscriber)
    except InvalidToken:
        return pages.invalid_link_page()


@router.get("/prenumeration/installningar", **PAGE_ROUTE)
def show_preferences(token: Token = "") -> HTMLResponse:
    """Show a subscriber's regions, topics and frequency."""
    return _with_settings_link(token, lambda subscriber: pages.manage_page(subscriber, token=token))


@router.post("/prenumeration/installningar", **PAGE_ROUTE)
async def change_preferences(request: Request, token: Token = "") -> HTMLResponse:
    """Save a subscriber's regions, topics and frequency from the settings form."""
    sent = _sent_choices(await request.form())

    def save(subscriber) -> HTMLResponse:
        try:
            chosen = preferences.validate_preferences(
                regions=sent.regions, topics=sent.topics, frequency=sent.frequency or "immediate"
            )
        except preferences.InvalidSubscription as exc:
            return pages.manage_page(subscriber, token=token, chosen=sent, errors=exc.errors)
        subscriptions.update_preferences(subscriber=subscriber, preferences=chosen)
        return pages.manage_page(subscriber, token=token, saved=True)

    return await run_in_threadpool(_with_settings_link, token, save)


@router.get("/prenumeration/avregistrera", **PAGE_ROUTE)
def unsubscribe_page(token: Token = "") -> HTMLResponse:
    """A page with a button; a GET changes nothing, since mail scanners follow links."""
    try:
        with session_scope() as session:
            subscriber = subscriptions.subscriber_for_token(
                session=session, purpose="unsubscribe", token=token
            )
            return pages.unsubscribe_page(subscriber, token=token)
    except InvalidToken:
        return pages.invalid_link_page()


@router.post("/prenumeration/avregistrera", **PAGE_ROUTE)
def unsubscribe(token: Token = "") -> HTMLResponse:
    """RFC 8058 one-click: a POST (cookies or body not needed) unsubscribes; 200, no redirect."""
    try:
        with session_scope() as session:
            subscriptions.unsubscribe(session=session, token=token, now=utcnow())
    except InvalidToken:
        return pages.invalid_link_page()
    return pages.unsubscribed_page()


# The signed bounce webhook of mail providers (services/notify/webhook.py).
router.include_router(webhook.router)


# --- standalone app ----------------------------------------------------------------------


def create_app() -> FastAPI:
    """The notify service alone, as deployed next to its workers, with its outbox relay."""
    app = FastAPI(
        title="Newsroom – prenumerationer",
        version="1",
        docs_url=None,  # shared/docs.py: Swagger UI without a CDN
        redoc_url=None,
        openapi_url="/api/notify/openapi.json",
        lifespan=outbox.relay_lifespan,
    )
    app.include_router(router)
    admin.install(app)  # /redaktion/prenumeranter/ and /redaktion/nyhetsbrev/
    csrf.install(app)  # the same token as the rest of Redaktionen
    problems.install(app)
    shared_logging.install(app)  # X-Request-ID, JSON request logs, request metrics
    app.include_router(ops.router)  # /healthz, /readyz (database and broker), /metrics
    docs.install(app, docs_url="/api/notify/docs", openapi_url="/api/notify/openapi.json")
    heap.freeze_once()
    return app
