"""Text that would stop the site or fool a reader, in every text field of an item: characters
XML 1.0 forbids (one of them stopped every feed), bidirectional overrides, zero-width and
line-separator characters. Through POST, PUT and `newsroom post`."""

from __future__ import annotations

import io

import pytest

from services.ingest.authoring import post_file
from tests.integration.test_ingest_api import ITEM, auth, client, make_token  # noqa: F401
from tests.integration.test_ingest_authoring import server  # noqa: F401
from tests.integration.test_ingest_items import snapshot

# Where each text field sits in an item.
FIELDS = {
    "title": lambda value: {"title": value},
    "summary": lambda value: {"summary": value},
    "body": lambda value: {"body": value},
    "author.name": lambda value: {"author": {"name": value}},
    "attachments.0.title": lambda value: {
        "attachments": [{"title": value, "url": "https://example.se/a.pdf"}]
    },
    "image.alt": lambda value: {"image": {"url": "https://example.se/a.jpg", "alt": value}},
}
# Outside XML 1.0's Char production: lxml refuses them, so a feed holding one cannot be built.
NOT_XML = ["\uffff", "\ufffe", "\x0b", "\x1f"]


@pytest.fixture
def editor(db) -> str:
    return make_token(name="Redaktören", region="nationella-kansliet", role="editor")


def field_errors(response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {error["field"]: error["message"] for error in response.json()["errors"]}


@pytest.mark.parametrize("char", NOT_XML, ids=lambda char: f"U+{ord(char):04X}")
def test_characters_xml_forbids_are_refused_in_every_field(client, editor, char):
    before = snapshot()
    for field, place in FIELDS.items():
        response = client.post(
            "/api/v1/items", json={**ITEM, **place(f"Före {char} efter")}, headers=auth(editor)
        )
        errors = field_errors(response)
        assert f"U+{ord(char):04X}" in errors[field], (field, errors)
        assert "position 6" in errors[field]
    assert snapshot() == before


def test_characters_xml_forbids_are_refused_on_put(client, editor):
    item = client.post("/api/v1/items", json=ITEM, headers=auth(editor)).json()
    before = snapshot()
    headers = {**auth(editor), "If-Match": f'"{item["id"]}-v1"'}
    for field, place in FIELDS.items():
        response = client.put(
            f"/api/v1/items/{item['id']}", json={**ITEM, **place("Rubrik\uffff")}, headers=headers
        )
        assert "U+FFFF" in field_errors(response)[field]
    assert snapshot() == before


SINGLE_LINE = ["title", "author.name", "attachments.0.title", "image.alt"]


@pytest.mark.parametrize("char", ["\u202a", "\u202e", "\u2066", "\u2069"])
def test_bidirectional_overrides_are_refused_in_single_line_fields(client, editor, char):
    for field in SINGLE_LINE:
        response = client.post(
            "/api/v1/items",
            json={**ITEM, **FIELDS[field](f"Pris {char}kr 001")},
            headers=auth(editor),
        )
        assert "riktningstecken" in field_errors(response)[field]


def test_zero_width_characters_are_removed_from_single_line_fields(client, editor):
    changes = {}
    for field in SINGLE_LINE:
        changes.update(FIELDS[field]("Hål\u200blbar\u2060 upp\ufeffhandling\u200d"))
    response = client.post("/api/v1/items", json={**ITEM, **changes}, headers=auth(editor))
    assert response.status_code == 201, response.text
    item = response.json()
    assert item["title"] == "Hållbar upphandling"
    assert item["author"]["name"] == "Hållbar upphandling"
    assert item["attachments"][0]["title"] == "Hållbar upphandling"
    assert item["image"]["alt"] == "Hållbar upphandling"
    assert item["slug"] == "hallbar-upphandling"


@pytest.mark.parametrize("value", ["\u200b", "\u200b\u00a0\u2060", "\u3000\u3164", " \u2028 "])
def test_a_title_empty_once_invisible_characters_are_removed_is_refused(client, editor, value):
    for field in ("title", "summary"):
        response = client.post(
            "/api/v1/items", json={**ITEM, **FIELDS[field](value)}, headers=auth(editor)
        )
        assert field_errors(response)[field] == "får inte vara tom"


def test_line_separators_become_spaces_or_line_breaks(client, editor):
    response = client.post(
        "/api/v1/items",
        json={
            **ITEM,
            "title": "Rad ett\u2028rad två",
            "summary": "Stycke ett.\u2029Stycke två.",
            "body": "Rad ett\u2028rad två\u2029\u2029Nytt stycke.",
            "author": {"name": "Anna\u2029Ström"},
        },
        headers=auth(editor),
    )
    assert response.status_code == 201, response.text
    item = response.json()
    assert item["title"] == "Rad ett rad två"
    assert item["summary"] == "Stycke ett.\nStycke två."
    assert item["body"] == "Rad ett\nrad två\n\nNytt stycke."
    assert item["author"]["name"] == "Anna Ström"
    assert "\u2028" not in item["body_html"] and "\u2029" not in item["body_html"]


FILE = """---
title: "Rubrik \\uFFFF"
summary: Sammanfattning.
regions: [nationella-kansliet]
---
Text.
"""


def test_newsroom_post_reports_the_field_in_swedish(server, tmp_path):
    token = make_token(role="editor")
    path = tmp_path / "nyhet.md"
    path.write_text(FILE, encoding="utf-8")
    for dry_run in (True, False):
        out = io.StringIO()
        assert post_file(path=path, url=server, token=token, dry_run=dry_run, out=out) == 1
        assert "  title: otillåtet tecken U+FFFF på position 8" in out.getvalue().splitlines()
