"""The site folder: atomic writes, unchanged files left alone, pruning after a rebuild."""

from __future__ import annotations

import itertools
import os
import stat

from services.render import output as output_module
from services.render.output import SiteOutput


def test_write_creates_folders_readable_files_and_no_temporaries(tmp_path):
    old = os.umask(0o077)
    try:
        output = SiteOutput(tmp_path)
        output.write("aktuellt/2021/04/nyhet/index.html", b"<p>1</p>")
    finally:
        os.umask(old)
    path = tmp_path / "aktuellt/2021/04/nyhet/index.html"
    assert path.read_bytes() == b"<p>1</p>"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # the web server reads it
    assert os.listdir(path.parent) == ["index.html"]
    assert output.report.written == ["aktuellt/2021/04/nyhet/index.html"]


def test_an_unchanged_file_is_not_written_again(tmp_path):
    SiteOutput(tmp_path).write("index.html", b"a")
    before = (tmp_path / "index.html").stat()
    output = SiteOutput(tmp_path)
    output.write("index.html", b"a")
    output.write("rss.xml", b"b")
    assert (tmp_path / "index.html").stat().st_ino == before.st_ino
    assert output.report.written == ["rss.xml"] and output.report.unchanged == 1
    output.write("index.html", b"ny")
    assert (tmp_path / "index.html").read_bytes() == b"ny"


def test_a_temporary_left_by_a_crash_is_neither_reused_nor_pruned(tmp_path, monkeypatch):
    monkeypatch.setattr(output_module, "_serial", itertools.count())
    (tmp_path / "arkiv").mkdir()
    stale = tmp_path / "arkiv" / f".index.html.{os.getpid()}-0.tmp"
    stale.write_bytes(b"halv")
    output = SiteOutput(tmp_path, remember=True)
    for n in range(3):
        output.write("arkiv/index.html", f"{n}".encode())
    output.prune()
    assert (tmp_path / "arkiv/index.html").read_bytes() == b"2"
    assert stale.read_bytes() == b"halv"


def test_prune_removes_what_was_not_produced_and_empty_folders(tmp_path):
    for relative in ("index.html", "aktuellt/2020/01/borta/index.html", "amne/x/rss.xml"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"gammal")
    output = SiteOutput(tmp_path, remember=True)
    output.write("index.html", b"gammal")
    output.write("amne/y/rss.xml", b"ny")
    output.prune()
    assert sorted(output.report.removed) == ["aktuellt/2020/01/borta/index.html", "amne/x/rss.xml"]
    assert sorted(os.listdir(tmp_path)) == ["amne", "index.html"]
    assert os.listdir(tmp_path / "amne") == ["y"]


def test_into_a_fresh_folder_nothing_is_read_back(tmp_path, monkeypatch):
    output = SiteOutput(tmp_path, fresh=True)
    monkeypatch.setattr("builtins.open", None)  # a read would fail
    output.write("aktuellt/index.html", b"a")
    assert (tmp_path / "aktuellt/index.html").read_bytes() == b"a"
    assert output.report.written == ["aktuellt/index.html"] and output.produced is None


def test_a_counting_report_counts_files_and_pages_and_keeps_no_path(tmp_path):
    (tmp_path / "amne/x").mkdir(parents=True)
    (tmp_path / "amne/x/rss.xml").write_bytes(b"gammal")
    output = SiteOutput(tmp_path, remember=True, paths=False)
    output.write("index.html", b"a")
    output.write("aktuellt/2021/04/nyhet/index.html", b"b")
    output.write("rss.xml", b"c")
    output.write("rss.xml", b"c")
    output.prune()
    report = output.report
    assert report.written is None and report.removed is None
    assert (report.files_written, report.pages_written, report.unchanged) == (3, 2, 1)
    assert report.files_removed == 1 and report.changed == 4
    assert not (tmp_path / "amne").exists()
    listed = SiteOutput(tmp_path)
    listed.write("404.html", b"d")
    report.add(listed.report)  # a listing report's paths are not kept by a counting one
    assert (report.files_written, report.pages_written, report.written) == (4, 3, None)
    assert str(report) == "4 files written, 1 removed, 1 unchanged"
