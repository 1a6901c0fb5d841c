"""An item's history (who saved what, when), the changes of each version, "Återställ";
and an editor returning an item from review with a comment."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from services.ingest import reviews, revisions
from services.ingest.editor import diffs, listing, mailer, saving, web
from services.ingest.editor.access import DbSession, NotAllowed, User, own_item, require_editor
from services.ingest.editor.forms import FieldError
from shared.db import utcnow
from shared.models import Contributor, ItemRevision

router = APIRouter(include_in_schema=False)
NEWS = f"{web.PREFIX}/nyheter"
Version = Annotated[int, Path(ge=1, le=1_000_000)]


def _fields(revision: ItemRevision | None) -> dict[str, list[str]]:
    if revision is None:
        return {}
    return diffs.version_fields(
        title=revision.title,
        summary=revision.summary,
        body=revision.body_md,
        regions=list(revision.regions),
        topics=list(revision.topics),
        when=web.local_time(revision.published_at),
        status=_word(revision),
    )


def _word(revision: ItemRevision) -> str:
    now = utcnow()
    return listing.status_word(revision, in_review=False, now=now)


def _names(session: Session, history: list[ItemRevision]) -> dict[int, str]:
    ids = {revision.contributor_id for revision in history if revision.contributor_id}
    if not ids:
        return {}
    rows = session.query(Contributor.id, Contributor.name).filter(Contributor.id.in_(ids))
    return {row.id: row.name for row in rows}


@router.get(NEWS + "/{item_id}/historik")
def history(request: Request, item_id: uuid.UUID, session: DbSession, user: User) -> Response:
    item = own_item(session=session, user=user, item_id=item_id)
    saved = revisions.history(session=session, item_id=item.id)
    return web.page(
        request,
        "history.html",
        user=user,
        item=item,
        history=saved,
        names=_names(session, saved),
        word=_word,
    )


@router.get(NEWS + "/{item_id}/historik/{version}")
def version_page(
    request: Request, item_id: uuid.UUID, version: Version, session: DbSession, user: User
) -> Response:
    item = own_item(session=session, user=user, item_id=item_id)
    return _version_page(request, session, user, item, version)


def _version_page(request, session, user, item, version, errors=None, status_code=200):
    revision = revisions.revision(session=session, item_id=item.id, version=version)
    if revision is None:
        raise NotAllowed("Versionen finns inte.", status=404)
    previous = revisions.revision(session=session, item_id=item.id, version=version - 1)
    return web.page(
        request,
        "version.html",
        status_code=status_code,
        user=user,
        item=item,
        revision=revision,
        previous=previous,
        changes=diffs.compare(_fields(previous), _fields(revision)),
        names=_names(session, [revision]),
        errors=errors or [],
        current=version == item.version,
    )


@router.post(NEWS + "/{item_id}/historik/{version}/aterstall")
def restore(
    request: Request,
    item_id: uuid.UUID,
    version: Version,
    session: DbSession,
    user: User,
    nuvarande: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    item = own_item(session=session, user=user, item_id=item_id)
    expected = int(nuvarande) if nuvarande.isdigit() else None
    outcome = saving.restore(
        session=session, user=user, item=item, version=version, expected=expected
    )
    if outcome.item is None:
        errors = [FieldError("aterstall", error.message) for error in outcome.errors]
        return _version_page(
            request,
            session,
            user,
            item,
            version,
            errors=errors,
            status_code=outcome.status_code,
        )
    return web.redirect(f"{NEWS}/{item.id}?sparad=aterstalld")


@router.get(NEWS + "/{item_id}/skicka-tillbaka")
def return_page(request: Request, item_id: uuid.UUID, session: DbSession, user: User) -> Response:
    require_editor(user)
    item = own_item(session=session, user=user, item_id=item_id)
    return web.page(request, "return.html", user=user, item=item, comment="")


@router.post(NEWS + "/{item_id}/skicka-tillbaka")
def return_item(
    request: Request,
    item_id: uuid.UUID,
    session: DbSession,
    user: User,
    kommentar: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    require_editor(user)
    item = own_item(session=session, user=user, item_id=item_id)
    comment = kommentar.replace("\r\n", "\n").strip()
    if not comment:
        error = FieldError("kommentar", "Skriv vad skribenten behöver ändra.")
        return web.page(
            request,
            "return.html",
            status_code=422,
            user=user,
            item=item,
            comment=kommentar,
            errors=[error],
        )
    review = reviews.decide(
        session=session, editor=user, item=item, outcome="returned", comment=comment
    )
    if review is None:
        error = FieldError("kommentar", "Nyheten väntar inte på granskning längre.")
        return web.page(
            request,
            "return.html",
            status_code=409,
            user=user,
            item=item,
            comment=kommentar,
            errors=[error],
        )
    author = session.get(Contributor, review.requested_by) if review.requested_by else None
    title = item.title
    session.commit()
    if author is not None and author.email:
        mailer.send(
            kind="review_returned",
            to=author.email,
            context={
                "title": title,
                "comment": comment,
                "editor": user.name,
                "link": web.absolute(f"{NEWS}/{item.id}"),
            },
        )
    return web.redirect(f"{NEWS}/{item.id}?sparad=aterskickad")


__all__ = ["router"]
