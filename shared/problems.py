"""RFC 9457 problem details, the one error format of both APIs."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"

TITLES = {
    400: "Felaktig begäran",
    401: "Inloggning krävs",
    403: "Åtkomst nekad",
    404: "Hittades inte",
    405: "Metoden stöds inte",
    409: "Konflikt",
    410: "Borttagen",
    412: "Versionen har ändrats",
    413: "För stor begäran",
    415: "Fel innehållstyp",
    422: "Ogiltiga uppgifter",
    428: "If-Match krävs",
    429: "För många förfrågningar",
    500: "Internt fel",
    503: "Tjänsten är inte tillgänglig",
}


# The OpenAPI schema of a problem answer, for routes to declare the statuses they answer with.
PROBLEM_SCHEMA: dict[str, Any] = {
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


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that answers `codes` with problem+json."""
    return {
        code: {
            "description": TITLES.get(code, "Fel"),
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
        }
        for code in codes
    }


class Problem(Exception):
    """Raise anywhere in a request to answer with problem+json."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        type_: str = "about:blank",
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}
        self.type = type_


def problem_response(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
    type_: str = "about:blank",
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": TITLES.get(status, "Fel"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """Pydantic's errors as the `{field, message}` list the contract promises."""
    return [
        {"field": _field_name(tuple(error.get("loc", ()))), "message": error.get("msg", "")}
        for error in exc.errors()
    ]


def install(app: FastAPI) -> None:
    """Make every error of `app` a problem+json answer, never an HTML page or a bare 500."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.detail,
            errors=exc.errors,
            headers=exc.headers,
            instance=request.url.path,
            type_=exc.type,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(
            422,
            "Uppgifterna uppfyller inte kraven.",
            errors=validation_errors(exc),
            instance=request.url.path,
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(PoolTimeoutError)
    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        # The transaction never committed, so nothing is half-written: the client retries.
        # A pool with no free connection for its whole timeout is overload, not a bug: 503 too.
        return problem_response(
            503,
            "Databasen svarar inte just nu; försök igen om en stund.",
            headers={"Retry-After": "5"},
            instance=request.url.path,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            exc.status_code,
            str(exc.detail),
            headers=getattr(exc, "headers", None),
            instance=request.url.path,
        )
