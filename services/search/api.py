"""The search service's HTTP face: `/sok/` for readers and `/api/v1/search` for programs.
`create_app` deploys it alone (`uvicorn services.search.api:create_app --factory`); it keeps
no state, so any number of copies can answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from services.search import schemas, service
from services.search.filters import FilterError, Filters
from services.search.query import MAX_LENGTH, QueryError
from shared import docs, heap, layout, ops, problems, taxonomy
from shared import logging as shared_logging
from shared.config import get_settings
from shared.dates import short_date
from shared.db import new_session, utcnow
from shared.problems import PROBLEM_JSON, Problem
from shared.sitepages import footer_pages

router = APIRouter()
SEARCH_API = "/api/v1/search"
# What the page echoes of a query too long to search: enough to recognise it.
ECHO_LIMIT = 2 * MAX_LENGTH


def get_session() -> Iterator[Session]:
    """One read-only session per request, closed (and so rolled back) when it is answered."""
    session = new_session()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def _search(session: Session, **kwargs) -> service.Results:
    return service.search(session=session, now=utcnow(), **kwargs)


@router.get(
    SEARCH_API,
    response_model=schemas.SearchPage,
    summary="Sök bland publicerade nyheter",
    description=(
        "Fritextsökning på svenska: böjningsformer hittas (”upphandlingar” hittar "
        "”upphandling”), ord hittar sammansättningar som börjar med dem (”hållbarhet” hittar "
        "”hållbarhetskrav”), ”citattecken” söker en fras och -ord utesluter ett ord. Bara "
        "synliga nyheter hittas. Mest relevanta först, nyare lite högre. Högst "
        f"{service.MATCH_LIMIT} träffar rangordnas: de nyaste."
    ),
    tags=["sök"],
    responses={
        400: {"description": "Ogiltig cursor.", "content": {PROBLEM_JSON: {}}},
        422: {
            "description": "Sökfrågan eller ett filter går inte att använda.",
            "content": {PROBLEM_JSON: {}},
        },
    },
)
def search_api(
    session: SessionDep,
    q: Annotated[str, Query(description="Sökfrågan.")] = "",
    region: Annotated[str | None, Query(description="Bara nyheter från regionen (slug).")] = None,
    topic: Annotated[str | None, Query(description="Bara nyheter om ämnet (slug).")] = None,
    year: Annotated[int | None, Query(description="Bara nyheter från året.")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor från förra sidan.")] = None,
) -> schemas.SearchPage:
    try:
        filters = Filters.checked(region=region, topic=topic, year=year)
        results = _search(session, text=q, filters=filters, cursor=cursor)
    except QueryError as exc:
        raise Problem(422, str(exc), errors=[{"field": "q", "message": str(exc)}]) from None
    except FilterError as exc:
        raise Problem(422, str(exc), errors=[{"field": exc.field, "message": str(exc)}]) from None
    except service.CursorError:
        raise Problem(
            400,
            "Ogiltig cursor.",
            errors=[{"field": "cursor", "message": "använd next_cursor från förra svaret"}],
        ) from None
    base = get_settings().public_url
    regions, topics = taxonomy.regions(), taxonomy.topics()
    return schemas.SearchPage(
        query=results.query.text,
        total=results.total,
        total_is_exact=not results.capped,
        items=[
            schemas.SearchHit(
                id=hit.item_id,
                title=hit.title,
                title_html=str(hit.title_html),
                snippet_html=str(hit.snippet_html),
                url=base + hit.path,
                published_at=hit.published_at,
                regions=hit.regions,
                topics=hit.topics,
                score=hit.score,
            )
            for hit in results.hits
        ],
        facets=schemas.Facets(
            regions=[
                schemas.FacetCount(slug=slug, name=regions.get(slug, slug), count=count)
                for slug, count in results.regions
            ],
            topics=[
                schemas.FacetCount(slug=slug, name=topics.get(slug, slug), count=count)
                for slug, count in results.topics
            ],
            years=[schemas.YearCount(year=year, count=count) for year, count in results.years],
        ),
        next_cursor=results.next_cursor,
        suggestion=results.suggestion,
    )


# --- the page readers see ------------------------------------------------------------------

_templates = Environment(
    loader=FileSystemLoader([Path(__file__).parent / "templates", layout.TEMPLATES]),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
# The layout's links: a site path under the path NEWSROOM_BASE_URL may have.
_templates.filters["url"] = lambda path: urlsplit(get_settings().public_url).path.rstrip("/") + path


def _page_url(params: dict) -> str:
    kept = {key: value for key, value in params.items() if value not in (None, "")}
    return "/sok/" + ("?" + urlencode(kept) if kept else "")


@router.get("/sok/", response_class=HTMLResponse, include_in_schema=False)
async def search_page(request: Request) -> HTMLResponse:
    """The results page: a plain form and links, so it works without JavaScript."""
    params = request.query_params
    q = params.get("q", "")
    state = {
        "q": q,
        "region": params.get("region") or None,
        "amne": params.get("amne") or None,
        "ar": params.get("ar") or None,
    }
    error, status, results = None, 200, None
    try:
        year = int(state["ar"]) if state["ar"] else None
    except ValueError:
        year, error, status = None, "Året ska skrivas med siffror, till exempel 2021.", 400
    session = new_session()
    try:
        # The footer links the static pages, as every page of the site does.
        footer = await run_in_threadpool(footer_pages, session)
    finally:
        await run_in_threadpool(session.close)
    if error is None and q.strip():
        session = new_session()
        try:
            filters = Filters.checked(region=state["region"], topic=state["amne"], year=year)
            results = await run_in_threadpool(
                _search, session, text=q, filters=filters, cursor=params.get("efter")
            )
        except QueryError as exc:
            error = str(exc)
        except FilterError as exc:
            error, status = str(exc), 400
        except service.CursorError:
            error, status = "Länken till nästa sida är trasig. Sök igen från början.", 400
        finally:
            await run_in_threadpool(session.close)
    settings = get_settings()
    html = _templates.get_template("search.html").render(
        site_title=settings.site_title,
        lang=settings.language,
        root=urlsplit(settings.public_url).path.rstrip("/"),
        q=q[:ECHO_LIMIT],
        state=state,
        error=error,
        results=results,
        regions=taxonomy.regions(),
        topics=taxonomy.topics(),
        footer=footer,
        page_url=lambda **changes: _page_url({**state, **changes}),
        date=lambda moment: short_date(
            moment, timezone=settings.timezone, language=settings.language
        ),
    )
    return HTMLResponse(html, status_code=status)


def create_app() -> FastAPI:
    """The search service alone, as deployed behind the web server."""
    app = FastAPI(
        title="Newsroom – sök",
        version="1",
        docs_url=None,  # shared/docs.py: Swagger UI without a CDN
        redoc_url=None,
        openapi_url="/api/search/openapi.json",
    )
    problems.install(app)
    shared_logging.install(app)
    app.include_router(ops.make_router(broker=False))  # search queues nothing
    app.include_router(router)
    docs.install(app, docs_url="/api/search/docs", openapi_url="/api/search/openapi.json")
    heap.freeze_once()
    return app
