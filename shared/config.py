"""Configuration from the environment (prefix ``NEWSROOM_``), with laptop-friendly defaults."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import Field, field_validator, model_validator
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

    # Notify: subscription requests one client IP may make per minute (answered 429 beyond).
    # Generous enough for an office behind one NAT address; the per-address limit protects
    # inboxes.
    subscribe_per_ip_per_minute: int = 30
    # Notify: confirmation mails one address may receive per 24 hours, however often it is
    # posted.
    confirmations_per_address_per_day: int = 3
    # Notify: recipients per `notify.deliver_batch` task, each batch on one SMTP connection.
    mail_batch_size: int = 100
    # Notify: messages per second per worker process; 0 sends as fast as the server accepts.
    mail_rate_per_second: float = 0.0
    smtp_timeout: float = 30.0
    # Notify: DKIM signing happens when all three are set (needs the `dkimpy` package).
    dkim_domain: str | None = None
    dkim_selector: str | None = None
    dkim_private_key_file: Path | None = None

    @field_validator("dkim_domain", "dkim_selector", "dkim_private_key_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value):
        # `NEWSROOM_DKIM_PRIVATE_KEY_FILE=` in a .env would otherwise be Path("."), "set".
        return None if value == "" else value

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
