"""Redaktionen's pages in ingest: its templates over the shared layout (shared/redaktion/)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment

from shared.redaktion.web import (
    CSP,
    PAGE_HEADERS,
    PREFIX,
    absolute,
    csrf_field,
    iso,
    local_time,
    make_environment,
    redirect,
    render,
    static_file,
    static_url,
    wants_json,
)

HERE = Path(__file__).parent


@lru_cache(maxsize=1)
def environment() -> Environment:
    return make_environment([HERE / "templates"])


def page(request: Request, template: str, **options: Any) -> HTMLResponse:
    """A page of Redaktionen with its security headers."""
    return render(environment(), request, template, **options)


__all__ = [
    "CSP",
    "PAGE_HEADERS",
    "PREFIX",
    "absolute",
    "csrf_field",
    "iso",
    "local_time",
    "page",
    "redirect",
    "static_file",
    "static_url",
    "wants_json",
]
