"""Token misuse (expired, tampered, wrong purpose, other secret) and subscription answers
that do not tell whether an address is known."""

from __future__ import annotations

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
)

ROUTES = {
    "confirm": [("GET", "/prenumeration/bekrafta")],
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
    good = tokens.make_token(purpose, subscriber_id=subscriber_id, email=email)
    other = next(p for p in ROUTES if p != purpose)
    payload, _, signature = good.rpartition(".")
    # The first character: the last one of a base64 HMAC carries unused bits.
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    forged = itsdangerous.URLSafeTimedSerializer(
        "not-our-secret", salt=f"newsroom.notify.{purpose}"
    )
    return {
        "tampered signature": f"{payload}.{flipped}",
        "other subscriber": tokens.make_token(
            purpose, subscriber_id=subscriber_id + 1, email=email
        ),
        "other address": tokens.make_token(
            purpose, subscriber_id=subscriber_id, email="someone.else@example.se"
        ),
        "wrong purpose": tokens.make_token(other, subscriber_id=subscriber_id, email=email),
        "other secret": forged.dumps([subscriber_id, tokens.email_digest(email)]),
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
    assert status_of("tove.lind@example.se") == before


@pytest.mark.parametrize("purpose", list(ROUTES))
def test_expired_tokens_are_rejected(client, purpose, monkeypatch):
    [subscriber_id] = add_subscribers("tove.lind@example.se")
    token = tokens.make_token(purpose, subscriber_id=subscriber_id, email="tove.lind@example.se")
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


VOLATILE = {"date", "x-request-id", "server"}


def comparable(answer) -> tuple:
    headers = sorted((k, v) for k, v in answer.headers.items() if k.lower() not in VOLATILE)
    return answer.status_code, answer.content, headers


@pytest.mark.parametrize("form", [False, True])
def test_subscription_answers_do_not_tell_known_from_unknown(client, form):
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
