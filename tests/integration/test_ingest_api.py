"""The ingest API on a real database (SQLite and PostgreSQL): posting, auth, errors, seeding."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.ingest import api, service
from services.ingest import auth as auth_module
from services.ingest.contributors import add_contributor, revoke_contributor
from shared.db import session_scope, utcnow
from shared.models import Contributor, Item, ItemTag, OutboxEvent, Page
from shared.sitepages import REQUIRED_SLUGS

ITEM = {
    "title": "Året i korthet – Verksamhetsrapport 2020",
    "summary": "Regionernas gemensamma arbete under 2020.",
    "body": "Under 2020 har regionerna **tillsammans** följt upp leverantörer.",
    "published_at": "2021-03-25T09:00:00+01:00",
    "regions": ["nationella-kansliet"],
    "topics": ["verksamhetsrapport", "samarbete"],
}


@pytest.fixture
def client(db) -> TestClient:
    api.limiter.reset()
    return TestClient(api.create_app())


def make_token(
    name: str = "Kansliet", region: str = "nationella-kansliet", role: str = "contributor"
) -> str:
    with session_scope() as session:
        return add_contributor(session=session, name=name, region=region, role=role)


@pytest.fixture
def token(db) -> str:
    return make_token()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def count(model) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_post_creates_the_item_and_its_event_together(client, token):
    response = client.post("/api/v1/items", json=ITEM, headers=auth(token))

    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"/api/v1/items/{body['id']}"
    assert response.headers["ETag"] == f'"{body["id"]}-v1"'
    assert body["slug"] == "aret-i-korthet-verksamhetsrapport-2020"
    assert (
        body["url"]
        == "http://localhost:8000/aktuellt/2021/03/aret-i-korthet-verksamhetsrapport-2020/"
    )
    assert body["status"] == "published" and body["version"] == 1
    assert body["title"] == ITEM["title"]
    assert body["published_at"] == "2021-03-25T08:00:00Z"
    assert body["regions"] == ["nationella-kansliet"]
    assert body["topics"] == ["verksamhetsrapport", "samarbete"]
    assert "<strong>tillsammans</strong>" in body["body_html"]
    assert body["contributor"] == "Kansliet"

    with session_scope() as session:
        item = session.get(Item, uuid.UUID(body["id"]))
        assert item.month == "2021-03"
        assert {(tag.kind, tag.slug) for tag in item.tags} == {
            ("region", "nationella-kansliet"),
            ("topic", "verksamhetsrapport"),
            ("topic", "samarbete"),
        }
        assert all(tag.published_at == item.published_at and tag.visible for tag in item.tags)
        [event] = session.scalars(select(OutboxEvent)).all()
        assert event.type == "item.published"
        assert event.payload["item_id"] == body["id"]
        assert event.payload["item_version"] == 1
        assert event.deliver_after is None  # already due


def test_a_new_item_its_tags_and_its_event_are_one_statement_on_postgresql(client, token):
    from sqlalchemy import event as sa_event

    from shared.db import get_engine

    client.post("/api/v1/items", json=ITEM, headers=auth(token))  # the token is cached now
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    sa_event.listen(get_engine(), "before_cursor_execute", seen)
    try:
        response = client.post(
            "/api/v1/items", json={**ITEM, "title": "Andra"}, headers=auth(token)
        )
    finally:
        sa_event.remove(get_engine(), "before_cursor_execute", seen)
    assert response.status_code == 201, response.text
    writes = [sql for sql in statements if "INSERT" in sql]
    postgres = get_engine().dialect.name == "postgresql"
    # Elsewhere one statement per table: item, tags, its first revision, the event and
    # render's work.
    assert len(writes) == (1 if postgres else 5), statements
    with session_scope() as session:
        item = session.get(Item, uuid.UUID(response.json()["id"]))
        assert len(item.tags) == 3
        assert all(tag.published_at == item.published_at and tag.visible for tag in item.tags)
        assert item.published_at.utcoffset() == timedelta(0)
        assert item.regions == ["nationella-kansliet"] and item.attachments == []
        events = session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
        assert events[-1].payload["item_id"] == str(item.id)


def test_the_token_lookup_hands_its_connection_back_at_once(client, token, monkeypatch):
    # The request's own session opens a connection only for its writes: one held from the
    # token lookup on would wait with the request for the body and a worker thread, and a
    # pool of a few connections would then cap how many requests a second get through.
    seen = []
    submit = service.submit_item

    def watched(*, session, **kwargs):
        seen.append(session.in_transaction())
        return submit(session=session, **kwargs)

    monkeypatch.setattr(service, "submit_item", watched)
    auth_module.clear_token_cache()
    assert client.post("/api/v1/items", json=ITEM, headers=auth(token)).status_code == 201
    assert seen == [False]


def test_the_event_is_part_of_the_items_transaction(db):
    token = make_token()
    with session_scope() as session:
        contributor = session.scalar(select(Contributor))
        service.create_item(session=session, contributor=contributor, data=ITEM)
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 1
        session.rollback()
    assert token and count(Item) == 0 and count(OutboxEvent) == 0


def test_a_scheduled_item_waits_in_the_outbox_until_its_time(client, token):
    later = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    response = client.post(
        "/api/v1/items", json={**ITEM, "published_at": later.isoformat()}, headers=auth(token)
    )
    assert response.status_code == 201
    with session_scope() as session:
        event = session.scalar(select(OutboxEvent))
        assert event.deliver_after == later


def test_a_draft_records_no_event(client, token):
    response = client.post("/api/v1/items", json={**ITEM, "status": "draft"}, headers=auth(token))
    assert response.status_code == 201 and response.json()["status"] == "draft"
    assert count(OutboxEvent) == 0
    with session_scope() as session:
        assert not any(tag.visible for tag in session.scalars(select(ItemTag)))


def test_same_title_in_the_same_month_gets_a_suffix(client, token):
    slugs = [
        client.post("/api/v1/items", json=ITEM, headers=auth(token)).json()["slug"]
        for _ in range(3)
    ]
    assert slugs == [
        "aret-i-korthet-verksamhetsrapport-2020",
        "aret-i-korthet-verksamhetsrapport-2020-2",
        "aret-i-korthet-verksamhetsrapport-2020-3",
    ]
    other_month = client.post(
        "/api/v1/items",
        json={**ITEM, "published_at": "2021-04-01T09:00:00+02:00"},
        headers=auth(token),
    ).json()
    assert other_month["slug"] == "aret-i-korthet-verksamhetsrapport-2020"
    assert other_month["url"].endswith("/aktuellt/2021/04/aret-i-korthet-verksamhetsrapport-2020/")


def test_a_given_slug_is_used_and_made_unique(client, token):
    first = client.post("/api/v1/items", json={**ITEM, "slug": "egen"}, headers=auth(token)).json()
    second = client.post("/api/v1/items", json={**ITEM, "slug": "egen"}, headers=auth(token)).json()
    assert (first["slug"], second["slug"]) == ("egen", "egen-2")


def test_published_at_defaults_to_now(client, token):
    before = utcnow()
    item = {key: value for key, value in ITEM.items() if key != "published_at"}
    body = client.post("/api/v1/items", json=item, headers=auth(token)).json()
    with session_scope() as session:
        assert session.get(Item, uuid.UUID(body["id"])).published_at >= before - timedelta(
            seconds=1
        )


def test_missing_or_wrong_token_is_401(client, token):
    for headers in (
        {},
        {"Authorization": "Bearer nr_wrong"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer " + "x" * 5000},
    ):
        response = client.post("/api/v1/items", json=ITEM, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["status"] == 401
    assert count(Item) == 0


def test_a_revoked_token_is_401(client, token):
    with session_scope() as session:
        assert revoke_contributor(session=session, name="Kansliet") is True
        assert revoke_contributor(session=session, name="Ingen") is False
    response = client.post("/api/v1/items", json=ITEM, headers=auth(token))
    assert response.status_code == 401


def test_a_token_revoked_after_use_is_401_once_its_cache_entry_expires(client, token, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(auth_module, "_clock", lambda: now[0])
    assert client.post("/api/v1/items", json=ITEM, headers=auth(token)).status_code == 201
    # Revoked by another process (`newsroom contributor revoke`): this process's cache does
    # not hear of it (revoking in this process drops the cache entry at once).
    with session_scope() as session:
        session.scalar(
            select(Contributor).where(Contributor.name == "Kansliet")
        ).revoked_at = utcnow()
    item = {**ITEM, "title": "En till"}
    now[0] += auth_module.TOKEN_CACHE_SECONDS - 0.5  # still trusted from the cache
    assert client.post("/api/v1/items", json=item, headers=auth(token)).status_code == 201
    now[0] += 1.0  # past TOKEN_CACHE_SECONDS: the database is asked again
    third = {**item, "title": "En tredje"}
    assert client.post("/api/v1/items", json=third, headers=auth(token)).status_code == 401
    assert count(Item) == 2


def test_a_new_role_takes_effect_once_the_cache_entry_expires(client, token, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(auth_module, "_clock", lambda: now[0])
    foreign = {**ITEM, "regions": ["region-skane"]}
    assert client.post("/api/v1/items", json=foreign, headers=auth(token)).status_code == 403
    with session_scope() as session:
        session.scalar(select(Contributor)).role = "editor"
    now[0] += auth_module.TOKEN_CACHE_SECONDS + 0.1
    assert client.post("/api/v1/items", json=foreign, headers=auth(token)).status_code == 201


def test_tokens_are_stored_only_as_hashes(db):
    token = make_token()
    assert token.startswith("nr_") and len(token) > 40
    with session_scope() as session:
        contributor = session.scalar(select(Contributor))
        assert contributor.token_hash != token and token not in contributor.token_hash
        assert len(contributor.token_hash) == 64


def test_add_contributor_refuses_bad_input(db):
    make_token(name="Anna")
    with session_scope() as session:
        with pytest.raises(ValueError, match="already exists"):
            add_contributor(session=session, name="Anna", region="region-skane")
        with pytest.raises(ValueError, match="unknown region"):
            add_contributor(session=session, name="Bo", region="region-atlantis")
        with pytest.raises(ValueError, match="unknown role"):
            add_contributor(session=session, name="Bo", region="region-skane", role="kung")


def test_invalid_body_is_422_naming_the_fields(client, token):
    bad = {
        **ITEM,
        "title": "",
        "regions": ["region-atlantis"],
        "published_at": "2021-03-25T09:00",
        "extra": 1,
    }
    response = client.post("/api/v1/items", json=bad, headers=auth(token))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    fields = {error["field"]: error["message"] for error in problem["errors"]}
    assert set(fields) == {"title", "regions", "published_at", "extra"}
    assert "region-atlantis" in fields["regions"]
    assert count(Item) == 0 and count(OutboxEvent) == 0


def test_regions_and_topics_are_listed():
    client = TestClient(api.create_app())  # no database needed
    regions = client.get("/api/v1/regions").json()
    topics = client.get("/api/v1/topics").json()
    assert {"slug": "region-ostergotland", "name": "Region Östergötland"} in regions
    assert len(regions) == 22
    assert {"slug": "manskliga-rattigheter", "name": "Mänskliga rättigheter"} in topics


def test_health_readiness_metrics_and_docs(client, token, monkeypatch):
    from shared import celery_app as celery_module

    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    client.post("/api/v1/items", json=ITEM, headers=auth(token))
    metrics = client.get("/metrics").text
    assert 'newsroom_ingest_item_writes_total{action="created"}' in metrics
    assert "newsroom_http_requests_total" in metrics
    schema = client.get("/api/openapi.json").json()
    assert "/api/v1/items" in schema["paths"] and "/api/v1/items/{item_id}" in schema["paths"]
    assert client.get("/api/docs").status_code == 200

    # Not ready while the broker cannot be reached.
    monkeypatch.setattr(celery_module.celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["broker"]


def test_the_app_relays_committed_events_while_it_runs(db, token):
    def relayed() -> bool:
        with session_scope() as session:
            return session.scalar(select(OutboxEvent.relayed_at)) is not None

    with TestClient(api.create_app()) as running:
        assert running.post("/api/v1/items", json=ITEM, headers=auth(token)).status_code == 201
        # The relay thread marks the event once it has handed it to the broker (bounded poll).
        deadline = time.monotonic() + 10
        while not relayed() and time.monotonic() < deadline:
            time.sleep(0.02)
    assert relayed()


def sample() -> dict:
    path = Path(service.__file__).parents[2] / "shared" / "data" / "sample_items.json"
    return json.loads(path.read_text(encoding="utf-8"))


def test_seed_loads_the_sample_once_and_records_no_events(db):
    data = sample()
    with session_scope() as session:
        added = service.seed(session=session, items=data["items"], pages=data["pages"])
    # The sample's page (/vision/) is one the migrations already made, with the same text.
    assert added == len(data["items"])
    with session_scope() as session:
        again = service.seed(session=session, items=data["items"], pages=data["pages"])
    assert again == 0
    assert count(Item) == len(data["items"])
    assert count(Page) == len(REQUIRED_SLUGS)
    with session_scope() as session:
        for sample_page in data["pages"]:
            assert session.get(Page, sample_page["slug"]).body_md == sample_page["body"]
    assert count(OutboxEvent) == 0
    with session_scope() as session:
        item = session.scalar(
            select(Item).where(Item.slug == "hur-forbereder-man-sig-for-en-hallbar-upphandling")
        )
        assert item.month == "2021-04" and item.status == "published"
        assert {tag.slug for tag in item.tags} == {"region-skane", "due-diligence", "textilier"}
        page = session.get(Page, data["pages"][0]["slug"])
        assert page.body_html.strip()
