"""Configuration from the environment (prefix ``NEWSROOM_``), with laptop-friendly defaults."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me"


class Settings(BaseSettings):
    """Every setting of every service; `.env.example` documents each one."""

    model_config = SettingsConfigDict(env_prefix="NEWSROOM_", env_file=".env", extra="ignore")

    environment: str = "development"
    database_url: str = "sqlite:///var/newsroom.db"
    broker_url: str = "memory://"
    site_dir: Path = Path("var/site")
    base_url: str = "http://localhost:8000"
    smtp_url: str = "file:var/outbox"
    mail_from: str = "Hållbar upphandling <nyheter@localhost>"
    secret_key: str = PLACEHOLDER_SECRET
    site_title: str = "Hållbar upphandling"
    timezone: str = "Europe/Stockholm"
    language: str = "sv"
    digest_schedule: str = "0 7 * * 1"
    host: str = "127.0.0.1"
    port: int = 8000
    # Posts per token: a burst of this many, then this many per second (429 beyond).
    ingest_burst: int = 120
    ingest_rate_per_second: float = 2.0
    # Operators extend the taxonomy with JSON objects of slug -> display name.
    extra_regions: dict[str, str] = Field(default_factory=dict)
    extra_topics: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.environment != "development" and self.secret_key == PLACEHOLDER_SECRET:
            raise ValueError("NEWSROOM_SECRET_KEY is still the placeholder; set a real secret")
        return self

    @property
    def public_url(self) -> str:
        """The base URL without a trailing slash, for joining paths onto."""
        return self.base_url.rstrip("/")

    @property
    def is_embedded(self) -> bool:
        return self.broker_url.startswith("memory://")

    @property
    def mail_dir(self) -> Path | None:
        """The folder for `.eml` files when SMTP_URL is a ``file:`` URL, else None."""
        parts = urlsplit(self.smtp_url)
        if parts.scheme != "file":
            return None
        return Path(unquote(parts.netloc + parts.path))

    def dump_public(self) -> str:
        """The settings as JSON, secrets masked, for `newsroom run` to print."""
        data = self.model_dump(mode="json")
        data["secret_key"] = "***"
        return json.dumps(data, ensure_ascii=False, indent=2)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
