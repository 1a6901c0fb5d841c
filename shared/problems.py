"""RFC 9457 problem details, the one error format of both APIs."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

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


# What Starlette's own errors (no such route, wrong method) say, in Swedish.
DETAILS = {
    404: "Det finns ingenting på den här adressen.",
    405: "Adressen tar inte emot den här metoden.",
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


# Pydantic's error types in Swedish; a message reads after the field's name ("title: …").
# Types not listed fall back to a general message: nothing English ever reaches a person.
_MESSAGES = {
    "missing": "fältet måste anges",
    "extra_forbidden": "okänt fält",
    "string_type": "ska vara en text",
    "string_unicode": "ska vara en text",
    "string_pattern_mismatch": "har inte rätt form",
    "list_type": "ska vara en lista",
    "tuple_type": "ska vara en lista",
    "set_type": "ska vara en lista",
    "dict_type": "ska vara ett objekt",
    "model_type": "ska vara ett objekt",
    "model_attributes_type": "ska vara ett objekt",
    "int_type": "ska vara ett heltal",
    "int_parsing": "ska vara ett heltal",
    "int_from_float": "ska vara ett heltal",
    "float_type": "ska vara ett tal",
    "float_parsing": "ska vara ett tal",
    "bool_type": "ska vara true eller false",
    "bool_parsing": "ska vara true eller false",
    "uuid_type": "ska vara ett id (UUID)",
    "uuid_parsing": "ska vara ett id (UUID)",
    "datetime_type": "ska vara en tid med tidszon, t.ex. 2021-04-29T09:00:00+02:00",
    "datetime_parsing": "ska vara en tid med tidszon, t.ex. 2021-04-29T09:00:00+02:00",
    "datetime_from_date_parsing": "ska vara en tid med tidszon, t.ex. 2021-04-29T09:00:00+02:00",
    "timezone_aware": "ange tidszon, t.ex. 2021-04-29T09:00:00+02:00",
    "date_type": "ska vara ett datum, t.ex. 2021-04-29",
    "date_parsing": "ska vara ett datum, t.ex. 2021-04-29",
    "json_invalid": "är inte giltig JSON",
    "url_parsing": "ogiltig adress",
    "url_scheme": "ogiltig adress",
    "url_type": "ogiltig adress",
}


def _plural(count: object, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def swedish_message(error: dict[str, Any]) -> str:
    """One pydantic error (an item of `ValidationError.errors()`) as a Swedish message."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "invalid":  # our own rules write Swedish already (PydanticCustomError)
        return str(error.get("msg", ""))
    if kind == "string_too_short":
        if ctx.get("min_length") == 1:
            return "får inte vara tom"
        return f"ska vara minst {_plural(ctx.get('min_length'), 'tecken', 'tecken')}"
    if kind == "string_too_long":
        return f"får vara högst {_plural(ctx.get('max_length'), 'tecken', 'tecken')}"
    if kind == "too_short":
        return f"ska innehålla minst {_plural(ctx.get('min_length'), 'värde', 'värden')}"
    if kind == "too_long":
        return f"får innehålla högst {_plural(ctx.get('max_length'), 'värde', 'värden')}"
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", "")).replace(" or ", " eller ")
        return f"ska vara {expected}"
    bounds = {
        "greater_than_equal": ("ge", "ska vara minst"),
        "greater_than": ("gt", "ska vara större än"),
        "less_than_equal": ("le", "får vara högst"),
        "less_than": ("lt", "ska vara mindre än"),
    }
    if kind in bounds:
        key, words = bounds[kind]
        return f"{words} {ctx.get(key)}"
    return _MESSAGES.get(kind, "ogiltigt värde")


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def swedish_errors(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Pydantic's errors as the `{field, message}` list the contract promises, in Swedish."""
    return [
        {"field": _field_name(tuple(error.get("loc", ()))), "message": swedish_message(error)}
        for error in errors
    ]


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """A request's validation errors as `{field, message}`, in Swedish."""
    return swedish_errors(list(exc.errors()))


def _phrase(status: int) -> str | None:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return None


def _allowed_methods(request: Request) -> list[str]:
    # Starlette names the methods of the first route whose path matched; the address takes
    # those of every route with that path. Only a mounted app (the static site) matched: GET.
    routes = request.app.router.routes
    methods = {
        method
        for method in ("DELETE", "GET", "PATCH", "POST", "PUT")
        for route in routes
        if not isinstance(route, Mount)
        and route.matches({**request.scope, "method": method})[0] is Match.FULL
    }
    if not methods and any(isinstance(route, Mount) for route in routes):
        methods = {"GET", "HEAD"}
    return sorted(methods)


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
        detail = str(exc.detail)
        if detail == _phrase(exc.status_code):  # Starlette's English default
            detail = DETAILS.get(exc.status_code) or TITLES.get(exc.status_code, "Fel") + "."
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return problem_response(exc.status_code, detail, headers=headers, instance=request.url.path)
