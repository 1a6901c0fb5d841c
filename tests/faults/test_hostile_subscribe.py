"""Subscribing must not tell known addresses from unknown ones by its timing, and a browser on
another site must not be able to post the subscription form."""

from __future__ import annotations

import math
import random
import re
import statistics
import time

import pytest
from sqlalchemy import event, select

from shared.config import get_settings
from shared.db import get_engine, session_scope, utcnow
from shared.models import OutboxEvent, Subscriber
from tests.integration.test_notify_support import (  # noqa: F401 (fixtures)
    add_subscribers,
    client_fixture,
    eager_fixture,
)

FORM = {"content-type": "application/x-www-form-urlencoded"}


def states() -> dict[str, str]:
    """One address in each state a subscriber can be in, and one nobody knows."""
    add_subscribers("bekraftad@example.se")
    add_subscribers("vantar@example.se", "borta@example.se", "studsad@example.se")
    with session_scope() as session:
        for email, change in (
            ("vantar@example.se", {"status": "pending", "confirmed_at": None}),
            ("borta@example.se", {"status": "unsubscribed", "unsubscribed_at": utcnow()}),
            ("studsad@example.se", {"suppressed_at": utcnow(), "suppressed_reason": "550"}),
        ):
            subscriber = session.scalars(select(Subscriber).where(Subscriber.email == email)).one()
            for name, value in change.items():
                setattr(subscriber, name, value)
    return {
        "unknown": "okand@example.se",
        "confirmed": "bekraftad@example.se",
        "pending": "vantar@example.se",
        "unsubscribed": "borta@example.se",
        "suppressed": "studsad@example.se",
    }


def test_subscribing_does_the_same_database_work_for_every_address(client, monkeypatch):
    monkeypatch.setenv("NEWSROOM_SUBSCRIBE_PER_IP_PER_MINUTE", "1000")
    addresses = states()
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        # The statement's shape: literals and placeholders differ, the work must not.
        statements.append(re.sub(r"'[^']*'|\?|%\(\w+\)s|\$\d+", "?", statement))

    client.post("/api/v1/subscriptions", json={"email": "forst@example.se"})  # connections
    engine = get_engine()
    event.listen(engine, "before_cursor_execute", record)
    work = {}
    try:
        for state, email in addresses.items():
            statements.clear()
            answer = client.post(
                "/api/v1/subscriptions", json={"email": email, "regions": ["region-skane"]}
            )
            assert answer.status_code == 202
            work[state] = list(statements)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert all(statements == work["unknown"] for statements in work.values()), work
    # …and that work is recording the request: no subscriber row was read or written.
    assert not any("subscribers" in statement for statement in work["unknown"])
    with session_scope() as session:
        assert len(session.scalars(select(OutboxEvent)).all()) == len(addresses) + 1


def _mann_whitney_p(a: list[float], b: list[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test (normal approximation, tie-corrected)."""
    ranked = sorted([(value, 0) for value in a] + [(value, 1) for value in b])
    ranks = [0.0] * len(ranked)
    ties = 0.0
    i = 0
    while i < len(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][0] == ranked[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        ties += (j - i + 1) ** 3 - (j - i + 1)
        i = j + 1
    n1, n2 = len(a), len(b)
    u = sum(rank for rank, (_, group) in zip(ranks, ranked, strict=True) if group == 0)
    u -= n1 * (n1 + 1) / 2
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    z = (u - n1 * n2 / 2) / sigma
    return math.erfc(abs(z) / math.sqrt(2))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_subscribe_timing_does_not_tell_known_from_unknown(client, monkeypatch):
    """Requests for known (confirmed) and unknown addresses, interleaved at random: their
    answer times must not differ significantly (Mann-Whitney U, p < 0.001 fails). Before
    the request did the same work for both, medians differed by about 1.5 ms and 8
    requests per address were enough to tell them apart."""
    monkeypatch.setenv("NEWSROOM_SUBSCRIBE_PER_IP_PER_MINUTE", "100000")
    get_settings.cache_clear()
    count = 300
    known = [f"kand{n}@example.se" for n in range(count)]
    add_subscribers(*known)
    unknown = [f"okand{n}@example.se" for n in range(count)]
    # In pairs, each pair in random order: whatever drifts during the run (the machine's
    # load, the outbox growing) weighs on both kinds alike.
    chance = random.Random(12)
    order = []
    for pair in zip(known, unknown, strict=True):
        first = chance.random() < 0.5
        order += [("known", pair[0]), ("unknown", pair[1])][:: 1 if first else -1]
    for n in range(20):  # warm-up: connections, caches
        client.post("/api/v1/subscriptions", json={"email": f"varm{n}@example.se"})
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    for kind, email in order:
        began = time.perf_counter()
        answer = client.post("/api/v1/subscriptions", json={"email": email})
        times[kind].append(time.perf_counter() - began)
        assert answer.status_code == 202
    p = _mann_whitney_p(times["known"], times["unknown"])
    medians = {kind: statistics.median(values) * 1000 for kind, values in times.items()}
    print(f"\nTIMING subscribe: medians {medians} ms, Mann-Whitney p = {p:.4f}")
    assert p >= 0.001, (medians, p)


def nothing_recorded() -> bool:
    with session_scope() as session:
        return (
            not session.scalars(select(OutboxEvent)).all()
            and not session.scalars(select(Subscriber)).all()
        )


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},  # a sandboxed frame or a page with Referrer-Policy no-referrer
        {"referer": "https://evil.example/prenumerera/"},
        {"origin": "https://hallbarupphandling.example.se.evil.example"},
    ],
)
def test_a_form_posted_from_another_site_is_refused(client, eager, headers, monkeypatch):
    monkeypatch.setenv("NEWSROOM_BASE_URL", "https://hallbarupphandling.example.se")
    get_settings.cache_clear()
    answer = client.post(
        "/api/v1/subscriptions",
        content="email=offer%40example.se&topics=miljo",
        headers={**FORM, **headers},
    )
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert "en annan webbplats" in answer.text
    assert nothing_recorded()


def test_our_own_form_and_programs_may_post(client, eager, monkeypatch):
    monkeypatch.setenv("NEWSROOM_BASE_URL", "https://hallbarupphandling.example.se")
    get_settings.cache_clear()
    for n, headers in enumerate(
        (
            {"origin": "https://hallbarupphandling.example.se"},
            {"referer": "https://hallbarupphandling.example.se/prenumerera/"},
            {"origin": "http://testserver"},  # the host it was asked for (embedded mode)
            {},  # a program: no Origin, no Referer
        )
    ):
        answer = client.post(
            "/api/v1/subscriptions",
            content=f"email=form{n}%40example.se",
            headers={**FORM, **headers},
        )
        assert answer.status_code == 202, (headers, answer.text)
    # JSON needs no such check: a browser cannot send it cross-site without CORS, which
    # the API does not grant; programs may send any Origin.
    answer = client.post(
        "/api/v1/subscriptions",
        json={"email": "program@example.se"},
        headers={"origin": "https://evil.example"},
    )
    assert answer.status_code == 202
    assert "access-control-allow-origin" not in answer.headers
