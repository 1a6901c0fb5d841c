"""Hostile and clumsy input: each gets a clear problem+json answer (never a 500) or is
neutralised, and nothing already stored changes."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from html.parser import HTMLParser

import pytest
from starlette.requests import Request

from services.ingest import checks
from shared.problems import Problem
from tests.integration.test_ingest_api import ITEM, auth, client, make_token  # noqa: F401
from tests.integration.test_ingest_items import events, snapshot

XSS = [
    "<script>alert('xss')</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">klicka</a>',
    '<a href="JaVaScRiPt:alert(1)">klicka</a>',
    '<a href="java&#x09;script:alert(1)">klicka</a>',
    '<iframe src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="></iframe>',
    '<svg onload="alert(1)"><circle r="1"/></svg>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '"><script>alert(document.cookie)</script>',
    "[klicka](javascript:alert(1))",
    "![bild](javascript:alert(1))",
    "[länk](data:text/html,<script>alert(1)</script>)",
    "<details open ontoggle=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<form action="javascript:alert(1)"><button>x</button></form>',
    '<object data="javascript:alert(1)"></object>',
    "<<script>script>alert(1)<</script>/script>",
]


@pytest.fixture
def editor(db) -> str:
    return make_token(name="Redaktören", region="nationella-kansliet", role="editor")


@pytest.fixture
def existing(client, editor) -> dict:
    """An item already stored, which no refused request may change."""
    response = client.post("/api/v1/items", json=ITEM, headers=auth(editor))
    assert response.status_code == 201
    return response.json()


def raw_post(client, token, content: bytes, content_type: str | None = "application/json"):
    headers = auth(token)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return client.post("/api/v1/items", content=content, headers=headers)


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["detail"]
    return problem


MALFORMED = (
    (b"title=x&summary=y", "application/x-www-form-urlencoded", 415),
    (b"<item><title>x</title></item>", "application/xml", 415),
    (json.dumps(ITEM).encode(), "text/plain", 415),
    (json.dumps(ITEM).encode(), None, 415),
    (json.dumps(ITEM).encode("utf-16"), "application/json; charset=utf-16", 415),
    (b"{not json", "application/json", 400),
    (b"", "application/json", 400),
    (b"   ", "application/json", 400),
    (b'{"title": "\xff\xfe trasig"}', "application/json", 400),
    (b'{"title": "\xc3\x28"}', "application/json", 400),
    (b"[" * 100_000 + b"]" * 100_000, "application/json", 400),
    (b'{"n": ' + b"9" * 10_000 + b"}", "application/json", 400),
    (b'{"title": "a", "summary": "b", "title": "c"}', "application/json", 400),
    (b"[1, 2, 3]", "application/json", 422),
    (b'"bara en text"', "application/json", 422),
    (b"null", "application/json", 422),
)


def test_malformed_bodies(client, editor, existing):
    # One database for all cases: each case is a request, and a fresh database per case
    # would cost more than every request together.
    before = snapshot()
    for content, content_type, status in MALFORMED:
        response = raw_post(client, editor, content, content_type)
        assert response.status_code == status, (content[:60], content_type, response.text)
        assert_problem(response, status)
    assert snapshot() == before


INVALID = (
    ({"title": "Nul\u0000byte"}, "title"),
    ({"summary": "Klocka \u0007"}, "summary"),
    ({"body": "Escape \u001b[2J"}, "body"),
    ({"author": {"name": "A\u0000"}}, "author.name"),
    ({"published_at": "2021-04-29T09:00:00"}, "published_at"),
    ({"published_at": "2021-04-29"}, "published_at"),
    ({"published_at": "29 april 2021"}, "published_at"),
    ({"slug": "../../../etc/passwd"}, "slug"),
    ({"slug": "a/b"}, "slug"),
    ({"regions": ["region-skane"] * 10_000}, "regions"),
    ({"topics": ["miljo"] * 10_000}, "topics"),
    ({"attachments": [{"title": "x", "url": "https://example.se"}] * 1_000}, "attachments"),
    ({"regions": ["region-skane", "region-skane"]}, "regions"),
    ({"regions": ["region-atlantis"]}, "regions"),
    ({"regions": "region-skane"}, "regions"),
    ({"title": 42}, "title"),
    ({"title": None}, "title"),
    ({"status": "withdrawn"}, "status"),
    ({"id": "00000000-0000-0000-0000-000000000000"}, "id"),
    ({"body_html": "<script>alert(1)</script>"}, "body_html"),
    ({"attachments": [{"title": "x", "url": "javascript:alert(1)"}]}, "attachments.0.url"),
    ({"image": {"url": "data:image/png;base64,AAAA", "alt": "x"}}, "image.url"),
    ({"image": {"url": "https://example.se/a.png"}}, "image.alt"),
)


def test_invalid_fields_are_named_and_change_nothing(client, editor, existing):
    before = snapshot()
    for changes, field in INVALID:
        response = client.post("/api/v1/items", json={**ITEM, **changes}, headers=auth(editor))
        assert response.status_code == 422, (changes, response.text)
        problem = assert_problem(response, 422)
        assert field in {error["field"] for error in problem["errors"]}, (field, problem)
    assert snapshot() == before


def test_invalid_put_changes_nothing(client, editor, existing):
    before = snapshot()
    headers = {**auth(editor), "If-Match": f'"{existing["id"]}-v1"'}
    for content in (b"{nej", json.dumps({**ITEM, "title": "\u0000"}).encode()):
        response = client.put(
            f"/api/v1/items/{existing['id']}",
            content=content,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert response.status_code in (400, 422)
    assert snapshot() == before


def test_a_body_over_one_megabyte_is_413(client, editor, existing):
    before = snapshot()
    big = json.dumps({**ITEM, "body": "x" * 1_100_000}).encode()
    assert_problem(raw_post(client, editor, big), 413)

    def chunks():
        yield big[:100]
        yield big[100:]

    # Without a Content-Length (chunked), the count of streamed bytes decides.
    assert_problem(
        client.post(
            "/api/v1/items",
            content=chunks(),
            headers={**auth(editor), "Content-Type": "application/json"},
        ),
        413,
    )
    assert snapshot() == before


def test_a_large_valid_body_under_the_limit_is_422_not_413(client, editor):
    response = client.post(
        "/api/v1/items", json={**ITEM, "body": "x" * 150_000}, headers=auth(editor)
    )
    assert_problem(response, 422)


def _request(headers: dict[str, str], chunks: list[bytes], consumed: list[int]) -> Request:
    async def receive():
        if consumed[0] < len(chunks):
            consumed[0] += 1
            return {
                "type": "http.request",
                "body": chunks[consumed[0] - 1],
                "more_body": consumed[0] < len(chunks),
            }
        return {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/items",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    return Request(scope, receive)


def test_an_oversized_body_is_refused_before_it_is_read_whole():
    chunk = b"x" * 65_536
    chunks = [chunk] * 160  # 10 MB announced by nobody: streamed without Content-Length
    consumed = [0]
    request = _request({"content-type": "application/json"}, chunks, consumed)
    with pytest.raises(Problem) as caught:
        asyncio.run(checks.read_json_body(request))
    assert caught.value.status == 413
    assert consumed[0] == 17  # 1 MB / 64 KiB + the one chunk that crossed the limit

    consumed = [0]
    announced = _request(
        {"content-type": "application/json", "content-length": "10485760"}, chunks, consumed
    )
    with pytest.raises(Problem) as caught:
        asyncio.run(checks.read_json_body(announced))
    assert caught.value.status == 413 and consumed[0] == 0


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))


def assert_harmless(html: str) -> None:
    """No element, attribute or URL that could run anything in the reader's browser."""
    parser = _Elements()
    parser.feed(html)
    for tag, attrs in parser.found:
        assert tag not in {
            "script",
            "iframe",
            "svg",
            "object",
            "embed",
            "form",
            "style",
            "math",
            "details",
        }, html
        for name, value in attrs:
            assert not name.startswith("on") and name != "style", html
            if name in ("href", "src") and value:
                scheme = value.strip().split(":", 1)[0].lower() if ":" in value else ""
                assert scheme in ("", "http", "https", "mailto"), html


def test_xss_in_every_text_field_is_neutralised(client, editor):
    for payload in XSS:
        check_xss(client, editor, payload)


def check_xss(client, token, payload: str) -> None:
    item = {
        **ITEM,
        "title": payload[:200],
        "summary": payload,
        "body": f"Inledning\n\n{payload}\n\nSlut {payload}",
        "author": {"name": payload[:200], "email": "anna@example.se"},
        "attachments": [{"title": payload[:200], "url": "https://example.se/a.pdf"}],
        "image": {"url": "https://example.se/a.jpg", "alt": payload},
    }
    response = client.post("/api/v1/items", json=item, headers=auth(token))
    assert response.status_code == 201, (payload, response.text)
    assert response.headers["content-type"] == "application/json"
    stored = response.json()
    assert_harmless(stored["body_html"])
    # Plain-text fields are kept as written; every page escapes them (Jinja2 autoescape).
    assert stored["title"] == payload[:200].strip()
    assert stored["image"]["alt"] == payload.strip()
    assert "-" in stored["slug"] or stored["slug"].isalnum()
    assert ".." not in stored["slug"] and "/" not in stored["slug"]


def test_nothing_refused_ever_wrote_an_event(client, editor, existing):
    raw_post(client, editor, b"{")
    client.post("/api/v1/items", json={**ITEM, "title": ""}, headers=auth(editor))
    assert [event.type for event in events()] == ["item.published"]


# Words of pydantic's, Starlette's and the json module's English messages.
ENGLISH = re.compile(
    r"\b(Field|Input|should|Extra|inputs|permitted|valid|required|Value error|String|List"
    r"|Expecting|delimiter|Not Found|Method|Allowed|character|at least|at most)\b"
)


def assert_swedish(problem: dict) -> None:
    texts = [problem["detail"], problem["title"]]
    texts += [error["message"] for error in problem.get("errors", [])]
    for text in texts:
        assert not ENGLISH.search(text), problem


SWEDISH = [
    ({"title": ...}, "title", "fältet måste anges"),
    ({"regions": "region-skane"}, "regions", "ska vara en lista"),
    ({"extra": 1}, "extra", "okänt fält"),
    ({"topics": ["rymden"]}, "topics", "okänt ämne: rymden"),
    ({"regions": ["region-atlantis"]}, "regions", "okänd region: region-atlantis"),
    ({"regions": []}, "regions", "ska innehålla minst 1 värde"),
    ({"status": "klar"}, "status", "ska vara 'published' eller 'draft'"),
    ({"title": 42}, "title", "ska vara en text"),
    ({"title": "x" * 201}, "title", "får vara högst 200 tecken"),
    ({"title": ""}, "title", "får inte vara tom"),
    ({"author": "Anna"}, "author", "ska vara ett objekt"),
    (
        {"attachments": [{"title": "x"}]},
        "attachments.0",
        "ange url (en adress) eller media_id (en uppladdad fil)",
    ),
]


def test_validation_errors_are_swedish(client, editor):
    for changes, field, message in SWEDISH:
        body = {key: value for key, value in {**ITEM, **changes}.items() if value is not ...}
        problem = assert_problem(client.post("/api/v1/items", json=body, headers=auth(editor)), 422)
        assert {"field": field, "message": message} in problem["errors"], problem
        assert_swedish(problem)


def test_every_other_refusal_is_swedish(client, editor):
    answers = [
        (client.get("/api/v1/items?limit=0", headers=auth(editor)), 422, "ska vara minst 1"),
        (client.get("/api/v1/items?limit=x", headers=auth(editor)), 422, "ska vara ett heltal"),
        (client.get("/api/v1/items/inte-ett-id", headers=auth(editor)), 422, "UUID"),
        (raw_post(client, editor, b'{"title" 1}'), 400, "kolon saknas"),
        (raw_post(client, editor, b'{"title": "x'), 400, "citattecken"),
        (client.get("/api/v1/finns-inte"), 404, "Det finns ingenting"),
        (client.delete("/api/v1/regions"), 405, "metoden"),
    ]
    for response, status, words in answers:
        problem = assert_problem(response, status)
        assert words in json.dumps(problem, ensure_ascii=False), problem
        assert_swedish(problem)


def test_a_wrong_method_names_every_method_the_address_takes(client):
    response = client.options("/api/v1/items")
    assert_problem(response, 405)
    assert response.headers["Allow"] == "GET, POST"
    response = client.post(f"/api/v1/items/{uuid.uuid4()}", json=ITEM)
    assert response.headers["Allow"] == "DELETE, GET, PUT"
