"""Token misuse (expired, tampered, wrong purpose, other secret) and subscription answers
that do not tell whether an address is known."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import types
from datetime import timedelta

import itsdangerous.timed
import pytest
from sqlalchemy import select

from services.notify import tokens
from shared.db import session_scope
from shared.models import Subscriber
from tests.integration.test_notify_support import (  # noqa: F401 (fixtures)
    add_subscribers,
    client_fixture,
    eager_fixture,
    legacy_token,
    token_for,
)

ROUTES = {
    "confirm": [("GET", "/prenumeration/bekrafta"), ("POST", "/prenumeration/bekrafta")],
    "manage": [("GET", "/prenumeration/installningar"), ("POST", "/prenumeration/installningar")],
    "unsubscribe": [
        ("GET", "/prenumeration/avregistrera"),
        ("POST", "/prenumeration/avregistrera"),
    ],
}


def status_of(email: str) -> str:
    with session_scope() as session:
        return session.scalars(select(Subscriber.status).where(Subscriber.email == email)).one()


def misused_tokens(purpose: str, subscriber_id: int, email: str, monkeypatch) -> dict[str, str]:
    good = token_for(purpose, email)
    other = next(p for p in ROUTES if p != purpose)
    payload, _, signature = good.rpartition(".")
    # The first character: the last one of a base64 HMAC carries unused bits.
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    forged = itsdangerous.URLSafeTimedSerializer(
        "not-our-secret", salt=f"newsroom.notify.{purpose}"
    )
    with session_scope() as session:
        link_id = session.get(Subscriber, subscriber_id).link_id
    return {
        "tampered signature": f"{payload}.{flipped}",
        "unknown link id": tokens.make_token(
            purpose, link_id=("x" if link_id[0] != "x" else "y") + link_id[1:]
        ),
        "wrong purpose": token_for(other, email),
        "other secret": forged.dumps(link_id),
        "old form, other subscriber": legacy_token(
            purpose, subscriber_id=subscriber_id + 1, email=email
        ),
        "old form, other address": legacy_token(
            purpose, subscriber_id=subscriber_id, email="someone.else@example.se"
        ),
        "too long": good + "A" * tokens.MAX_LENGTH,
        "garbage": "<script>alert(1)</script>",
        "empty": "",
    }


@pytest.mark.parametrize("purpose", list(ROUTES))
def test_misused_tokens_are_rejected_and_change_nothing(client, purpose, monkeypatch):
    [subscriber_id] = add_subscribers("tove.lind@example.se")
    before = status_of("tove.lind@example.se")
    for name, token in misused_tokens(
        purpose, subscriber_id, "tove.lind@example.se", monkeypatch
    ).items():
        for method, path in ROUTES[purpose]:
            answer = client.request(
                method,
                path,
                params={"token": token},
                data={"frequency": "weekly"} if method == "POST" else None,
            )
            assert answer.status_code == 400, (name, method, path, answer.status_code)
            assert "Länken fungerar inte" in answer.text, (name, method, path)
            assert answer.headers["cache-control"] == "no-store"
            assert answer.headers["referrer-policy"] == "no-referrer"
    assert status_of("tove.lind@example.se") == before


@pytest.mark.parametrize("purpose", list(ROUTES))
def test_expired_tokens_are_rejected(client, purpose, monkeypatch):
    [subscriber_id] = add_subscribers("tove.lind@example.se")
    token = token_for(purpose, "tove.lind@example.se")
    later = time.time() + (tokens.MAX_AGE[purpose] + timedelta(days=1)).total_seconds()
    monkeypatch.setattr(itsdangerous.timed, "time", types.SimpleNamespace(time=lambda: later))
    for method, path in ROUTES[purpose]:
        answer = client.request(
            method,
            path,
            params={"token": token},
            data={"frequency": "weekly"} if method == "POST" else None,
        )
        assert answer.status_code == 400, (method, path)
    assert status_of("tove.lind@example.se") == "confirmed"


@pytest.mark.parametrize("purpose", list(ROUTES))
def test_token_pages_are_never_stored_nor_referred(client, purpose):
    """Whatever the answer (the page, a broken link, a form error), a page reached with a
    token is not cached and sends no Referer onwards."""
    add_subscribers("tove.lind@example.se")
    good = token_for(purpose, "tove.lind@example.se")
    for token in (good, "trasig", "A" * 5000, ""):
        for method, path in ROUTES[purpose]:
            for form in ({"frequency": "weekly"}, {"regions": "atlantis"}):
                answer = client.request(
                    method, path, params={"token": token}, data=form if method == "POST" else None
                )
                assert answer.headers.get("cache-control") == "no-store", (token, path)
                assert answer.headers.get("referrer-policy") == "no-referrer", (token, path)


def test_tokens_tell_nothing_about_the_subscriber(client):
    """A link carries a random id: not the row's sequential id, not a hash of the address
    that a guessed address could be checked against."""
    emails = ("tove.lind@example.se", "nils.holm@example.se")
    ids = add_subscribers(*emails)
    for purpose in ROUTES:
        for subscriber_id, email in zip(ids, emails, strict=True):
            token = token_for(purpose, email)
            payload = token.split(".")[0]
            text = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
            carried = json.loads(text)
            digest = hashlib.sha256(email.encode()).hexdigest()
            assert isinstance(carried, str), (purpose, text)  # one random string, no id
            assert carried != str(subscriber_id) and len(carried) >= 20
            assert digest[:16] not in text and email not in text, (purpose, text)
    first, second = (token_for("unsubscribe", email) for email in emails)
    assert first.split(".")[0] != second.split(".")[0]


@pytest.mark.parametrize("purpose", list(ROUTES))
def test_links_mailed_before_link_ids_keep_working_until_they_expire(client, purpose, monkeypatch):
    [subscriber_id] = add_subscribers("tove.lind@example.se")
    old = legacy_token(purpose, subscriber_id=subscriber_id, email="tove.lind@example.se")
    method, path = ROUTES[purpose][0]
    answer = client.request(method, path, params={"token": old})
    assert answer.status_code == 200 and "Länken fungerar inte" not in answer.text
    later = time.time() + (tokens.MAX_AGE[purpose] + timedelta(days=1)).total_seconds()
    monkeypatch.setattr(itsdangerous.timed, "time", types.SimpleNamespace(time=lambda: later))
    assert client.request(method, path, params={"token": old}).status_code == 400


VOLATILE = {"date", "x-request-id", "server"}


def comparable(answer) -> tuple:
    headers = sorted((k, v) for k, v in answer.headers.items() if k.lower() not in VOLATILE)
    return answer.status_code, answer.content, headers


@pytest.mark.parametrize("form", [False, True])
def test_subscription_answers_do_not_tell_known_from_unknown(client, eager, form):
    add_subscribers("kand.adress@example.se")  # confirmed
    client.post("/api/v1/subscriptions", json={"email": "vantar@example.se"})  # pending
    client.post("/api/v1/subscriptions", json={"email": "borta@example.se"})
    with session_scope() as session:
        gone = session.scalars(
            select(Subscriber).where(Subscriber.email == "borta@example.se")
        ).one()
        gone.status = "unsubscribed"
    answers = {}
    for email in (
        "okand.adress@example.se",
        "kand.adress@example.se",
        "vantar@example.se",
        "borta@example.se",
        "KAND.Adress@example.se",
    ):
        body = {"email": email, "regions": ["region-skane"], "frequency": "weekly"}
        answer = (
            client.post("/api/v1/subscriptions", data=body)
            if form
            else client.post("/api/v1/subscriptions", json=body)
        )
        assert answer.status_code == 202 if not form else answer.status_code in (200, 202)
        answers[email] = comparable(answer)
    assert len(set(map(repr, answers.values()))) == 1, answers
