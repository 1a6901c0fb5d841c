"""Render faults: `kill -9` of the render worker, three times, during a burst of posts, updates
and withdrawals (once the queue is drained the site is byte-identical to a full rebuild); items
render cannot render; a full or read-only disk."""

from __future__ import annotations

import errno
import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from sqlalchemy import select

from services.render import tasks
from services.render.rebuild import rebuild
from shared.config import get_settings
from shared.db import session_scope
from shared.models import Item, RenderBacklog
from tests.faults.burst import (
    burst,
    differences,
    editors,
    kill_busy,
    rebuilt,
    tree,
    wait_quiet,
)
from tests.faults.conftest import BIN, FULL, Stack
from tests.integration.test_render_site import add_item, published, read, snapshot

OPERATIONS = 1000 if FULL else 150
START = datetime(2021, 4, 5, 8, tzinfo=UTC)


@pytest.mark.timeout(900 if FULL else 240)
def test_render_worker_killed_three_times_converges_to_rebuild(stack: Stack, tmp_path):
    stack.run(str(BIN / "newsroom"), "rebuild")  # the site as deployed, before the burst
    tokens = editors(stack, 3)
    stack.uvicorn("ingest", "services.ingest.api:create_app")
    stack.worker("render", "services.render.tasks", "render", concurrency=2)
    kills_at = {OPERATIONS * k // 4 for k in (1, 2, 3)}
    held: list[int] = []

    def maybe_kill(i: int) -> None:
        if i in kills_at:
            held.append(kill_busy(stack, "render", "render"))
            time.sleep(0.5)
            stack.restart("render")

    burst(stack, tokens, OPERATIONS, between=maybe_kill)
    recovery = wait_quiet(stack, "render", timeout=300 if FULL else 150)
    print(
        f"\nFAULT render-kill: {OPERATIONS} operations, 3 kills holding {held} messages, "
        f"drained {recovery:.1f} s after the last operation"
    )
    assert sum(held) > 0  # the kills took work in flight with them

    want = rebuilt(stack, tmp_path / "rebuilt")
    got = tree(stack.site)
    assert len(want) > OPERATIONS // 2
    assert differences(got, want) == []


def _left_out(what: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("newsroom_render_items_left_out_total", {"what": what}) or 0


def test_an_item_render_cannot_render_is_left_out_and_the_site_still_renders(
    db, site_dir, tmp_path, caplog
):
    """Data render cannot use (stored before a check existed, or by another path) costs the
    site that item's page, listing entry or feed entry, never the site."""
    for n in range(3):
        add_item(title=f"Hel nyhet {n}", slug=f"hel-{n}", published_at=START + timedelta(days=n))
    no_page = add_item(title="Trasiga bilagor", slug="bilagor", published_at=START)
    no_entry = add_item(title="Trasig region", slug="region", published_at=START)
    with session_scope() as session:
        session.get(Item, no_page).attachments = 5  # a number where a list belongs
        session.get(Item, no_entry).regions = [None]
    before = {what: _left_out(what) for what in ("item_page", "listing", "feed")}

    report = rebuild(site_dir=site_dir)
    assert report.failed == {str(no_page), str(no_entry)}
    assert "could not render 2 items" in str(report)
    assert all(_left_out(what) > before[what] for what in before)
    assert str(no_page) in caplog.text and str(no_entry) in caplog.text
    assert not (site_dir / "aktuellt/2021/04/bilagor").exists()  # no folder without a page
    assert "Trasig region" in read(site_dir, "aktuellt/2021/04/region/index.html")
    front, rss = read(site_dir, "index.html"), read(site_dir, "rss.xml")
    assert "Trasig region" not in front
    assert "Trasiga bilagor" not in rss and "Trasig region" not in rss
    for n in range(3):
        assert f"Hel nyhet {n}" in front and f"Hel nyhet {n}" in rss
        assert (site_dir / f"aktuellt/2021/04/hel-{n}/index.html").exists()
    for name in ("rss.xml", "atom.xml", "region/region-sormland/atom.xml"):
        assert not feedparser.parse((site_dir / name).read_bytes()).bozo, name
    assert len(json.loads(read(site_dir, "feed.json"))["items"]) == 3

    # Every later event renders, with the broken items among the latest.
    later = add_item(title="Senare nyhet", slug="senare", published_at=START + timedelta(days=9))
    tasks.render_event(event=published(later), site_dir=site_dir)
    assert "Senare nyhet" in read(site_dir, "index.html")
    assert "Senare nyhet" in read(site_dir, "atom.xml")

    # `newsroom rebuild` finishes and names them; it fails only when asked to be strict.
    for args, code in ((["rebuild"], 0), (["rebuild", "--strict"], 1)):
        done = subprocess.run(
            [str(BIN / "newsroom"), *args, "--workers", "2"], capture_output=True, text=True
        )
        assert done.returncode == code, done.stderr
        assert str(no_page) in done.stderr and str(no_entry) in done.stderr
    assert (site_dir / "aktuellt/2021/04/senare/index.html").exists()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs of its own for the site folder (mounted as root, as the tests run)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "newsroom-test", str(mount)], check=True
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)


def _fill(disk: Path) -> Path:
    """Take every free block of the disk; the file that holds them."""
    filler = disk / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"x" * 65536)
                handle.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC
    return filler


def _folders_without_a_page(site: Path) -> list[str]:
    return [
        str(folder.relative_to(site))
        for folder in site.glob("aktuellt/*/*/*")
        if not (folder / "index.html").exists()
    ]


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_pages_a_broken_disk_kept_from_being_written_are_written_once_it_is_fixed(
    db, small_disk, monkeypatch, tmp_path, fault
):
    site = small_disk / "site"
    monkeypatch.setenv("NEWSROOM_SITE_DIR", str(site))
    get_settings.cache_clear()
    for n in range(3):
        add_item(title=f"Nyhet {n}", slug=f"nyhet-{n}", published_at=START + timedelta(days=n))
    rebuild(site_dir=site)
    if fault == "full":
        filler = _fill(small_disk)
    else:
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    new = add_item(title="Nyhet på trasig disk", slug="trasig-disk", published_at=START)
    later = add_item(title="Senare nyhet", slug="senare", published_at=START + timedelta(days=5))
    for item_id in (new, later):
        # Run eagerly, the task's retries follow each other at once (a worker waits 2 s, 4 s,
        # ... up to 45 s between them); then it gives up, leaving the event to the repair.
        result = tasks.handle_event.apply(kwargs={"event": published(item_id)})
        assert result.state == "FAILURE"
    assert _folders_without_a_page(site) == []  # no folder a web server answers with 403
    with session_scope() as session:
        kept = session.scalars(select(RenderBacklog)).all()
    assert [row.attempts for row in kept] == [tasks.RETRIES + 1] * 2
    expected = errno.ENOSPC if fault == "full" else errno.EROFS
    assert all(f"Errno {expected}]" in row.error for row in kept)
    assert tasks.repair.apply().get() == {"repaired": 0, "waiting": 2}  # the disk still fails

    if fault == "full":
        filler.unlink()
    else:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert tasks.repair.apply().get() == {"repaired": 2, "waiting": 0}  # no operator needed
    with session_scope() as session:
        assert session.scalars(select(RenderBacklog)).all() == []
    rebuild(site_dir=tmp_path / "fresh")
    assert snapshot(site) == snapshot(tmp_path / "fresh")
    assert "Nyhet på trasig disk" in read(site, "aktuellt/2021/04/trasig-disk/index.html")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_repair_runs_every_minute_in_both_modes(db):
    from newsroom import beat, embedded
    from shared.celery_app import celery_app

    entry = beat.celery_app.conf.beat_schedule["render-repair"]  # the beat process
    assert entry["task"] == tasks.repair.name and entry["schedule"] <= 60
    celery_app.conf.beat_schedule = {}
    with embedded.background_workers(concurrency=1):  # `newsroom run`
        assert celery_app.conf.beat_schedule["render-repair"] == entry
