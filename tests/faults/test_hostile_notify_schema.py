"""schemathesis against the notify service's own OpenAPI schema: every check, both modes."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from services.notify import api
from services.notify.settings import get_notify_settings

EXAMPLES = 40
# Three gaps between notify's schema and its answers (see the xfail test at the end) are
# switched off here so that every other check (no 5xx, response schemas, headers,
# negative data refused, ...) keeps guarding the service.
KNOWN_GAPS = SchemathesisConfig.from_str(
    """
[checks.positive_data_acceptance]
enabled = false

[checks.status_code_conformance]
enabled = false

[checks.content_type_conformance]
enabled = false
"""
)


@pytest.fixture
def app(db, monkeypatch):
    monkeypatch.setenv("NEWSROOM_SUBSCRIBE_PER_IP_PER_MINUTE", "1000000")
    get_notify_settings.cache_clear()
    api.ip_limiter.reset()
    yield api.create_app()
    api.ip_limiter.reset()
    get_notify_settings.cache_clear()


def _run(app, config, modes) -> None:
    schema = schemathesis.openapi.from_asgi("/api/notify/openapi.json", app, config=config)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the notify schema lists no operation"
    with TestClient(app):
        for operation in operations:
            for mode in modes:

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                          suppress_health_check=list(HealthCheck))
                def check(case) -> None:
                    case.call_and_validate()

                try:
                    check()
                except Unsatisfiable:
                    if mode is not GenerationMode.NEGATIVE:
                        raise


def test_notify_keeps_its_schema_under_generated_input(app):
    _run(app, KNOWN_GAPS, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE))


@pytest.mark.xfail(
    strict=True,
    reason="notify's schema does not describe its answers: `email` lacks format: email and "
    "regions/topics their enums (schema-valid requests get 422); a refused form post is 400 "
    "(undocumented); problem+json and HTML answers are not in the schema's content types",
)
def test_notify_passes_every_schemathesis_check(app):
    _run(app, None, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE))
