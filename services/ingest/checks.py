"""Checks a request passes before the route works on it: known query parameters, a JSON body
of the right type, size and syntax (before FastAPI parses it), and a well-formed If-Match."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from prometheus_client import Counter

from shared.problems import Problem

MAX_REQUEST_BYTES = 1_048_576  # 1 MB: ten times the largest body a valid item can have

REJECTED = Counter(
    "newsroom_ingest_rejected_requests_total", "Requests refused before any write.", ["status"]
)


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
        raise refuse(415, "Skicka JSON: Content-Type: application/json (UTF-8).")
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise refuse(400, "Ogiltig Content-Length.")
        if int(length) > MAX_REQUEST_BYTES:
            raise refuse(413, f"Begäran är större än {MAX_REQUEST_BYTES // 1_048_576} MB.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise refuse(413, f"Begäran är större än {MAX_REQUEST_BYTES // 1_048_576} MB.")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise refuse(400, "Begäran saknar innehåll; skicka ett JSON-objekt.")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(400, f"Begäran är inte giltig UTF-8 (byte {exc.start}).") from None
    try:
        parsed = json.loads(decoded, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise refuse(400, f"Fältet {exc} förekommer flera gånger.") from None
    except json.JSONDecodeError as exc:
        what = _JSON_ERRORS.get(exc.msg, "fel i JSON-syntaxen")
        raise refuse(
            400, f"Begäran är inte giltig JSON: {what} (rad {exc.lineno}, kolumn {exc.colno})."
        ) from None
    except (ValueError, RecursionError):
        raise refuse(400, "Begäran är inte giltig JSON (för djup eller för stora tal).") from None
    request._body = raw  # what Starlette's Request.body() and .json() return from now on
    request._json = parsed


# The json module's messages (English) in Swedish.
_JSON_ERRORS = {
    "Expecting value": "ett värde saknas",
    "Expecting ',' delimiter": "kommatecken saknas",
    "Expecting ':' delimiter": "kolon saknas",
    "Expecting property name enclosed in double quotes": (
        "fältnamn ska stå inom dubbla citattecken"
    ),
    "Unterminated string starting at": "en text saknar avslutande citattecken",
    "Invalid control character at": "otillåtet kontrolltecken i en text",
    "Invalid \\escape": "ogiltig escape-sekvens",
    "Invalid \\uXXXX escape": "ogiltig \\u-sekvens",
    "Extra data": "mer data efter JSON-värdet",
}


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


def refuse(status: int, detail: str) -> Problem:
    """A problem about the request body, counted as refused before any write."""
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

    It travels with the router, so an app that includes the router gets the same limits.
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


def etag_matches(if_match: str, etag: str) -> bool:
    """Whether an If-Match header names `etag` (or any version, "*")."""
    # Strong comparison (RFC 9110 13.1.1): a weak validator never matches.
    candidates = [candidate.strip() for candidate in if_match.split(",")]
    return "*" in candidates or etag in candidates


# RFC 9110 13.1.1: "*" or a list of entity tags ("…" or W/"…"), at most 500 characters
# (ASCII: the obsolete bytes above 0x7F are no part of any ETag this API gives out).
_ETAG = r'(?:W/)?"[!#-~]*"'
IF_MATCH_PATTERN = rf"^(?:\*|{_ETAG}(?:[ \t]*,[ \t]*{_ETAG})*)$"
IF_MATCH_MAX = 500


def if_match_parameter(*, required: bool) -> dict[str, Any]:
    """The `openapi_extra` that documents If-Match on a route."""
    # If-Match is read by hand (`read_if_match`) so that its absence is 428 (RFC 6585) where it is
    # required, not a validation 422; the schema documents it all the same.
    return {
        "parameters": [
            {
                "name": "If-Match",
                "in": "header",
                "required": required,
                "description": "ETag från GET av nyheten (eller * för vilken version som helst).",
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": IF_MATCH_MAX,
                    "pattern": IF_MATCH_PATTERN,
                },
            }
        ]
    }


def read_if_match(request: Request) -> str | None:
    """The If-Match header, None when absent; 422 when it is no list of entity tags or longer
    than the schema allows (never cut short: a cut list could match where the whole does not)."""
    value = request.headers.get("if-match")
    if value is None:
        return None
    if len(value) > IF_MATCH_MAX or not re.fullmatch(IF_MATCH_PATTERN, value.strip()):
        message = (
            f"får vara högst {IF_MATCH_MAX} tecken"
            if len(value) > IF_MATCH_MAX
            else 'ska vara en ETag från GET, t.ex. "…-v1", eller *'
        )
        raise Problem(
            422,
            "If-Match är ogiltig.",
            errors=[{"field": "If-Match", "message": message}],
        )
    return value.strip()


__all__ = [
    "IF_MATCH_PATTERN",
    "MAX_REQUEST_BYTES",
    "REJECTED",
    "CheckedRoute",
    "etag_matches",
    "if_match_parameter",
    "read_if_match",
    "read_json_body",
    "refuse",
]
