"""/api/docs without internet: Swagger UI's files come from the app itself, in every mode."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient


def _apps():
    from newsroom.embedded import create_app as embedded
    from services.ingest.api import create_app as ingest
    from services.notify.api import create_app as notify
    from services.search.api import create_app as search

    return [
        (ingest(), "/api/docs", "/api/openapi.json"),
        (notify(), "/api/notify/docs", "/api/notify/openapi.json"),
        (search(), "/api/search/docs", "/api/search/openapi.json"),
        (embedded(with_workers=False), "/api/docs", "/api/openapi.json"),
    ]


@pytest.mark.parametrize("index", range(4))
def test_docs_page_and_its_assets_come_from_the_app(index, site_dir):
    app, docs, openapi = _apps()[index]
    client = TestClient(app)
    page = client.get(docs)
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(source.startswith(docs + "/") for source in sources), sources
    assert "<script>" not in page.text  # no inline script: the CSP allows 'self' only
    assert f'data-openapi-url="{openapi}"' in page.text
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        if source.endswith(".js"):
            assert asset.headers["content-type"].startswith("text/javascript")
    bundle = client.get(f"{docs}/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle
    # Swagger UI 5 renders the OpenAPI 3.1 schemas FastAPI writes (4.x shows an error).
    assert client.get(openapi).json()["openapi"].startswith("3.1")
    assert client.get(f"{docs}/nothing.js").status_code == 404
