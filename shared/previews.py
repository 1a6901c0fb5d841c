"""Questions Redaktionen asks the other services by task name, and waits for the answer:
the item page and the newsletter of an unsaved item rendered by render's and notify's own
templates, how many subscribers an item would reach, a test newsletter to its author.

An unsaved item travels as a JSON object with the fields of `shared.models.Item`
(`item_payload`); the services rebuild it as an Item that no session ever holds
(`item_from_payload`), so nothing of a preview is ever stored or public.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from shared.celery_app import celery_app
from shared.config import get_settings
from shared.events import (
    COUNT_RECIPIENTS,
    PREVIEW_ITEM,
    PREVIEW_NEWSLETTER,
    SEND_TEST_NEWSLETTER,
)
from shared.models import Item

FIELDS = (
    "title",
    "summary",
    "body_md",
    "body_html",
    "slug",
    "month",
    "regions",
    "topics",
    "author_name",
    "attachments",
    "image",
    "version",
)


class Unavailable(Exception):
    """The service did not answer in time (or failed): the caller says so in Swedish."""


def item_payload(item: Item) -> dict[str, Any]:
    """An item (saved or not) as JSON for a preview task."""
    data = {name: getattr(item, name) for name in FIELDS}
    data["id"] = str(item.id)
    data["published_at"] = item.published_at.isoformat()
    return data


def item_from_payload(data: dict[str, Any]) -> Item:
    """The item a preview shows: a transient Item, never added to a session."""
    item = Item(**{name: data.get(name) for name in FIELDS})
    item.id = uuid.UUID(data["id"])
    item.published_at = datetime.fromisoformat(data["published_at"])
    item.status = "published"
    item.notify = True
    item.regions = list(item.regions or [])
    item.topics = list(item.topics or [])
    item.attachments = list(item.attachments or [])
    return item


def ask(
    task: tuple[str, str],
    kwargs: dict[str, Any],
    *,
    timeout: float | None = None,
    task_id: str | None = None,
) -> Any:
    """Send `task` to its service's queue and wait for its answer; Unavailable after
    `timeout` seconds (NEWSROOM_EDITOR_TASK_TIMEOUT), or when the task failed. The answer
    stays readable by `task_id` (`answer`) for an hour."""
    name, queue = task
    timeout = get_settings().editor_task_timeout if timeout is None else timeout
    try:
        # A question nobody answered in time is dropped rather than answered late.
        result = celery_app.send_task(
            name, kwargs=kwargs, queue=queue, expires=timeout + 5, task_id=task_id
        )
        # In the embedded mode the worker is a thread of this process, which makes Celery
        # refuse waiting by default; the caller is a web request, never a task.
        return result.get(timeout=timeout, interval=0.05, disable_sync_subtasks=False)
    except Exception as error:  # broker down, timeout, the task's own failure
        raise Unavailable(f"{name}: {error!r}") from error


def answer(task_id: str) -> Any:
    """The stored answer of an earlier `ask` (None when it expired or never came)."""
    result = celery_app.AsyncResult(task_id)
    try:
        return result.result if result.successful() else None
    except Exception:
        return None


__all__ = [
    "COUNT_RECIPIENTS",
    "PREVIEW_ITEM",
    "PREVIEW_NEWSLETTER",
    "SEND_TEST_NEWSLETTER",
    "Unavailable",
    "answer",
    "ask",
    "item_from_payload",
    "item_payload",
]
