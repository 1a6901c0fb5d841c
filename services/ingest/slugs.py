"""Where an item lives: its month (local time) and a slug unique within that month."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from slugify import slugify
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.db import is_postgres
from shared.models import Item

FALLBACK_SLUG = "nyhet"

# How `unique_slug` picks: "unchecked" takes the base without looking (most titles are new,
# and a taken slug fails on the unique constraint, after which the caller tries again: two
# queries saved in the common case); "free" looks for the first free suffix; "random" adds a
# random suffix, which no concurrent writer can take too (a retry after losing races).
SlugChoice = Literal["unchecked", "free", "random"]


def make_slug(title: str) -> str:
    """The URL slug of a title: lower-case ASCII words joined by hyphens."""
    # An explicit backend: "auto" tries to import Unidecode on every call before falling back
    # to text-unidecode, and would change the slugs if Unidecode were ever installed.
    return (
        slugify(title, max_length=80, word_boundary=True, backend="text-unidecode") or FALLBACK_SLUG
    )


def month_of(published_at: datetime) -> str:
    """ "YYYY-MM" of a time in the site's time zone, the month that holds the item's URL."""
    return published_at.astimezone(ZoneInfo(get_settings().timezone)).strftime("%Y-%m")


def unique_slug(
    *,
    session: Session,
    base: str,
    month: str,
    item_id: uuid.UUID | None = None,
    choice: SlugChoice = "free",
) -> str:
    """`base`, or `base-2`, `base-3`, … whichever is still free in `month` (see SlugChoice)."""
    if choice == "unchecked":
        return base
    if choice == "random":
        return f"{base}-{secrets.token_hex(3)}"
    if is_postgres(session):
        # Writers of the same slug in the same month queue here until the first commits, so
        # the next one sees its slug taken instead of failing on the unique constraint.
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"{month}/{base}"))))
    query = select(Item.slug).where(
        Item.month == month, or_(Item.slug == base, Item.slug.startswith(base + "-"))
    )
    if item_id is not None:
        query = query.where(Item.id != item_id)
    taken = set(session.scalars(query))
    if base not in taken:
        return base
    suffix = 2
    while f"{base}-{suffix}" in taken:
        suffix += 1
    return f"{base}-{suffix}"


__all__ = ["SlugChoice", "make_slug", "month_of", "unique_slug"]
