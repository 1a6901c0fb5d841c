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
from shared.models import Item
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

    ids = []
    for n in range(30):
        item_id = add_item(
            title=f"Nyhet {n}: åtgärder för hållbar upphandling i Östergötland",
            slug=f"nyhet-{n}",
            # Some share a timestamp, so the id decides their order.
            published_at=start + timedelta(days=rng.choice([3 * n, 3 * n, 3 * (n - 1)])),
            region_slugs=tuple(rng.sample(REGIONS, 1)),
            topic_slugs=tuple(rng.sample(TOPICS, 2)),
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
    # 3 tags x 4 files: nothing proportional to the 40 items already there.
    assert len(report.written) <= 1 + 2 + 5 + 2 + 2 + 3 * 4
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
