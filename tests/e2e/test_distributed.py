"""Distributed mode: PostgreSQL, Redis, ingest, notify and search under uvicorn, separate
Celery worker processes for the render, notify and search queues, and a real SMTP server."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import BIN, Processes, token_from
from tests.e2e.scenario import journey


def test_distributed_mode_publishes_page_feeds_and_mail(
    processes: Processes, tmp_path: Path, postgres_url: str, redis_url: str, smtp_server
):
    site = tmp_path / "site"
    processes.env.update(
        NEWSROOM_ENVIRONMENT="test",
        NEWSROOM_SECRET_KEY="e2e-secret-not-the-placeholder",
        NEWSROOM_DATABASE_URL=postgres_url,
        NEWSROOM_BROKER_URL=redis_url,
        NEWSROOM_SITE_DIR=str(site),
        NEWSROOM_SMTP_URL=smtp_server.url,
        NEWSROOM_BASE_URL="https://hallbarupphandling.example.se",
    )
    newsroom = str(BIN / "newsroom")
    processes.run(newsroom, "db", "upgrade")
    token = token_from(
        processes.run(newsroom, "contributor", "add", "Anna Ström", "--region", "region-skane")
    )
    processes.celery_worker("render-worker", "services.render.tasks", "render")
    processes.celery_worker("notify-worker", "services.notify.tasks", "notify")
    processes.celery_worker("search-worker", "services.search.tasks", "search")
    ingest = processes.uvicorn("ingest", "services.ingest.api:create_app")
    notify = processes.uvicorn("notify", "services.notify.api:create_app")
    search = processes.uvicorn("search", "services.search.api:create_app")

    def fetch_site(path: str) -> str:
        target = site / path.lstrip("/")
        if path.endswith("/"):
            target = target / "index.html"
        return target.read_text(encoding="utf-8")

    journey(
        ingest=ingest,
        notify=notify,
        search=search,
        token=token,
        fetch_site=fetch_site,
        mails_to=smtp_server.to,
    )
