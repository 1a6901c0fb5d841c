"""Alembic, driven from code so `newsroom db upgrade` needs no alembic.ini in the cwd."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from shared.config import get_settings
from shared.db import engine_for

MIGRATIONS = Path(__file__).parent / "migrations"


class Revision(NamedTuple):
    """One migration: its id and the first line of its description."""

    id: str
    title: str


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url or get_settings().database_url
    return config


def current_revisions(database_url: str | None = None) -> tuple[str, ...]:
    """The revisions the database is at (none for an empty database)."""
    url = alembic_config(database_url).attributes["database_url"]
    with engine_for(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_heads()


def upgrade(database_url: str | None = None, revision: str = "head") -> list[Revision]:
    """Apply every pending migration; return those applied, oldest first."""
    config = alembic_config(database_url)
    before = current_revisions(database_url)
    command.upgrade(config, revision)
    after = current_revisions(database_url)
    scripts = ScriptDirectory.from_config(config).iterate_revisions(after, before or "base")
    applied = [
        Revision(script.revision, (script.doc or "").splitlines()[0] if script.doc else "")
        for script in scripts
    ]
    return applied[::-1]


def comparable(dialect: str):
    """The `include_object` hook of autogenerate on `dialect`: SQLite's FTS5 table `search_fts`
    and its shadow tables are no model's (a migration makes them), and an index declared for
    one database only (`Index.ddl_if`) is compared on that database only."""

    def include_object(obj, name, type_, reflected, compare_to) -> bool:
        if type_ == "table" and reflected and compare_to is None:
            return not name.startswith("search_fts")
        if type_ == "index" and not reflected:
            only = getattr(getattr(obj, "_ddl_if", None), "dialect", None)
            return only is None or only == dialect
        return True

    return include_object
