"""Backup and restore as the README tells operators: pg_dump, restore into a new database with
psql, `newsroom rebuild`, and the site is byte for byte the one before, uploaded media (kept
in the database) and every variant of them included."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from services.ingest.service import create_item
from shared import media
from shared.db import session_scope
from tests import media_items
from tests.conftest import _reset_caches
from tests.integration.test_render_site import snapshot

BIN = Path(sys.executable).parent


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as the libpq URL pg_dump and psql take."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _newsroom(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(BIN / "newsroom"), *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"newsroom {args}:\n{done.stdout}\n{done.stderr}"


def _add_media(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An item with an uploaded photo and report, and a photo no item shows, stored as the
    ingest service stores them."""
    monkeypatch.setenv("NEWSROOM_DATABASE_URL", database_url)
    _reset_caches()
    photo, report = media_items.image(900, 600), media_items.pdf()
    media_items.image(500, 400, seed=3)
    data = {
        "title": "Verksamhetsrapport 2020 med bilder",
        "summary": "Rapporten kan laddas ned i sin helhet här.",
        "body": "Regionerna har **tillsammans** följt upp leverantörer.",
        "published_at": "2021-03-25T09:00:00+01:00",
        "regions": ["nationella-kansliet"],
        "topics": ["verksamhetsrapport"],
        "image": {"media_id": str(photo), "alt": "Deltagare vid nätverksträffen"},
        "attachments": [{"title": "Verksamhetsrapport 2020", "media_id": str(report)}],
    }
    with session_scope() as session:
        create_item(session=session, contributor=None, data=data)
    media.forget()


def test_pg_dump_restore_and_rebuild_give_the_same_site(
    postgres_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    assert shutil.which("pg_dump") and shutil.which("psql"), "PostgreSQL client tools needed"
    base = {k: v for k, v in os.environ.items() if not k.startswith("NEWSROOM_")}
    base.update(
        NEWSROOM_ENVIRONMENT="test",
        NEWSROOM_SECRET_KEY="backup-test-secret",
        NEWSROOM_BROKER_URL="memory://",
        NEWSROOM_SMTP_URL=f"file:{tmp_path / 'mail'}",
    )
    dump = tmp_path / "newsroom.sql"
    with postgres_server.database() as original, postgres_server.database() as restored:
        before = {
            **base,
            "NEWSROOM_DATABASE_URL": original,
            "NEWSROOM_SITE_DIR": str(tmp_path / "site-before"),
        }
        _newsroom("db", "upgrade", env=before)
        _newsroom("seed", env=before)  # the sample items; seed also renders the site
        _add_media(original, monkeypatch)
        _newsroom("rebuild", env=before)

        # Backup: a plain SQL dump without owners, restorable by any role.
        subprocess.run(
            ["pg_dump", "--no-owner", "--no-privileges", "--file", str(dump), _libpq(original)],
            check=True,
            timeout=120,
        )
        subprocess.run(
            ["psql", "--quiet", "--set", "ON_ERROR_STOP=1", "--file", str(dump), _libpq(restored)],
            check=True,
            timeout=120,
            capture_output=True,
        )

        after = {
            **base,
            "NEWSROOM_DATABASE_URL": restored,
            "NEWSROOM_SITE_DIR": str(tmp_path / "site-after"),
        }
        _newsroom("db", "upgrade", env=after)  # nothing to do: the schema came with the dump
        _newsroom("rebuild", env=after)

    site_before = snapshot(tmp_path / "site-before")
    assert len(site_before) > 20
    # The photo (original, 480 and 900 px in three formats, 600 px for mail), the report and
    # the photo no item shows (original, 480 and 500 px in three formats).
    assert len([path for path in site_before if path.startswith("media/")]) == 8 + 1 + 7
    page = site_before["aktuellt/2021/03/verksamhetsrapport-2020-med-bilder/index.html"]
    assert b'<source type="image/avif"' in page and b"(PDF, " in page
    assert snapshot(tmp_path / "site-after") == site_before
