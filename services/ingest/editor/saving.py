"""Saving the item form through the ingest service's own functions, the API's rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.ingest import reviews, revisions, service
from services.ingest.editor import diffs, listing, web
from services.ingest.editor.forms import FIELD_IDS, FieldError, ItemForm
from services.ingest.permissions import is_editor
from shared import outbox
from shared.models import Contributor, Item
from shared.problems import Problem

STATUS_OF = {
    "spara": "draft",
    "granskning": "draft",
    "publicera": "published",
    "schemalagg": "published",
    "uppdatera": "published",
}


@dataclass
class Outcome:
    """What a save did: the item saved, or errors beside fields, or a conflict to show."""

    item: Item | None = None
    errors: list[FieldError] = field(default_factory=list)
    conflict: list[diffs.FieldDiff] | None = None
    status_code: int = 200


def when_for(
    action: str, form: ItemForm, item: Item | None, now: datetime
) -> tuple[datetime | None, list[FieldError]]:
    """The publication time an action asks for."""
    chosen, errors = form.published_at()
    if errors:
        return None, errors
    if action == "schemalagg":
        if chosen is None or chosen <= now:
            message = "Välj ett datum och en tid i framtiden för att schemalägga nyheten."
            return None, [FieldError("datum", message)]
        return chosen, []
    if action == "publicera":
        # Now, or an earlier date given on purpose; never later (that is "Schemalägg").
        return (chosen if chosen is not None and chosen <= now else now), []
    if chosen is None and item is not None:
        return item.published_at, []
    return chosen, []


def _kept(item: Item | None, user: Contributor) -> dict[str, Any]:
    """What the form does not show but a save must not lose (a PUT replaces everything)."""
    if item is None:
        return {"author": {"name": user.name}}
    kept: dict[str, Any] = {}
    if item.author_name:
        kept["author"] = {"name": item.author_name, "email": item.author_email}
    if item.image:
        kept["image"] = item.image
    if item.attachments:
        kept["attachments"] = list(item.attachments)
    return kept


def current_fields(item: Item, *, now: datetime) -> dict[str, list[str]]:
    word = listing.status_word(item, in_review=False, now=now)
    return diffs.version_fields(
        title=item.title,
        summary=item.summary,
        body=item.body_md,
        regions=list(item.regions),
        topics=list(item.topics),
        when=web.local_time(item.published_at),
        status=word,
    )


def form_fields(form: ItemForm, *, status: str) -> dict[str, list[str]]:
    chosen, _ = form.published_at()
    return diffs.version_fields(
        title=form.title,
        summary=form.summary,
        body=form.body,
        regions=form.regions,
        topics=form.topics,
        when=web.local_time(chosen) if chosen else "",
        status=status,
    )


def save(
    *,
    session: Session,
    user: Contributor,
    item: Item | None,
    form: ItemForm,
    action: str,
    now: datetime,
) -> Outcome:
    """Create or update the item as `action` says; commit only when everything succeeded."""
    published_at, errors = when_for(action, form, item, now)
    status = STATUS_OF[action]
    kept = _kept(item, user)
    data, field_errors = form.to_input(status=status, published_at=published_at, author=None)
    errors += field_errors
    if errors:
        return Outcome(errors=errors, status_code=422)
    data = data.model_copy(update={key: _model(key, value) for key, value in kept.items()})
    if item is not None and form.version != item.version:
        # Someone saved since this form was opened: show both, save nothing.
        mine = form_fields(form, status=listing.STATUSES.get(action, action))
        conflict = diffs.compare(current_fields(item, now=now), mine)
        return Outcome(conflict=conflict, status_code=409)
    try:
        saved = _write(session=session, user=user, item=item, data=data, action=action)
        session.commit()
    except Problem as problem:
        session.rollback()
        return Outcome(errors=problem_errors(problem), status_code=problem.status)
    outbox.wake()
    return Outcome(item=saved)


def unsaved(
    *, user: Contributor, item: Item | None, form: ItemForm, now: datetime
) -> tuple[Item | None, list[FieldError]]:
    """The item as saving the form would make it, published, but saved nowhere: what the
    preview and the test mail show; or the reasons the form cannot make one."""
    published_at, errors = when_for("spara", form, item, now)
    data, field_errors = form.to_input(status="published", published_at=published_at, author=None)
    errors += field_errors
    if errors:
        return None, errors
    data = data.model_copy(update={key: _model(key, v) for key, v in _kept(item, user).items()})
    return service.unsaved_item(data=data, contributor=user, item=item), []


def _model(key: str, value: Any) -> Any:
    from services.ingest.schemas import Attachment, Author, Image

    kinds = {"author": Author, "image": Image}
    if key in kinds:
        return kinds[key].model_validate(value)
    if key == "attachments":
        return [Attachment.model_validate(entry) for entry in value]
    return value


def _write(*, session: Session, user: Contributor, item: Item | None, data, action: str) -> Item:
    if item is None:
        try:
            item = service.create_item(session=session, contributor=user, data=data)
            session.flush()
        except IntegrityError:
            # Another item took the slug in the same moment: a random suffix cannot collide.
            session.rollback()
            item = service.create_item(
                session=session, contributor=user, data=data, slug_choice="random"
            )
    else:
        service.update_item(session=session, contributor=user, item=item, data=data)
    if action == "granskning":
        reviews.request_review(session=session, contributor=user, item=item)
    elif action in ("publicera", "schemalagg") and is_editor(user):
        reviews.decide(session=session, editor=user, item=item, outcome="published")
    return item


def problem_errors(problem: Problem) -> list[FieldError]:
    """A refusal of the service as messages beside the form's fields."""
    if not problem.errors:
        return [FieldError("rubrik", problem.detail)]
    found = []
    for error in problem.errors:
        field_id = FIELD_IDS.get(error.get("field", ""), "rubrik")
        found.append(FieldError(field_id, problem.detail))
    return found[:1]


def restore(
    *, session: Session, user: Contributor, item: Item, version: int, expected: int | None
) -> Outcome:
    """Save an old version's content as the newest version (status and time stay)."""
    old = revisions.revision(session=session, item_id=item.id, version=version)
    if old is None:
        return Outcome(errors=[FieldError("rubrik", "Versionen finns inte.")], status_code=404)
    if expected != item.version:
        return Outcome(
            errors=[FieldError("rubrik", "Nyheten har ändrats sedan du öppnade historiken.")],
            status_code=409,
        )
    from services.ingest.schemas import ItemIn

    data = ItemIn.model_validate(
        revisions.as_input(
            old,
            status="draft" if item.status == "draft" else "published",
            published_at=item.published_at.isoformat(timespec="seconds"),
        )
    )
    try:
        service.update_item(session=session, contributor=user, item=item, data=data)
        session.commit()
    except Problem as problem:
        session.rollback()
        return Outcome(errors=problem_errors(problem), status_code=problem.status)
    outbox.wake()
    return Outcome(item=item)


__all__ = ["Outcome", "current_fields", "form_fields", "restore", "save", "unsaved", "when_for"]
