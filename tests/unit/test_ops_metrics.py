"""shared/'s infrastructure knows no service: no task name of a service appears in it (the
event contracts, shared/events.py, name their consumers' tasks by design: DESIGN.md)."""

from __future__ import annotations

from deploy import stack


def test_shared_names_no_task_of_a_service():
    import newsroom.embedded  # noqa: F401  (registers every service's tasks)
    from shared.celery_app import celery_app

    names = [name for name in celery_app.tasks if not name.startswith("celery.")]
    assert names, "the services' tasks are registered"
    for path in (stack.ROOT / "shared").rglob("*.py"):
        if path.name == "events.py":
            continue
        text = path.read_text()
        assert not [name for name in names if f'"{name}"' in text], path


def test_services_count_their_own_metrics():
    from prometheus_client import REGISTRY

    import services.notify.tasks
    import services.render.tasks  # noqa: F401

    known = {metric.name for metric in REGISTRY.collect()}
    assert {"newsroom_render_duration_seconds", "newsroom_mails_sent"} <= known
