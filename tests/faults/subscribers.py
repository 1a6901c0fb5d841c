"""Subscribers for the fault tests: one confirmed through the real flow, many written directly."""

from __future__ import annotations

from sqlalchemy import create_engine, insert, text

from tests.e2e.conftest import link_in, path_of
from tests.faults.conftest import Stack, client, eventually


def confirmed_subscriber(stack: Stack, email: str) -> None:
    """Subscribe over HTTP (immediate, everything) and confirm through the mailed link."""
    with client(stack.urls["notify"]) as http:
        answer = http.post(
            "/api/v1/subscriptions",
            json={"email": email, "regions": [], "topics": [], "frequency": "immediate"},
        )
        assert answer.status_code == 202, answer.text
        [mail] = eventually(lambda: stack.smtp.to(email), timeout=60, what="confirmation mail")
        assert http.post(path_of(link_in(mail, "bekrafta"))).status_code == 200


def bulk_subscribers(stack: Stack, count: int, *, domain: str = "example.se") -> list[str]:
    """`count` confirmed immediate subscribers to everything, inserted in one statement
    (the subscription flow itself is tested elsewhere; here only the newsletter matters)."""
    from shared.db import utcnow
    from shared.models import Subscriber

    now = utcnow()
    emails = [f"mottagare{n:05d}@{domain}" for n in range(count)]
    engine = create_engine(stack.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(Subscriber),
                [
                    {
                        "email": email,
                        "regions": [],
                        "topics": [],
                        "frequency": "immediate",
                        "status": "confirmed",
                        "created_at": now,
                        "confirmed_at": now,
                        "consent_at": now,
                        "consent_source": "test",
                    }
                    for email in emails
                ],
            )
    finally:
        engine.dispose()
    return emails


def delivery_states(stack: Stack, newsletter_like: str = "item:%") -> dict[str, list[str]]:
    """Ledger status -> recipient addresses, for item newsletters."""
    engine = create_engine(stack.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT d.status, s.email FROM deliveries d JOIN subscribers s"
                    " ON s.id = d.subscriber_id WHERE d.newsletter LIKE :like"
                ),
                {"like": newsletter_like},
            ).all()
    finally:
        engine.dispose()
    states: dict[str, list[str]] = {}
    for status, email in rows:
        states.setdefault(status, []).append(email)
    return states
