"""Notify's pages in Redaktionen, for the data notify owns: /redaktion/prenumeranter/
(admins) and /redaktion/nyhetsbrev/ (editors). Signed in, checked and laid out as the rest of
Redaktionen through shared/redaktion/; nginx sends these two paths to notify."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.notify.admin import metrics
from services.notify.admin.routes_newsletters import router as _newsletters
from services.notify.admin.routes_subscribers import router as _subscribers
from shared.redaktion import access

router = APIRouter(include_in_schema=False)
router.include_router(_subscribers)
router.include_router(_newsletters)


def install(app: Any) -> None:
    """Add the pages, the sign-in and permission answers and the gauges to an app; the CSRF
    check is the app's (`shared.redaktion.csrf.install`, once per app)."""
    app.include_router(router)
    access.install(app)
    metrics.register()


__all__ = ["install", "router"]
