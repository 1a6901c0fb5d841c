"""What Redaktionen lists: a person's items (editors: everyone's) with their status as a word."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from services.ingest.permissions import is_editor
from shared.models import Contributor, Item, ItemReview

PAGE_SIZE = 50
# status filter in the URL -> the word shown
STATUSES = {
    "utkast": "utkast",
    "granskning": "för granskning",
    "schemalagd": "schemalagd",
    "publicerad": "publicerad",
    "aterkallad": "återkallad",
}


def _in_review():
    return exists(
        select(ItemReview.id).where(ItemReview.item_id == Item.id, ItemReview.decided_at.is_(None))
    )


def status_key(item: Item, *, in_review: bool, now: datetime) -> str:
    """The item's status as the key of STATUSES."""
    if item.status == "withdrawn":
        return "aterkallad"
    if item.status == "draft":
        return "granskning" if in_review else "utkast"
    return "schemalagd" if item.published_at > now else "publicerad"


def status_word(item: Item, *, in_review: bool, now: datetime) -> str:
    return STATUSES[status_key(item, in_review=in_review, now=now)]


@dataclass(frozen=True)
class Row:
    item: Item
    author: str | None
    status: str  # key of STATUSES

    @property
    def word(self) -> str:
        return STATUSES[self.status]


def items(
    *,
    session: Session,
    contributor: Contributor,
    status: str | None,
    everyone: bool,
    page: int,
    now: datetime,
) -> tuple[list[Row], bool]:
    """One page of items, most recently changed first; and whether there are more."""
    review = _in_review()
    query = select(Item, Contributor.name, review.label("in_review")).outerjoin(
        Contributor, Contributor.id == Item.contributor_id
    )
    if not (everyone and is_editor(contributor)):
        query = query.where(Item.contributor_id == contributor.id)
    conditions = {
        "utkast": and_(Item.status == "draft", ~review),
        "granskning": and_(Item.status == "draft", review),
        "schemalagd": and_(Item.status == "published", Item.published_at > now),
        "publicerad": and_(Item.status == "published", Item.published_at <= now),
        "aterkallad": Item.status == "withdrawn",
    }
    if status in conditions:
        query = query.where(conditions[status])
    query = (
        query.order_by(Item.updated_at.desc(), Item.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    rows = [
        Row(item=item, author=name, status=status_key(item, in_review=in_review, now=now))
        for item, name, in_review in session.execute(query)
    ]
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def in_review(*, session: Session, item: Item) -> bool:
    return bool(session.scalar(select(_in_review_of(item))))


def _in_review_of(item: Item):
    return exists(
        select(ItemReview.id).where(ItemReview.item_id == item.id, ItemReview.decided_at.is_(None))
    )


__all__ = ["PAGE_SIZE", "STATUSES", "Row", "items", "status_key", "status_word"]
