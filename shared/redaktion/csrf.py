"""CSRF protection of every form of Redaktionen, in whichever service answers it: asgi-csrf's
double-submit cookie (a signed random token in a cookie, the same token in each form's hidden
`csrftoken` field). The secret and cookie are the same everywhere, so a form of one service
posts to another."""

from __future__ import annotations

import re
import secrets
from typing import Any

from asgi_csrf import asgi_csrf, cookies_from_scope
from itsdangerous import BadSignature, URLSafeSerializer
from python_multipart import FormParser

from shared.config import get_settings
from shared.redaktion import web

# Checked even for a browser that has no cookie yet: signing in is a form too (login CSRF).
ALWAYS = {
    f"{web.PREFIX}/logga-in",
    f"{web.PREFIX}/logga-in/kod",
    f"{web.PREFIX}/logga-in/lank",
}
# The forms that upload a file (multipart), with the most each may send: the CSV import.
UPLOADS = {f"{web.PREFIX}/prenumeranter/import": 6 * 1024 * 1024}
PAGE = """<!DOCTYPE html>
<html lang="sv">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{heading} – Redaktionen</title>
<link rel="stylesheet" href="{css}">
</head>
<body>
<main id="innehall" class="wrap">
<h1>{heading}</h1>
{text}
</main>
</body>
</html>
"""
# The answers given before any route runs: (heading, text with a link back).
FAILED = (
    "Formuläret kunde inte skickas",
    """<p>Sidan var för gammal eller öppnades i en annan flik, så vi kunde inte se att formuläret
kom från dig. Inget har sparats.</p>
<p><a href="{back}">Gå tillbaka och försök igen</a></p>""",
)
UNSUPPORTED = (
    "Formuläret kunde inte tas emot",
    """<p>Redaktionen tar bara emot sina egna formulär. Inget har sparats.</p>
<p><a href="{back}">Till Redaktionen</a></p>""",
)
TOO_BIG = (
    "Filen är för stor",
    """<p>Högst 5 MB går att ladda upp på en gång; dela upp listan i flera filer.
Inget har sparats.</p>
<p><a href="{back}">Gå tillbaka</a></p>""",
)


def _outside_editor(scope: dict[str, Any]) -> bool:
    # The JSON API (bearer tokens) and the public forms have no session cookie to abuse.
    return not scope.get("path", "").startswith(web.PREFIX + "/")


# An item's media upload (an image or a document, up to 50 MB) streams to its route, which
# compares the same token itself (`token_matches`) instead of this module buffering the body.
UPLOAD_PATH = re.compile(rf"{re.escape(web.PREFIX)}/nyheter/[0-9a-fA-F-]{{32,36}}/media")


def _is_media_upload(scope: dict[str, Any]) -> bool:
    return (
        _form_kind(scope) == b"multipart/form-data"
        and UPLOAD_PATH.fullmatch(scope.get("path", "")) is not None
    )


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
    await _answer(send, 403, FAILED)


async def _answer(send: Any, status: int, page: tuple[str, str]) -> None:
    heading, text = page
    text = text.replace("{back}", web.PREFIX + "/")
    body = PAGE.format(heading=heading, text=text, css=web.static_url("editor.css")).encode()
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    headers += [(key.lower().encode(), value.encode()) for key, value in web.PAGE_HEADERS.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _unsupported(scope: dict[str, Any], send: Any) -> None:
    await _answer(send, 415, UNSUPPORTED)


def _boundary(scope: dict[str, Any]) -> bytes | None:
    for key, value in scope.get("headers") or []:
        if key == b"content-type":
            for part in value.split(b";")[1:]:
                name, _, found = part.strip().partition(b"=")
                if name.lower() == b"boundary" and found:
                    return found.strip(b'"')
    return None


async def _upload_token(scope: dict[str, Any], receive: Any, limit: int) -> tuple[Any, Any]:
    """Read an upload's body (at most `limit` bytes) and find its `csrftoken` field:
    (token or None, a receive that replays the body); (None, None) when it is too big."""
    found: list[str] = []

    def on_field(item: Any) -> None:
        if item.field_name == b"csrftoken" and item.value is not None and not found:
            found.append(item.value.decode("utf-8", "replace"))

    parser = FormParser(
        "multipart/form-data",
        on_field,
        lambda _file: None,
        boundary=_boundary(scope),
        config={"MAX_MEMORY_FILE_SIZE": limit},
    )
    messages, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return None, None
        messages.append(message)
        size += len(message.get("body", b""))
        if size > limit:
            return None, None
        parser.write(message.get("body", b""))
        more = message.get("more_body", False)

    async def replay() -> Any:
        return messages.pop(0) if messages else await receive()

    return (found[0] if found else None), replay


async def _checked_upload(
    protected: Any, cookie_name: str, scope: dict[str, Any], receive: Any, send: Any
) -> None:
    """An upload form: its token is read from the body and handed to asgi-csrf as the
    `x-csrftoken` header, which the library checks against the cookie as for any form
    (its own multipart reader fails with python-multipart 0.0.2x)."""
    try:
        token, replay = await _upload_token(scope, receive, UPLOADS[scope["path"]])
    except Exception:  # a body that is no multipart form
        await _answer(send, 400, FAILED)
        return
    if replay is None:
        await _answer(send, 413, TOO_BIG)
        return
    cookie = cookies_from_scope(scope).get(cookie_name, "")
    if token is None or not token.isascii() or not secrets.compare_digest(token, cookie):
        await _failed(scope, send, None)  # else the library would read the body itself
        return
    headers = [(k, v) for k, v in scope.get("headers") or [] if k != b"x-csrftoken"]
    headers.append((b"x-csrftoken", token.encode("latin-1", "replace")))
    await protected({**scope, "headers": headers}, replay, send)


def _form_kind(scope: dict[str, Any]) -> bytes:
    for key, value in scope.get("headers") or []:
        if key == b"content-type":
            return value.split(b";", 1)[0].strip().lower()
    return b""


def guarded_csrf(app: Any, **options: Any) -> Any:
    """asgi-csrf with two guards around it.

    Redaktionen's forms are URL-encoded; anything else posted to it is refused (415) before
    the library reads it, since asgi-csrf 0.11's multipart reader calls python-multipart
    with an argument that library no longer has (a TypeError, so a 500), except the upload
    forms of UPLOADS, whose token `_checked_upload` hands the library. And a forged token
    of non-ASCII text gets the refusal page: the library compares with
    `secrets.compare_digest`, which raises TypeError on such text.
    """
    protected = asgi_csrf(app, **options)

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and _outside_editor(scope):
            # Nothing to check, and no token to sign for each API call or site page.
            await app(scope, receive, send)
            return
        if (
            scope["type"] == "http"
            and scope["method"] not in ("GET", "HEAD", "OPTIONS", "TRACE")
            and not _is_media_upload(scope)
            and _form_kind(scope) != b"application/x-www-form-urlencoded"
        ):
            if scope["path"] in UPLOADS and _form_kind(scope) == b"multipart/form-data":
                await _checked_upload(protected, options["cookie_name"], scope, receive, send)
                return
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
        skip_if_scope=_is_media_upload,
        send_csrf_failed=_failed,
    )


__all__ = ["cookie_name", "install", "token_matches"]
