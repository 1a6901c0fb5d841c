"""`newsroom post FILE.md` against a real ingest server (uvicorn on a free port)."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from services.ingest import api
from services.ingest.authoring import post_file
from shared.models import Item
from tests.integration.test_ingest_api import count, make_token
from tests.unit.test_ingest_authoring import FILE


@pytest.fixture
def server(db) -> Iterator[str]:
    """The standalone ingest app served by uvicorn in a thread; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api.limiter.reset()
    config = uvicorn.Config(api.create_app(), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_posting_a_file_prints_the_page_url_once(server, tmp_path):
    token = make_token()
    path = tmp_path / "nyhet.md"
    path.write_text(FILE, encoding="utf-8")
    out = io.StringIO()
    assert post_file(path=path, url=server, token=token, dry_run=False, out=out) == 0
    url = "http://localhost:8000/aktuellt/2021/03/aret-i-korthet-verksamhetsrapport-2020/"
    assert out.getvalue().strip() == url

    # Posting the unchanged file again (a retry) answers the same and creates nothing.
    again = io.StringIO()
    assert post_file(path=path, url=server + "/", token=token, dry_run=False, out=again) == 0
    assert again.getvalue().strip() == url
    assert count(Item) == 1


def test_the_apis_errors_are_printed_line_by_line(server, tmp_path):
    token = make_token()
    path = tmp_path / "nyhet.md"
    path.write_text(
        FILE.replace("nationella-kansliet", "region-atlantis").replace("Året", "x" * 300),
        encoding="utf-8",
    )
    out = io.StringIO()
    assert post_file(path=path, url=server, token=token, dry_run=False, out=out) == 1
    first, *errors = out.getvalue().splitlines()
    assert first.startswith("Fel 422")
    assert any(line.startswith("  regions: ") and "region-atlantis" in line for line in errors)
    assert any(line.startswith("  title: ") for line in errors)
    assert count(Item) == 0


def test_a_wrong_token_or_no_server_is_reported(server, tmp_path):
    path = tmp_path / "nyhet.md"
    path.write_text(FILE, encoding="utf-8")
    out = io.StringIO()
    assert post_file(path=path, url=server, token="nr_fel", dry_run=False, out=out) == 1
    assert out.getvalue().startswith("Fel 401")
    out = io.StringIO()
    assert post_file(path=path, url="http://127.0.0.1:9", token="nr_x", dry_run=False, out=out) == 1
    assert "Kan inte nå" in out.getvalue()


def test_a_scheduled_file_says_when_it_will_be_published(server, tmp_path):
    token = make_token()
    path = tmp_path / "nyhet.md"
    path.write_text(
        FILE.replace("published_at: 2021-03-25T09:00:00+01:00", "date: 2099-04-29 09:00"),
        encoding="utf-8",
    )
    out = io.StringIO()
    assert post_file(path=path, url=server, token=token, dry_run=False, out=out) == 0
    url = "http://localhost:8000/aktuellt/2099/04/aret-i-korthet-verksamhetsrapport-2020/"
    assert out.getvalue() == f"Schemalagd till 29 apr 2099: {url}\n"
