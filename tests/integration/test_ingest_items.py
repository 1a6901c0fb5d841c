"""Reading, listing, replacing and withdrawing items; roles; idempotency; the rate limit."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.ingest import deps
from shared.db import session_scope, utcnow
from shared.models import IdempotencyKey, Item, ItemTag, OutboxEvent
from shared.ratelimit import RateLimiter
from tests.integration.test_ingest_api import ITEM, auth, client, count, make_token  # noqa: F401

SKANE = {**ITEM, "regions": ["region-skane"], "topics": ["textilier"]}


@pytest.fixture
def editor(db) -> str:
    return make_token(name="Redaktören", region="nationella-kansliet", role="editor")


@pytest.fixture
def skane(db) -> str:
    return make_token(name="Skåne", region="region-skane")


def post(client, token, **changes) -> dict:
    response = client.post("/api/v1/items", json={**ITEM, **changes}, headers=auth(token))
    assert response.status_code == 201, response.text
    return response.json()


def events() -> list[OutboxEvent]:
    with session_scope() as session:
        return list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))


def snapshot() -> list[tuple]:
    """Everything stored about items, to show that a refused request changed nothing."""
    with session_scope() as session:
        items = session.scalars(select(Item).order_by(Item.id))
        rows = [(i.id, i.version, i.title, i.slug, i.status, tuple(i.regions)) for i in items]
        tags = session.execute(select(ItemTag.item_id, ItemTag.kind, ItemTag.slug, ItemTag.visible))
        return rows + sorted(tags.all()) + [("events", len(events()))]


# --- reading -----------------------------------------------------------------------------


def test_get_returns_the_item_with_a_strong_etag(client, editor):
    created = post(client, editor)
    response = client.get(f"/api/v1/items/{created['id']}", headers=auth(editor))
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{created["id"]}-v1"'
    assert response.json() == created


def test_get_unknown_or_malformed_id(client, editor):
    assert client.get(f"/api/v1/items/{uuid.uuid4()}", headers=auth(editor)).status_code == 404
    response = client.get("/api/v1/items/../../etc/passwd", headers=auth(editor))
    assert response.status_code in (404, 422)
    assert client.get("/api/v1/items/inte-ett-id", headers=auth(editor)).status_code == 422


def test_list_filters(client, editor):
    a = post(
        client,
        editor,
        regions=["region-skane"],
        topics=["textilier"],
        published_at="2021-01-10T09:00:00+01:00",
    )
    b = post(
        client,
        editor,
        regions=["region-uppsala"],
        topics=["miljo"],
        published_at="2021-02-10T09:00:00+01:00",
    )
    c = post(
        client,
        editor,
        regions=["region-skane", "region-uppsala"],
        topics=["miljo"],
        published_at="2021-03-10T09:00:00+01:00",
        status="draft",
    )

    def ids(**params) -> list[str]:
        response = client.get("/api/v1/items", params=params, headers=auth(editor))
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert ids() == [c["id"], b["id"], a["id"]]
    assert ids(region="region-skane") == [c["id"], a["id"]]
    assert ids(topic="miljo") == [c["id"], b["id"]]
    assert ids(status="draft") == [c["id"]]
    assert ids(status="published", region="region-uppsala") == [b["id"]]
    assert ids(since="2021-02-01T00:00:00+01:00") == [c["id"], b["id"]]
    assert ids(region="region-gotland") == []


def test_cursor_pagination_is_complete_and_stable(client, editor):
    created = [
        post(client, editor, published_at=f"2021-01-{day:02d}T09:00:00+01:00")["id"]
        for day in (1, 2, 2, 2, 3, 4, 5)  # equal times are ordered by id, never skipped
    ]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/items", params=params, headers=auth(editor)).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        if pages == 1:
            # A newer item arriving mid-way must not shift the pages still to come.
            post(client, editor, published_at="2021-01-06T09:00:00+01:00")
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(created) and len(seen) == len(created)
    assert pages == 4


def test_a_misspelt_filter_is_refused_not_ignored(client, editor):
    response = client.get("/api/v1/items", params={"regoin": "region-skane"}, headers=auth(editor))
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "regoin", "message": "okänd parameter"}]


def test_a_bad_cursor_is_a_clear_400(client, editor):
    for bad in ("bm9wZQ", "0", "20210325T080000Z_" + "0" * 31, "x" * 1000):
        response = client.get("/api/v1/items", params={"cursor": bad}, headers=auth(editor))
        assert response.status_code == 400, bad
        assert response.json()["errors"][0]["field"] == "cursor"


def test_every_cursor_the_schema_describes_is_accepted(client, editor):
    older = post(client, editor, published_at="2021-02-10T09:00:00+01:00")
    schema = client.get("/api/openapi.json").json()
    [cursor] = [
        p for p in schema["paths"]["/api/v1/items"]["get"]["parameters"] if p["name"] == "cursor"
    ]
    pattern = cursor["schema"]["pattern"]
    # A position in the list, not a pointer to an item: every one the pattern allows is one.
    for position in (
        "20210301T000000Z_" + "f" * 32,
        "20210230T235959.5Z_" + "0" * 32,  # 30 February: two days after the 28th
        "10000101T000000.123456Z_" + "a" * 32,
    ):
        assert re.fullmatch(pattern, position), position
        response = client.get("/api/v1/items", params={"cursor": position}, headers=auth(editor))
        assert response.status_code == 200, response.text
        expected = [older["id"]] if position.startswith("2021") else []
        assert [item["id"] for item in response.json()["items"]] == expected


def test_contributors_see_their_own_drafts_only(client, editor, skane):
    mine = post(client, skane, **SKANE, status="draft")
    theirs = post(client, editor, status="draft")
    listed = [i["id"] for i in client.get("/api/v1/items", headers=auth(skane)).json()["items"]]
    assert listed == [mine["id"]]
    assert client.get(f"/api/v1/items/{theirs['id']}", headers=auth(skane)).status_code == 404
    assert client.get(f"/api/v1/items/{mine['id']}", headers=auth(editor)).status_code == 200


def test_embargoes_hold_contributors_see_only_their_own_non_public_items(client, editor, skane):
    later = (utcnow() + timedelta(days=2)).replace(microsecond=0).isoformat()
    colleague = make_token(name="Kollega i Skåne", region="region-skane")
    public = post(client, skane, **{**SKANE, "title": "Offentlig"})
    scheduled = post(client, skane, **{**SKANE, "title": "Embargo", "published_at": later})
    draft = post(client, skane, **{**SKANE, "title": "Utkast", "status": "draft"})
    withdrawn = post(client, skane, **{**SKANE, "title": "Återkallad"})
    assert client.delete(f"/api/v1/items/{withdrawn['id']}", headers=auth(editor)).is_success
    hidden = {scheduled["id"], draft["id"], withdrawn["id"]}

    def listed(token, **params) -> set[str]:
        response = client.get("/api/v1/items", params=params, headers=auth(token))
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert listed(colleague) == {public["id"]}
    for status in ("scheduled", "draft", "withdrawn"):
        assert listed(colleague, status=status) == set()
    for item_id in hidden:
        assert client.get(f"/api/v1/items/{item_id}", headers=auth(colleague)).status_code == 404
    assert client.get(f"/api/v1/items/{public['id']}", headers=auth(colleague)).status_code == 200
    # The author and the editors see everything.
    assert listed(skane) == listed(editor) == hidden | {public["id"]}
    for token in (skane, editor):
        for item_id in hidden:
            assert client.get(f"/api/v1/items/{item_id}", headers=auth(token)).status_code == 200


def test_a_published_item_whose_time_has_not_come_is_scheduled(client, editor):
    later = (utcnow() + timedelta(days=2)).replace(microsecond=0).isoformat()
    scheduled = post(client, editor, published_at=later)
    assert scheduled["status"] == "scheduled"
    public = post(client, editor)
    assert public["status"] == "published"
    got = client.get(f"/api/v1/items/{scheduled['id']}", headers=auth(editor)).json()
    assert got["status"] == "scheduled"

    def ids(status: str) -> list[str]:
        response = client.get("/api/v1/items", params={"status": status}, headers=auth(editor))
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert ids("scheduled") == [scheduled["id"]]
    assert ids("published") == [public["id"]]
    # Its time moved to the past: it is public now.
    moved = put(client, editor, scheduled, published_at="2021-03-26T09:00:00+01:00")
    assert moved.json()["status"] == "published"
    assert ids("scheduled") == []
    schema = client.get("/api/openapi.json").json()
    assert "scheduled" in json.dumps(schema["components"]["schemas"]["ItemOut"])


# --- replacing ---------------------------------------------------------------------------


def put(client, token, item, etag=None, **changes):
    headers = auth(token)
    if etag is not False:
        headers["If-Match"] = etag or f'"{item["id"]}-v{item["version"]}"'
    return client.put(f"/api/v1/items/{item['id']}", json={**ITEM, **changes}, headers=headers)


def test_put_requires_if_match_and_refuses_a_stale_one(client, editor):
    item = post(client, editor)
    before = snapshot()
    missing = put(client, editor, item, etag=False, title="Ny rubrik")
    assert missing.status_code == 428
    assert missing.headers["content-type"] == "application/problem+json"
    stale = put(client, editor, item, etag=f'"{item["id"]}-v0"', title="Ny rubrik")
    assert stale.status_code == 412
    assert stale.headers["ETag"] == f'"{item["id"]}-v1"'
    weak = put(client, editor, item, etag=f'W/"{item["id"]}-v1"', title="Ny rubrik")
    assert weak.status_code == 412
    assert snapshot() == before


def test_put_replaces_the_item_and_records_where_it_was(client, editor):
    item = post(client, editor)
    response = put(
        client,
        editor,
        item,
        title="Ny rubrik",
        regions=["region-gotland"],
        topics=["miljo"],
        published_at="2021-02-28T09:00:00+01:00",
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["version"] == 2 and response.headers["ETag"] == f'"{item["id"]}-v2"'
    assert updated["title"] == "Ny rubrik"
    # The slug stays (links keep working) while the month follows the new date.
    assert updated["slug"] == item["slug"]
    assert updated["url"].endswith(f"/aktuellt/2021/02/{item['slug']}/")

    published, changed = events()
    assert changed.type == "item.updated"
    assert changed.payload["item_version"] == 2
    previous = changed.payload["previous"]
    assert previous["slug"] == item["slug"] and previous["month"] == "2021-03"
    assert previous["regions"] == ["nationella-kansliet"]
    assert previous["topics"] == ["verksamhetsrapport", "samarbete"]
    assert previous["published_at"].startswith("2021-03-25T08:00:00")
    assert previous["status"] == "published"
    with session_scope() as session:
        tags = {(t.kind, t.slug) for t in session.scalars(select(ItemTag))}
    assert tags == {("region", "region-gotland"), ("topic", "miljo")}

    second = put(client, editor, updated, title="Tredje")
    assert second.status_code == 200 and second.json()["version"] == 3


def test_put_with_a_new_slug_keeps_it_unique(client, editor):
    first = post(client, editor, slug="adress")
    second = post(client, editor, slug="annan")
    response = put(client, editor, second, slug="adress")
    assert response.json()["slug"] == "adress-2"
    assert put(client, editor, first, slug="adress").json()["slug"] == "adress"


def test_contributors_edit_their_own_items_in_their_own_region(client, editor, skane):
    theirs = post(client, editor)
    mine = post(client, skane, **SKANE)
    before = snapshot()
    assert put(client, skane, theirs, **SKANE).status_code == 403
    foreign = put(client, skane, mine, **{**SKANE, "regions": ["region-skane", "region-halland"]})
    assert foreign.status_code == 403
    assert "region-halland" in foreign.json()["errors"][0]["message"]
    assert snapshot() == before
    assert put(client, skane, mine, **{**SKANE, "title": "Rättad"}).status_code == 200
    assert put(client, editor, theirs, title="Redaktören rättar").status_code == 200


def test_contributors_post_for_their_own_region_only(client, skane):
    response = client.post("/api/v1/items", json=ITEM, headers=auth(skane))
    assert response.status_code == 403
    assert response.json()["errors"] == [
        {"field": "regions", "message": "inte din region: nationella-kansliet"}
    ]
    assert count(Item) == 0


def test_a_draft_published_by_put_records_item_published(client, editor):
    draft = post(client, editor, status="draft")
    assert events() == []
    response = put(client, editor, draft, status="published")
    assert response.status_code == 200
    [event] = events()
    assert event.type == "item.published" and event.payload["item_version"] == 2


def test_unpublishing_to_a_draft_rewrites_the_pages(client, editor):
    item = post(client, editor)
    response = put(client, editor, item, status="draft")
    assert response.json()["status"] == "draft"
    assert [e.type for e in events()] == ["item.published", "item.updated"]
    with session_scope() as session:
        assert not any(t.visible for t in session.scalars(select(ItemTag)))


def test_a_scheduled_item_moves_its_waiting_event(client, editor):
    later = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    item = post(client, editor, published_at=later.isoformat())
    even_later = later + timedelta(days=1)
    assert put(client, editor, item, published_at=even_later.isoformat()).status_code == 200
    [event] = events()  # no second event: the waiting one now waits longer
    assert event.type == "item.published" and event.deliver_after == even_later


def test_a_visible_item_moved_into_the_future_leaves_now_and_returns_then(client, editor):
    item = post(client, editor)
    later = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    response = put(client, editor, item, published_at=later.isoformat())
    assert response.status_code == 200
    published, leaves, returns = events()
    assert (leaves.type, leaves.deliver_after) == ("item.updated", None)
    assert leaves.payload["previous"]["month"] == "2021-03"
    assert (returns.type, returns.deliver_after) == ("item.updated", later)


# --- withdrawing -------------------------------------------------------------------------


def test_contributors_withdraw_their_own_items_and_editors_any(client, editor, skane):
    item = post(client, skane, **SKANE)
    colleague = make_token(name="Kollega i Skåne", region="region-skane")
    refused = client.delete(f"/api/v1/items/{item['id']}", headers=auth(colleague))
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Du får bara återkalla dina egna nyheter."
    assert [e.type for e in events()] == ["item.published"]

    response = client.delete(f"/api/v1/items/{item['id']}", headers=auth(skane))
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn" and response.json()["version"] == 2
    published, withdrawn = events()
    assert withdrawn.type == "item.withdrawn"
    assert withdrawn.payload["previous"]["regions"] == ["region-skane"]
    assert withdrawn.payload["previous"]["status"] == "published"
    with session_scope() as session:
        stored = session.get(Item, uuid.UUID(item["id"]))
        assert stored.status == "withdrawn" and stored.withdrawn_at is not None
        assert not any(tag.visible for tag in stored.tags)

    theirs = post(client, skane, **{**SKANE, "title": "En till"})
    assert client.delete(f"/api/v1/items/{theirs['id']}", headers=auth(editor)).status_code == 200

    again = client.delete(f"/api/v1/items/{item['id']}", headers=auth(editor))
    assert again.status_code == 200 and len(events()) == 4
    assert put(client, editor, again.json()).status_code == 409


def test_a_malformed_or_overlong_if_match_is_refused_not_truncated(client, editor):
    item = post(client, editor)
    etag = f'"{item["id"]}-v1"'
    before = snapshot()
    overlong = etag + ", " + ", ".join(['"x"'] * 200)  # the right ETag within its first 500
    for if_match in (overlong, "0", "null", 'abc"', f"{etag}; x"):
        for method, body in (("PUT", ITEM), ("DELETE", None)):
            response = client.request(
                method,
                f"/api/v1/items/{item['id']}",
                headers={**auth(editor), "If-Match": if_match},
                json=body,
            )
            assert response.status_code == 422, (if_match, response.text)
            assert response.json()["errors"][0]["field"] == "If-Match"
    assert snapshot() == before


def test_withdraw_with_a_stale_if_match_is_412(client, editor):
    item = post(client, editor)
    headers = {**auth(editor), "If-Match": f'"{item["id"]}-v9"'}
    assert client.delete(f"/api/v1/items/{item['id']}", headers=headers).status_code == 412
    assert [e.type for e in events()] == ["item.published"]


# --- idempotency and rate limit ------------------------------------------------------------


def test_the_same_idempotency_key_and_body_return_the_first_answer(client, editor):
    headers = {**auth(editor), "Idempotency-Key": "post-1"}
    first = client.post("/api/v1/items", json=ITEM, headers=headers)
    # The same fields in another order are the same request.
    again = client.post("/api/v1/items", json=dict(reversed(list(ITEM.items()))), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert count(Item) == 1 and len(events()) == 1

    other = client.post("/api/v1/items", json={**ITEM, "title": "Annan"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert count(Item) == 1


def test_an_idempotency_key_expires_after_a_day(client, editor):
    headers = {**auth(editor), "Idempotency-Key": "gammal"}
    assert client.post("/api/v1/items", json=ITEM, headers=headers).status_code == 201
    with session_scope() as session:
        stored = session.scalar(select(IdempotencyKey))
        stored.created_at = utcnow() - timedelta(hours=25)
    again = client.post("/api/v1/items", json={**ITEM, "title": "Ny"}, headers=headers)
    assert again.status_code == 201
    assert count(Item) == 2
    with session_scope() as session:
        [kept] = session.scalars(select(IdempotencyKey)).all()
        assert kept.response["title"] == "Ny"


def test_idempotency_keys_belong_to_one_token(client, editor):
    colleague = make_token(name="Kollega", region="nationella-kansliet", role="editor")
    for token in (editor, colleague):
        headers = {**auth(token), "Idempotency-Key": "samma"}
        assert client.post("/api/v1/items", json=ITEM, headers=headers).status_code == 201
    assert count(Item) == 2


def test_a_malformed_idempotency_key_is_422(client, editor):
    headers = {**auth(editor), "Idempotency-Key": "x" * 300}
    assert client.post("/api/v1/items", json=ITEM, headers=headers).status_code == 422
    assert count(Item) == 0


def test_each_token_has_its_own_rate_limit(client, editor, skane, monkeypatch):
    monkeypatch.setattr(deps, "limiter", RateLimiter(rate=0.01, burst=3))
    for _ in range(3):
        assert client.get("/api/v1/items", headers=auth(editor)).status_code == 200
    limited = client.post("/api/v1/items", json=ITEM, headers=auth(editor))
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["Retry-After"]) >= 1
    assert client.get("/api/v1/items", headers=auth(skane)).status_code == 200
    assert count(Item) == 0


def test_put_into_a_month_where_its_slug_is_taken_gets_a_free_one(client, editor):
    # The item keeps its slug but moves to a month where another item already has it.
    there = post(client, editor, slug="samma", published_at="2021-02-10T09:00:00+01:00")
    moving = post(client, editor, slug="samma", published_at="2021-03-10T09:00:00+01:00")
    response = put(client, editor, moving, published_at="2021-02-11T09:00:00+01:00")
    assert response.status_code == 200, response.text
    assert response.json()["slug"] == "samma-2" and response.json()["month"] == "2021-02"
    assert there["slug"] == "samma"
