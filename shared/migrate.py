"""Alembic, driven from code so `newsroom db upgrade` needs no alembic.ini in the cwd."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from shared.config import get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url or get_settings().database_url
    return config


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


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
