"""The embedded mode's site files (newsroom/sitefiles.py), served as nginx serves them: whole
files while render replaces them, 304s, relative redirects, 404 and 410 pages."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from newsroom.sitefiles import SiteFiles

OLD = b"<rss>" + b"a" * 20_000 + b"</rss>"
NEW = b"<rss>" + b"b" * 45_000 + b"</rss>"


def _replace(path: Path, data: bytes, serial: int) -> None:
    """As render writes: a new file in the same folder, renamed over the old one."""
    temporary = path.with_name(f".{path.name}.{serial}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "aktuellt" / "2021" / "04" / "kvar").mkdir(parents=True)
    (root / "aktuellt" / "2021" / "04" / "kvar" / "index.html").write_text("<p>kvar</p>")
    (root / "aktuellt" / "2021" / "04" / "borta").mkdir()
    (root / "aktuellt" / "2021" / "04" / "borta" / "410.html").write_text("<p>borttagen</p>")
    (root / "index.html").write_text("<p>start</p>")
    (root / "404.html").write_text("<p>finns inte</p>")
    (root / "feed.json").write_text("{}")
    (root / ".index.html.1-1.tmp").write_text("half")
    return root


def test_readers_get_whole_files_while_they_are_replaced(site: Path):
    """Every answer is one version whole, its length the Content-Length: ~1 in 500 was cut
    short when size came from one file and bytes from the next."""
    feed = site / "rss.xml"
    feed.write_bytes(OLD)
    client = TestClient(SiteFiles(site))
    stop = threading.Event()

    def publish() -> None:
        serial = 0
        while not stop.is_set():
            serial += 1
            _replace(feed, NEW if serial % 2 else OLD, serial)

    writer = threading.Thread(target=publish)
    writer.start()
    broken = []
    try:
        for _ in range(1500):
            try:
                answer = client.get("/rss.xml")
            except RuntimeError as exc:  # "Response content longer than Content-Length"
                broken.append(str(exc))
                continue
            length = int(answer.headers["content-length"])
            if answer.content not in (OLD, NEW) or len(answer.content) != length:
                broken.append(f"{len(answer.content)} bytes, Content-Length {length}")
    finally:
        stop.set()
        writer.join()
    assert broken == []


def test_pages_etags_and_not_modified(site: Path):
    client = TestClient(SiteFiles(site))
    front = client.get("/")
    assert front.status_code == 200 and front.text == "<p>start</p>"
    assert front.headers["content-type"] == "text/html; charset=utf-8"
    assert front.headers["cache-control"] == "no-cache"
    etag = front.headers["etag"]
    # nginx's form: hex mtime and hex size, of the file sent.
    assert etag.endswith(f'-{len("<p>start</p>"):x}"')
    assert client.get("/", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/", headers={"If-None-Match": '"other"'}).status_code == 200
    modified = front.headers["last-modified"]
    assert client.get("/", headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get("/feed.json").headers["content-type"].startswith("application/feed+json")
    head = client.head("/aktuellt/2021/04/kvar/")
    assert head.status_code == 200 and head.headers["content-length"] == "11"


def test_folders_redirect_relatively_and_never_elsewhere(site: Path):
    client = TestClient(SiteFiles(site), follow_redirects=False)
    moved = client.get("/aktuellt/2021/04/kvar?utm=x")
    assert moved.status_code == 301
    assert moved.headers["location"] == "/aktuellt/2021/04/kvar/?utm=x"
    assert client.get("http://testserver//aktuellt").headers["location"] == "/aktuellt/"


def test_missing_withdrawn_and_hidden(site: Path):
    client = TestClient(SiteFiles(site), follow_redirects=False)
    missing = client.get("/finns/inte/")
    assert missing.status_code == 404 and missing.text == "<p>finns inte</p>"
    for path in ("/aktuellt/2021/04/borta/", "/aktuellt/2021/04/borta"):
        gone = client.get(path)
        assert gone.status_code == 410 and gone.text == "<p>borttagen</p>", path
        assert gone.headers["content-type"] == "text/html; charset=utf-8"
    # The gone page is the answer of its folder only, as in nginx; temporary files never.
    assert client.get("/aktuellt/2021/04/borta/410.html").status_code == 404
    assert client.get("/.index.html.1-1.tmp").status_code == 404
    assert client.get("/../../etc/passwd").status_code == 404
    assert client.post("/").status_code == 405
