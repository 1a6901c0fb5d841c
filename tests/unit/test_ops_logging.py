"""Structured logs: JSON lines with request and event ids; the request id middleware."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared import logging as shared_logging
from shared import metrics


def _format(record_logger: logging.Logger, message: str, **extra) -> dict:
    record = record_logger.makeRecord(
        record_logger.name, logging.INFO, __file__, 1, message, (), None, extra=extra
    )
    shared_logging.ContextFilter().filter(record)
    return json.loads(shared_logging.JsonFormatter(service="ingest").format(record))


def test_json_lines_carry_context_and_extra_fields():
    token = shared_logging.request_id.set("req-1")
    event = shared_logging.event_id.set("9b2e")
    try:
        entry = _format(
            logging.getLogger("newsroom.test"), "publicerad: Östergötland", item_id="abc"
        )
    finally:
        shared_logging.request_id.reset(token)
        shared_logging.event_id.reset(event)
    assert entry["message"] == "publicerad: Östergötland"
    assert entry["request_id"] == "req-1" and entry["event_id"] == "9b2e"
    assert entry["item_id"] == "abc" and entry["service"] == "ingest"
    assert entry["level"] == "INFO" and entry["time"].endswith("+00:00")


def test_exceptions_are_one_json_line():
    try:
        raise ValueError("trasig")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "fel", (), __import__("sys").exc_info()
        )
    line = shared_logging.JsonFormatter().format(record)
    assert "\n" not in line and "ValueError: trasig" in json.loads(line)["exception"]


def _app() -> FastAPI:
    app = FastAPI()
    shared_logging.install(app)

    @app.get("/x/{n}")
    def echo(n: int) -> dict:
        return {"request_id": shared_logging.request_id.get()}

    return app


def test_request_id_is_taken_or_made_and_answered():
    client = TestClient(_app())
    given = client.get("/x/1", headers={"X-Request-ID": "from-nginx-42"})
    assert given.headers["x-request-id"] == "from-nginx-42"
    assert given.json()["request_id"] == "from-nginx-42"
    made = client.get("/x/2", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32
    assert made.json()["request_id"] == made.headers["x-request-id"]


def test_requests_are_counted_by_route_template():
    before = metrics.HTTP_REQUESTS.labels("GET", "/x/{n}", "200")._value.get()
    TestClient(_app()).get("/x/7")
    assert metrics.HTTP_REQUESTS.labels("GET", "/x/{n}", "200")._value.get() == before + 1


def test_task_context_names_the_event():
    assert shared_logging._event_id_of({"event": {"event_id": "e-1"}}) == "e-1"
    assert shared_logging._event_id_of({"newsletter": "item:1"}) == "item:1"
    assert shared_logging._event_id_of(None) is None
