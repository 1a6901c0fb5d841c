"""Measurements that run in a child process of their own (so its peak RSS is its own):

    python -m bench.child rebuild | files-per-event N | feeds | mail-render N | search

Settings come from the NEWSROOM_ environment; the last stdout line is JSON.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path


def _maxrss_kb() -> int:
    """Peak RSS of this process since its exec: VmHWM (ru_maxrss would also count the memory
    of the parent it was forked from, before the exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rebuild() -> dict:
    """A full rebuild as `newsroom rebuild` runs it: one process per CPU (this one and forked
    helpers). Peak RSS of the tree: this process's VmHWM plus each helper's peak (the largest
    helper's ru_maxrss times their number), an upper bound since each helper counts the pages
    it shares with this process as its own."""
    from services.render.rebuild import rebuild as render_rebuild
    from shared.config import get_settings

    site_dir = get_settings().site_dir
    workers = len(os.sched_getaffinity(0))
    began = time.perf_counter()
    report = render_rebuild(site_dir=site_dir, workers=workers)
    seconds = time.perf_counter() - began
    pages = report.pages_written
    own = resource.getrusage(resource.RUSAGE_SELF)
    helpers = resource.getrusage(resource.RUSAGE_CHILDREN)  # helpers have exited by now
    cpu = own.ru_utime + own.ru_stime + helpers.ru_utime + helpers.ru_stime
    main_kb, helper_kb = _maxrss_kb(), helpers.ru_maxrss
    return {
        "seconds": seconds,
        "workers": workers,
        "files_written": report.files_written,
        "html_pages_written": pages,
        "unchanged": report.unchanged,
        "removed": report.files_removed,
        "pages_per_s": pages / seconds,
        "files_per_s": report.files_written / seconds,
        "cpu_seconds": cpu,
        "pages_per_cpu_s": pages / cpu,
        "main_maxrss_kb": main_kb,
        "helper_maxrss_kb": helper_kb,
        "maxrss_kb": main_kb + (workers - 1) * helper_kb,
    }


def files_per_event(count: int) -> dict:
    """Publish `count` new items into the archive (rows, then the render service's own
    `render_event`, as its worker runs it) and read the render report of each."""
    from sqlalchemy import select

    from bench.archive import load
    from services.render.tasks import render_event
    from shared.config import get_settings
    from shared.db import session_scope, utcnow
    from shared.events import ItemPublished
    from shared.models import Item

    settings = get_settings()
    written, millis, cpu = [], [], []
    for n in range(count):
        prefix = f"probe{uuid.uuid4().hex[:6]}-"
        # The newest item, as a new post is: one neighbour, whatever was published before.
        load(
            settings.database_url,
            1,
            end=utcnow() - timedelta(milliseconds=1),
            seed=100 + n,
            prefix=prefix,
            jitter=False,
        )
        with session_scope() as session:
            item_id = session.scalars(select(Item.id).where(Item.slug.like(f"%-{prefix}0"))).one()
        event = ItemPublished(item_id=item_id, item_version=1).model_dump(mode="json")
        began, began_cpu = time.perf_counter(), time.process_time()
        report = render_event(event=event, site_dir=settings.site_dir)
        millis.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
        written.append(report.changed)
    return {"files_changed": written, "apply_event_ms": millis, "apply_event_cpu_ms": cpu}


def feeds(repeat: int = 200) -> dict:
    """One 50-entry feed of each kind from the 50 newest items (data loaded once)."""
    from sqlalchemy import select
    from sqlalchemy.orm import lazyload

    from services.render import feeds, views
    from shared.config import get_settings
    from shared.db import session_scope
    from shared.models import Item

    site = views.Site.from_settings(get_settings())
    with session_scope() as session:
        items = list(
            session.scalars(
                select(Item)
                .options(lazyload(Item.tags))
                .where(Item.status == "published")
                .order_by(Item.published_at.desc())
                .limit(50)
            )
        )
        session.expunge_all()
    assert len(items) == 50, len(items)
    scope = feeds.site_scope(site)

    def cold():  # no entry built before: as the first feed of a rebuild
        feeds.clear_entries()
        feeds.render_feeds(site, scope, items)

    kinds = {
        "rss": lambda: feeds.render_rss(site, scope, items),
        "atom": lambda: feeds.render_atom(site, scope, items),
        "json": lambda: feeds.render_json_feed(site, scope, items),
        "all_three": lambda: feeds.render_feeds(site, scope, items),
        "all_three_cold": cold,
    }
    out = {}
    for name, fn in kinds.items():
        for _ in range(20):  # warm up
            fn()
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            fn()
            times.append((time.perf_counter() - began) * 1000)
        out[name] = {
            "median_ms": statistics.median(times),
            "min_ms": min(times),
            "p90_ms": sorted(times)[int(len(times) * 0.9)],
        }
    return out


def mail_render(count: int) -> dict:
    """Per-recipient cost of a newsletter: the personal message and its bytes, as
    `deliver_batch` makes them (the shared part is rendered once, first)."""
    from sqlalchemy import select

    from services.notify import delivery, mail
    from shared.db import session_scope, utcnow
    from shared.models import Item, Subscriber

    now = utcnow()
    with session_scope() as session:
        item = session.scalars(select(Item).order_by(Item.published_at.desc()).limit(1)).one()
        subscribers = list(session.scalars(select(Subscriber).limit(count)))
        newsletter = delivery.ItemNewsletter(item, now=now)
        began = time.perf_counter()
        first = newsletter.message_for(subscribers[0])
        mail.message_bytes(first)
        first_ms = (time.perf_counter() - began) * 1000
        for subscriber in subscribers[:200]:  # warm up
            mail.message_bytes(newsletter.message_for(subscriber))
        began = time.perf_counter()
        for subscriber in subscribers:
            mail.message_bytes(newsletter.message_for(subscriber))
        per = (time.perf_counter() - began) * 1000 / len(subscribers)
        # The two parts: the message object (links, tokens, headers) and its serialisation.
        began = time.perf_counter()
        messages = [newsletter.message_for(s) for s in subscribers[:1000]]
        build = (time.perf_counter() - began) * 1000 / len(messages)
        began = time.perf_counter()
        for message in messages:
            mail.message_bytes(message)
        serialise = (time.perf_counter() - began) * 1000 / len(messages)
    return {
        "per_recipient_ms": per,
        "first_ms": first_ms,
        "recipients": len(subscribers),
        "build_message_ms": build,
        "as_bytes_ms": serialise,
    }


def embedded_alone():
    """uvicorn factory: the embedded app without its worker thread, relay and beat, so that
    the ingest bench can tell what the request path alone takes in one process."""
    from newsroom.embedded import create_app

    return create_app(with_workers=False)


def main() -> None:
    command = sys.argv[1]
    if command == "rebuild":
        result = rebuild()
    elif command == "files-per-event":
        result = files_per_event(int(sys.argv[2]))
    elif command == "feeds":
        result = feeds()
    elif command == "mail-render":
        result = mail_render(int(sys.argv[2]))
    elif command == "search":
        from bench.search import measure

        result = measure()
    else:
        raise SystemExit(f"unknown command {command}")
    result.setdefault("maxrss_kb", _maxrss_kb())
    print(json.dumps(result))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
