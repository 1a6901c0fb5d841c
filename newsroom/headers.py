"""What nginx adds in front of the distributed mode, for the embedded mode that faces readers
itself: the same security headers (deploy/nginx.conf; tests/unit/test_ops_headers.py keeps
the two equal) and /metrics for the addresses NEWSROOM_METRICS_FROM names only."""

from __future__ import annotations

import re
from typing import Any

from shared.config import get_settings
from shared.problems import problem_response

_BASE = (
    "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'none'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The subscription pages style themselves inline; the API documentation runs Swagger UI, whose
# scripts and styles the app serves itself (shared/docs.py); everything else runs no script.
CSP = [
    (
        re.compile(r"^/prenumeration/"),
        _BASE.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
    ),
    (
        re.compile(r"^/api/(notify/)?docs(/|$)"),
        _BASE.replace("img-src 'self' https: data:", "img-src 'self' data:").replace(
            "script-src 'none'", "script-src 'self'"
        ),
    ),
]
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def csp_for(path: str) -> str:
    return next((policy for pattern, policy in CSP if pattern.search(path)), _BASE)


def security_headers(path: str) -> dict[str, str]:
    """The headers nginx adds to an answer for `path` (when the app did not set them)."""
    return {**HEADERS, "Content-Security-Policy": csp_for(path)}


class SecurityHeaders:
    """ASGI middleware: add `security_headers` to every answer, keeping those the app set
    (a token page's `Referrer-Policy: no-referrer` stays the only one)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in security_headers(scope["path"]).items()
        ]

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class MetricsFrom:
    """ASGI middleware: /metrics answers only clients in NEWSROOM_METRICS_FROM (loopback by
    default), as if it did not exist for anyone else."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/") == "/metrics":
            client = scope.get("client")
            if not get_settings().metrics_allowed(client[0] if client else None):
                await problem_response(404, "Sidan finns inte.")(scope, receive, send)
                return
        await self.app(scope, receive, send)
