"""Measure render: files and milliseconds per event, and a full rebuild, at a given archive size.

    .venv/bin/python -m services.render.bench --items 1000 --events 50
    NEWSROOM_DATABASE_URL=postgresql+psycopg://... .venv/bin/python -m services.render.bench

Without NEWSROOM_DATABASE_URL it uses a new SQLite file in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from services.render import service
from shared.config import get_settings
from shared.db import session_scope
from shared.events import ItemPublished
from shared.migrate import upgrade
from shared.models import Item, ItemTag
from shared.taxonomy import DEFAULT_REGIONS, DEFAULT_TOPICS

STOCKHOLM = ZoneInfo("Europe/Stockholm")
BODY = "<p>Regionerna ställer krav på hållbara leverantörskedjor för textilier och handskar.</p>"


def _rows(count: int, start: datetime, step: timedelta, rng: random.Random):
    regions, topics = list(DEFAULT_REGIONS), list(DEFAULT_TOPICS)
    for n in range(count):
        published_at = start + step * n
        item_id = uuid.uuid4()
        item_regions, item_topics = rng.sample(regions, 1), rng.sample(topics, 2)
        item = {
            "id": item_id,
            "slug": f"nyhet-{n}",
            "title": f"Nyhet {n} om hållbar upphandling",
            "month": published_at.astimezone(STOCKHOLM).strftime("%Y-%m"),
            "summary": "Sammanfattning med å, ä och ö.",
            "body_md": "",
            "body_html": BODY * 4,
            "published_at": published_at,
            "regions": item_regions,
            "topics": item_topics,
            "author_name": "Åsa Öberg",
            "attachments": [],
            "image": None,
            "status": "published",
            "version": 1,
            "created_at": published_at,
            "updated_at": published_at,
        }
        tags = [
            {
                "item_id": item_id,
                "kind": kind,
                "slug": slug,
                "published_at": published_at,
                "visible": True,
            }
            for kind, slugs in (("region", item_regions), ("topic", item_topics))
            for slug in slugs
        ]
        yield item, tags


def seed(count: int, start: datetime, step: timedelta, rng: random.Random) -> list[uuid.UUID]:
    """Insert `count` published items (and their tags) in batches."""
    ids, batch = [], []
    for row in _rows(count, start, step, rng):
        batch.append(row)
        ids.append(row[0]["id"])
        if len(batch) == 1000:
            _insert(batch)
            batch = []
    if batch:
        _insert(batch)
    return ids


def _insert(batch) -> None:
    with session_scope() as session:
        session.execute(insert(Item), [item for item, _ in batch])
        session.execute(insert(ItemTag), [tag for _, tags in batch for tag in tags])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000, help="archive size before the events")
    parser.add_argument("--events", type=int, default=50, help="item.published events to time")
    parser.add_argument("--rebuild-only", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="render-bench-"))
    os.environ.setdefault("NEWSROOM_DATABASE_URL", f"sqlite:///{work / 'bench.db'}")
    get_settings.cache_clear()
    upgrade(get_settings().database_url)
    rng = random.Random(1)
    # Twelve years of archive whatever its size, all of it in the past (visible).
    start = datetime(2012, 1, 1, 8, tzinfo=UTC)
    step = (datetime(2024, 1, 1, tzinfo=UTC) - start) / args.items
    seed(args.items, start, step, rng)
    site_dir = work / "site"

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    report = service.rebuild(site_dir=site_dir)
    seconds = time.perf_counter() - began
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"database: {get_settings().database_url.split('@')[-1]}")
    print(
        f"rebuild of {args.items} items: {seconds:.2f} s, {len(report.written)} files, "
        f"{len(report.written) / seconds:.0f} files/s; peak RSS {rss_after / 1024:.0f} MiB "
        f"(+{(rss_after - rss_before) / 1024:.0f} MiB during the rebuild)"
    )
    if args.rebuild_only:
        return

    written, millis = [], []
    for n, (item, tags) in enumerate(_rows(args.events, start, step, rng)):
        # New items land inside the archive (not only at its end), so neighbours change too.
        item["published_at"] = start + step * rng.randrange(args.items) + timedelta(seconds=n)
        item["month"] = item["published_at"].astimezone(STOCKHOLM).strftime("%Y-%m")
        item["slug"] = f"ny-{n}"
        for tag in tags:
            tag["published_at"] = item["published_at"]
        _insert([(item, tags)])
        event = ItemPublished(item_id=item["id"], item_version=1).model_dump(mode="json")
        began = time.perf_counter()
        report = service.apply_event(event=event, site_dir=site_dir)
        millis.append((time.perf_counter() - began) * 1000)
        written.append(len(report.written) + len(report.removed))
    print(
        f"{args.events} item.published events at {args.items} items: "
        f"files written per event median {statistics.median(written):.0f}, max {max(written)}; "
        f"ms per event median {statistics.median(millis):.1f}, "
        f"p95 {sorted(millis)[int(len(millis) * 0.95) - 1]:.1f}"
    )


if __name__ == "__main__":
    main()
