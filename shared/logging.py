"""Structured logs: one JSON object a line, carrying the request id and the event id in scope.

A request id comes from `X-Request-ID` (nginx sets one) or is made here, and is answered back;
the ingest service logs it next to the id of the event it records, and every Celery task logs
the `event_id` of the event it handles, so one item can be followed from POST to page and mail.
JSON output is switched on with NEWSROOM_LOG_FORMAT=json (docker-compose.yml does). No log
line carries a query string: subscription links put their tokens there.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import traceback
import uuid
from datetime import UTC, datetime
from typing import Any

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
event_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("event_id", default=None)
task_name: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_name", default=None)

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Attributes every LogRecord has; anything else was passed with `extra=` and is logged too.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class ContextFilter(logging.Filter):
    """Copies the request id, event id and task name in scope onto every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("request_id", request_id), ("event_id", event_id), ("task", task_name)):
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, context and any `extra` fields."""

    def __init__(self, *args: Any, service: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.service = service or _settings().service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.service:
            entry["service"] = self.service
        for key, value in vars(record).items():
            if key not in _STANDARD and value is not None and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(*, level: str | None = None, json_output: bool | None = None) -> None:
    """Send the root logger to standard output, as JSON lines when asked."""
    settings = _settings()
    level = level or settings.log_level
    if json_output is None:
        json_output = settings.log_format == "json"
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(ContextFilter())
    handler.addFilter(DropQueryString())
    handler.setFormatter(
        JsonFormatter()
        if json_output
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(event_id)s] %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def _settings() -> Any:
    from shared.config import get_settings

    return get_settings()


class DropQueryString(logging.Filter):
    """Cuts the query string off the path in uvicorn's access log lines (tokens live there)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn.access formats (client, method, path with query, HTTP version, status).
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            path = str(args[2]).split("?", 1)[0]
            record.args = (args[0], args[1], path, args[3], args[4])
        return True


def drop_query_strings() -> None:
    """Keep query strings out of uvicorn's access log, whatever handler prints it."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, DropQueryString) for f in access.filters):
        access.addFilter(DropQueryString())


# --- HTTP: request id middleware ----------------------------------------------------------


class RequestContextMiddleware:
    """ASGI middleware: take or make `X-Request-ID`, keep it in scope, answer it, log it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.log = logging.getLogger("newsroom.http")

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", rid.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            from shared import metrics

            metrics.observe_request(scope["method"], template, status, duration)
            # The path without its query: subscription links carry tokens.
            self.log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(duration * 1000, 1),
                },
            )
            request_id.reset(token)


def install(app: Any) -> None:
    """Add request ids, request logs and request metrics to a FastAPI app."""
    from shared import metrics

    app.add_middleware(RequestContextMiddleware)
    metrics.register_database_collector()
    drop_query_strings()
    if _settings().log_format == "json":
        configure()


# --- Celery: event id of the task in scope ------------------------------------------------


def _event_id_of(kwargs: dict | None) -> str | None:
    event = (kwargs or {}).get("event")
    if isinstance(event, dict):
        return event.get("event_id")
    return (kwargs or {}).get("newsletter")


def connect_celery_signals() -> None:
    """Keep the handled event's id in scope of each task; JSON logs for workers and beat."""
    from celery import signals

    @signals.task_prerun.connect(weak=False)
    def _enter(task_id=None, task=None, kwargs=None, **_: Any) -> None:
        event_id.set(_event_id_of(kwargs))
        task_name.set(getattr(task, "name", None))

    @signals.task_postrun.connect(weak=False)
    def _leave(**_: Any) -> None:
        event_id.set(None)
        task_name.set(None)

    if _settings().log_format == "json":
        # Connecting a receiver tells Celery not to install its own log handlers.
        @signals.setup_logging.connect(weak=False)
        def _setup(loglevel=None, **_: Any) -> None:
            configure()
