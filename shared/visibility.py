"""When an item is public: one rule, as a Python predicate and as the matching SQL condition."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import ColumnElement, and_

from shared.models import Item


class Placed(Protocol):
    status: str
    published_at: datetime


def is_visible(item: Placed, *, now: datetime) -> bool:
    """Readers see an item once it is published and its time has come (an item or its place)."""
    return item.status == "published" and item.published_at <= now


def visible(now: datetime) -> ColumnElement[bool]:
    """`is_visible` as a SQL condition on `items`."""
    return and_(Item.status == "published", Item.published_at <= now)


__all__ = ["is_visible", "visible"]
