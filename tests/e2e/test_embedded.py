"""Embedded mode: `newsroom run` alone — SQLite, in-process broker and worker, mail to files."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import httpx

from tests.e2e.conftest import BIN, Processes, get, token_from
from tests.e2e.scenario import journey
from tests.servers import free_port, wait_for_port


def read_outbox(outbox: Path, address: str) -> list[email.message.EmailMessage]:
    mails = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    ]
    return [m for m in mails if address in str(m["To"])]


def test_embedded_mode_publishes_page_feeds_and_mail(processes: Processes, tmp_path: Path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    outbox = tmp_path / "outbox"
    processes.env.update(
        NEWSROOM_DATABASE_URL=f"sqlite:///{tmp_path / 'newsroom.db'}",
        NEWSROOM_SITE_DIR=str(tmp_path / "site"),
        NEWSROOM_SMTP_URL=f"file:{outbox}",
        NEWSROOM_BASE_URL=base,
    )
    newsroom = str(BIN / "newsroom")
    processes.run(newsroom, "db", "upgrade")
    processes.run(newsroom, "seed")
    token = token_from(
        processes.run(newsroom, "contributor", "add", "Anna Ström", "--region", "region-skane")
    )
    processes.start("newsroom-run", newsroom, "run", "--port", str(port))
    wait_for_port("127.0.0.1", port, timeout=60)

    # The seeded sample is on the site, served by the same process as the APIs and docs.
    front = get(f"{base}/")
    assert front.status_code == 200
    assert "Hur förbereder man sig för en hållbar upphandling?" in get(f"{base}/aktuellt/").text
    assert get(f"{base}/api/docs").status_code == 200
    assert get(f"{base}/api/openapi.json").json()["paths"]["/api/v1/items"]
    etag = front.headers["etag"]
    assert httpx.get(f"{base}/", headers={"If-None-Match": etag}).status_code == 304

    def fetch_site(path: str) -> str:
        answer = get(f"{base}{path}")
        answer.raise_for_status()
        return answer.text

    journey(
        ingest=base,
        notify=base,
        search=base,
        token=token,
        fetch_site=fetch_site,
        mails_to=lambda address: read_outbox(outbox, address),
    )
