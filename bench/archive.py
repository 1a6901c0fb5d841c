"""Realistic archives, fast: items (and their tags, as ingest writes them) from the sample
items as templates, bulk-loaded with COPY on PostgreSQL or executemany on SQLite."""

from __future__ import annotations

import json
import random
import secrets
import uuid
from datetime import datetime, timedelta
from importlib.resources import files
from zoneinfo import ZoneInfo

from slugify import slugify

from shared.markup import render_markdown
from shared.taxonomy import DEFAULT_REGIONS, DEFAULT_TOPICS

STOCKHOLM = ZoneInfo("Europe/Stockholm")
# The same publishing pace for every archive size (20 items a day), so a month page holds as
# many items at 1k as at 100k and only the archive's size differs between the two.
SPACING = timedelta(minutes=72)
AUTHORS = ["Anna Ström", "Åsa Öberg", "Jörgen Näslund", "Märta Ek", "Lars-Åke Sjöö"]
ITEM_COLUMNS = (
    "id",
    "slug",
    "month",
    "title",
    "summary",
    "body_md",
    "body_html",
    "published_at",
    "regions",
    "topics",
    "author_name",
    "author_email",
    "attachments",
    "image",
    "status",
    "version",
    "contributor_id",
    "created_at",
    "updated_at",
    "withdrawn_at",
)
TAG_COLUMNS = ("item_id", "kind", "slug", "published_at", "visible")


def templates() -> list[dict]:
    """The sample items, each with its body rendered once (what ingest stores as body_html)."""
    data = json.loads((files("shared") / "data" / "sample_items.json").read_text("utf-8"))
    out = []
    for raw in data["items"]:
        out.append({**raw, "body_html": render_markdown(raw["body"])})
    return out


def rows(count: int, *, end: datetime, seed: int = 1, prefix: str = "a", jitter: bool = True):
    """(item dict, [tag dicts]) for `count` published items, oldest first, ending at `end`
    (each up to a minute earlier than its slot, unless `jitter` is false)."""
    rng = random.Random(seed)
    samples = templates()
    regions, topics = list(DEFAULT_REGIONS), list(DEFAULT_TOPICS)
    for n in range(count):
        tmpl = samples[n % len(samples)]
        offset = timedelta(seconds=rng.randrange(60)) if jitter else timedelta(0)
        published_at = end - SPACING * (count - 1 - n) - offset
        item_regions = list(tmpl.get("regions") or [])
        if rng.random() < 0.5:  # spread items over every tag page, as a network of 22 would
            item_regions = [rng.choice(regions)]
        item_topics = list(tmpl.get("topics") or [])
        if rng.random() < 0.5:
            item_topics = sorted(set(rng.sample(topics, 2)))
        title = tmpl["title"]
        item_id = uuid.uuid4()
        author = AUTHORS[n % len(AUTHORS)]
        item = {
            "id": item_id,
            "slug": f"{slugify(title, max_length=70, word_boundary=True)}-{prefix}{n}",
            "month": published_at.astimezone(STOCKHOLM).strftime("%Y-%m"),
            "title": title,
            "summary": tmpl["summary"],
            "body_md": tmpl["body"],
            "body_html": tmpl["body_html"],
            "published_at": published_at,
            "regions": item_regions,
            "topics": item_topics,
            "author_name": author,
            "author_email": None,
            "attachments": [],
            "image": None,
            "status": "published",
            "version": 1,
            "contributor_id": None,
            "created_at": published_at,
            "updated_at": published_at,
            "withdrawn_at": None,
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


def load(
    database_url: str,
    count: int,
    *,
    end: datetime,
    seed: int = 1,
    prefix: str = "a",
    jitter: bool = True,
) -> int:
    """Insert `count` items ending at `end`; return how many tag rows were written."""
    generated = rows(count, end=end, seed=seed, prefix=prefix, jitter=jitter)
    if database_url.startswith("postgresql"):
        return _copy_postgres(database_url, generated)
    return _insert_sqlalchemy(generated)


def _copy_postgres(database_url: str, generated) -> int:
    from bench.common import pg_connect

    # Items stream straight into COPY; only their (small) tag rows wait for the second COPY.
    tags: list[tuple] = []
    count = 0
    json_columns = {"regions", "topics", "attachments", "image"}
    with pg_connect(database_url) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY items ({', '.join(ITEM_COLUMNS)}) FROM STDIN") as copy:
                for item, item_tags in generated:
                    copy.write_row(
                        [
                            json.dumps(item[c], ensure_ascii=False)
                            if c in json_columns and item[c] is not None
                            else item[c]
                            for c in ITEM_COLUMNS
                        ]
                    )
                    tags.extend(tuple(tag[c] for c in TAG_COLUMNS) for tag in item_tags)
                    count += 1
            with cur.copy(f"COPY item_tags ({', '.join(TAG_COLUMNS)}) FROM STDIN") as copy:
                for tag in tags:
                    copy.write_row(tag)
        if count >= 1000:  # fresh statistics for the planner after a bulk load
            conn.execute("ANALYZE items")
            conn.execute("ANALYZE item_tags")
    return len(tags)


def _insert_sqlalchemy(generated) -> int:
    from sqlalchemy import insert

    from shared.db import session_scope
    from shared.models import Item, ItemTag

    written = 0
    batch: list = []

    def flush() -> int:
        with session_scope() as session:
            session.execute(insert(Item), [item for item, _ in batch])
            tags = [tag for _, item_tags in batch for tag in item_tags]
            session.execute(insert(ItemTag), tags)
        return len(tags)

    for row in generated:
        batch.append(row)
        if len(batch) == 2000:
            written += flush()
            batch = []
    if batch:
        written += flush()
    return written


def load_subscribers(database_url: str, count: int, *, item_region: str, start: int = 0) -> None:
    """`count` confirmed immediate subscribers, every one of whom wants an item of `item_region`."""
    from bench.common import pg_connect

    rng = random.Random(start + 7)
    regions = list(DEFAULT_REGIONS)
    columns = (
        "email",
        "link_id",
        "regions",
        "topics",
        "frequency",
        "status",
        "created_at",
        "confirmed_at",
        "consent_at",
        "consent_source",
    )
    now = datetime.now(tz=STOCKHOLM)
    with pg_connect(database_url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY subscribers ({', '.join(columns)}) FROM STDIN") as copy:
            for n in range(start, start + count):
                chosen = [] if rng.random() < 0.7 else sorted({item_region, rng.choice(regions)})
                copy.write_row(
                    [
                        f"prenumerant-{n}@kommun{n % 290}.example.se",
                        secrets.token_urlsafe(16),
                        json.dumps(chosen),
                        "[]",
                        "immediate",
                        "confirmed",
                        now,
                        now,
                        now,
                        "bench",
                    ]
                )
        conn.execute("ANALYZE subscribers")
