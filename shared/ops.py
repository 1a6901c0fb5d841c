"""Health, readiness and metrics endpoints, the same on every HTTP service (both APIs and the
embedded app include `router`)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from shared.celery_app import celery_app
from shared.db import get_engine
from shared.problems import problem_response


def make_router(*, broker: bool = True) -> APIRouter:
    """/healthz, /readyz and /metrics; readiness checks the database, and the broker unless
    the service queues nothing (search)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @router.get("/readyz")
    def readyz() -> Response:
        """What the service needs answers; 503 problem+json naming what does not."""
        failing = []
        try:
            with get_engine().connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # any driver error means "not ready"
            failing.append({"field": "database", "message": type(exc).__name__})
        if broker:
            try:
                with celery_app.connection_for_write() as connection:
                    connection.ensure_connection(max_retries=1, timeout=2)
            except Exception as exc:
                failing.append({"field": "broker", "message": type(exc).__name__})
        if failing:
            return problem_response(
                503, "Tjänsten är inte redo.", errors=failing, headers={"Retry-After": "5"}
            )
        body = '{"status":"ready","database":"ok"' + (',"broker":"ok"}' if broker else "}")
        return Response(body, media_type="application/json")

    @router.get("/metrics")
    def metrics() -> Response:
        """Prometheus metrics of this process."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


router = make_router()
