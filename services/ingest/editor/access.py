"""Who is signed in to Redaktionen (shared/redaktion/access.py), with ingest's session, and
which items a person may work on."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from services.ingest import reading
from services.ingest.deps import get_session
from shared.models import Contributor, Item
from shared.problems import Problem
from shared.redaktion.access import (
    NotAllowed,
    SignInRequired,
    install,
    require_admin,
    require_editor,
    signed_in,
)

DbSession = Annotated[Session, Depends(get_session)]


def current_user(request: Request, session: DbSession) -> Contributor:
    """The contributor of the browser's session; SignInRequired when there is none."""
    return signed_in(request, session)


User = Annotated[Contributor, Depends(current_user)]


def own_item(*, session: Session, user: Contributor, item_id: uuid.UUID) -> Item:
    """An item the person may work on: their own, or any for an editor; else a 404 page."""
    try:
        item = reading.get_item(session=session, contributor=user, item_id=item_id)
    except Problem:
        item = None
    if item is None or (user.role not in ("editor", "admin") and item.contributor_id != user.id):
        raise NotAllowed("Nyheten finns inte, eller så är den inte din.", status=404)
    return item


__all__ = [
    "DbSession",
    "NotAllowed",
    "SignInRequired",
    "User",
    "current_user",
    "install",
    "own_item",
    "require_admin",
    "require_editor",
]
