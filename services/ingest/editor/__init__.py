"""Redaktionen (/redaktion/): the web editor, a third door, beside the API and `newsroom
post`, into the ingest service's rules."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.ingest.editor import access, web
from services.ingest.editor.routes_history import router as _history
from services.ingest.editor.routes_items import router as _items
from services.ingest.editor.routes_media import router as _media
from services.ingest.editor.routes_pages import router as _pages
from services.ingest.editor.routes_people import router as _people
from services.ingest.editor.routes_preview import router as _preview
from services.ingest.editor.routes_signin import router as _signin
from shared.redaktion import csrf

router = APIRouter(include_in_schema=False)
router.include_router(_signin)
router.include_router(_items)
router.include_router(_history)
router.include_router(_people)
router.include_router(_pages)
router.include_router(_preview)
router.include_router(_media)


@router.get(f"{web.PREFIX}/static/{{name}}")
def static(name: str):
    return web.static_file(name)


@router.get(web.PREFIX)
def root():
    return web.redirect(f"{web.PREFIX}/")


def install(app: Any) -> None:
    """Add Redaktionen to an app: its routes, its CSRF check and its error pages."""
    app.include_router(router)
    access.install(app)
    csrf.install(app)


__all__ = ["install", "router"]
