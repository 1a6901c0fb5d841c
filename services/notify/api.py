"""Notify's HTTP side: subscribe (JSON or form), confirm, preferences, one-click unsubscribe.

`router` carries every notify route and is what the embedded app includes; `create_app()`
wraps it for a standalone deployment (`uvicorn services.notify.api:create_app --factory`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Annotated, Literal

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import text

from services.notify import rendering, service, tasks
from services.notify.tokens import InvalidToken
from shared import logging as shared_logging
from shared import problems, taxonomy
from shared.celery_app import celery_app
from shared.config import get_settings
from shared.db import get_engine, session_scope, utcnow

log = logging.getLogger(__name__)

router = APIRouter()

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
ACCEPTED_DETAIL = (
    "Tack! Om adressen kan ta emot e-post får den strax ett mejl med en länk för att "
    "bekräfta prenumerationen."
)
# Pages reached with a token in the URL: never cached, never leaked in a Referer header.
TOKEN_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}


class SubscriptionIn(BaseModel):
    """A subscription request; empty regions or topics mean all of them."""

    email: str = Field(max_length=320, examples=["anna.andersson@example.se"])
    regions: list[str] = Field(default_factory=list, max_length=100, examples=[["region-skane"]])
    topics: list[str] = Field(default_factory=list, max_length=100, examples=[["livsmedel"]])
    frequency: Literal["immediate", "weekly"] = "immediate"


def _request_schema() -> dict:
    """The body's schema as the service checks it: a plain address, slugs of the taxonomy."""
    schema = SubscriptionIn.model_json_schema()
    properties = schema["properties"]
    # What email-validator accepts without SMTPUTF8: an ASCII local part and a host name
    # outside the special-use domains (RFC 6761), which no mail can reach.
    special = "|".join(SPECIAL_USE_DOMAIN_NAMES)
    properties["email"].update(
        format="email",
        pattern=rf"^(?!.*\.({special})$)[A-Za-z0-9_%+-]{{1,32}}(\.[A-Za-z0-9_%+-]{{1,31}})?@"
        r"([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}$",
    )
    properties["regions"]["items"] = {"type": "string", "enum": sorted(taxonomy.regions())}
    properties["topics"]["items"] = {"type": "string", "enum": sorted(taxonomy.topics())}
    return schema


_HTML = {"text/html": {"schema": {"type": "string"}}}
_PROBLEM = {"application/problem+json": {"schema": {"type": "object"}}}
# What the link pages answer besides their page: a broken or expired link is a readable
# Swedish page (400), a malformed query a problem+json (422).
PAGE_RESPONSES: dict[int | str, dict] = {
    400: {"description": "Ogiltig eller utgången länk, eller felaktigt formulär", "content": _HTML},
    422: {"description": "Felaktig parameter (problem+json)", "content": _PROBLEM},
}


# Every link page: HTML, in the schema with the answers above.
PAGE_ROUTE = {
    "response_class": HTMLResponse,
    "tags": ["subscriptions"],
    "responses": PAGE_RESPONSES,
}


class SubscriptionAccepted(BaseModel):
    """The same answer whether or not the address is known."""

    status: Literal["accepted"] = "accepted"
    detail: str = ACCEPTED_DETAIL


# --- rate limiting -----------------------------------------------------------------------


class SlidingWindowLimiter:
    """At most `limit` hits per key in the last `window` seconds, in this process's memory.

    Per process is enough for its purpose, bounding a flood from one client; the
    per-address limit, which protects inboxes, lives in the database (service.subscribe).
    """

    def __init__(self, window: float = 60.0, max_keys: int = 10_000) -> None:
        self.window = window
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, *, limit: int) -> float:
        """Count a hit; return 0 when allowed, else the seconds until one is."""
        now = time.monotonic()
        with self._lock:
            if len(self._hits) > self.max_keys:
                self._prune(now)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= limit:
                return hits[0] + self.window - now
            hits.append(now)
            return 0.0

    def _prune(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
            del self._hits[key]

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


ip_limiter = SlidingWindowLimiter()


@dataclass(frozen=True)
class RateCheck:
    retry_after: float

    @property
    def allowed(self) -> bool:
        return self.retry_after <= 0


def client_rate(request: Request) -> RateCheck:
    """Dependency: count this subscription request against the client's IP."""
    host = request.client.host if request.client else "unknown"
    limit = get_settings().subscribe_per_ip_per_minute
    return RateCheck(ip_limiter.hit(host, limit=limit))


# --- pages -------------------------------------------------------------------------------


def page(
    heading: str,
    *paragraphs: str,
    status: int = 200,
    error: bool = False,
    link: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    html = rendering.render(
        "pages/message.html",
        heading=heading,
        paragraphs=paragraphs,
        error=error,
        link_url=link[1] if link else None,
        link_text=link[0] if link else None,
    )
    return HTMLResponse(html, status_code=status, headers={**TOKEN_PAGE_HEADERS, **(headers or {})})


def invalid_link_page() -> HTMLResponse:
    return page(
        "Länken fungerar inte",
        "Länken är felaktig, för gammal eller gjord för något annat. Länkar i våra mejl "
        "gäller en begränsad tid.",
        "Vill du prenumerera kan du anmäla dig igen; då får du en ny länk.",
        status=400,
        error=True,
        link=("Prenumerera", _subscribe_page_url()),
    )


def _subscribe_page_url() -> str:
    return f"{get_settings().public_url}/prenumerera/"


# --- routes ------------------------------------------------------------------------------


def _queue_confirmation(delivery_id: int) -> None:
    """Hand the confirmation mail to the worker; called only after the request committed."""
    try:
        tasks.send_confirmation.apply_async(kwargs={"delivery_id": delivery_id}, queue=tasks.QUEUE)
    except Exception:  # the broker is down: the person can simply ask again
        log.exception("could not queue confirmation mail %s", delivery_id)


def _subscribe(request: service.SubscriptionRequest, source: str) -> None:
    with session_scope() as session:
        delivery_id = service.subscribe(
            session=session, request=request, source=source, now=utcnow()
        )
    if delivery_id is not None:
        _queue_confirmation(delivery_id)


@router.post(
    "/api/v1/subscriptions",
    status_code=202,
    response_model=SubscriptionAccepted,
    tags=["subscriptions"],
    summary="Subscribe (double opt-in): JSON or an HTML form post",
    responses={
        202: {"description": "Accepted (JSON), or a Swedish page for a form", "content": _HTML},
        400: {"description": "A form with invalid fields: a Swedish page", "content": _HTML},
        415: {"description": "Neither JSON nor a form (problem+json)", "content": _PROBLEM},
        422: {"description": "Invalid fields (problem+json)", "content": _PROBLEM},
        429: {
            "description": "Too many requests from this client",
            "content": {**_PROBLEM, **_HTML},
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _request_schema()},
                "application/x-www-form-urlencoded": {
                    "schema": _request_schema(),
                    "encoding": {"regions": {"explode": True}, "topics": {"explode": True}},
                },
            },
        }
    },
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
            headers={"Retry-After": str(int(rate.retry_after) + 1)},
        )
    try:
        body = SubscriptionIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from exc
    try:
        checked = service.validate_request(
            email=body.email, regions=body.regions, topics=body.topics, frequency=body.frequency
        )
    except service.InvalidSubscription as exc:
        raise problems.Problem(
            422, "Uppgifterna uppfyller inte kraven.", errors=exc.errors
        ) from exc
    await run_in_threadpool(_subscribe, checked, "api")
    return JSONResponse(SubscriptionAccepted().model_dump(), status_code=202)


async def _subscribe_form(request: Request, rate: RateCheck) -> HTMLResponse:
    if not rate.allowed:
        return page(
            "För många försök",
            "Vänta en stund och försök sedan igen.",
            status=429,
            error=True,
            headers={"Retry-After": str(int(rate.retry_after) + 1)},
        )
    form = await request.form()
    try:
        checked = service.validate_request(
            email=str(form.get("email") or ""),
            regions=[str(v) for v in form.getlist("regions")],
            topics=[str(v) for v in form.getlist("topics")],
            frequency=None if form.get("frequency") is None else str(form.get("frequency")),
        )
    except service.InvalidSubscription as exc:
        return page(
            "Något blev fel",
            *[e["message"] for e in exc.errors],
            status=400,
            error=True,
            link=("Tillbaka till formuläret", _subscribe_page_url()),
        )
    await run_in_threadpool(_subscribe, checked, "form")
    return page(
        "Kolla din e-post",
        ACCEPTED_DETAIL,
        "Hittar du inget mejl inom några minuter, titta i skräpposten.",
        status=202,
    )


Token = Annotated[str, Query(max_length=1000, description="The signed link from the mail")]


@router.get("/prenumeration/bekrafta", **PAGE_ROUTE)
def confirm_subscription(token: Token = "") -> HTMLResponse:
    """Confirm a subscription from the link in the confirmation mail."""
    try:
        with session_scope() as session:
            outcome = service.confirm(session=session, token=token, now=utcnow())
    except InvalidToken:
        return invalid_link_page()
    if outcome == "inactive":
        return page(
            "Länken gäller inte längre",
            "Prenumerationen avslutades efter att länken skickades.",
            link=("Prenumerera igen", _subscribe_page_url()),
        )
    if outcome == "already":
        return page("Redan bekräftad", "Din prenumeration är redan bekräftad. Välkommen tillbaka!")
    return page(
        "Tack, prenumerationen är bekräftad",
        "Du får nu nyheter enligt dina val. Varje mejl har länkar för att ändra "
        "inställningarna eller avsluta prenumerationen.",
    )


def _manage_page(subscriber, *, token: str, saved: bool = False) -> HTMLResponse:
    html = rendering.render(
        "pages/manage.html",
        heading="Dina inställningar",
        email=subscriber.email,
        regions=set(subscriber.regions or []),
        topics=set(subscriber.topics or []),
        frequency=subscriber.frequency,
        all_regions=taxonomy.regions(),
        all_topics=taxonomy.topics(),
        action=f"{get_settings().public_url}/prenumeration/installningar?token={token}",
        unsubscribe_url=service.links(subscriber)["unsubscribe_url"],
        saved=saved,
    )
    return HTMLResponse(html, headers=TOKEN_PAGE_HEADERS)


def _not_subscribed_page() -> HTMLResponse:
    return page(
        "Ingen aktiv prenumeration",
        "Adressen prenumererar inte längre, så det finns inga inställningar att ändra.",
        link=("Prenumerera igen", _subscribe_page_url()),
    )


def _with_settings_link(token: str, action) -> HTMLResponse:
    """`action(session, subscriber)` for the confirmed subscriber a settings link names; a
    page saying why not for a bad link or an address that no longer subscribes."""
    try:
        with session_scope() as session:
            subscriber = service.subscriber_for_token(
                session=session, purpose="manage", token=token
            )
            if subscriber.status != "confirmed":
                return _not_subscribed_page()
            return action(session, subscriber)
    except InvalidToken:
        return invalid_link_page()


@router.get("/prenumeration/installningar", **PAGE_ROUTE)
def show_preferences(token: Token = "") -> HTMLResponse:
    """Show a subscriber's regions, topics and frequency."""
    return _with_settings_link(token, lambda _, subscriber: _manage_page(subscriber, token=token))


@router.post("/prenumeration/installningar", **PAGE_ROUTE)
async def change_preferences(request: Request, token: Token = "") -> HTMLResponse:
    """Save a subscriber's regions, topics and frequency from the settings form."""
    form = await request.form()
    try:
        preferences = service.validate_preferences(
            regions=[str(v) for v in form.getlist("regions")],
            topics=[str(v) for v in form.getlist("topics")],
            frequency=str(form.get("frequency") or "immediate"),
        )
    except service.InvalidSubscription as exc:
        return page("Något blev fel", *[e["message"] for e in exc.errors], status=400, error=True)

    def save(session, subscriber) -> HTMLResponse:
        service.update_preferences(session=session, subscriber=subscriber, preferences=preferences)
        return _manage_page(subscriber, token=token, saved=True)

    return await run_in_threadpool(_with_settings_link, token, save)


@router.get("/prenumeration/avregistrera", **PAGE_ROUTE)
def unsubscribe_page(token: Token = "") -> HTMLResponse:
    """A page with a button; a GET changes nothing, since mail scanners follow links."""
    try:
        with session_scope() as session:
            subscriber = service.subscriber_for_token(
                session=session, purpose="unsubscribe", token=token
            )
            email = subscriber.email
    except InvalidToken:
        return invalid_link_page()
    html = rendering.render(
        "pages/unsubscribe.html",
        heading="Avsluta prenumerationen",
        email=email,
        action=f"{get_settings().public_url}/prenumeration/avregistrera?token={token}",
    )
    return HTMLResponse(html, headers=TOKEN_PAGE_HEADERS)


@router.post("/prenumeration/avregistrera", **PAGE_ROUTE)
def unsubscribe(token: Token = "") -> HTMLResponse:
    """RFC 8058 one-click: a POST (cookies or body not needed) unsubscribes; 200, no redirect."""
    try:
        with session_scope() as session:
            service.unsubscribe(session=session, token=token, now=utcnow())
    except InvalidToken:
        return invalid_link_page()
    return page(
        "Du prenumererar inte längre",
        "Vi skickar inga fler nyheter till din adress.",
        link=("Ångrade du dig? Prenumerera igen", _subscribe_page_url()),
    )


# --- standalone app ----------------------------------------------------------------------


def create_app() -> FastAPI:
    """The notify service alone, as deployed next to its workers."""
    app = FastAPI(
        title="Newsroom – prenumerationer",
        version="1",
        docs_url="/api/notify/docs",
        redoc_url=None,
        openapi_url="/api/notify/openapi.json",
    )
    app.include_router(router)
    problems.install(app)
    shared_logging.install(app)  # X-Request-ID, JSON request logs, request metrics

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            with get_engine().connect() as connection:
                connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # report, don't crash: this is what readiness is for
            checks["database"] = f"error: {exc.__class__.__name__}"
        try:
            with celery_app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"error: {exc.__class__.__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", **checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
