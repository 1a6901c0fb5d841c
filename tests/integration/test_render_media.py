"""Uploaded media on the site, on SQLite and PostgreSQL: files under /media/ written from the
database (by the upload's event, by an item's render and by a rebuild, byte for byte the
stored ones), the item page's <picture> and documents, and the lists' small images."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import html5lib
import pytest
from sqlalchemy import event, select

from services.render import tasks
from services.render.output import SiteOutput
from services.render.rebuild import rebuild
from services.render.renderer import Renderer
from services.render.views import Site
from shared import media
from shared.config import get_settings
from shared.db import get_engine, session_scope, utcnow
from shared.events import MediaUploaded
from shared.models import Media, MediaFile
from tests import media_items
from tests.integration.test_render_site import add_item, published, snapshot

HTML = "{http://www.w3.org/1999/xhtml}"


def stored_files() -> dict[str, bytes]:
    """Every stored file of every medium, by its path in the site folder."""
    with session_scope() as session:
        rows = session.execute(
            select(Media.sha256, MediaFile.name, MediaFile.data).join(
                MediaFile, MediaFile.media_id == Media.id
            )
        )
        return {f"media/{sha256[:16]}/{name}": data for sha256, name, data in rows}


def media_of(site: dict[str, bytes]) -> dict[str, bytes]:
    return {path: data for path, data in site.items() if path.startswith("media/")}


@pytest.fixture
def photo(db) -> uuid.UUID:
    return media_items.image(1000, 700)


@pytest.fixture
def report(db) -> uuid.UUID:
    return media_items.pdf()


def item_with_media(photo, report, **fields) -> uuid.UUID:
    return add_item(
        title="Workshop om hållbara textilier",
        slug="workshop",
        image={"media_id": str(photo), "alt": "Deltagare vid workshopen"},
        attachments=[
            {"title": "Verksamhetsrapport 2020", "media_id": str(report)},
            {"title": "Program", "url": "https://exempel.se/program.pdf"},
        ],
        **fields,
    )


def uploaded(media_id: uuid.UUID) -> dict:
    return MediaUploaded(media_id=media_id).model_dump(mode="json")


def parse(data: bytes):
    return html5lib.parse(data, namespaceHTMLElements=True)


def test_an_item_page_shows_its_picture_and_documents(site_dir, photo, report):
    item_id = item_with_media(photo, report)
    tasks.render_event(event=published(item_id), site_dir=site_dir)

    page = (site_dir / "aktuellt/2021/04/workshop/index.html").read_bytes()
    document = parse(page)
    picture = document.find(f".//{HTML}figure/{HTML}picture")
    sources = picture.findall(f"{HTML}source")
    assert [source.get("type") for source in sources] == ["image/avif", "image/webp"]
    folder = media.lookup(str(photo)).folder
    # 480 and 960 px, and the original's 1000 px (never wider than it, no 1600).
    for source, extension in zip(sources, ("avif", "webp"), strict=True):
        assert source.get("srcset") == ", ".join(
            f"{folder}bild-{width}.{extension} {width}w" for width in (480, 960, 1000)
        )
        assert source.get("sizes") == "(min-width: 44rem) 42rem, calc(100vw - 2rem)"
    img = picture.find(f"{HTML}img")
    assert img.get("src") == f"{folder}bild-960.jpg"
    assert img.get("srcset") == ", ".join(
        f"{folder}bild-{width}.jpg {width}w" for width in (480, 960, 1000)
    )
    assert img.get("sizes") == sources[0].get("sizes")
    assert (img.get("width"), img.get("height")) == ("960", "672")
    assert img.get("alt") == "Deltagare vid workshopen"
    assert img.get("loading") is None  # the first image, above the fold: at once

    pdf = media.lookup(str(report)).original
    links = document.findall(f".//{HTML}ul[@class='documents']/{HTML}li")
    texts = ["".join(link.itertext()) for link in links]
    size = f"{pdf.size / 1024:.0f}".replace(".", ",")
    assert texts == [
        f"Verksamhetsrapport 2020 (PDF, {size} kB)",
        "Program",
    ]
    assert links[0].find(f"{HTML}a").get("href") == pdf.path
    assert links[0].find(f"{HTML}a").get("type") == "application/pdf"

    # Every file of both media is there, as stored.
    site = snapshot(site_dir)
    assert media_of(site) == stored_files()
    for path in (img.get("src"), pdf.path):
        assert path.lstrip("/") in site


def test_a_decorative_image_has_empty_alt_text(site_dir, photo):
    item_id = add_item(slug="dekor", image={"media_id": str(photo), "decorative": True})
    tasks.render_event(event=published(item_id), site_dir=site_dir)
    page = parse((site_dir / "aktuellt/2021/04/dekor/index.html").read_bytes())
    assert page.find(f".//{HTML}picture/{HTML}img").get("alt") == ""


def test_lists_show_small_images_lazily_after_the_first(site_dir, photo, report):
    for day in (1, 2, 3):
        item_id = add_item(
            slug=f"nyhet-{day}",
            published_at=datetime(2021, 4, day, 8, tzinfo=UTC),
            image={"media_id": str(photo), "alt": "Deltagare vid workshopen"},
        )
    add_item(slug="utan-bild", published_at=datetime(2021, 4, 4, 8, tzinfo=UTC))
    tasks.render_event(event=published(item_id), site_dir=site_dir)
    for path in ("index.html", "aktuellt/index.html"):
        document = parse((site_dir / path).read_bytes())
        images = document.findall(f".//{HTML}div[@class='thumbnail']/{HTML}picture/{HTML}img")
        assert len(images) == 3, path
        assert [img.get("loading") for img in images] == [None, "lazy", "lazy"]
        assert {img.get("alt") for img in images} == {""}  # the heading beside it says it
        assert images[0].get("src").endswith("/bild-480.jpg")
        assert (images[0].get("width"), images[0].get("height")) == ("480", "336")
    month = (site_dir / "arkiv/2021/04/index.html").read_bytes()
    assert b"<picture>" not in month


def test_the_upload_event_publishes_the_files_and_a_rebuild_reproduces_them(
    site_dir, photo, tmp_path
):
    tasks.publish_uploaded(event=uploaded(photo), site_dir=site_dir)
    first = media_of(snapshot(site_dir))
    assert first == stored_files() and len(first) == 11  # original, 3 widths x 3, mail
    mtimes = {path: (site_dir / path).stat().st_mtime_ns for path in first}
    tasks.publish_uploaded(event=uploaded(photo), site_dir=site_dir)
    assert {path: (site_dir / path).stat().st_mtime_ns for path in first} == mtimes

    fresh = tmp_path / "fresh"
    rebuild(site_dir=fresh)
    assert media_of(snapshot(fresh)) == first
    rebuild(site_dir=site_dir)  # over the existing site: nothing rewritten, nothing removed
    assert {path: (site_dir / path).stat().st_mtime_ns for path in first} == mtimes


def test_a_damaged_file_is_written_again(site_dir, photo):
    tasks.publish_uploaded(event=uploaded(photo), site_dir=site_dir)
    path = next(path for path in stored_files() if path.endswith("-480.avif"))
    (site_dir / path).write_bytes(b"half")
    rebuild(site_dir=site_dir)
    assert (site_dir / path).read_bytes() == stored_files()[path]


def test_a_rebuild_in_four_processes_writes_the_same_media(site_dir, photo, report, tmp_path):
    item_with_media(photo, report)
    rebuild(site_dir=site_dir, workers=4)
    one = tmp_path / "one"
    rebuild(site_dir=one, workers=1)
    assert snapshot(site_dir) == snapshot(one)
    assert re.search(rb'<source type="image/avif"', (one / "index.html").read_bytes())


def test_a_months_list_reads_no_media_columns_item_by_item(site_dir, photo):
    for day in range(1, 13):
        add_item(
            slug=f"nyhet-{day}",
            published_at=datetime(2021, 4, day, 8, tzinfo=UTC),
            image={"media_id": str(photo), "alt": "Deltagare vid workshopen"},
        )
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(get_engine(), "before_cursor_execute", count)
    try:
        with session_scope() as session:
            site = Site.from_settings(get_settings())
            Renderer(session, site, SiteOutput(site_dir), utcnow()).render_month("2021-04")
    finally:
        event.remove(get_engine(), "before_cursor_execute", count)
    assert (site_dir / "arkiv/2021/04/index.html").exists()
    assert len(statements) <= 3, statements  # one query for the month, whatever its size
