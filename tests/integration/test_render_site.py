"""Render on a real database: an event's pages and feeds, idempotence, rebuild."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import pytest

from services.render import tasks
from services.render.rebuild import rebuild
from shared.db import session_scope, utcnow
from shared.events import ItemPlace, ItemPublished, ItemUpdated, ItemWithdrawn
from shared.markup import render_markdown
from shared.models import Item, ItemTag, Page
from shared.taxonomy import regions, topics

STOCKHOLM = ZoneInfo("Europe/Stockholm")
BASE = "http://localhost:8000"


def add_item(
    *,
    title: str = "Hållbar upphandling av textilier i Sörmland",
    slug: str | None = None,
    published_at: datetime | None = None,
    region_slugs: tuple[str, ...] = ("region-sormland",),
    topic_slugs: tuple[str, ...] = ("textilier", "miljo"),
    status: str = "published",
    **fields,
) -> uuid.UUID:
    """Write an item and its tags as the ingest service does (test helper)."""
    assert set(region_slugs) <= set(regions()) and set(topic_slugs) <= set(topics())
    published_at = published_at or datetime(2021, 4, 29, 7, 0, tzinfo=UTC)
    body = fields.pop("body", "Regionerna ställer **krav** på leverantörerna.")
    item = Item(
        slug=slug or uuid.uuid4().hex[:12],
        month=published_at.astimezone(STOCKHOLM).strftime("%Y-%m"),
        title=title,
        summary=fields.pop("summary", "En kort sammanfattning om åtgärder för miljön."),
        body_md=body,
        body_html=render_markdown(body),
        published_at=published_at,
        regions=list(region_slugs),
        topics=list(topic_slugs),
        status=status,
        updated_at=fields.pop("updated_at", published_at),
        author_name=fields.pop("author_name", "Åsa Öberg"),
        **fields,
    )
    with session_scope() as session:
        session.add(item)
        session.flush()
        _sync_tags(session, item)
    return item.id


def _sync_tags(session, item: Item) -> None:
    item.tags = [
        ItemTag(kind=kind, slug=slug, published_at=item.published_at)
        for kind, slugs in (("region", item.regions), ("topic", item.topics))
        for slug in slugs
    ]


def change_item(item_id: uuid.UUID, **changes) -> dict:
    """Change an item as ingest does and return its `previous` place for the event."""
    with session_scope() as session:
        item = session.get(Item, item_id)
        previous = ItemPlace.of(item)
        for key, value in changes.items():
            setattr(item, key, value)
        if "published_at" in changes:
            item.month = item.published_at.astimezone(STOCKHOLM).strftime("%Y-%m")
        item.version += 1
        item.updated_at = max(utcnow(), item.updated_at + timedelta(seconds=1))
        _sync_tags(session, item)
        return previous.model_dump(mode="json")


def published(item_id: uuid.UUID) -> dict:
    return ItemPublished(item_id=item_id, item_version=1).model_dump(mode="json")


def updated(item_id: uuid.UUID, previous: dict) -> dict:
    return ItemUpdated(item_id=item_id, item_version=2, previous=previous).model_dump(mode="json")


def withdrawn(item_id: uuid.UUID, previous: dict) -> dict:
    return ItemWithdrawn(item_id=item_id, item_version=3, previous=previous).model_dump(mode="json")


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of a site folder, by relative path."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def mtimes(root: Path) -> dict[str, int]:
    return {
        path.relative_to(root).as_posix(): path.stat().st_mtime_ns
        for path in root.rglob("*")
        if path.is_file()
    }


def read(site_dir: Path, relative: str) -> str:
    return (site_dir / relative).read_text(encoding="utf-8")


def test_publish_renders_item_page_listings_and_feeds(db, site_dir):
    item_id = add_item(
        title="Hur förbereder man sig för en hållbar upphandling?",
        slug="hur-forbereder-man-sig",
        published_at=datetime(2021, 4, 29, 9, 0, tzinfo=STOCKHOLM),
        attachments=[{"title": "Rapport om åtgärder", "url": "https://example.org/rapport.pdf"}],
        image={"url": "https://example.org/bild.jpg", "alt": "Händer i skyddshandskar"},
    )
    report = tasks.render_event(event=published(item_id), site_dir=site_dir)

    page = read(site_dir, "aktuellt/2021/04/hur-forbereder-man-sig/index.html")
    assert '<html lang="sv">' in page
    assert "Hur förbereder man sig för en hållbar upphandling?" in page
    assert '<time datetime="2021-04-29T09:00:00+02:00">29 apr 2021</time>' in page
    assert '<a class="label" href="/region/region-sormland/">Region Sörmland</a>' in page
    assert '<a class="label" href="/amne/textilier/">Textilier</a>' in page
    assert '<a class="label" href="/amne/miljo/">Miljö</a>' in page
    assert "Åsa Öberg" in page
    assert "<strong>krav</strong>" in page
    assert 'alt="Händer i skyddshandskar"' in page
    assert 'href="https://example.org/rapport.pdf">Rapport om åtgärder</a>' in page
    assert 'type="application/rss+xml"' in page and 'href="#innehall"' in page
    for listing in ("index.html", "aktuellt/index.html"):
        assert "/aktuellt/2021/04/hur-forbereder-man-sig/" in read(site_dir, listing)
    assert "aktuellt/2021/04/hur-forbereder-man-sig/index.html" in report.written

    link = f"{BASE}/aktuellt/2021/04/hur-forbereder-man-sig/"
    for name in ("rss.xml", "atom.xml"):
        feed = feedparser.parse((site_dir / name).read_bytes())
        assert not feed.bozo, feed.get("bozo_exception")
        assert feed.feed.language == "sv"
        [entry] = feed.entries
        assert entry.title == "Hur förbereder man sig för en hållbar upphandling?"
        assert entry.link == link
        assert entry.id == f"urn:uuid:{item_id}"
        assert entry.published_parsed[:5] == (2021, 4, 29, 7, 0)
        # Atom: term is the slug and label the name; RSS carries the name.
        assert {tag.get("label") or tag.term for tag in entry.tags} >= {
            "Textilier",
            "Region Sörmland",
        }
        assert entry.author == "Åsa Öberg"


def test_only_visible_items_appear(db, site_dir):
    shown = add_item(title="Synlig nyhet", slug="synlig")
    draft = add_item(title="Utkast om åäö", slug="utkast", status="draft")
    future = add_item(
        title="Kommande nyhet", slug="kommande", published_at=utcnow() + timedelta(days=3)
    )
    for item_id in (shown, draft, future):
        tasks.render_event(event=published(item_id), site_dir=site_dir)
    front = read(site_dir, "index.html")
    assert "Synlig nyhet" in front
    assert "Utkast om åäö" not in front and "Kommande nyhet" not in front
    assert not (site_dir / "aktuellt/2021/04/utkast/index.html").exists()
    assert "Kommande" not in read(site_dir, "rss.xml")


def test_task_twice_gives_identical_files_and_mtimes(db, site_dir):
    first = add_item(title="Första nyheten", published_at=datetime(2021, 3, 1, tzinfo=UTC))
    second = add_item(title="Andra nyheten")
    tasks.handle_event.apply(kwargs={"event": published(first)}).get()
    tasks.handle_event.apply(kwargs={"event": published(second)}).get()
    before, times = snapshot(site_dir), mtimes(site_dir)
    result = tasks.handle_event.apply(kwargs={"event": published(second)}).get()
    assert result == {"written": 0, "removed": 0}
    assert snapshot(site_dir) == before
    assert mtimes(site_dir) == times


def test_feeds_are_deterministic_and_rebuild_matches(db, site_dir, tmp_path):
    ids = [
        add_item(
            title=f"Nyhet {n} om Östergötland",
            published_at=datetime(2021, n, 3, tzinfo=UTC),
            region_slugs=("region-ostergotland",),
            topic_slugs=("lakemedel",),
        )
        for n in range(1, 5)
    ]
    for item_id in ids:
        tasks.render_event(event=published(item_id), site_dir=site_dir)
    with session_scope() as session:
        session.merge(
            Page(
                slug="vision", title="Vision", body_md="Vår vision.", body_html="<p>Vår vision.</p>"
            )
        )
    rebuild(site_dir=site_dir)
    fresh = tmp_path / "fresh"
    calls = []
    report = rebuild(site_dir=fresh, progress=lambda done, total: calls.append((done, total)))
    assert snapshot(fresh) == snapshot(site_dir)
    assert calls[-1] == (4, 4)
    assert report.files_written == len(snapshot(fresh))
    assert "Vår vision." in read(fresh, "vision/index.html")
    # The feed's dates come from the data, so rendering again later changes nothing.
    again = rebuild(site_dir=fresh)
    assert again.changed == 0 and again.unchanged == report.files_written


def test_update_moves_item_and_leaves_redirect(db, site_dir):
    item_id = add_item(
        title="Gammal rubrik",
        slug="gammal",
        region_slugs=("region-skane",),
        topic_slugs=("handskar",),
    )
    tasks.render_event(event=published(item_id), site_dir=site_dir)
    previous = change_item(
        item_id,
        title="Ny rubrik om Jämtland",
        slug="ny",
        regions=["region-jamtland-harjedalen"],
        topics=["miljo"],
        published_at=datetime(2021, 5, 2, tzinfo=UTC),
    )
    tasks.render_event(event=updated(item_id, previous), site_dir=site_dir)

    assert "Ny rubrik om Jämtland" in read(site_dir, "aktuellt/2021/05/ny/index.html")
    old = read(site_dir, "aktuellt/2021/04/gammal/index.html")
    assert 'http-equiv="refresh"' in old and "/aktuellt/2021/05/ny/" in old and "noindex" in old
    assert "Gammal rubrik" not in read(site_dir, "region/region-skane/index.html")
    assert "Gammal rubrik" not in read(site_dir, "amne/handskar/rss.xml")
    assert "Ny rubrik om Jämtland" in read(site_dir, "region/region-jamtland-harjedalen/atom.xml")
    assert not (site_dir / "arkiv/2021/04/index.html").exists()
    assert "Ny rubrik om Jämtland" in read(site_dir, "arkiv/2021/05/index.html")
    [entry] = feedparser.parse((site_dir / "atom.xml").read_bytes()).entries
    assert entry.id == f"urn:uuid:{item_id}"  # stable across edits


def test_withdraw_removes_item_everywhere(db, site_dir):
    keep = add_item(title="Kvar", slug="kvar", published_at=datetime(2021, 4, 1, tzinfo=UTC))
    gone = add_item(title="Tillbakadragen nyhet", slug="bort")
    for item_id in (keep, gone):
        tasks.render_event(event=published(item_id), site_dir=site_dir)
    assert "Tillbakadragen nyhet" in read(site_dir, "aktuellt/2021/04/kvar/index.html")
    previous = change_item(gone, status="withdrawn")
    tasks.render_event(event=withdrawn(gone, previous), site_dir=site_dir)
    assert "tillbaka" in read(site_dir, "aktuellt/2021/04/bort/410.html")
    for path in (site_dir).rglob("*"):
        if path.is_file():
            assert "Tillbakadragen nyhet" not in path.read_text(encoding="utf-8"), path


@pytest.mark.parametrize("count", [3])
def test_neighbours_link_each_other(db, site_dir, count):
    ids = [
        add_item(
            title=f"Nyhet nummer {n}",
            slug=f"nyhet-{n}",
            published_at=datetime(2021, 4, n + 1, tzinfo=UTC),
        )
        for n in range(count)
    ]
    for item_id in ids:
        tasks.render_event(event=published(item_id), site_dir=site_dir)
    middle = read(site_dir, "aktuellt/2021/04/nyhet-1/index.html")
    assert 'href="/aktuellt/2021/04/nyhet-0/" rel="prev"' in middle
    assert 'href="/aktuellt/2021/04/nyhet-2/" rel="next"' in middle
    assert "Nyhet nummer 2" in read(site_dir, "aktuellt/2021/04/nyhet-1/index.html")


def test_a_withdrawn_page_says_so_in_plain_swedish_in_place_of_the_page(db, site_dir):
    item_id = add_item(title="Återkallad", slug="aterkallad")
    tasks.render_event(event=published(item_id), site_dir=site_dir)
    folder = site_dir / "aktuellt/2021/04/aterkallad"
    assert not (folder / "410.html").exists()
    previous = change_item(item_id, status="withdrawn")
    tasks.render_event(event=withdrawn(item_id, previous), site_dir=site_dir)
    page = (folder / "410.html").read_text(encoding="utf-8")
    assert "Nyheten är borttagen" in page and "410" not in page
    # No index.html: the server answers 410 Gone with this page (deploy/nginx.conf, the
    # embedded app), and a server that does not know the rule answers no 200 either.
    assert not (folder / "index.html").exists()
    fresh = site_dir.parent / "fresh"
    rebuild(site_dir=fresh)
    assert set(snapshot(fresh)) >= {"aktuellt/2021/04/aterkallad/410.html"}
    assert "aktuellt/2021/04/aterkallad/index.html" not in snapshot(fresh)
    # Published again: its page, no gone page; a draft: neither, and no empty folder.
    previous = change_item(item_id, status="published")
    tasks.render_event(event=updated(item_id, previous), site_dir=site_dir)
    assert "Återkallad" in (folder / "index.html").read_text(encoding="utf-8")
    assert not (folder / "410.html").exists()
    change_item(item_id, status="withdrawn")
    previous = change_item(item_id, status="draft")
    tasks.render_event(event=updated(item_id, previous), site_dir=site_dir)
    assert not folder.exists()
