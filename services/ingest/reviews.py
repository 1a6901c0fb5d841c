"""Review before publication: who must send items for review, and the review requests."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.ingest.permissions import is_editor
from shared.db import utcnow
from shared.models import Contributor, Item, ItemReview
from shared.problems import Problem

OUTCOMES = ("published", "returned")


def check_may_publish(*, contributor: Contributor | None, status: str) -> None:
    """A contributor marked "granskas innan publicering" saves drafts only (403 otherwise)."""
    if contributor is not None and contributor.review_required and status != "draft":
        raise Problem(
            403,
            "Dina nyheter granskas innan publicering: spara som utkast och skicka för granskning.",
            errors=[{"field": "status", "message": "du kan bara skicka nyheten för granskning"}],
        )


def open_review(*, session: Session, item_id: uuid.UUID) -> ItemReview | None:
    """The item's review request that no editor has answered yet, or None."""
    query = (
        select(ItemReview)
        .where(ItemReview.item_id == item_id, ItemReview.decided_at.is_(None))
        .order_by(ItemReview.requested_at.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def latest_review(*, session: Session, item_id: uuid.UUID) -> ItemReview | None:
    """The item's most recent review request, answered or not."""
    query = (
        select(ItemReview)
        .where(ItemReview.item_id == item_id)
        .order_by(ItemReview.requested_at.desc(), ItemReview.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def request_review(*, session: Session, contributor: Contributor, item: Item) -> ItemReview:
    """Ask the editors to review a draft; asking again while one is open changes nothing."""
    if item.status != "draft":
        raise Problem(409, "Bara utkast kan skickas för granskning.")
    if not _may_change(contributor, item):
        raise Problem(403, "Du får bara skicka dina egna nyheter för granskning.")
    existing = open_review(session=session, item_id=item.id)
    if existing is not None:
        return existing
    review = ItemReview(item_id=item.id, requested_by=contributor.id, requested_at=utcnow())
    session.add(review)
    session.flush()
    return review


def decide(
    *,
    session: Session,
    editor: Contributor,
    item: Item,
    outcome: str,
    comment: str | None = None,
) -> ItemReview | None:
    """Close the item's open review as published or returned (with a comment); None if none."""
    if editor.role not in ("editor", "admin"):
        raise Problem(403, "Endast redaktörer granskar nyheter.")
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    review = open_review(session=session, item_id=item.id)
    if review is None:
        return None
    review.decided_by = editor.id
    review.decided_at = utcnow()
    review.outcome = outcome
    review.comment = comment
    session.flush()
    return review


def queue(*, session: Session, limit: int = 100) -> list[tuple[ItemReview, Item]]:
    """Open review requests, oldest first: the editors' queue."""
    query = (
        select(ItemReview, Item)
        .join(Item, Item.id == ItemReview.item_id)
        .where(ItemReview.decided_at.is_(None), Item.status == "draft")
        .order_by(ItemReview.requested_at)
        .limit(limit)
    )
    return [(review, item) for review, item in session.execute(query)]


def _may_change(contributor: Contributor, item: Item) -> bool:
    return is_editor(contributor) or item.contributor_id == contributor.id


__all__ = [
    "check_may_publish",
    "decide",
    "latest_review",
    "open_review",
    "queue",
    "request_review",
]
