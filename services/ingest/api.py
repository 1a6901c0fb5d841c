"""The ingest HTTP API: `router` carries every item route and its safeguards, `create_app`
deploys it alone (`uvicorn services.ingest.api:create_app --factory`)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import Counter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.ingest import editor, service
from services.ingest.auth import current_contributor, get_session
from services.ingest.schemas import (
    SLUG_PATTERN,
    ItemIn,
    ItemOut,
    ItemPage,
    TaxonomyEntry,
    Timestamp,
)
from shared import logging as shared_logging
from shared import ops, outbox, problems
from shared.config import get_settings
from shared.models import Contributor
from shared.problems import PROBLEM_JSON, TITLES, Problem

MAX_REQUEST_BYTES = 1_048_576  # 1 MB: ten times the largest body a valid item can have
ITEMS = "/api/v1/items"
# A request first takes its title's slug unchecked; when that is taken it looks for a free
# one, and a request that lost the race for its slug or idempotency key twice more takes a
# random slug suffix (see service.unique_slug), so a few attempts always suffice.
ATTEMPTS = 6

ITEM_WRITES = Counter(
    "newsroom_ingest_item_writes_total", "Items written through the API, by action.", ["action"]
)
REJECTED = Counter(
    "newsroom_ingest_rejected_requests_total", "Requests refused before any write.", ["status"]
)


# --- request bodies ----------------------------------------------------------------------


async def read_json_body(request: Request) -> None:
    """Check type and size, then read and parse the JSON body before FastAPI touches it.

    A body over 1 MB is refused from its Content-Length, or as soon as the streamed bytes pass
    the limit, so it is never held whole in memory.
    """
    media_type, _, params = request.headers.get("content-type", "").partition(";")
    charset = next(
        (
            value.strip().strip('"').lower()
            for key, _, value in (param.partition("=") for param in params.split(";"))
            if key.strip().lower() == "charset"
        ),
        "utf-8",
    )
    if media_type.strip().lower() != "application/json" or charset not in ("utf-8", "utf8"):
        raise _refuse(415, "Skicka JSON: Content-Type: application/json (UTF-8).")
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise _refuse(400, "Ogiltig Content-Length.")
        if int(length) > MAX_REQUEST_BYTES:
            raise _refuse(413, f"Begäran är större än {MAX_REQUEST_BYTES // 1_048_576} MB.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise _refuse(413, f"Begäran är större än {MAX_REQUEST_BYTES // 1_048_576} MB.")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise _refuse(400, "Begäran saknar innehåll; skicka ett JSON-objekt.")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(400, f"Begäran är inte giltig UTF-8 (byte {exc.start}).") from None
    try:
        parsed = json.loads(decoded, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise _refuse(400, f"Fältet {exc} förekommer flera gånger.") from None
    except json.JSONDecodeError as exc:
        raise _refuse(
            400, f"Begäran är inte giltig JSON: {exc.msg} (rad {exc.lineno}, kolumn {exc.colno})."
        ) from None
    except (ValueError, RecursionError):
        raise _refuse(400, "Begäran är inte giltig JSON (för djup eller för stora tal).") from None
    request._body = raw  # what Starlette's Request.body() and .json() return from now on
    request._json = parsed


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on {"title": "a", "title": "b"}; refuse it rather than guess.
    seen: set[str] = set()
    for key, _value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen.add(key)
    return dict(pairs)


def _refuse(status: int, detail: str) -> Problem:
    REJECTED.labels(str(status)).inc()
    return Problem(status, detail, errors=[{"field": "body", "message": detail}])


def _query_names(dependant: Any) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return names


class CheckedRoute(APIRoute):
    """A route that refuses unknown query parameters and reads its JSON body through
    `read_json_body` before FastAPI does.

    It travels with the router, so an app that includes `router` gets the same limits.
    (FastAPI reads the body before any dependency runs, so a dependency would be too late.)
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        known = _query_names(self.dependant)
        has_body = self.body_field is not None

        async def checked_handler(request: Request) -> Response:
            # A misspelt filter (?regoin=) must not silently return everything.
            unknown = sorted(set(request.query_params) - known)
            if unknown:
                raise Problem(
                    422,
                    "Okänd parameter: " + ", ".join(unknown),
                    errors=[{"field": name, "message": "okänd parameter"} for name in unknown],
                )
            if has_body:
                await read_json_body(request)
            return await handler(request)

        return checked_handler


# --- rate limit --------------------------------------------------------------------------


class RateLimiter:
    """A token bucket per contributor, in this process (enough for one ingest process)."""

    def __init__(self, *, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[Any, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_time(self, key: Any) -> float:
        """Take one token for `key`; 0 when allowed, else the seconds until one is free."""
        now = time.monotonic()
        with self._lock:
            tokens, stamp = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


# By default 120 requests at once, then 2 a second: far above what a person posting news does,
# low enough that a runaway script cannot flood the site with items and the subscribers with mail.
limiter = RateLimiter(rate=get_settings().ingest_rate_per_second, burst=get_settings().ingest_burst)


async def rate_limited(
    contributor: Annotated[Contributor, Depends(current_contributor)],
) -> Contributor:
    """The authenticated contributor, unless its token has used up its requests (429).

    Async because it does no I/O: a sync dependency would cost a trip through the thread pool.
    """
    wait = limiter.wait_time(contributor.id)
    if wait > 0:
        REJECTED.labels("429").inc()
        raise Problem(
            429,
            "För många förfrågningar; vänta en stund.",
            headers={"Retry-After": str(max(1, int(wait + 0.999)))},
        )
    return contributor


# --- routes ------------------------------------------------------------------------------


def _problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    schema = {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    }
    return {
        code: {
            "description": TITLES.get(code, "Fel"),
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
        for code in codes
    }


AUTH_ERRORS = (401, 429)
BODY_ERRORS = (400, 413, 415, 422)

router = APIRouter(route_class=CheckedRoute, tags=["nyheter"])

Writer = Annotated[Contributor, Depends(rate_limited)]
DbSession = Annotated[Session, Depends(get_session)]
ItemId = Annotated[uuid.UUID, Path(description="Nyhetens id.")]


def _item_response(
    body: dict[str, Any], *, status_code: int = 200, location: bool = False
) -> JSONResponse:
    headers = {"ETag": f'"{body["id"]}-v{body["version"]}"'}
    if location:
        headers["Location"] = f"{ITEMS}/{body['id']}"
    return JSONResponse(body, status_code=status_code, headers=headers)


def _etag_matches(if_match: str, etag: str) -> bool:
    # Strong comparison (RFC 9110 13.1.1): a weak validator never matches.
    candidates = [candidate.strip() for candidate in if_match.split(",")]
    return "*" in candidates or etag in candidates


def _commit(session: Session) -> None:
    session.commit()
    outbox.wake()


@router.post(
    ITEMS,
    status_code=201,
    response_model=ItemOut,
    summary="Publicera en nyhet (eller spara ett utkast)",
    responses=_problem_responses(*AUTH_ERRORS, *BODY_ERRORS, 403, 409),
)
def post_item(
    data: ItemIn,
    contributor: Writer,
    session: DbSession,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=255,
            pattern=r"^[!-~]+$",
            description="Samma nyckel och samma innehåll ger det första svaret igen.",
        ),
    ] = None,
) -> JSONResponse:
    fingerprint = service.request_hash(data) if idempotency_key else ""
    for attempt in range(ATTEMPTS):
        try:
            if idempotency_key:
                stored = service.find_idempotent(
                    session=session,
                    contributor=contributor,
                    key=idempotency_key,
                    fingerprint=fingerprint,
                )
                if stored is not None:
                    return _item_response(
                        stored.response, status_code=stored.status_code, location=True
                    )
            if attempt == 0 and not idempotency_key:
                # The first attempt is one statement (item, tags and event; see
                # service.insert_rows): atomic by itself, so it needs no BEGIN and COMMIT.
                service.autocommit(session)
            item = service.create_item(
                session=session,
                contributor=contributor,
                data=data,
                optimistic=attempt == 0,
                contended=attempt >= 3,
            )
            body = service.item_json(item, contributor_name=contributor.name)
            if idempotency_key:
                service.remember_idempotent(
                    session=session,
                    contributor=contributor,
                    key=idempotency_key,
                    fingerprint=fingerprint,
                    status_code=201,
                    response=body,
                )
            _commit(session)
        except IntegrityError:
            # A concurrent request took the slug or the idempotency key first: look again.
            session.rollback()
            continue
        ITEM_WRITES.labels("created").inc()
        return _item_response(body, status_code=201, location=True)
    raise Problem(409, "Nyheten kunde inte sparas på grund av samtidiga ändringar; försök igen.")


@router.get(
    ITEMS,
    response_model=ItemPage,
    summary="Lista nyheter, nyast först",
    responses=_problem_responses(*AUTH_ERRORS, 400, 422),
)
def get_items(
    contributor: Writer,
    session: DbSession,
    response: Response,
    region: Annotated[str | None, Query(max_length=64, pattern=SLUG_PATTERN)] = None,
    topic: Annotated[str | None, Query(max_length=64, pattern=SLUG_PATTERN)] = None,
    status: Literal["published", "draft", "withdrawn"] | None = None,
    since: Annotated[
        Timestamp | None, Query(description="Publicerade från och med (ISO 8601 med tidszon).")
    ] = None,
    cursor: Annotated[
        str | None,
        Query(
            max_length=500,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="`next_cursor` från förra sidan.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    items, next_cursor = service.list_items(
        session=session,
        contributor=contributor,
        region=region,
        topic=topic,
        status=status,
        since=since,
        cursor=cursor,
        limit=limit,
    )
    names = service.contributor_names(session=session, items=items)
    if next_cursor:
        response.headers["Link"] = f'<{ITEMS}?cursor={next_cursor}&limit={limit}>; rel="next"'
    return {
        "items": [
            service.item_json(item, contributor_name=names.get(item.contributor_id))
            for item in items
        ],
        "next_cursor": next_cursor,
    }


@router.get(
    ITEMS + "/{item_id}",
    response_model=ItemOut,
    summary="En nyhet, med ETag",
    responses=_problem_responses(*AUTH_ERRORS, 404, 422),
)
def get_one_item(item_id: ItemId, contributor: Writer, session: DbSession) -> JSONResponse:
    item = service.get_item(session=session, contributor=contributor, item_id=item_id)
    names = service.contributor_names(session=session, items=[item])
    return _item_response(service.item_json(item, contributor_name=names.get(item.contributor_id)))


@router.put(
    ITEMS + "/{item_id}",
    response_model=ItemOut,
    summary="Ersätt en nyhet (If-Match krävs)",
    responses=_problem_responses(*AUTH_ERRORS, *BODY_ERRORS, 403, 404, 409, 412, 428),
    # If-Match is read by hand so that its absence is 428 (RFC 6585), not a validation 422;
    # the schema still documents it as required.
    openapi_extra={
        "parameters": [
            {
                "name": "If-Match",
                "in": "header",
                "required": True,
                "description": "ETag från GET av nyheten (eller * för vilken version som helst).",
                "schema": {"type": "string", "minLength": 1, "maxLength": 500},
            }
        ]
    },
)
def put_item(
    item_id: ItemId, data: ItemIn, contributor: Writer, session: DbSession, request: Request
) -> JSONResponse:
    if_match = request.headers.get("if-match", "")[:500].strip()
    item = service.get_item(
        session=session, contributor=contributor, item_id=item_id, for_update=True
    )
    if not if_match:
        raise Problem(428, "Ange If-Match med nyhetens ETag för att undvika att skriva över.")
    if not _etag_matches(if_match, service.etag_of(item)):
        raise Problem(
            412,
            "Nyheten har ändrats sedan du hämtade den; hämta den igen.",
            headers={"ETag": service.etag_of(item)},
        )
    try:
        service.update_item(session=session, contributor=contributor, item=item, data=data)
        body = service.item_json(item, contributor_name=_name_of(session, item))
        _commit(session)
    except IntegrityError:
        session.rollback()
        raise Problem(409, "Adressen togs samtidigt av en annan nyhet; försök igen.") from None
    ITEM_WRITES.labels("updated").inc()
    return _item_response(body)


@router.delete(
    ITEMS + "/{item_id}",
    response_model=ItemOut,
    summary="Återkalla en nyhet (redaktör)",
    responses=_problem_responses(*AUTH_ERRORS, 403, 404, 412, 422),
)
def delete_item(
    item_id: ItemId,
    contributor: Writer,
    session: DbSession,
    if_match: Annotated[str | None, Header(alias="If-Match", max_length=500)] = None,
) -> JSONResponse:
    item = service.get_item(
        session=session, contributor=contributor, item_id=item_id, for_update=True
    )
    if if_match and not _etag_matches(if_match, service.etag_of(item)):
        raise Problem(412, "Nyheten har ändrats sedan du hämtade den.")
    service.withdraw_item(session=session, contributor=contributor, item=item)
    body = service.item_json(item, contributor_name=_name_of(session, item))
    _commit(session)
    ITEM_WRITES.labels("withdrawn").inc()
    return _item_response(body)


def _name_of(session: Session, item: Any) -> str | None:
    return service.contributor_names(session=session, items=[item]).get(item.contributor_id)


@router.get("/api/v1/regions", response_model=list[TaxonomyEntry], summary="Regioner")
def get_regions() -> list[dict[str, str]]:
    return service.taxonomy_entries("region")


@router.get("/api/v1/topics", response_model=list[TaxonomyEntry], summary="Ämnen")
def get_topics() -> list[dict[str, str]]:
    return service.taxonomy_entries("topic")


# --- the standalone app ------------------------------------------------------------------


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    relay = outbox.RelayThread()
    relay.start()
    try:
        yield
    finally:
        await asyncio.to_thread(relay.stop)


def create_app() -> FastAPI:
    """The ingest service alone: item routes, health, metrics, docs and the outbox relay."""
    app = FastAPI(
        title="Newsroom – inmatning",
        version="1",
        description="Publicera nyheter för nätverket Hållbar upphandling.",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    problems.install(app)
    shared_logging.install(app)  # request ids, request logs and request metrics
    app.include_router(ops.router)  # /healthz, /readyz (database and broker), /metrics
    app.include_router(router)
    editor.install(app)  # Redaktionen, the web editor at /redaktion/
    return app


__all__ = ["create_app", "limiter", "read_json_body", "router"]
