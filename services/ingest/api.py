"""The ingest HTTP API: `router` carries every item route and its safeguards, `create_app`
deploys it alone (`uvicorn services.ingest.api:create_app --factory`)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.ingest import checks, editor, media_api, reading, service
from services.ingest.checks import CheckedRoute
from services.ingest.deps import DbSession, Writer, limiter
from services.ingest.schemas import (
    SLUG_PATTERN,
    ItemIn,
    ItemOut,
    ItemPage,
    ItemStatus,
    TaxonomyEntry,
    Timestamp,
)
from shared import docs, heap, ops, outbox, problems
from shared import logging as shared_logging
from shared.problems import Problem, problem_responses

ITEMS = "/api/v1/items"

ITEM_WRITES = Counter(
    "newsroom_ingest_item_writes_total", "Items written through the API, by action.", ["action"]
)


# --- routes ------------------------------------------------------------------------------


AUTH_ERRORS = (401, 429)
BODY_ERRORS = (400, 413, 415, 422)

router = APIRouter(route_class=CheckedRoute, tags=["nyheter"])

ItemId = Annotated[uuid.UUID, Path(description="Nyhetens id.")]


def _item_response(
    body: dict[str, Any], *, status_code: int = 200, location: bool = False
) -> JSONResponse:
    headers = {"ETag": f'"{body["id"]}-v{body["version"]}"'}
    if location:
        headers["Location"] = f"{ITEMS}/{body['id']}"
    return JSONResponse(body, status_code=status_code, headers=headers)


def _commit(session: Session) -> None:
    session.commit()
    outbox.wake()


@router.post(
    ITEMS,
    status_code=201,
    response_model=ItemOut,
    summary="Publicera en nyhet (eller spara ett utkast)",
    responses=problem_responses(*AUTH_ERRORS, *BODY_ERRORS, 403, 409),
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
    submitted = service.submit_item(
        session=session, contributor=contributor, data=data, idempotency_key=idempotency_key
    )
    _commit(session)
    if not submitted.replayed:
        ITEM_WRITES.labels("created").inc()
    return _item_response(submitted.body, status_code=submitted.status_code, location=True)


@router.get(
    ITEMS,
    response_model=ItemPage,
    summary="Lista nyheter, nyast först",
    responses=problem_responses(*AUTH_ERRORS, 400, 422),
)
def get_items(
    contributor: Writer,
    session: DbSession,
    response: Response,
    region: Annotated[str | None, Query(max_length=64, pattern=SLUG_PATTERN)] = None,
    topic: Annotated[str | None, Query(max_length=64, pattern=SLUG_PATTERN)] = None,
    status: ItemStatus | None = None,
    since: Annotated[
        Timestamp | None, Query(description="Publicerade från och med (ISO 8601 med tidszon).")
    ] = None,
    cursor: Annotated[
        str | None,
        # Checked by reading.decode_cursor (400, like every other wrong cursor); documented here.
        Query(
            description="`next_cursor` från förra sidan.",
            json_schema_extra={"pattern": reading.CURSOR_PATTERN, "maxLength": 60},
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    items, next_cursor = reading.list_items(
        session=session,
        contributor=contributor,
        region=region,
        topic=topic,
        status=status,
        since=since,
        cursor=cursor,
        limit=limit,
    )
    names = reading.contributor_names(session=session, items=items)
    if next_cursor:
        response.headers["Link"] = f'<{ITEMS}?cursor={next_cursor}&limit={limit}>; rel="next"'
    return {
        "items": [
            reading.item_json(item, contributor_name=names.get(item.contributor_id))
            for item in items
        ],
        "next_cursor": next_cursor,
    }


@router.get(
    ITEMS + "/{item_id}",
    response_model=ItemOut,
    summary="En nyhet, med ETag",
    responses=problem_responses(*AUTH_ERRORS, 404, 422),
)
def get_one_item(item_id: ItemId, contributor: Writer, session: DbSession) -> JSONResponse:
    item = reading.get_item(session=session, contributor=contributor, item_id=item_id)
    names = reading.contributor_names(session=session, items=[item])
    return _item_response(reading.item_json(item, contributor_name=names.get(item.contributor_id)))


@router.put(
    ITEMS + "/{item_id}",
    response_model=ItemOut,
    summary="Ersätt en nyhet (If-Match krävs)",
    responses=problem_responses(*AUTH_ERRORS, *BODY_ERRORS, 403, 404, 409, 412, 428),
    openapi_extra=checks.if_match_parameter(required=True),
)
def put_item(
    item_id: ItemId, data: ItemIn, contributor: Writer, session: DbSession, request: Request
) -> JSONResponse:
    if_match = checks.read_if_match(request)
    item = reading.get_item(
        session=session, contributor=contributor, item_id=item_id, for_update=True
    )
    if not if_match:
        raise Problem(428, "Ange If-Match med nyhetens ETag för att undvika att skriva över.")
    if not checks.etag_matches(if_match, reading.etag_of(item)):
        raise Problem(
            412,
            "Nyheten har ändrats sedan du hämtade den; hämta den igen.",
            headers={"ETag": reading.etag_of(item)},
        )
    try:
        service.update_item(session=session, contributor=contributor, item=item, data=data)
        body = reading.item_json(item, contributor_name=_name_of(session, item))
        _commit(session)
    except IntegrityError:
        session.rollback()
        raise Problem(409, "Adressen togs samtidigt av en annan nyhet; försök igen.") from None
    ITEM_WRITES.labels("updated").inc()
    return _item_response(body)


@router.delete(
    ITEMS + "/{item_id}",
    response_model=ItemOut,
    summary="Återkalla en nyhet (sin egen; redaktörer vilken som helst)",
    responses=problem_responses(*AUTH_ERRORS, 403, 404, 412, 422),
    openapi_extra=checks.if_match_parameter(required=False),
)
def delete_item(
    item_id: ItemId, contributor: Writer, session: DbSession, request: Request
) -> JSONResponse:
    if_match = checks.read_if_match(request)
    item = reading.get_item(
        session=session, contributor=contributor, item_id=item_id, for_update=True
    )
    if if_match and not checks.etag_matches(if_match, reading.etag_of(item)):
        raise Problem(412, "Nyheten har ändrats sedan du hämtade den.")
    service.withdraw_item(session=session, contributor=contributor, item=item)
    body = reading.item_json(item, contributor_name=_name_of(session, item))
    _commit(session)
    ITEM_WRITES.labels("withdrawn").inc()
    return _item_response(body)


def _name_of(session: Session, item: Any) -> str | None:
    return reading.contributor_names(session=session, items=[item]).get(item.contributor_id)


@router.get("/api/v1/regions", response_model=list[TaxonomyEntry], summary="Regioner")
def get_regions() -> list[dict[str, str]]:
    return reading.taxonomy_entries("region")


@router.get("/api/v1/topics", response_model=list[TaxonomyEntry], summary="Ämnen")
def get_topics() -> list[dict[str, str]]:
    return reading.taxonomy_entries("topic")


# --- the standalone app ------------------------------------------------------------------


def create_app() -> FastAPI:
    """The ingest service alone: item routes, health, metrics, docs and the outbox relay."""
    app = FastAPI(
        title="Newsroom – inmatning",
        version="1",
        description="Publicera nyheter för nätverket Hållbar upphandling.",
        docs_url=None,  # shared/docs.py: Swagger UI without a CDN
        openapi_url="/api/openapi.json",
        redoc_url=None,
        lifespan=outbox.relay_lifespan,
    )
    problems.install(app)
    shared_logging.install(app)  # request ids, request logs and request metrics
    app.include_router(ops.router)  # /healthz, /readyz (database and broker), /metrics
    app.include_router(router)
    docs.install(app, docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.include_router(media_api.router)
    editor.install(app)  # Redaktionen, the web editor at /redaktion/
    heap.freeze_once()
    return app


__all__ = ["create_app", "limiter", "router"]
