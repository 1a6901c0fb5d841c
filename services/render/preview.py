"""The page of an item not yet saved, or not yet public, exactly as readers will see it: the
same templates and neighbours as the site's page, returned to Redaktionen, written nowhere."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from services.render import queries, views
from services.render.views import Site
from shared import media
from shared.config import get_settings
from shared.previews import item_from_payload


def preview_page(*, session: Session, data: dict, now: datetime) -> str:
    """The item page of `data` (shared.previews.item_payload) among today's visible items."""
    item = item_from_payload(data)
    site = Site.from_settings(get_settings())
    position = (item.published_at, item.id)
    # The item itself is excluded: a saved item's row may be visible under its old content.
    newer = queries.newer(session, position, now=now)
    older = queries.older(session, position, now=now)
    newer = None if newer is not None and newer.id == item.id else newer
    older = None if older is not None and older.id == item.id else older
    media.load_for(session, [item])  # its image and documents, as the site's page shows them
    return views.render_item(site, item, newer=newer, older=older).decode()
