"""Notify's own tunables (same ``NEWSROOM_`` prefix); the shared Settings hold the rest."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotifySettings(BaseSettings):
    """Limits and mail options of the notify service; `.env.example` documents each one."""

    model_config = SettingsConfigDict(env_prefix="NEWSROOM_", env_file=".env", extra="ignore")

    # Subscription requests one client IP may make per minute (answered 429 beyond). Generous
    # enough for an office behind one NAT address; the per-address limit protects inboxes.
    # Behind a proxy, run uvicorn with --forwarded-allow-ips so the client IP is the real one.
    subscribe_per_ip_per_minute: int = 30
    # Confirmation mails one address may receive per 24 hours, however often it is posted.
    confirmations_per_address_per_day: int = 3
    # Recipients per `notify.deliver_batch` task, each batch on one SMTP connection.
    mail_batch_size: int = 100
    # Messages per second per worker process; 0 sends as fast as the server accepts.
    mail_rate_per_second: float = 0.0
    smtp_timeout: float = 30.0
    # DKIM signing happens when all three are set (needs the `dkimpy` package).
    dkim_domain: str | None = None
    dkim_selector: str | None = None
    dkim_private_key_file: Path | None = None

    @field_validator("dkim_domain", "dkim_selector", "dkim_private_key_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value):
        # `NEWSROOM_DKIM_PRIVATE_KEY_FILE=` in a .env would otherwise be Path("."), "set".
        return None if value == "" else value


@lru_cache
def get_notify_settings() -> NotifySettings:
    """The process-wide notify settings; tests call ``cache_clear()`` after changing env."""
    return NotifySettings()
