"""Sidor (editors and admins): the site's static pages, written in the same Markdown editor as
items, with a preview; saving sends `page.updated` through the outbox, so render writes the
page (and every footer when a page is added, renamed or deleted)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from services.ingest import pages
from services.ingest.editor import web
from services.ingest.editor.access import DbSession, NotAllowed, User, require_editor
from services.ingest.editor.forms import FieldError
from shared import outbox
from shared.markup import render_markdown
from shared.models import Page
from shared.sitepages import REQUIRED_SLUGS

router = APIRouter(include_in_schema=False)
PAGES = f"{web.PREFIX}/sidor"
NOTICES = {
    "sparad": "Sidan är sparad. Den syns på webbplatsen om en liten stund.",
    "skapad": "Sidan är skapad. Den syns på webbplatsen och i sidfoten om en liten stund.",
    "oforandrad": "Inget ändrades.",
    "raderad": "Sidan är borttagen från webbplatsen.",
}
STALE = (
    "Någon annan har sparat sidan medan du skrev. Ditt förslag finns kvar i formuläret; "
    "jämför med sidan på webbplatsen och spara igen om du vill ersätta den."
)


def _page(session, slug: str) -> Page:
    page = session.get(Page, slug)
    if page is None:
        raise NotAllowed("Sidan finns inte.", status=404)
    return page


def _form(
    request,
    *,
    user,
    page: Page | None,
    form: dict,
    errors=(),
    preview=False,
    status_code=200,
    notice=None,
) -> Response:
    return web.page(
        request,
        "page_form.html",
        status_code=status_code,
        user=user,
        page=page,
        form=form,
        errors=list(errors),
        notice=notice,
        required=page is not None and page.slug in REQUIRED_SLUGS,
        preview_html=render_markdown(form["text"]) if preview and form["text"].strip() else None,
        preview=preview,
    )


@router.get(f"{PAGES}/")
def page_list(
    request: Request,
    session: DbSession,
    user: User,
    klart: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    require_editor(user)
    return web.page(
        request,
        "pages.html",
        user=user,
        pages=pages.list_pages(session=session),
        required=REQUIRED_SLUGS,
        notice=NOTICES.get(klart or ""),
    )


@router.get(PAGES)
def pages_root(user: User) -> Response:
    return web.redirect(f"{PAGES}/")


@router.get(f"{PAGES}/ny")
def new_page(request: Request, user: User) -> Response:
    require_editor(user)
    return _form(request, user=user, page=None, form={"adress": "", "rubrik": "", "text": ""})


@router.post(f"{PAGES}/ny")
def create(
    request: Request,
    session: DbSession,
    user: User,
    adress: Annotated[str, Form(max_length=200)] = "",
    rubrik: Annotated[str, Form(max_length=1000)] = "",
    text: Annotated[str, Form(max_length=200_000)] = "",
    atgard: Annotated[str, Form(max_length=20)] = "spara",
) -> Response:
    require_editor(user)
    form = {"adress": adress, "rubrik": rubrik, "text": text}
    if atgard == "forhandsgranska":
        return _form(request, user=user, page=None, form=form, preview=True)
    try:
        page = pages.create_page(session=session, slug=adress, title=rubrik, body=text, actor=user)
    except pages.PageError as exc:
        session.rollback()
        error = FieldError(exc.field, exc.message)
        return _form(request, user=user, page=None, form=form, errors=[error], status_code=422)
    slug = page.slug
    session.commit()
    outbox.wake()
    return web.redirect(f"{PAGES}/{slug}?klart=skapad")


@router.get(f"{PAGES}/{{slug}}")
def edit_page(
    request: Request,
    session: DbSession,
    user: User,
    slug: str,
    klart: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    require_editor(user)
    page = _page(session, slug)
    form = {"rubrik": page.title, "text": page.body_md, "andrad": page.updated_at.isoformat()}
    return _form(request, user=user, page=page, form=form, notice=NOTICES.get(klart or ""))


@router.post(f"{PAGES}/{{slug}}")
def save_page(
    request: Request,
    session: DbSession,
    user: User,
    slug: str,
    rubrik: Annotated[str, Form(max_length=1000)] = "",
    text: Annotated[str, Form(max_length=200_000)] = "",
    andrad: Annotated[str, Form(max_length=64)] = "",
    atgard: Annotated[str, Form(max_length=20)] = "spara",
) -> Response:
    require_editor(user)
    page = _page(session, slug)
    form = {"rubrik": rubrik, "text": text, "andrad": andrad}
    if atgard == "forhandsgranska":
        return _form(request, user=user, page=page, form=form, preview=True)
    if andrad != page.updated_at.isoformat():
        # Saved by someone else since this form was opened: nothing is overwritten unseen.
        form["andrad"] = page.updated_at.isoformat()
        error = FieldError("rubrik", STALE)
        return _form(request, user=user, page=page, form=form, errors=[error], status_code=409)
    try:
        changed = pages.update_page(session=session, page=page, title=rubrik, body=text, actor=user)
    except pages.PageError as exc:
        session.rollback()
        error = FieldError(exc.field, exc.message)
        page = _page(session, slug)
        return _form(request, user=user, page=page, form=form, errors=[error], status_code=422)
    session.commit()
    outbox.wake()
    return web.redirect(f"{PAGES}/{slug}?klart={'sparad' if changed else 'oforandrad'}")


@router.post(f"{PAGES}/{{slug}}/radera")
def delete(request: Request, session: DbSession, user: User, slug: str) -> Response:
    require_editor(user)
    page = _page(session, slug)
    try:
        pages.delete_page(session=session, page=page, actor=user)
    except pages.PageError as exc:
        session.rollback()
        return web.page(
            request,
            "message.html",
            status_code=409,
            user=user,
            heading="Sidan kan inte tas bort",
            message=exc.message,
            link=(f"{PAGES}/{slug}", "Tillbaka till sidan"),
        )
    session.commit()
    outbox.wake()
    return web.redirect(f"{PAGES}/?klart=raderad")


__all__ = ["router"]
