"""Everything in one process: both APIs, the static site, the outbox relay and a Celery worker
thread on the in-process broker, running the very tasks the distributed workers run."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from celery.beat import EmbeddedService
from celery.contrib.testing.worker import start_worker
from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from services.ingest.api import router as ingest_router
from services.ingest.editor import install as install_editor
from services.notify import tasks as notify_tasks
from services.notify.api import router as notify_router
from services.render import tasks as _render_tasks  # noqa: F401  (registers render tasks)
from shared import logging as shared_logging
from shared import ops, problems
from shared.celery_app import celery_app
from shared.config import get_settings
from shared.outbox import RelayThread


@contextlib.contextmanager
def background_workers(*, concurrency: int = 4):
    """The Celery worker thread (render and notify queues), the beat thread (weekly digest,
    expiry, resuming stalled newsletters) and the outbox relay thread."""
    relay = RelayThread(interval=1.0)
    celery_app.conf.beat_schedule = notify_tasks.beat_schedule()
    beat = EmbeddedService(
        celery_app,
        thread=True,
        schedule_filename=str(get_settings().site_dir.parent / "celerybeat-schedule"),
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
        summary="Newsroom, embedded mode: ingest and notify APIs in one process",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    problems.install(app)
    shared_logging.install(app)
    app.include_router(ops.router)
    app.include_router(ingest_router)
    app.include_router(notify_router)
    install_editor(app)  # Redaktionen at /redaktion/
    # html=True serves index.html for folders and 404.html for what is missing; Starlette's
    # FileResponse sends ETag and Last-Modified and answers If-None-Match with 304, as nginx.
    app.mount("/", StaticFiles(directory=settings.site_dir, html=True), name="site")
    return app
