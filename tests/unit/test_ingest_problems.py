"""Errors the database layer raises become problem+json answers the client can act on."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from shared import problems


@pytest.mark.parametrize(
    "error",
    [
        PoolTimeoutError("QueuePool limit of size 5 overflow 10 reached"),
        OperationalError("SELECT 1", {}, Exception("connection refused")),
    ],
)
def test_database_unavailable_or_saturated_is_503_with_retry_after(error):
    app = FastAPI()
    problems.install(app)

    @app.get("/boom")
    def boom() -> None:
        raise error

    answer = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == problems.PROBLEM_JSON
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["status"] == 503
