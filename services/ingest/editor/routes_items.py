"""Mina nyheter, the review queue, and writing: new item, edit, save, autosave, withdraw."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from services.ingest import reading, reviews, service
from services.ingest.editor import itempage, listing, previews, saving, web
from services.ingest.editor.access import DbSession, User, own_item, require_editor
from services.ingest.editor.forms import ACTIONS, FieldError, ItemForm
from services.ingest.permissions import is_editor
from shared import outbox
from shared.db import utcnow
from shared.problems import Problem

router = APIRouter(include_in_schema=False)
NEWS = f"{web.PREFIX}/nyheter"


@router.get(f"{web.PREFIX}/")
def my_items(
    request: Request,
    session: DbSession,
    user: User,
    status: Annotated[str | None, Query(max_length=20)] = None,
    vem: Annotated[str | None, Query(max_length=10)] = None,
    sida: Annotated[int, Query(ge=1, le=10_000)] = 1,
    sparad: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    status = status if status in listing.STATUSES else None
    everyone = vem == "alla" and is_editor(user)
    rows, more = listing.items(
        session=session,
        contributor=user,
        status=status,
        everyone=everyone,
        page=sida,
        now=utcnow(),
    )
    return web.page(
        request,
        "list.html",
        user=user,
        rows=rows,
        more=more,
        page_number=sida,
        status=status,
        everyone=everyone,
        statuses=listing.STATUSES,
        is_editor=is_editor(user),
        notice=itempage.SAVED.get(sparad or ""),
    )


@router.get(f"{web.PREFIX}/granskning/")
def review_queue(request: Request, session: DbSession, user: User) -> Response:
    require_editor(user)
    waiting = reviews.queue(session=session)
    names = reading.contributor_names(session=session, items=[item for _, item in waiting])
    return web.page(request, "queue.html", user=user, waiting=waiting, names=names)


@router.get(f"{NEWS}/ny")
def new_item(request: Request, session: DbSession, user: User) -> Response:
    return itempage.render(
        request, session=session, user=user, item=None, form=ItemForm.new(user), now=utcnow()
    )


@router.post(f"{NEWS}/ny")
async def create_item(request: Request, session: DbSession, user: User) -> Response:
    return await _save(request, session, user, None)


@router.get(NEWS + "/{item_id}")
def edit_item(
    request: Request,
    item_id: uuid.UUID,
    session: DbSession,
    user: User,
    sparad: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    item = own_item(session=session, user=user, item_id=item_id)
    return itempage.render(
        request,
        session=session,
        user=user,
        item=item,
        form=ItemForm.from_item(item),
        now=utcnow(),
        notice=itempage.SAVED.get(sparad or ""),
    )


@router.post(NEWS + "/{item_id}")
async def update_item(
    request: Request, item_id: uuid.UUID, session: DbSession, user: User
) -> Response:
    return await _save(request, session, user, item_id)


async def _save(request: Request, session, user, item_id: uuid.UUID | None) -> Response:
    raw = await request.form()
    form = ItemForm.from_form(raw)
    action = str(raw.get("atgard") or "spara")
    action = action if action in ACTIONS else "spara"
    return await _run(request, _save_sync, session, user, item_id, form, action)


async def _run(request: Request, function, *args) -> Response:
    from fastapi.concurrency import run_in_threadpool

    return await run_in_threadpool(function, request, *args)


def _save_sync(request, session, user, item_id, form: ItemForm, action: str) -> Response:
    now = utcnow()
    item = own_item(session=session, user=user, item_id=item_id) if item_id else None
    if action in ("forhandsgranska", "provmejl"):
        return _show_unsaved(request, session, user, item, form, action, now)
    outcome = saving.save(session=session, user=user, item=item, form=form, action=action, now=now)
    if outcome.item is None:
        if outcome.conflict is not None:
            # The next save is a deliberate choice to replace what is saved now.
            form.version = item.version
        return itempage.render(
            request,
            session=session,
            user=user,
            item=item,
            form=form,
            now=now,
            errors=outcome.errors,
            status_code=outcome.status_code,
            conflict=outcome.conflict,
        )
    return web.redirect(f"{NEWS}/{outcome.item.id}?sparad={action}")


def _show_unsaved(request, session, user, item, form: ItemForm, action: str, now) -> Response:
    """Förhandsgranska, or a test mail to the author: of the form as typed, saving nothing."""
    unsaved, errors = saving.unsaved(user=user, item=item, form=form, now=now)
    context = {"request": request, "session": session, "user": user, "item": item, "form": form}
    if unsaved is None:
        return itempage.render(**context, now=now, errors=errors, status_code=422)
    if action == "provmejl":
        status, message = previews.send_test(item=unsaved, user=user)
        if status != 200:
            return itempage.render(
                **context,
                now=now,
                errors=[FieldError("knapp-provmejl", message)],
                status_code=status,
            )
        return itempage.render(**context, now=now, notice=message)
    return itempage.render(**context, now=now, preview=previews.preview(item=unsaved, user=user))


@router.post(f"{NEWS}/ny/autospara")
async def autosave_new(request: Request, session: DbSession, user: User) -> Response:
    return await _autosave(request, session, user, None)


@router.post(NEWS + "/{item_id}/autospara")
async def autosave(
    request: Request, item_id: uuid.UUID, session: DbSession, user: User
) -> Response:
    return await _autosave(request, session, user, item_id)


async def _autosave(request: Request, session, user, item_id) -> Response:
    form = ItemForm.from_form(await request.form())
    return await _run(request, _autosave_sync, session, user, item_id, form)


def _autosave_sync(request, session, user, item_id, form: ItemForm) -> Response:
    """A draft saved by the page's script while the person writes; JSON for the script."""
    now = utcnow()
    item = own_item(session=session, user=user, item_id=item_id) if item_id else None
    if item is not None and item.status != "draft":
        return JSONResponse({"saved": False, "detail": "Bara utkast sparas automatiskt."})
    outcome = saving.save(session=session, user=user, item=item, form=form, action="spara", now=now)
    if outcome.conflict is not None:
        return JSONResponse(
            {
                "saved": False,
                "conflict": True,
                "detail": "Någon annan har sparat nyheten. Tryck på Spara utkast för att jämföra.",
            },
            status_code=409,
        )
    if outcome.item is None:
        return JSONResponse(
            {
                "saved": False,
                "detail": "Sparas automatiskt när rubrik, sammanfattning, text "
                "och region är ifyllda.",
                "errors": [e.message for e in outcome.errors],
            },
            status_code=422,
        )
    return JSONResponse(
        {
            "saved": True,
            "id": str(outcome.item.id),
            "version": outcome.item.version,
            "url": f"{NEWS}/{outcome.item.id}",
            "detail": f"Utkastet sparades automatiskt {web.local_time(now)}.",
        }
    )


@router.get(NEWS + "/{item_id}/aterkalla")
def withdraw_page(request: Request, item_id: uuid.UUID, session: DbSession, user: User) -> Response:
    item = own_item(session=session, user=user, item_id=item_id)
    return web.page(request, "withdraw.html", user=user, item=item, error=None)


@router.post(NEWS + "/{item_id}/aterkalla")
def withdraw(request: Request, item_id: uuid.UUID, session: DbSession, user: User) -> Response:
    item = own_item(session=session, user=user, item_id=item_id)
    try:
        service.withdraw_item(session=session, contributor=user, item=item)
        session.commit()
    except Problem as problem:
        session.rollback()
        return web.page(
            request,
            "withdraw.html",
            status_code=problem.status,
            user=user,
            item=item,
            error=problem.detail,
        )
    outbox.wake()
    return web.redirect(f"{NEWS}/{item.id}?sparad=aterkallad")


__all__ = ["router"]
