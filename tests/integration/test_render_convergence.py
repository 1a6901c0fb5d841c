"""Events in any order, twice, late and concurrently converge to exactly what rebuild makes."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from services.render import tasks
from services.render.rebuild import rebuild
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
    # 3 tags x 4 files: nothing proportional to the 40 items already there.
    assert len(report.written) <= 1 + 2 + 5 + 2 + 2 + 3 * 4
    assert len(ids) == 40
