"""Static pages through the outbox: `page.updated` writes the page and every footer, removes
a deleted page, and leaves the site exactly as a full rebuild makes it."""

from __future__ import annotations

from sqlalchemy import select

from services.ingest import pages
from services.render import tasks
from services.render.rebuild import rebuild
from shared.db import session_scope
from shared.events import ItemPublished
from shared.models import Contributor, OutboxEvent, Page
from shared.sitepages import REQUIRED_SLUGS
from tests.editor.conftest import add_person
from tests.integration.test_render_site import add_item, read, snapshot


def render_outbox(site_dir) -> list[dict]:
    """Render every event the outbox holds (as the relay would send them), oldest first."""
    with session_scope() as session:
        rows = session.scalars(
            select(OutboxEvent).where(OutboxEvent.relayed_at.is_(None)).order_by(OutboxEvent.id)
        ).all()
        events = [row.payload for row in rows]
        for row in rows:
            row.relayed_at = row.created_at
    for event in events:
        tasks.render_event(event=event, site_dir=site_dir)
    return events


def editor() -> Contributor:
    with session_scope() as session:
        return session.scalar(select(Contributor).where(Contributor.role == "editor"))


def test_the_required_pages_exist_from_the_start_and_every_footer_links_them(db, site_dir):
    add_item(title="Nyhet om textilier", slug="textilier")
    rebuild(site_dir=site_dir)
    with session_scope() as session:
        titles = dict(session.execute(select(Page.slug, Page.title)).all())
    assert set(titles) == set(REQUIRED_SLUGS)
    assert titles["tillganglighetsredogorelse"] == "Tillgänglighetsredogörelse"
    assert "hållbar utveckling" in read(site_dir, "vision/index.html")
    for relative in ("index.html", "aktuellt/2021/04/textilier/index.html", "404.html"):
        footer = read(site_dir, relative).split('<footer class="site-footer">')[1]
        for slug, title in titles.items():
            assert f'<a href="/{slug}/">{title}</a>' in footer, (relative, slug)


def test_create_edit_and_delete_match_a_full_rebuild(db, site_dir, tmp_path):
    add_person("Eva Redaktör", "eva@kansliet.se", role="editor", region="nationella-kansliet")
    add_item(title="Nyhet om handskar", slug="handskar")
    rebuild(site_dir=site_dir)
    person = editor()

    with session_scope() as session:
        pages.create_page(
            session=session,
            slug="styrelse",
            title="Styrelsen",
            body="Styrelsen **leder** nätverket.",
            actor=person,
        )
    [created] = render_outbox(site_dir)
    assert created["type"] == "page.updated" and created["version"] == 1
    assert "<strong>leder</strong>" in read(site_dir, "styrelse/index.html")
    assert '<a href="/styrelse/">Styrelsen</a>' in read(
        site_dir, "aktuellt/2021/04/handskar/index.html"
    )
    assert "/styrelse/" in read(site_dir, "sitemaps/sidor.xml")

    # The text alone: the page's file is rewritten, nothing else.
    before = snapshot(site_dir)
    with session_scope() as session:
        pages.update_page(
            session=session,
            page=session.get(Page, "styrelse"),
            title="Styrelsen",
            body="Styrelsen väljs av regionerna.",
            actor=person,
        )
    render_outbox(site_dir)
    after = snapshot(site_dir)
    assert {path for path in after if after[path] != before.get(path)} == {"styrelse/index.html"}

    # A new title changes every footer; an item published later shows the same footer.
    with session_scope() as session:
        pages.update_page(
            session=session,
            page=session.get(Page, "styrelse"),
            title="Nätverkets styrelse",
            body="Styrelsen väljs av regionerna.",
            actor=person,
        )
    render_outbox(site_dir)
    second = add_item(title="Nyhet om livsmedel", slug="livsmedel")
    tasks.render_event(
        event=ItemPublished(item_id=second, item_version=1).model_dump(mode="json"),
        site_dir=site_dir,
    )
    fresh = tmp_path / "fresh"
    rebuild(site_dir=fresh)
    assert snapshot(site_dir) == snapshot(fresh)
    assert '<a href="/styrelse/">Nätverkets styrelse</a>' in read(
        site_dir, "aktuellt/2021/04/livsmedel/index.html"
    )

    with session_scope() as session:
        pages.delete_page(session=session, page=session.get(Page, "styrelse"), actor=person)
    deleted = render_outbox(site_dir)
    assert not (site_dir / "styrelse").exists()
    assert "/styrelse/" not in read(site_dir, "index.html")
    again = tmp_path / "again"
    rebuild(site_dir=again)
    assert snapshot(site_dir) == snapshot(again)
    # Applying the events again, late and out of order, changes nothing.
    for event in [*deleted, created]:
        tasks.render_event(event=event, site_dir=site_dir)
    assert snapshot(site_dir) == snapshot(again)


def test_render_leaves_out_a_page_at_a_reserved_address(db, site_dir):
    with session_scope() as session:
        session.add(Page(slug="arkiv", title="Fel", body_md="x", body_html="<p>x</p>"))
    rebuild(site_dir=site_dir)
    assert ">Fel<" not in read(site_dir, "index.html")
