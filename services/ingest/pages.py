"""Static pages (/{slug}/): create, change and delete them, each change with a `page.updated`
event in the same transaction (render writes the page, and every footer when its links
change) and an entry in the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic_core import PydanticCustomError
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.ingest import audit, text
from shared import outbox
from shared.db import utcnow
from shared.events import PageUpdated
from shared.markup import render_markdown
from shared.models import Contributor, Page
from shared.sitepages import REQUIRED_SLUGS, slug_problem

TITLE_MAX = 200
BODY_MAX = 100_000


@dataclass
class PageError(Exception):
    """A page the rules refuse: the form field and why, in Swedish."""

    field: str
    message: str


def list_pages(*, session: Session) -> list[Page]:
    """Every static page, by title."""
    return sorted(session.scalars(select(Page)), key=lambda page: page.title.casefold())


def _checked(title: str, body: str) -> tuple[str, str]:
    title = title.strip()
    try:
        title = text.single_line(title)
    except PydanticCustomError as exc:
        message = f"Rubriken {exc.message()}." if title else "Skriv en rubrik."
        raise PageError("rubrik", message) from None
    if len(title) > TITLE_MAX:
        raise PageError("rubrik", f"Rubriken får vara högst {TITLE_MAX} tecken.")
    try:
        body = text.markdown(body)
    except PydanticCustomError as exc:
        raise PageError("text", f"Texten har {exc.message()}.") from None
    if not body.strip():
        raise PageError("text", "Skriv sidans text.")
    if len(body) > BODY_MAX:
        raise PageError("text", f"Texten får vara högst {BODY_MAX} tecken.")
    return title, body


def create_page(*, session: Session, slug: str, title: str, body: str, actor: Contributor) -> Page:
    """A new page at /{slug}/; PageError for a slug the site uses or a page that exists."""
    slug = slug.strip().lower()
    problem = slug_problem(slug)
    if problem is None and session.get(Page, slug) is not None:
        problem = f"Det finns redan en sida med adressen /{slug}/."
    if problem is not None:
        raise PageError("adress", problem)
    title, body = _checked(title, body)
    page = Page(
        slug=slug, title=title, body_md=body, body_html=render_markdown(body), updated_at=utcnow()
    )
    session.add(page)
    session.flush()
    outbox.record(session, PageUpdated(slug=slug))
    audit.record(
        session, actor=actor, action="page.created", target=f"/{slug}/", details={"title": title}
    )
    return page


def update_page(*, session: Session, page: Page, title: str, body: str, actor: Contributor) -> bool:
    """Change a page's title and text; False (and no event) when nothing changed."""
    title, body = _checked(title, body)
    if (title, body) == (page.title, page.body_md):
        return False
    previous_title = page.title
    details = {"title": [previous_title, title]} if title != previous_title else {}
    page.title, page.body_md, page.body_html = title, body, render_markdown(body)
    page.updated_at = utcnow()
    session.flush()
    outbox.record(session, PageUpdated(slug=page.slug, previous_title=previous_title))
    audit.record(
        session, actor=actor, action="page.updated", target=f"/{page.slug}/", details=details
    )
    return True


def delete_page(*, session: Session, page: Page, actor: Contributor) -> None:
    """Delete a page the site need not have; its URL answers 404 once render is done."""
    if page.slug in REQUIRED_SLUGS:
        raise PageError("radera", f"Sidan {page.title} måste finnas och kan inte tas bort.")
    slug, title = page.slug, page.title
    session.delete(page)
    session.flush()
    outbox.record(session, PageUpdated(slug=slug, previous_title=title, deleted=True))
    audit.record(
        session, actor=actor, action="page.deleted", target=f"/{slug}/", details={"title": title}
    )


__all__ = ["PageError", "create_page", "delete_page", "list_pages", "update_page"]
