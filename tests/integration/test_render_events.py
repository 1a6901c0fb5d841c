"""One event's render: the archive's month counts, the order of its pages, the tag pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from services.render import locks, tasks
from services.render.pages import LATEST, lock_key
from services.render.rebuild import rebuild
from services.render.renderer import Renderer
from shared.db import session_scope
from shared.models import Item, RenderMonth
from tests.integration.test_render_site import (
    add_item,
    change_item,
    published,
    read,
    updated,
    withdrawn,
)


def _counts() -> dict[str, int]:
    with session_scope() as session:
        return dict(session.execute(select(RenderMonth.month, RenderMonth.count)).all())


def test_events_keep_the_month_counts_that_a_rebuild_makes(db, site_dir, tmp_path):
    for day in (3, 9):
        add_item(title=f"Mars {day}", published_at=datetime(2021, 3, day, 9, tzinfo=UTC))
    rebuild(site_dir=site_dir)
    assert _counts() == {"2021-03": 2}

    april = add_item(title="April", slug="april", published_at=datetime(2021, 4, 7, tzinfo=UTC))
    tasks.render_event(event=published(april), site_dir=site_dir)
    assert _counts() == {"2021-03": 2, "2021-04": 1}
    assert "/sitemaps/2021-04.xml" in read(site_dir, "sitemap.xml")

    # Moved to March: April empties, its row and its sitemap leave the index.
    previous = change_item(april, published_at=datetime(2021, 3, 20, tzinfo=UTC))
    tasks.render_event(event=updated(april, previous), site_dir=site_dir)
    assert _counts() == {"2021-03": 3}
    assert "2021-04" not in read(site_dir, "sitemap.xml")

    previous = change_item(april, status="withdrawn")
    tasks.render_event(event=withdrawn(april, previous), site_dir=site_dir)
    assert _counts() == {"2021-03": 2}

    fresh = tmp_path / "fresh"
    rebuild(site_dir=fresh)
    for name in ("arkiv/index.html", "sitemap.xml"):
        assert read(fresh, name) == read(site_dir, name)


def test_an_event_recounts_only_the_months_of_its_item(db, site_dir):
    january = add_item(title="Januari", published_at=datetime(2021, 1, 4, tzinfo=UTC))
    tasks.render_event(event=published(january), site_dir=site_dir)
    # A row that no event announced: counting every month would find it, the event must not
    # (its cost may not grow with the archive). A rebuild counts it.
    add_item(title="Februari", published_at=datetime(2021, 2, 4, tzinfo=UTC))
    may = add_item(title="Maj", published_at=datetime(2021, 5, 4, tzinfo=UTC))
    tasks.render_event(event=published(may), site_dir=site_dir)
    assert _counts() == {"2021-01": 1, "2021-05": 1}
    rebuild(site_dir=site_dir)
    assert _counts() == {"2021-01": 1, "2021-02": 1, "2021-05": 1}


def test_item_page_and_latest_are_written_and_unlocked_before_the_rest(db, site_dir, monkeypatch):
    item_id = add_item(title="Först ut", slug="forst-ut")
    seen = []
    render_tag = Renderer.render_tag

    def watching(self, kind, slug):
        # Another worker's session, while this event is still rendering its tag pages.
        with session_scope() as other:
            latest_free = True
            if other.get_bind().dialect.name == "postgresql":
                latest_free = other.scalar(
                    text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock_key(LATEST)}
                )
            seen.append(
                (
                    (site_dir / "aktuellt/2021/04/forst-ut/index.html").exists(),
                    "Först ut" in read(site_dir, "aktuellt/index.html"),
                    "Först ut" in read(site_dir, "feed.json"),
                    latest_free,
                )
            )
        render_tag(self, kind, slug)

    monkeypatch.setattr(Renderer, "render_tag", watching)
    tasks.render_event(event=published(item_id), site_dir=site_dir)
    assert seen and all(state == (True, True, True, True) for state in seen)


def test_tag_pages_list_the_newest_visible_items_in_date_order(db, site_dir):
    start = datetime(2021, 6, 1, 8, tzinfo=UTC)
    ids = [
        add_item(
            title=f"Gotland {n}",
            # Pairs share a time: the id decides their order, as everywhere else.
            published_at=start + timedelta(hours=n // 2),
            region_slugs=("region-gotland",),
            topic_slugs=("miljo",),
        )
        for n in range(8)
    ]
    add_item(title="Utkast Gotland", status="draft", region_slugs=("region-gotland",))
    add_item(
        title="Kommande Gotland",
        published_at=datetime.now(UTC) + timedelta(days=2),
        region_slugs=("region-gotland",),
    )
    gone = ids.pop()
    change_item(gone, status="withdrawn")
    rebuild(site_dir=site_dir)
    with session_scope() as session:
        items = session.scalars(select(Item).where(Item.id.in_(ids))).all()
        expected = [
            f"/aktuellt/{item.month.replace('-', '/')}/{item.slug}/"
            for item in sorted(items, key=lambda item: (item.published_at, item.id), reverse=True)
        ]
    page = read(site_dir, "region/region-gotland/index.html")
    positions = [page.index(f'href="{path}"') for path in expected]
    assert positions == sorted(positions)
    assert "Utkast" not in page and "Kommande" not in page and "Gotland 7" not in page
    assert len(re.findall(r"Gotland \d", read(site_dir, "amne/miljo/index.html"))) == len(ids)


def test_the_migration_counts_the_months_of_an_existing_site(database_url, monkeypatch):
    from shared.config import get_settings
    from shared.migrate import upgrade

    monkeypatch.setenv("NEWSROOM_DATABASE_URL", database_url)
    get_settings.cache_clear()
    upgrade(database_url, "0001")
    for day in (1, 2):
        add_item(title=f"Juni {day}", published_at=datetime(2021, 6, day, tzinfo=UTC))
    add_item(title="Juli", published_at=datetime(2021, 7, 1, tzinfo=UTC))
    add_item(title="Utkast", published_at=datetime(2021, 8, 1, tzinfo=UTC), status="draft")
    add_item(title="Senare", published_at=datetime.now(UTC) + timedelta(days=3))
    upgrade(database_url)
    assert _counts() == {"2021-06": 2, "2021-07": 1}


def test_pages_show_what_was_published_while_the_event_waited_for_its_locks(
    db, site_dir, monkeypatch
):
    first = add_item(title="Den första", published_at=datetime.now(UTC) - timedelta(minutes=1))
    late: list = []
    lock = locks.lock

    def slow_lock(session, targets):
        # Another post commits (and its own event may render) while this event waits.
        if not late:
            late.append(add_item(title="Den sena", published_at=datetime.now(UTC)))
        lock(session, targets)

    monkeypatch.setattr(locks, "lock", slow_lock)
    tasks.render_event(event=published(first), site_dir=site_dir)
    assert late
    for name in ("aktuellt/index.html", "index.html", "feed.json"):
        assert "Den sena" in read(site_dir, name), name
