"""The embedded mode sends the security headers nginx sends (deploy/nginx.conf), keeps the
app's own, and shows /metrics to the addresses NEWSROOM_METRICS_FROM names only."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from deploy import stack
from newsroom.headers import MetricsFrom, SecurityHeaders, security_headers
from shared import ops
from shared.config import get_settings

CONF = (stack.ROOT / "deploy" / "nginx.conf").read_text()
PATHS = ["/", "/aktuellt/", "/prenumeration/installningar", "/api/docs", "/api/notify/docs/x"]


def _nginx_headers(path: str) -> dict[str, str]:
    """What nginx.conf adds for `path` when the upstream sent none: its maps, resolved."""
    csp_map = re.search(r"map \$uri \$newsroom_csp \{(.*?)\n\}", CONF, re.S)[1]
    csp = None
    default = None
    for key, value in re.findall(r'^\s*(\S+)\s+"([^"]*)";', csp_map, re.M):
        if key == "default":
            default = value
        elif csp is None and re.search(key.removeprefix("~"), path):
            csp = value
    headers = {"Content-Security-Policy": csp or default}
    for name, variable in re.findall(r"add_header ([\w-]+) \$(\w+) always;", CONF):
        if name == "Content-Security-Policy":
            continue
        values = re.search(rf"map \$\S+ \${variable} \{{\s*\"\"\s+\"([^\"]*)\";", CONF)
        headers[name] = values[1]
    return headers


@pytest.mark.parametrize("path", PATHS)
def test_embedded_headers_equal_nginx(path):
    assert security_headers(path) == _nginx_headers(path)


def _app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(MetricsFrom)
    app.add_middleware(SecurityHeaders)
    app.include_router(ops.router)

    @app.get("/prenumeration/installningar")
    def token_page() -> HTMLResponse:
        return HTMLResponse(
            "<p>x</p>", headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
        )

    @app.get("/")
    def front() -> HTMLResponse:
        return HTMLResponse("<p>x</p>")

    return app


def test_every_answer_carries_them_and_a_token_page_keeps_its_own():
    client = TestClient(_app(), client=("127.0.0.1", 5000))
    front = client.get("/")
    assert front.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in front.headers["content-security-policy"]
    assert front.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert client.get("/finns-inte").headers["x-frame-options"] == "DENY"
    token = client.get("/prenumeration/installningar")
    assert token.headers.get_list("referrer-policy") == ["no-referrer"]
    assert token.headers["cache-control"] == "no-store"


def test_metrics_only_from_loopback_unless_configured(monkeypatch):
    assert TestClient(_app(), client=("127.0.0.1", 5000)).get("/metrics").status_code == 200
    outside = TestClient(_app(), client=("203.0.113.9", 5000)).get("/metrics")
    assert outside.status_code == 404 and "newsroom_" not in outside.text
    monkeypatch.setenv("NEWSROOM_METRICS_FROM", "203.0.113.0/24")
    get_settings.cache_clear()
    assert TestClient(_app(), client=("203.0.113.9", 5000)).get("/metrics").status_code == 200
    assert TestClient(_app(), client=("198.51.100.1", 5000)).get("/metrics").status_code == 404
