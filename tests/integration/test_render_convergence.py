"""Events in any order, twice, late and concurrently converge to exactly what rebuild makes."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from services.render import tasks, work
from services.render.pages import TagPages
from services.render.rebuild import rebuild
from services.render.renderer import Renderer
from shared.db import session_scope
from shared.events import MediaUploaded
from shared.models import Item
from tests import media_items
from tests.integration.test_render_site import (
    add_item,
    change_item,
    published,
    snapshot,
    updated,
    withdrawn,
)

REGIONS = ("region-skane", "region-gotland", "region-jamtland-harjedalen", "region-orebro-lan")
TOPICS = ("miljo", "textilier", "manskliga-rattigheter", "lakemedel")


def _apply_all(events: list[dict], site_dir, workers: int = 4) -> None:
    """Apply events on several threads, each with its own session, like separate workers."""

    def one(event: dict) -> None:
        if event["type"] == "media.uploaded":
            tasks.publish_uploaded(event=event, site_dir=site_dir)
        else:
            tasks.render_event(event=event, site_dir=site_dir)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, events))


def test_shuffled_duplicated_concurrent_events_match_rebuild(db, site_dir, tmp_path):
    rng = random.Random(20210429)
    rebuild(site_dir=site_dir)  # as `newsroom run` does on an empty site folder
    start = datetime(2021, 1, 5, 8, 0, tzinfo=UTC)
    pending: list[dict] = []
    delivered: list[dict] = []

    def deliver_some() -> None:
        """Hand a random part of the pending events to the workers, shuffled, some twice."""
        batch = [pending.pop(rng.randrange(len(pending))) for _ in range(len(pending) // 2)]
        delivered.extend(batch)
        _apply_all(batch + rng.sample(batch, len(batch) // 3), site_dir)

    # Uploaded media: two photos and a report shown by items, and a photo no item shows.
    photos = [media_items.image(700, 500, seed=seed) for seed in (1, 2)]
    report = media_items.pdf()
    unused = media_items.image(500, 400, seed=3)
    pending += [
        MediaUploaded(media_id=media_id).model_dump(mode="json")
        for media_id in (*photos, report, unused)
    ]
    ids = []
    for n in range(30):
        shown = {}
        if n % 3 == 0:
            shown["image"] = {"media_id": str(photos[n % 2]), "alt": f"Bild till nyhet {n}"}
        if n % 4 == 0:
            shown["attachments"] = [{"title": "Verksamhetsrapport", "media_id": str(report)}]
        item_id = add_item(
            title=f"Nyhet {n}: åtgärder för hållbar upphandling i Östergötland",
            slug=f"nyhet-{n}",
            # Some share a timestamp, so the id decides their order.
            published_at=start + timedelta(days=rng.choice([3 * n, 3 * n, 3 * (n - 1)])),
            region_slugs=tuple(rng.sample(REGIONS, 1)),
            topic_slugs=tuple(rng.sample(TOPICS, 2)),
            **shown,
        )
        ids.append(item_id)
        pending.append(published(item_id))
        if n % 5 == 4:
            deliver_some()
    moves = rng.sample(ids, 10)
    for n, item_id in enumerate(moves + moves[:3]):  # three items move twice
        previous = change_item(
            item_id,
            title=f"Ändrad rubrik {n} med å, ä och ö",
            slug=f"andrad-{n}" if n % 2 else item_id_slug(item_id),
            published_at=start + timedelta(days=rng.randrange(0, 120), hours=3),
            regions=[rng.choice(REGIONS)],
            topics=[rng.choice(TOPICS)],
        )
        pending.append(updated(item_id, previous))
        if n % 3 == 2:
            deliver_some()
    for n, item_id in enumerate(rng.sample(ids, 6)):
        previous = change_item(item_id, status="withdrawn")
        pending.append(withdrawn(item_id, previous))
        if n % 3 == 2:
            deliver_some()
    # The rest arrive last, mixed with late duplicates of events already handled.
    burst = pending + rng.sample(delivered, 10)
    rng.shuffle(burst)
    _apply_all(burst, site_dir)

    fresh = tmp_path / "fresh"
    rebuild(site_dir=fresh)
    incremental, rebuilt = snapshot(site_dir), snapshot(fresh)
    assert sorted(incremental) == sorted(rebuilt)
    differing = [path for path in rebuilt if incremental[path] != rebuilt[path]]
    assert differing == []
    assert any(b'http-equiv="refresh"' in data for data in rebuilt.values())
    assert any("Nyheten är borttagen".encode() in data for data in rebuilt.values())
    published_media = [path for path in rebuilt if path.startswith("media/")]
    # Two photos (original, 480 and 700 px in three formats, 600 px for mail), the report, the
    # unused photo (original, 480 and 500 px: its 500 px JPEG serves mail).
    assert len(published_media) == 2 * 8 + 1 + 7
    assert any(b'<source type="image/avif"' in data for data in rebuilt.values())


def item_id_slug(item_id) -> str:
    with session_scope() as session:
        return session.get(Item, item_id).slug


def test_event_writes_a_bounded_number_of_files(db, site_dir):
    ids = [
        add_item(
            title=f"Nyhet {n}", published_at=datetime(2021, 1 + n % 12, 1 + n % 27, tzinfo=UTC)
        )
        for n in range(40)
    ]
    rebuild(site_dir=site_dir)
    new = add_item(title="Ny nyhet", published_at=datetime(2021, 6, 15, 12, tzinfo=UTC))
    report = tasks.render_event(event=published(new), site_dir=site_dir)
    # Item, two neighbours, 5 latest files, archive + sitemap index, month + its sitemap,
    # 3 tags x 4 files, the year page, /region/ and /amne/, the months before and after:
    # nothing proportional to the 40 items already there.
    assert len(report.written) <= 1 + 2 + 5 + 2 + 2 + 3 * 4 + 1 + 2 + 2
    assert len(ids) == 40


def _burst(rng: random.Random, start: datetime) -> list[dict]:
    """40 items published, 12 of them changed (5 twice, moving), 5 withdrawn: their events,
    all committed before any is rendered."""
    events, ids = [], []
    for n in range(40):
        item_id = add_item(
            title=f"Skurnyhet {n}: krav på leverantörer i Östergötland",
            slug=f"skur-{n}",
            published_at=start + timedelta(hours=rng.choice([5 * n, 5 * n, 5 * (n - 1)])),
            region_slugs=tuple(rng.sample(REGIONS, 1)),
            topic_slugs=tuple(rng.sample(TOPICS, 2)),
        )
        ids.append(item_id)
        events.append(published(item_id))
    changed = rng.sample(ids, 12)
    for n, item_id in enumerate(changed + changed[:5]):
        previous = change_item(
            item_id,
            title=f"Ändrad skurnyhet {n} med å, ä och ö",
            slug=f"flyttad-{n}" if n % 2 else item_id_slug(item_id),
            published_at=start + timedelta(days=rng.randrange(0, 60), hours=2),
            regions=[rng.choice(REGIONS)],
            topics=[rng.choice(TOPICS)],
        )
        events.append(updated(item_id, previous))
    for item_id in rng.sample(ids, 5):
        events.append(withdrawn(item_id, change_item(item_id, status="withdrawn")))
    return events


def _assert_matches_rebuild(site_dir, fresh) -> None:
    rebuild(site_dir=fresh)
    incremental, rebuilt = snapshot(site_dir), snapshot(fresh)
    assert sorted(incremental) == sorted(rebuilt)
    assert [path for path in rebuilt if incremental[path] != rebuilt[path]] == []


def test_navigation_pages_follow_events_and_match_rebuild(db, site_dir, tmp_path):
    """Year pages, the months' previous/next links and /region/ and /amne/: each event
    rewrites those it touches (and no others), and the site equals a rebuild after each."""
    november = add_item(
        title="Novembernyhet",
        published_at=datetime(2020, 11, 10, 9, tzinfo=UTC),
        region_slugs=("region-skane",),
        topic_slugs=("miljo",),
    )
    add_item(
        title="Marsnyhet",
        published_at=datetime(2021, 3, 10, 9, tzinfo=UTC),
        region_slugs=("region-gotland",),
        topic_slugs=("textilier",),
    )
    rebuild(site_dir=site_dir)
    march = (site_dir / "arkiv/2021/03/index.html").read_text(encoding="utf-8")
    assert 'href="/arkiv/2020/11/" rel="prev">November 2020' in march
    archive = (site_dir / "arkiv/index.html").read_text(encoding="utf-8")
    assert '<a href="/arkiv/2020/">2020</a>' in archive and '<a href="/arkiv/2021/">' in archive
    year_2020 = (site_dir / "arkiv/2020/index.html").read_text(encoding="utf-8")
    assert 'Nästa år: <a href="/arkiv/2021/" rel="next">2021</a>' in year_2020
    assert "Föregående år" not in year_2020

    # A first item in January 2021, in a region and no topic.
    january = add_item(
        title="Januarinyhet",
        published_at=datetime(2021, 1, 20, 9, tzinfo=UTC),
        region_slugs=("region-skane",),
        topic_slugs=(),
    )
    report = tasks.render_event(event=published(january), site_dir=site_dir)
    written = set(report.written)
    assert {
        "region/index.html",
        "arkiv/2021/index.html",
        "arkiv/2020/11/index.html",  # its next month is now January
        "arkiv/2021/03/index.html",  # its previous month is now January
    } <= written
    assert "amne/index.html" not in written and "arkiv/2020/index.html" not in written
    regions = (site_dir / "region/index.html").read_text(encoding="utf-8")
    skane = regions.split('href="/region/region-skane/">Region Skåne</a>')[1].split("</li>")[0]
    assert "2 nyheter" in skane and "Januarinyhet</a>, <time" in skane
    assert "20 jan 2021" in skane
    november_page = (site_dir / "arkiv/2020/11/index.html").read_text(encoding="utf-8")
    assert 'href="/arkiv/2021/01/" rel="next">Januari 2021' in november_page
    year = (site_dir / "arkiv/2021/index.html").read_text(encoding="utf-8")
    assert "Januari 2021</a> (1)" in year and "Mars 2021</a> (1)" in year
    _assert_matches_rebuild(site_dir, tmp_path / "fresh-1")

    # Withdrawn: January is empty again, its neighbours link each other.
    previous = change_item(january, status="withdrawn")
    tasks.render_event(event=withdrawn(january, previous), site_dir=site_dir)
    assert not (site_dir / "arkiv/2021/01/index.html").exists()
    march = (site_dir / "arkiv/2021/03/index.html").read_text(encoding="utf-8")
    assert 'href="/arkiv/2020/11/" rel="prev">' in march
    _assert_matches_rebuild(site_dir, tmp_path / "fresh-2")

    # The November item moves to May 2021: 2020 has no items left, nor a year page.
    previous = change_item(november, published_at=datetime(2021, 5, 2, 9, tzinfo=UTC))
    tasks.render_event(event=updated(november, previous), site_dir=site_dir)
    assert not (site_dir / "arkiv/2020/index.html").exists()
    assert 'href="/arkiv/2020/' not in (site_dir / "arkiv/index.html").read_text("utf-8")
    assert 'href="/arkiv/2020/' not in (site_dir / "arkiv/2021/index.html").read_text("utf-8")
    _assert_matches_rebuild(site_dir, tmp_path / "fresh-3")


def test_year_pages_link_the_years_beside_them_as_years_appear_and_go(db, site_dir, tmp_path):
    """A first item of a year links it from the years before and after it, which the event
    does not otherwise touch; its withdrawal links them to each other again."""
    for year in (2019, 2021):
        add_item(title=f"Nyhet {year}", published_at=datetime(year, 6, 1, 9, tzinfo=UTC))
    rebuild(site_dir=site_dir)

    def year_page(year: int) -> str:
        return (site_dir / f"arkiv/{year}/index.html").read_text(encoding="utf-8")

    assert 'Nästa år: <a href="/arkiv/2021/" rel="next">' in year_page(2019)
    between = add_item(title="Nyhet 2020", published_at=datetime(2020, 6, 1, 9, tzinfo=UTC))
    tasks.render_event(event=published(between), site_dir=site_dir)
    assert 'Nästa år: <a href="/arkiv/2020/" rel="next">' in year_page(2019)
    assert 'Föregående år: <a href="/arkiv/2020/" rel="prev">' in year_page(2021)
    assert 'rel="prev">2019</a>' in year_page(2020) and 'rel="next">2021</a>' in year_page(2020)
    _assert_matches_rebuild(site_dir, tmp_path / "fresh-1")

    previous = change_item(between, status="withdrawn")
    tasks.render_event(event=withdrawn(between, previous), site_dir=site_dir)
    assert 'Nästa år: <a href="/arkiv/2021/" rel="next">' in year_page(2019)
    _assert_matches_rebuild(site_dir, tmp_path / "fresh-2")


def test_the_migration_counts_the_tags_as_the_renderer_does(db):
    """render_tags made by its migration over existing items is what a rebuild counts."""
    from alembic import command
    from sqlalchemy import select

    from services.render.renderer import count_tags
    from shared.db import get_engine, utcnow
    from shared.migrate import alembic_config, upgrade
    from shared.models import RenderTag

    add_item(published_at=datetime(2021, 1, 5, tzinfo=UTC), region_slugs=("region-skane",))
    newest = add_item(published_at=datetime(2021, 2, 5, tzinfo=UTC), region_slugs=("region-skane",))
    add_item(published_at=datetime(2021, 3, 5, tzinfo=UTC), status="draft")
    command.downgrade(alembic_config(db), "0009_editor")
    upgrade(db)
    get_engine().dispose()

    def rows() -> list[tuple]:
        with session_scope() as session:
            query = select(RenderTag.kind, RenderTag.slug, RenderTag.count, RenderTag.newest_id)
            return sorted(tuple(row) for row in session.execute(query))

    migrated = rows()
    assert ("region", "region-skane", 2, newest) in migrated
    assert ("topic", "miljo", 2, newest) in migrated and len(migrated) == 3
    with session_scope() as session:
        count_tags(session, now=utcnow())
    assert rows() == migrated


def test_a_waiting_burst_is_rendered_once_by_several_workers_and_matches_rebuild(
    db, site_dir, tmp_path
):
    rng = random.Random(19)
    rebuild(site_dir=site_dir)
    events = _burst(rng, datetime(2021, 3, 1, 8, 0, tzinfo=UTC))
    # Received out of order, some twice, before any worker took them.
    received = events + rng.sample(events, 10)
    rng.shuffle(received)
    with session_scope() as session:
        for event in received:
            work.add(session=session, event=event)

    with ThreadPoolExecutor(max_workers=4) as pool:
        reports = list(
            pool.map(lambda _: tasks.render_event(event=None, site_dir=site_dir), range(4))
        )

    # Each page of the burst written once: the shared pages once for all 57 events, not once
    # per event, whichever of the four workers took them.
    written = [path for report in reports for path in report.written]
    assert len(written) == len(set(written))
    assert written.count("index.html") == 1 and written.count("rss.xml") == 1
    assert len(written) < 3 * len(events)
    with session_scope() as session:
        assert work.pending(session=session) == 0
    _assert_matches_rebuild(site_dir, tmp_path / "fresh")

    # Late: events already rendered come again, alone and together with a new one.
    for event in rng.sample(events, 5):
        tasks.render_event(event=event, site_dir=site_dir)
    newest = add_item(
        title="Sen nyhet om handskar",
        published_at=datetime(2021, 3, 20, 9, tzinfo=UTC),
        region_slugs=(REGIONS[0],),
        topic_slugs=(TOPICS[1],),
    )
    late = [published(newest), *rng.sample(events, 5)]
    _apply_all(late + late[:2], site_dir)
    _assert_matches_rebuild(site_dir, tmp_path / "fresh-after-late")


def test_a_pass_that_fails_midway_leaves_its_events_waiting(db, site_dir, tmp_path, monkeypatch):
    rng = random.Random(7)
    rebuild(site_dir=site_dir)
    events = _burst(rng, datetime(2021, 5, 3, 8, 0, tzinfo=UTC))
    with session_scope() as session:
        for event in events[:-1]:
            work.add(session=session, event=event)
    failed = []

    def failing(self, target):
        if isinstance(target, TagPages) and not failed:  # in the middle of the second pass
            failed.append(target)
            raise OSError(28, "No space left on device")
        return render(self, target)

    render = Renderer.render
    monkeypatch.setattr(Renderer, "render", failing)
    with pytest.raises(OSError):
        tasks.render_event(event=events[-1], site_dir=site_dir)
    with session_scope() as session:
        # The first pass is done; the second rolled back: nothing lost.
        assert work.waiting(session=session, stage=work.REST) != []
        assert work.pending(session=session) == len(events)

    tasks.render_event(event=None, site_dir=site_dir)
    with session_scope() as session:
        assert work.pending(session=session) == 0
    _assert_matches_rebuild(site_dir, tmp_path / "fresh")
