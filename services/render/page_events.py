"""Applying one page event: the page's own file, or the whole site when the footer changed.

Every page's footer links the static pages, so a page that is new, deleted or renamed changes
every file of the site: that event renders the site as `newsroom rebuild` does (from the
database's current state, so the result is the same file for file). A change of a page's
text alone rewrites that page's file.
"""

from __future__ import annotations

from pathlib import Path

from services.render import locks, queries
from services.render.output import RenderReport, SiteOutput
from services.render.rebuild import rebuild
from services.render.renderer import Renderer, site_of
from shared.db import session_scope, utcnow
from shared.events import parse_page_event


def footer_changed(*, previous_title: str | None, deleted: bool, title: str | None) -> bool:
    """Whether the footer's links differ from before the event (`title`: the page's now)."""
    return deleted or previous_title is None or title is None or title != previous_title


def render_page_event(*, event: dict, site_dir: Path) -> RenderReport:
    """Render what a `page.updated` event changed; idempotent (it reads current state)."""
    parsed = parse_page_event(event)
    with session_scope() as session:
        page = queries.static_page(session, parsed.slug)
        title = page.title if page is not None else None
        if not footer_changed(
            previous_title=parsed.previous_title, deleted=parsed.deleted, title=title
        ):
            with locks.serialized(session):
                renderer = Renderer(session, site_of(session), SiteOutput(site_dir), utcnow())
                renderer.render_static_page(parsed.slug)
                return renderer.output.report
    return rebuild(site_dir=site_dir)


__all__ = ["footer_changed", "render_page_event"]
