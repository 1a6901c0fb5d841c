"""Redaktionen's questions in the distributed mode's set-up: PostgreSQL, a Redis broker whose
Redis keeps the answers (the default result backend there), and a worker of render's and
notify's tasks; and which result backend each mode gets."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker

from services.notify import tasks as _notify_tasks  # noqa: F401 (registers the tasks)
from services.render import tasks as _render_tasks  # noqa: F401
from shared import previews
from shared.celery_app import celery_app
from shared.config import Settings, get_settings
from shared.db import utcnow
from shared.models import Item
from tests.integration.test_notify_support import add_subscribers


def test_each_mode_gets_a_result_backend_it_can_read():
    assert Settings(broker_url="memory://").results_url == "cache+memory://"
    redis = "redis://:hemligt@redis:6379/0"
    assert Settings(broker_url=redis).results_url == redis
    assert Settings(broker_url="amqp://rabbit//").results_url == "rpc://"
    chosen = Settings(broker_url=redis, result_backend="redis://results:6379/3")
    assert chosen.results_url == "redis://results:6379/3"


@pytest.fixture
def distributed(postgres_url, redis_url, site_dir, monkeypatch):
    from shared import celery_app as celery_module
    from shared.migrate import upgrade

    monkeypatch.setenv("NEWSROOM_DATABASE_URL", postgres_url)
    monkeypatch.setenv("NEWSROOM_BROKER_URL", redis_url)
    get_settings.cache_clear()
    celery_module.configure(get_settings())
    upgrade(postgres_url)
    with start_worker(celery_app, pool="threads", concurrency=2, perform_ping_check=False):
        yield


def test_previews_and_counts_answer_through_redis(distributed):
    assert type(celery_app.backend).__name__ == "RedisBackend"
    add_subscribers("alla@example.se")
    add_subscribers("gotland@example.se", regions=["region-gotland"])
    counts = previews.ask(
        previews.COUNT_RECIPIENTS, {"regions": ["region-skane"], "topics": ["textilier"]}
    )
    assert counts == {"immediate": 1, "weekly": 0}

    item = Item(
        id=uuid.uuid4(),
        title="Workshop om textilier",
        summary="En workshop.",
        body_md="Om **textilier**.",
        body_html="<p>Om <strong>textilier</strong>.</p>",
        slug="workshop-om-textilier",
        month="2026-05",
        regions=["region-skane"],
        topics=["textilier"],
        author_name="Anna Ström",
        attachments=[],
        image=None,
        version=1,
        published_at=utcnow() + timedelta(days=3),
    )
    task_id = str(uuid.uuid4())
    page = previews.ask(
        previews.PREVIEW_ITEM, {"item": previews.item_payload(item)}, task_id=task_id
    )
    assert "<h1>Workshop om textilier</h1>" in page and '<article class="item">' in page
    assert previews.answer(task_id) == page  # what the preview's frame reads later
    mail = previews.ask(previews.PREVIEW_NEWSLETTER, {"item": previews.item_payload(item)})
    assert mail["subject"] == "Workshop om textilier" and "Läs på webben" in mail["text"]
    assert previews.answer(str(uuid.uuid4())) is None
