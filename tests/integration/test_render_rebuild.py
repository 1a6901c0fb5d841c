"""A full rebuild shared between processes: the same bytes as one process, errors surface."""

from __future__ import annotations

import multiprocessing
import os
from datetime import UTC, datetime, timedelta

import pytest

from services.render import rebuild as rebuilding
from services.render import views
from services.render.rebuild import rebuild
from services.render.renderer import Renderer
from shared.db import session_scope
from shared.models import RenderRedirect
from tests.integration.test_render_site import add_item, change_item, snapshot

START = datetime(2021, 1, 30, 23, 30, tzinfo=UTC)


def archive() -> None:
    """Items across months, two at the same instant (ordered by id), a draft, a withdrawn
    one, a scheduled one and a moved one (its old URL redirects)."""
    for n in range(14):
        add_item(title=f"Nyhet {n}", published_at=START + timedelta(days=3 * n))
    add_item(title="Samtidigt A", published_at=START + timedelta(days=7))
    add_item(title="Samtidigt B", published_at=START + timedelta(days=7))
    add_item(title="Utkast", status="draft")
    add_item(title="Indragen", status="withdrawn", published_at=START + timedelta(days=4))
    add_item(title="Planerad", published_at=datetime.now(UTC) + timedelta(days=2))
    moved = add_item(title="Flyttad", slug="gammal", published_at=START + timedelta(days=20))
    change_item(moved, slug="ny")
    with session_scope() as session:
        session.add(RenderRedirect(month="2021-02", slug="gammal", item_id=moved))


def test_helpers_and_runs_render_the_same_bytes_as_one_pass(db, tmp_path, monkeypatch):
    archive()
    rebuild(site_dir=tmp_path / "one")  # one run: the stream alone gives neighbours
    # Runs of 3 items: neighbours across every run boundary come from the boundary queries.
    monkeypatch.setattr(rebuilding, "RUN", 3)
    rebuild(site_dir=tmp_path / "runs")
    calls = []
    report = rebuild(
        site_dir=tmp_path / "shared",
        workers=3,
        progress=lambda done, total: calls.append((done, total)),
    )
    one = snapshot(tmp_path / "one")
    assert snapshot(tmp_path / "runs") == one
    assert snapshot(tmp_path / "shared") == one
    # Counted in all processes, listed in none (a rebuild's memory does not grow with the site).
    assert report.written is None and report.removed is None
    assert report.files_written == len(one) and report.files_removed == 0
    assert report.pages_written == sum(1 for path in one if path.endswith(".html"))
    assert calls[-1] == (19, 19)  # 17 visible, a draft and a withdrawn item
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert "aktuellt/2021/02/ny/index.html" in one and "aktuellt/2021/02/gammal/index.html" in one


def test_rebuild_with_helpers_over_an_old_site_removes_what_no_longer_belongs(
    db, tmp_path, monkeypatch
):
    archive()
    monkeypatch.setattr(rebuilding, "RUN", 4)
    site = tmp_path / "site"
    rebuild(site_dir=site, workers=2)
    expected = snapshot(site)
    (site / "aktuellt/2020/01/borta").mkdir(parents=True)
    (site / "aktuellt/2020/01/borta/index.html").write_text("gammalt")
    (site / "aktuellt/2021/02/ny/index.html").write_text("ändrad")
    report = rebuild(site_dir=site, workers=2)
    assert snapshot(site) == expected
    assert not (site / "aktuellt/2020").exists()
    # The changed page rewritten, the stray one removed (both checked on disk above).
    assert (report.files_written, report.files_removed) == (1, 1)
    assert report.unchanged == len(expected) - 1


def test_a_failing_helper_fails_the_rebuild(db, tmp_path, monkeypatch):
    archive()
    monkeypatch.setattr(rebuilding, "RUN", 2)
    parent = os.getpid()
    failed = multiprocessing.get_context("fork").Event()  # shared with the forked helper
    write_items, all_tags = Renderer.write_items, rebuilding._all_tags

    # A failure of the helper itself (one item's page is left out instead: test_faults_render).
    def failing_in_helpers(*args, **kwargs):
        if os.getpid() != parent:
            failed.set()
            raise RuntimeError("helper broke")
        return write_items(*args, **kwargs)

    def after_the_helper_failed(*args):
        assert failed.wait(timeout=120)  # so the helper takes a run before this process
        return all_tags(*args)

    monkeypatch.setattr(Renderer, "write_items", failing_in_helpers)
    monkeypatch.setattr(rebuilding, "_all_tags", after_the_helper_failed)
    with pytest.raises(RuntimeError, match="helper broke"):
        rebuild(site_dir=tmp_path / "site", workers=2)


def test_every_process_of_a_rebuild_reads_one_snapshot(db, tmp_path, monkeypatch):
    """On PostgreSQL an item committed while the rebuild runs is in none of its pages: not
    in this process's, not in its helpers' (each would otherwise read its own state)."""
    if not db.startswith("postgresql"):
        pytest.skip(
            "SQLite has no exported snapshot: an item committed during a rebuild is "
            "brought onto every page by its own event, which waits for the rebuild"
        )
    archive()
    rebuild(site_dir=tmp_path / "before")
    monkeypatch.setattr(rebuilding, "RUN", 3)
    parent = os.getpid()
    helped = multiprocessing.get_context("fork").Event()  # shared with the forked helpers
    export, render_item, all_tags = (
        rebuilding._export_snapshot,
        views.render_item,
        rebuilding._all_tags,
    )

    def export_then_publish(session):
        exported = export(session)
        monkeypatch.setattr(rebuilding, "_export_snapshot", export)  # once
        add_item(title="Under bygget", slug="under-bygget", published_at=START + timedelta(days=10))
        return exported

    def noting_helpers(*args, **kwargs):
        if os.getpid() != parent:
            helped.set()
        return render_item(*args, **kwargs)

    def after_a_helper_rendered(*args):
        assert helped.wait(timeout=120)  # a helper has taken a run before this process
        return all_tags(*args)

    monkeypatch.setattr(rebuilding, "_export_snapshot", export_then_publish)
    monkeypatch.setattr(views, "render_item", noting_helpers)
    monkeypatch.setattr(rebuilding, "_all_tags", after_a_helper_rendered)
    rebuild(site_dir=tmp_path / "site", workers=3)
    assert snapshot(tmp_path / "site") == snapshot(tmp_path / "before")
    rebuild(site_dir=tmp_path / "site", workers=3)  # the next rebuild shows it
    page = tmp_path / "site/aktuellt/2021/02/under-bygget/index.html"
    assert "Under bygget" in page.read_text()
