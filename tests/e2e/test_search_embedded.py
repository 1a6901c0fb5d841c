"""Search in the embedded mode (`newsroom run`): the seeded sample is found, a posted item
becomes findable through the worker thread's `search` queue, a withdrawn one is gone at once."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.conftest import BIN, Processes, eventually, get, token_from
from tests.servers import free_port, wait_for_port


def test_embedded_search_follows_publishing_and_withdrawal(processes: Processes, tmp_path: Path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    processes.env.update(
        NEWSROOM_DATABASE_URL=f"sqlite:///{tmp_path / 'newsroom.db'}",
        NEWSROOM_SITE_DIR=str(tmp_path / "site"),
        NEWSROOM_SMTP_URL=f"file:{tmp_path / 'outbox'}",
        NEWSROOM_BASE_URL=base,
    )
    newsroom = str(BIN / "newsroom")
    processes.run(newsroom, "db", "upgrade")
    processes.run(newsroom, "seed")  # loads the sample and refills the index
    token = token_from(
        processes.run(
            newsroom,
            "contributor",
            "add",
            "Eva Redaktör",
            "--region",
            "region-skane",
            "--role",
            "editor",
        )
    )
    processes.start("newsroom-run", newsroom, "run", "--port", str(port))
    wait_for_port("127.0.0.1", port, timeout=60)

    page = get(f"{base}/sok/?q=handskar+malaysia")
    assert page.status_code == 200 and "<mark>handskar</mark>" in page.text

    headers = {"Authorization": f"Bearer {token}"}
    created = httpx.post(
        f"{base}/api/v1/items",
        headers=headers,
        json={
            "title": "Ny vägledning om hållbarhetskrav för möbler",
            "summary": "Region Skåne delar sina erfarenheter.",
            "body": "Kraven gäller **trä** och textil.",
            "regions": ["region-skane"],
            "topics": ["miljo"],
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]

    def found() -> list[str]:
        answer = get(f"{base}/api/v1/search?q=m%C3%B6bler")
        return [item["id"] for item in answer.json()["items"]]

    assert eventually(found, what="the new item in search") == [item_id]
    # The page is on the site by now or shortly: search and site agree.
    eventually(lambda: get(f"{base}{created.json()['path']}").status_code == 200)

    withdrawn = httpx.delete(f"{base}/api/v1/items/{item_id}", headers=headers, timeout=10)
    assert withdrawn.status_code in (200, 204), withdrawn.text
    assert found() == []  # gone at once, whether or not its event was handled yet
