"""Everything in one process: both APIs, the static site, the outbox relay and a Celery worker
thread on the in-process broker, running the very tasks the distributed workers run."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from celery.beat import EmbeddedService
from celery.contrib.testing.worker import start_worker
from fastapi import FastAPI

from newsroom.headers import MetricsFrom, SecurityHeaders
from newsroom.sitefiles import SiteFiles
from services.ingest.api import router as ingest_router
from services.ingest.editor import install as install_editor
from services.ingest.media_api import router as media_router
from services.notify import admin as notify_admin
from services.notify import tasks as notify_tasks
from services.notify.api import router as notify_router
from services.render import tasks as render_tasks
from services.search import tasks as _search_tasks  # noqa: F401  (registers search tasks)
from services.search.api import router as search_router
from shared import docs, heap, ops, problems
from shared import logging as shared_logging
from shared.celery_app import celery_app
from shared.config import get_settings
from shared.outbox import RelayThread


@contextlib.contextmanager
def background_workers(*, concurrency: int = 4):
    """The Celery worker thread (render, notify and search queues), the beat thread (weekly
    digest, expiry, resuming stalled newsletters, repairing the site) and the outbox relay
    thread."""
    relay = RelayThread(interval=1.0)
    celery_app.conf.beat_schedule = {**notify_tasks.beat_schedule(), **render_tasks.beat_schedule()}
    var_dir = get_settings().var_dir
    var_dir.mkdir(parents=True, exist_ok=True)
    beat = EmbeddedService(
        celery_app, thread=True, schedule_filename=str(var_dir / "celerybeat-schedule")
    )
    with start_worker(
        celery_app,
        pool="threads",
        concurrency=concurrency,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=30,
    ):
        relay.start()
        beat.start()
        try:
            yield
        finally:
            beat.stop()
            relay.stop()


def create_app(*, with_workers: bool = True) -> FastAPI:
    """The one-process app of `newsroom run`: site, ingest and notify APIs, OpenAPI docs."""
    settings = get_settings()
    settings.site_dir.mkdir(parents=True, exist_ok=True)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        with background_workers() if with_workers else contextlib.nullcontext():
            yield

    app = FastAPI(
        title=settings.site_title,
        summary="Newsroom, embedded mode: ingest, notify and search APIs in one process",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    problems.install(app)
    shared_logging.install(app)
    # What nginx does in the distributed mode: security headers, /metrics kept private.
    app.add_middleware(MetricsFrom)
    app.add_middleware(SecurityHeaders)
    app.include_router(ops.router)
    app.include_router(ingest_router)
    app.include_router(media_router)
    app.include_router(notify_router)
    app.include_router(search_router)
    install_editor(app)  # Redaktionen at /redaktion/ (with the CSRF check of every form)
    notify_admin.install(app)  # its subscriber and newsletter pages, notify's
    docs.install(app, docs_url="/api/docs", openapi_url="/api/openapi.json")
    # As nginx: index.html for folders, 410 for withdrawn items, 404.html for what is missing,
    # ETag and Last-Modified with 304 answers, each taken from the file actually sent.
    app.mount("/", SiteFiles(settings.site_dir), name="site")
    heap.freeze_once()
    return app
