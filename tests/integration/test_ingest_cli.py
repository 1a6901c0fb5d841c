"""The operator commands of ingest: `newsroom db upgrade` and `newsroom contributor …`, run
in-process against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from newsroom.cli import main
from services.ingest import api, auth
from services.ingest.contributors import find_by_email
from shared.db import session_scope
from shared.migrate import alembic_config
from tests.integration.test_ingest_api import ITEM


def newsroom(*args: str, ok: bool = True):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert (result.exit_code == 0) is ok, (args, result.output, result.stderr)
    return result


def test_db_upgrade_says_which_migrations_it_applied(database_url, site_dir, monkeypatch):
    from alembic.script import ScriptDirectory

    from shared import config

    monkeypatch.setenv("NEWSROOM_DATABASE_URL", database_url)
    config.get_settings.cache_clear()
    scripts = ScriptDirectory.from_config(alembic_config(database_url))
    head = scripts.get_current_head()
    everything = [script.revision for script in scripts.walk_revisions()][::-1]

    first = newsroom("db", "upgrade").output
    assert f"Applied {len(everything)} migrations to " in first
    lines = first.splitlines()
    assert [line.split()[0] for line in lines[1:-1]] == everything
    assert lines[-1] == f"The database is now at revision {head}."
    assert "up to date" not in first

    again = newsroom("db", "upgrade").output
    assert f"is up to date at revision {head}; no migration to apply." in again


def post_with(client: TestClient, token: str) -> int:
    auth.clear_token_cache()
    body = {**ITEM, "regions": ["region-skane"]}
    return client.post(
        "/api/v1/items", json=body, headers={"Authorization": f"Bearer {token}"}
    ).status_code


@pytest.fixture
def client(db) -> TestClient:
    api.limiter.reset()
    return TestClient(api.create_app())


def test_a_contributors_whole_life(client):
    added = newsroom(
        "contributor", "add", "Anna Ström", "--region", "region-skane", "--email", "Anna@Skane.SE"
    )
    first = added.output.splitlines()[-1]
    assert first.startswith(auth.TOKEN_PREFIX) and post_with(client, first) == 201

    listed = newsroom("contributor", "list").output
    [header, row] = listed.splitlines()
    assert header.split() == ["NAME", "ROLE", "REGION", "E-MAIL", "STATUS", "ADDED"]
    assert row.startswith("Anna Ström") and row.split()[2:6] == [
        "contributor",
        "region-skane",
        "anna@skane.se",
        "active",
    ]
    assert first not in listed and auth.hash_token(first) not in listed

    # A lost token is replaced; the old one stops.
    rotated = newsroom("contributor", "rotate", "Anna Ström").output.splitlines()[-1]
    assert rotated != first and rotated.startswith(auth.TOKEN_PREFIX)
    assert post_with(client, first) == 401 and post_with(client, rotated) == 201

    newsroom("contributor", "revoke", "Anna Ström")
    assert post_with(client, rotated) == 401
    assert "revoked " in newsroom("contributor", "list").output
    # The revoked name is pointed to reactivation, not told it "already exists".
    again = newsroom("contributor", "add", "Anna Ström", "--region", "region-skane", ok=False)
    assert "reactivate" in again.output + again.stderr
    assert "reactivate" in newsroom("contributor", "rotate", "Anna Ström", ok=False).stderr

    back = newsroom("contributor", "reactivate", "Anna Ström").output.splitlines()[-1]
    assert back.startswith(auth.TOKEN_PREFIX) and post_with(client, back) == 201
    assert post_with(client, rotated) == 401  # the old token stays dead
    assert "is active" in newsroom("contributor", "reactivate", "Anna Ström", ok=False).stderr
    assert "active" in newsroom("contributor", "list").output


def test_email_addresses_are_unique_whatever_their_case(db):
    newsroom("contributor", "add", "Anna", "--region", "region-skane", "--email", "anna@skane.se")
    newsroom("contributor", "add", "Bo", "--region", "region-skane")
    taken = newsroom(
        "contributor", "add", "Cia", "--region", "region-skane", "--email", "ANNA@skane.se",
        ok=False,
    )  # fmt: skip
    assert "already belongs to 'Anna'" in taken.stderr
    assert (
        "already belongs"
        in newsroom("contributor", "set-email", "Bo", "Anna@Skane.se", ok=False).stderr
    )
    assert (
        "not an e-mail address"
        in newsroom("contributor", "set-email", "Bo", "bo(at)skane.se", ok=False).stderr
    )
    assert (
        "no contributor named 'Ingen'"
        in newsroom("contributor", "set-email", "Ingen", "x@skane.se", ok=False).stderr
    )

    assert newsroom("contributor", "set-email", "Bo", " Bo@Skane.SE ").output == (
        "E-mail address of 'Bo' set to bo@skane.se.\n"
    )
    newsroom("contributor", "set-email", "Anna", "ANNA@SKANE.SE")  # its own address again
    with session_scope() as session:
        assert find_by_email(session=session, email="BO@skane.se").name == "Bo"
        assert find_by_email(session=session, email="anna@SKANE.se").name == "Anna"
        assert find_by_email(session=session, email="cia@skane.se") is None
