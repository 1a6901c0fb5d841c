"""The CSRF layer covers Redaktionen only: the API and the site pass through it untouched,
without a token signed for each of their requests."""

from __future__ import annotations

import asyncio

import pytest

from shared.redaktion.csrf import guarded_csrf


def _scope_seen(path: str) -> dict:
    seen: dict = {}

    async def app(scope, receive, send):
        seen.update(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message):
        pass

    wrapped = guarded_csrf(app, signing_secret="s" * 32, skip_if_scope=lambda _scope: False)
    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
    asyncio.run(wrapped(scope, receive, send))
    return seen


@pytest.mark.parametrize("path", ["/api/v1/items", "/", "/aktuellt/", "/prenumeration/x"])
def test_requests_outside_the_editor_get_no_token(path):
    assert "csrftoken" not in _scope_seen(path)


def test_the_editors_requests_get_their_token():
    assert callable(_scope_seen("/redaktion/")["csrftoken"])
