"""CSRF protection of every form of Redaktionen: asgi-csrf's double-submit cookie (a signed
random token in a cookie, the same token in each form's hidden `csrftoken` field)."""

from __future__ import annotations

import re
import secrets
from typing import Any

from asgi_csrf import asgi_csrf
from itsdangerous import BadSignature, URLSafeSerializer

from services.ingest.editor import web
from shared.config import get_settings

# Checked even for a browser that has no cookie yet: signing in is a form too (login CSRF).
ALWAYS = {
    f"{web.PREFIX}/logga-in",
    f"{web.PREFIX}/logga-in/kod",
    f"{web.PREFIX}/logga-in/lank",
}
FAILED = """<!DOCTYPE html>
<html lang="sv">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Formuläret kunde inte skickas – Redaktionen</title>
<link rel="stylesheet" href="{css}">
</head>
<body>
<main id="innehall" class="wrap">
<h1>Formuläret kunde inte skickas</h1>
<p>Sidan var för gammal eller öppnades i en annan flik, så vi kunde inte se att formuläret
kom från dig. Inget har sparats.</p>
<p><a href="{back}">Gå tillbaka och försök igen</a></p>
</main>
</body>
</html>
"""


UNSUPPORTED = """<!DOCTYPE html>
<html lang="sv">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Formuläret kunde inte tas emot – Redaktionen</title>
<link rel="stylesheet" href="{css}">
</head>
<body>
<main id="innehall" class="wrap">
<h1>Formuläret kunde inte tas emot</h1>
<p>Redaktionen tar bara emot sina egna formulär. Inget har sparats.</p>
<p><a href="{back}">Till Redaktionen</a></p>
</main>
</body>
</html>
"""


def _outside_editor(scope: dict[str, Any]) -> bool:
    # The JSON API (bearer tokens) and the public forms have no session cookie to abuse.
    return not scope.get("path", "").startswith(web.PREFIX + "/")


# An item's upload form (an image or a document) is multipart, which asgi-csrf cannot read
# (see guarded_csrf): that route compares the same token itself, with `token_matches`.
UPLOAD_PATH = re.compile(rf"{re.escape(web.PREFIX)}/nyheter/[0-9a-fA-F-]{{32,36}}/media")


def _is_upload(scope: dict[str, Any]) -> bool:
    return (
        _form_kind(scope) == b"multipart/form-data"
        and UPLOAD_PATH.fullmatch(scope.get("path", "")) is not None
    )


def _skipped(scope: dict[str, Any]) -> bool:
    return _outside_editor(scope) or _is_upload(scope)


def cookie_name() -> str:
    return "__Host-csrftoken" if get_settings().public_url.startswith("https://") else "csrftoken"


def token_matches(*, cookie: str | None, submitted: str | None) -> bool:
    """What asgi-csrf checks of a URL-encoded form: the cookie carries a token signed with
    the signing key, and the form's `csrftoken` field is that same token."""
    if not cookie or not submitted or not cookie.isascii() or not submitted.isascii():
        return False
    try:
        URLSafeSerializer(get_settings().signing_key).loads(cookie, "csrftoken")
    except BadSignature:
        return False
    return secrets.compare_digest(cookie, submitted)


async def _failed(scope: dict[str, Any], send: Any, _reason: Any) -> None:
    body = FAILED.format(css=web.static_url("editor.css"), back=web.PREFIX + "/").encode()
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    headers += [(key.lower().encode(), value.encode()) for key, value in web.PAGE_HEADERS.items()]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _unsupported(scope: dict[str, Any], send: Any) -> None:
    body = UNSUPPORTED.format(css=web.static_url("editor.css"), back=web.PREFIX + "/").encode()
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    headers += [(key.lower().encode(), value.encode()) for key, value in web.PAGE_HEADERS.items()]
    await send({"type": "http.response.start", "status": 415, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _form_kind(scope: dict[str, Any]) -> bytes:
    for key, value in scope.get("headers") or []:
        if key == b"content-type":
            return value.split(b";", 1)[0].strip().lower()
    return b""


def guarded_csrf(app: Any, **options: Any) -> Any:
    """asgi-csrf with two guards around it.

    Redaktionen's forms are URL-encoded; anything else posted to it is refused (415) before
    the library reads it, since asgi-csrf 0.11's multipart reader calls python-multipart
    with an argument that library no longer has (a TypeError, so a 500). And a forged token
    of non-ASCII text gets the refusal page: the library compares with
    `secrets.compare_digest`, which raises TypeError on such text.
    """
    protected = asgi_csrf(app, **options)

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] not in ("GET", "HEAD", "OPTIONS", "TRACE")
            and not _skipped(scope)
            and _form_kind(scope) != b"application/x-www-form-urlencoded"
        ):
            await _unsupported(scope, send)
            return
        try:
            await protected(scope, receive, send)
        except TypeError as exc:
            if "non-ASCII" not in str(exc):
                raise
            await _failed(scope, send, None)

    return guarded


def install(app: Any) -> None:
    """Wrap `app` in the CSRF check for everything under /redaktion/."""
    settings = get_settings()
    secure = settings.public_url.startswith("https://")
    app.add_middleware(
        guarded_csrf,
        signing_secret=settings.signing_key,
        cookie_name=cookie_name(),
        cookie_secure=secure,
        cookie_samesite="Lax",
        always_protect=ALWAYS,
        skip_if_scope=_skipped,
        send_csrf_failed=_failed,
    )


__all__ = ["install"]
