"""Concurrent requests against a real server: one item per idempotency key, unique slugs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import select

from shared.db import session_scope
from shared.models import Item, OutboxEvent
from tests.integration.test_ingest_api import ITEM, auth, count, make_token
from tests.integration.test_ingest_authoring import server  # noqa: F401

CLIENTS = 6


def post_all(url: str, headers: dict[str, str]) -> list[httpx.Response]:
    def one(_: int) -> httpx.Response:
        return httpx.post(f"{url}/api/v1/items", json=ITEM, headers=headers, timeout=60)

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(one, range(CLIENTS)))


def test_a_retried_post_racing_itself_makes_one_item(server):
    headers = {**auth(make_token(role="editor")), "Idempotency-Key": "samtidigt"}
    responses = post_all(server, headers)
    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["id"] for response in responses}) == 1
    assert count(Item) == 1 and count(OutboxEvent) == 1


def test_the_same_title_at_once_gets_distinct_slugs(server):
    responses = post_all(server, auth(make_token(role="editor")))
    assert {response.status_code for response in responses} == {201}, [r.text for r in responses]
    with session_scope() as session:
        slugs = sorted(session.scalars(select(Item.slug)))
    assert len(set(slugs)) == CLIENTS
    assert slugs[0] == "aret-i-korthet-verksamhetsrapport-2020"
    assert count(OutboxEvent) == CLIENTS
