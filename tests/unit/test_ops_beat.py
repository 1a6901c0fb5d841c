"""The beat process: its schedule and the health check on the scheduler's heartbeat."""

from __future__ import annotations

import os
import threading
import time

from celery import signals

from newsroom import beat
from shared.config import get_settings
from tests.conftest import relay_threads


def test_schedule_has_the_digest_and_runs_the_heartbeat_scheduler():
    assert "notify-weekly-digest" in beat.celery_app.conf.beat_schedule
    assert beat.celery_app.conf.beat_scheduler == "newsroom.beat:HeartbeatScheduler"
    assert beat.celery_app.conf.beat_max_loop_interval <= beat.STALE_AFTER_SECONDS / 2


def test_check_fails_without_a_fresh_heartbeat(tmp_path, monkeypatch):
    heartbeat = tmp_path / "beat.heartbeat"
    monkeypatch.setenv("NEWSROOM_BEAT_HEARTBEAT", str(heartbeat))
    get_settings.cache_clear()
    assert beat.check() == 1
    heartbeat.touch()
    assert beat.check() == 0
    old = time.time() - beat.STALE_AFTER_SECONDS - 1
    os.utime(heartbeat, (old, old))
    assert beat.check() == 1


def test_state_lives_under_the_var_dir_not_a_fixed_tmp_path(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSROOM_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    assert beat.schedule_file() == tmp_path / "var" / "celerybeat-schedule"
    assert beat.heartbeat_file() == tmp_path / "var" / "beat.heartbeat"
    assert "/tmp/" not in beat.celery_app.conf.beat_schedule_filename


def test_only_the_beat_program_starts_a_relay_not_an_embedded_beat_thread(tmp_path, monkeypatch):
    # Celery sends beat_init from the embedded beat thread of `newsroom run` too, whose
    # process has its relay already: a second one there would never be stopped.
    monkeypatch.setenv("NEWSROOM_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    before = relay_threads()
    embedded = threading.Thread(target=signals.beat_init.send, kwargs={"sender": None})
    embedded.start()
    embedded.join()
    assert relay_threads() == before

    signals.beat_init.send(sender=None)  # the beat program: its scheduler in the main thread
    started = relay_threads() - before
    assert started == {beat._relay}
    beat._relay.stop()
