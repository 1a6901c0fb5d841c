"""Property-based run of schemathesis against the ingest service's own OpenAPI schema."""

from __future__ import annotations

import os
import uuid

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation

from services.ingest import api, deps
from shared.ratelimit import RateLimiter
from tests.integration.test_ingest_api import ITEM, auth, make_token
from tests.media_samples import encode, marked, pdf

# Per operation and mode; raise it (INGEST_FUZZ_EXAMPLES=500 INGEST_FUZZ_RANDOM=1) to explore.
EXAMPLES = int(os.environ.get("INGEST_FUZZ_EXAMPLES", "25"))
DERANDOMIZE = not os.environ.get("INGEST_FUZZ_RANDOM")
UPLOAD = encode(marked(48, 32), "PNG")
# 428 Precondition Required is the answer RFC 6585 gives for a missing If-Match; a well-formed
# If-Match naming another version of the item is a valid request whose precondition fails
# (412, which the schema lists).
CONFIG = SchemathesisConfig.from_str(
    """
[checks.missing_required_header]
expected-statuses = [400, 401, 403, 406, 415, 422, 428]

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", 401, 403, 404, 409, 412, 429, "5xx"]
"""
)


@pytest.fixture
def app(db, monkeypatch):
    monkeypatch.setattr(deps, "limiter", RateLimiter(rate=1000, burst=100_000))
    return api.create_app()


def _uploaded_media(body: dict, stored: dict[str, str]) -> None:
    """Name stored media where a valid body names any: an id no upload gave is refused by
    design (422), which no schema can express."""
    image = body.get("image")
    if isinstance(image, dict) and "media_id" in image:
        image["media_id"] = stored["image"]
    for attachment in body.get("attachments") or ():
        if isinstance(attachment, dict) and "media_id" in attachment:
            attachment["media_id"] = stored["document"]


STORED: dict[str, str] = {}


def run(operation, mode, auth_headers, **fixed) -> None:
    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=DERANDOMIZE,  # the same cases every run: a failure here is never a fluke
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        if mode is GenerationMode.POSITIVE and case.headers and "Idempotency-Key" in case.headers:
            # A key reused with another body is refused by design (422), which no schema can
            # express; a fresh key per case keeps "valid data is accepted" meaningful.
            case.headers["Idempotency-Key"] = uuid.uuid4().hex
        components = case.meta.components if case.meta else {}
        body = components.get(ParameterLocation.BODY)
        if body and body.mode is GenerationMode.POSITIVE and isinstance(case.body, dict):
            # An upload is judged by its content (an image or a document, from its bytes),
            # which no schema can express: a valid body sends a real image.
            if "file" in case.body:
                case.body["file"] = UPLOAD
            _uploaded_media(case.body, STORED)
        # A case with broken headers is sent exactly as generated: it may lack the token on
        # purpose (and must then meet a 401). Every other case carries a valid token.
        headers_broken = any(
            location.value == "header" and info.mode is GenerationMode.NEGATIVE
            for location, info in components.items()
        )
        case.call_and_validate(headers=None if headers_broken else auth_headers)

    try:
        check()
    except Unsatisfiable:
        # An operation without parameters or body (GET /api/v1/regions) has no invalid input.
        if mode is not GenerationMode.NEGATIVE:
            raise


def test_the_api_keeps_its_schema_under_generated_input(app):
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, config=CONFIG)
    headers = auth(make_token(name="Schema", region="nationella-kansliet", role="editor"))
    client = TestClient(app)

    def new_item() -> str:
        return client.post("/api/v1/items", json=ITEM, headers=headers).json()["id"]

    new_item()
    new_item()
    for kind, name, data in (("image", "bild.png", UPLOAD), ("document", "rapport.pdf", pdf())):
        answer = client.post("/api/v1/media", files={"file": (name, data)}, headers=headers)
        STORED[kind] = answer.json()["id"]
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run(operation, mode, headers)
            if "{item_id}" in operation.path:
                # An existing item of its own (DELETE withdraws it): once with a generated
                # If-Match (stale, or malformed in the negative mode), once with "*" (any
                # version), so that the writes themselves are reached too.
                existing = {"path_parameters": {"item_id": new_item()}}
                run(operation, mode, headers, **existing)
                if operation.method.upper() in ("PUT", "DELETE"):
                    existing = {"path_parameters": {"item_id": new_item()}}
                    run(operation, mode, headers, **existing, headers={"If-Match": "*"})
