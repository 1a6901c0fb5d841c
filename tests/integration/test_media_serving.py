"""Uploaded media as readers get them: nginx (deploy/nginx.conf, as compose mounts it) and the
embedded server (newsroom/sitefiles.py) send /media/ files with their type and a year-long
immutable Cache-Control, pages still revalidated, the security headers on both."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from deploy import stack
from newsroom.sitefiles import SiteFiles
from tests.servers import free_port, wait_for_port

IMMUTABLE = "public, max-age=31536000, immutable"
FILES = {
    "media/0123456789abcdef/bild-480.avif": (
        "image/avif",
        b"\x00\x00\x00\x1cftypavif" + b"a" * 300,
    ),
    "media/0123456789abcdef/bild-480.webp": (
        "image/webp",
        b"RIFF\x00\x00\x00\x00WEBP" + b"w" * 300,
    ),
    "media/0123456789abcdef/bild-480.jpg": ("image/jpeg", b"\xff\xd8\xff" + b"j" * 300),
    "media/fedcba9876543210/rapport.pdf": ("application/pdf", b"%PDF-1.4\n" + b"p" * 300),
    "media/fedcba9876543210/rapport.docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        b"PK\x03\x04" + b"d" * 300,
    ),
}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    for relative, (_kind, data) in FILES.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    (root / "index.html").write_text("<p>start</p>")
    (root / "404.html").write_text("<p>finns inte</p>")
    return root


def check(get) -> None:
    for relative, (kind, data) in FILES.items():
        answer = get("/" + relative)
        assert answer.status_code == 200, relative
        assert answer.content == data
        assert answer.headers["content-type"] == kind
        assert answer.headers["cache-control"] == IMMUTABLE
        assert answer.headers["x-content-type-options"] == "nosniff"
    front = get("/")
    assert front.headers["cache-control"] == "no-cache"
    missing = get("/media/0123456789abcdef/finns-inte.jpg")
    assert missing.status_code == 404
    assert missing.headers.get("cache-control") != IMMUTABLE
    assert get("/media/0123456789abcdef/").status_code in (403, 404)  # never a folder index


def test_the_embedded_server_caches_media_for_a_year(site: Path):
    from newsroom.headers import SecurityHeaders

    client = TestClient(SecurityHeaders(SiteFiles(site)))
    check(client.get)


def test_nginx_caches_media_for_a_year(site: Path, tmp_path: Path):
    port = free_port()
    local = stack.Local(site_dir=site, workdir=tmp_path / "work")
    config = tmp_path / "nginx.conf"
    config.write_text(stack.nginx_config(stack.load(), local, listen=port))
    prefix = tmp_path / "prefix"
    (prefix / "logs").mkdir(parents=True)
    nginx = subprocess.Popen(stack.nginx_command(config, prefix), stderr=subprocess.PIPE)
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            check(client.get)
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
