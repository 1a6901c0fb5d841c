"""Hypothesis fuzz of Markdown -> HTML -> sanitize and of item validation: never a 500, and
nothing executable survives the sanitizer."""

from __future__ import annotations

import html5lib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest import api, deps
from shared.markup import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, URL_SCHEMES, render_markdown
from shared.ratelimit import RateLimiter
from tests.integration.test_ingest_api import ITEM, auth, make_token
from tests.integration.test_ingest_bad_input import assert_swedish

MARKUP = st.lists(
    st.sampled_from(
        [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[a](javascript:alert(1))",
            "<a href='jav&#x09;ascript:alert(1)'>x</a>",
            "<svg onload=alert(1)>",
            "**",
            "_",
            "`",
            "```",
            "\n\n",
            "# ",
            "> ",
            "- ",
            "1. ",
            "| a | b |\n|---|---|\n",
            "<",
            ">",
            "&",
            '"',
            "'",
            "<iframe src=//x>",
            "<style>*{}</style>",
            "<!--",
            "-->",
            "![i](data:image/svg+xml,x)",
            '<a href="vbscript:x">',
            "Åäö",
            "\x00",
            "\u202e",
            "<math><mi xlink:href=javascript:1>",
        ]
    )
    | st.text(max_size=8),
    max_size=30,
).map("".join)


def _executable(fragment: str) -> list[str]:
    """Tags, attributes and URLs outside the allow-lists in parsed HTML."""
    tree = html5lib.parseFragment(fragment, namespaceHTMLElements=False)
    found = []
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag not in ALLOWED_TAGS and element.tag != "DOCUMENT_FRAGMENT":
            found.append(f"<{element.tag}>")
        for name, value in element.attrib.items():
            if name not in ALLOWED_ATTRIBUTES.get(element.tag, set()) | {"rel"}:
                found.append(f"{element.tag}@{name}")
            if name in ("href", "src") and ":" in value.split("/", 1)[0]:
                if value.split(":", 1)[0].strip().lower() not in URL_SCHEMES:
                    found.append(f"{element.tag}@{name}={value}")
    return found


@settings(max_examples=400, deadline=None, database=None)
@given(text=MARKUP | st.text(max_size=300))
def test_markdown_never_raises_and_never_keeps_anything_executable(text):
    html = render_markdown(text)
    assert _executable(html) == []
    assert render_markdown(text) == html  # deterministic


@pytest.fixture
def client(db, monkeypatch):
    from fastapi.testclient import TestClient

    monkeypatch.setattr(deps, "limiter", RateLimiter(rate=1000, burst=100_000))
    with TestClient(api.create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "title",
    "summary",
    "body",
    "published_at",
    "regions",
    "topics",
    "slug",
    "author",
    "attachments",
    "image",
    "status",
    "extra",
]


def test_item_validation_never_answers_500(client):
    headers = auth(make_token(name="Fuzz", region="nationella-kansliet", role="editor"))

    @settings(
        max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        changes=st.dictionaries(st.sampled_from(FIELDS), JSONISH | MARKUP, max_size=4),
        drop=st.sets(st.sampled_from(FIELDS), max_size=2),
    )
    def check(changes, drop):
        body = {k: v for k, v in {**ITEM, **changes}.items() if k not in drop}
        answer = client.post("/api/v1/items", json=body, headers=headers)
        assert answer.status_code in (201, 400, 409, 413, 415, 422), (body, answer.text)
        assert answer.status_code == 201 or answer.headers["content-type"].startswith(
            "application/problem+json"
        )
        if answer.status_code != 201:
            assert_swedish(answer.json())

    check()
