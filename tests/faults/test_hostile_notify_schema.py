"""schemathesis against the notify service's own OpenAPI schema: every check, both modes."""

from __future__ import annotations

import re

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from services.notify import api, preferences, schemas
from shared.config import get_settings

EXAMPLES = 40
# Every check runs with its defaults but one thing no schema can express: a generated token
# is never a valid signature, so the link pages answer such schema-valid requests with their
# documented 400 page; nor is a generated webhook signature, which the bounce webhook answers
# with its documented 401.
CONFIG = SchemathesisConfig.from_str(
    """
[checks.positive_data_acceptance]
expected-statuses = [200, 202, 400, 401]
"""
)


@pytest.fixture
def app(db, monkeypatch):
    monkeypatch.setenv("NEWSROOM_SUBSCRIBE_PER_IP_PER_MINUTE", "1000000")
    monkeypatch.setenv("NEWSROOM_BOUNCE_WEBHOOK_SECRET", "schemathesis-secret")
    get_settings.cache_clear()
    api.ip_limiter.reset()
    yield api.create_app()
    api.ip_limiter.reset()
    get_settings.cache_clear()


def _run(app, config, modes) -> None:
    schema = schemathesis.openapi.from_asgi("/api/notify/openapi.json", app, config=config)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the notify schema lists no operation"
    with TestClient(app):
        for operation in operations:
            for mode in modes:

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    derandomize=True,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )
                def check(case) -> None:
                    case.call_and_validate()

                try:
                    check()
                except Unsatisfiable:
                    if mode is not GenerationMode.NEGATIVE:
                        raise


def test_notify_passes_every_schemathesis_check(app):
    _run(app, CONFIG, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE))


def test_an_empty_choice_is_refused_as_the_schema_says(app):
    """The schema lists the slugs a region or topic may be; an empty one is none of them, so
    the service refuses it too (it used to drop it silently and answer 202)."""
    body = schemas.request_schema()
    assert "" not in body["properties"]["regions"]["items"]["enum"]
    with TestClient(app) as client:
        form = client.post(
            "/api/v1/subscriptions",
            content="email=tom%40example.se&regions=&topics=",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 400
        assert "välj en region i listan" in form.text and "välj ett ämne i listan" in form.text
        answer = client.post(
            "/api/v1/subscriptions", json={"email": "tom@example.se", "regions": [""]}
        )
        assert answer.status_code == 422
        assert [e["field"] for e in answer.json()["errors"]] == ["regions"]


def test_the_email_pattern_accepts_dotted_local_parts():
    pattern = re.compile(schemas.request_schema()["properties"]["email"]["pattern"])
    for address in ("per.olof.nilsson@example.se", "a.b-c_d+e@kommun.example.se", "x@ab.se"):
        assert pattern.fullmatch(address), address
        preferences.validate_request(email=address)  # and the service takes them
    for address in ("per..olof@example.se", ".per@example.se", "per.@example.se", "a@localhost"):
        assert not pattern.fullmatch(address), address
