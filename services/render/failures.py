"""One item must never stop the site: what render does with an item it cannot render."""

from __future__ import annotations

import logging
import uuid

from prometheus_client import Counter
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

# Alert on any increase: an item is missing from the site until its data is corrected.
ITEMS_LEFT_OUT = Counter(
    "newsroom_render_items_left_out_total",
    "Items left out of a page or feed because render could not render them.",
    ["what"],  # item_page, listing or feed
)

# Failures of the machine, not of one item's data: these stop the render, which is retried.
ENVIRONMENT = (OSError, SQLAlchemyError, MemoryError)


def is_data_fault(error: Exception) -> bool:
    """True when an error rendering one item comes from that item's data, not the machine."""
    return not isinstance(error, ENVIRONMENT)


def left_out(item_id: uuid.UUID, what: str, error: Exception) -> None:
    """Log and count an item left out of an item page, a listing or a feed."""
    ITEMS_LEFT_OUT.labels(what).inc()
    log.error("render: item %s left out of a %s: %r", item_id, what.replace("_", " "), error)
