"""Render's work is written with each item event: a worker takes every committed event in one
batch, whether or not its message came yet, and a scheduled item's only once it is due."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from services.render import tasks, work
from services.render.rebuild import rebuild
from shared import outbox
from shared.db import session_scope, utcnow
from shared.models import RenderWork
from tests.integration.test_render_site import add_item, published, snapshot


def _record(event: dict, *, deliver_after: datetime | None = None) -> None:
    """What ingest does in the item's transaction: the event into the outbox."""
    from shared.events import parse_event

    with session_scope() as session:
        outbox.record(session, parse_event(event), deliver_after=deliver_after)


def test_one_message_renders_every_committed_event_and_the_others_cost_nothing(db, site_dir):
    rebuild(site_dir=site_dir)
    events = []
    for n in range(12):
        item_id = add_item(
            title=f"Nyhet {n} om upphandling i Jämtland",
            slug=f"nyhet-{n}",
            published_at=datetime(2021, 2, 1 + n, 9, tzinfo=UTC),
        )
        events.append(published(item_id))
        _record(events[-1])

    first = tasks.render_event(event=events[0], site_dir=site_dir)  # the first message
    pages = [f"aktuellt/2021/02/nyhet-{n}/index.html" for n in range(12)]
    assert set(pages) <= set(first.written)
    assert first.written.count("index.html") == 1
    with session_scope() as session:
        assert work.pending(session=session) == 0
    before = snapshot(site_dir)
    for event in events[1:]:  # the other messages, behind it in the queue
        assert tasks.render_event(event=event, site_dir=site_dir).changed == 0
    assert snapshot(site_dir) == before


def test_a_scheduled_items_work_waits_for_its_time_or_its_message(db, site_dir):
    rebuild(site_dir=site_dir)
    later = utcnow() + timedelta(hours=1)
    scheduled = add_item(
        title="Schemalagd nyhet om livsmedel", slug="schemalagd", published_at=later
    )
    now = add_item(title="Nyhet om handskar", slug="handskar", published_at=utcnow())
    _record(published(scheduled), deliver_after=later)
    _record(published(now))

    tasks.render_event(event=None, site_dir=site_dir)  # a pass for some other event
    with session_scope() as session:
        waiting = session.query(RenderWork).filter(RenderWork.stage != work.DONE).all()
        assert [row.event["item_id"] for row in waiting] == [str(scheduled)]

    # Its message comes at its time (the relay's clock): then it is due, whatever ours says.
    tasks.render_event(event=waiting[0].event, site_dir=site_dir)
    with session_scope() as session:
        assert work.pending(session=session) == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_on_sqlite_others_write_while_the_second_pass_renders_its_pages(db, site_dir, monkeypatch):
    # SQLite has one writer at a time: the pass's counts are committed before its month and
    # tag pages are rendered, so a request's insert waits for them, not for every page.
    from services.render.pages import MonthPages
    from services.render.renderer import Renderer

    rebuild(site_dir=site_dir)
    item_id = add_item(title="Nyhet om textilier", published_at=datetime(2021, 2, 1, tzinfo=UTC))
    _record(published(item_id))
    writes: list[str] = []
    render = Renderer.render

    def render_and_let_another_write(self, target):
        if isinstance(target, MonthPages) and not writes:  # the second pass's first page
            raw = sqlite3.connect(db.removeprefix("sqlite:///"), timeout=0.2)
            try:
                with raw:
                    raw.execute("UPDATE render_months SET count = count WHERE 0")
                writes.append("written")
            except sqlite3.OperationalError as error:
                writes.append(str(error))
            finally:
                raw.close()
        return render(self, target)

    monkeypatch.setattr(Renderer, "render", render_and_let_another_write)
    tasks.render_event(event=None, site_dir=site_dir)
    assert writes == ["written"]


def test_readers_pages_are_written_before_the_linking_pages_are_looked_up(
    db, site_dir, monkeypatch
):
    # The item's page, /aktuellt/ and the feeds are what readers wait for: the queries for
    # the neighbours that link to it come after them (about 5 ms sooner at the bench's p50).
    from services.render import events

    rebuild(site_dir=site_dir)
    item_id = add_item(title="Nyhet om läkemedel", slug="lakemedel", published_at=utcnow())
    _record(published(item_id))
    seen: list[bool] = []
    linking = events._linking

    def look_up(session, changes, items, *, now):
        feeds = (site_dir / "rss.xml").read_text() + (site_dir / "feed.json").read_text()
        latest = (site_dir / "aktuellt/index.html").read_text()
        page = any(site_dir.glob("aktuellt/*/*/lakemedel/index.html"))
        seen.append(page and "Nyhet om läkemedel" in feeds + latest)
        return linking(session, changes, items, now=now)

    monkeypatch.setattr(events, "_linking", look_up)
    tasks.render_event(event=None, site_dir=site_dir)
    assert seen == [True]
