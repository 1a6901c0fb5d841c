"""Configuration from the environment (prefix ``NEWSROOM_``), with laptop-friendly defaults.

Any setting can also be read from a file named by ``NEWSROOM_<NAME>_FILE`` (docker-compose.yml
hands secrets over that way, so they appear in no environment listing or command line); a
variable set directly wins over its file.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from pydantic import Field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

PLACEHOLDER_SECRET = "change-me"
PREFIX = "NEWSROOM_"
# Shown instead of these in `newsroom run`'s listing.
SECRETS = (
    "secret_key",
    "database_password",
    "broker_password",
    "token",
    "bounce_webhook_secret",
)


class FileSettingsSource(PydanticBaseSettingsSource):
    """Values from the files that ``NEWSROOM_<NAME>_FILE`` variables name."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        variable = f"{PREFIX}{field_name.upper()}_FILE"
        path = os.environ.get(variable)
        if not path:
            return None, field_name, False
        try:
            # One trailing newline is how editors and `echo` end a file, not part of a secret.
            value = Path(path).read_text(encoding="utf-8").removesuffix("\n")
        except OSError as exc:
            raise ValueError(f"{variable}: cannot read {path}: {exc.strerror}") from exc
        return value, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, field_name)
            if value is not None:
                values[key] = self.prepare_field_value(field_name, field, value, False)
        return values


class Settings(BaseSettings):
    """Every setting of every service; `.env.example` documents each one."""

    # An empty variable (`NEWSROOM_BASE_URL=` in .env) means "use the default".
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_file=".env", extra="ignore", env_ignore_empty=True
    )

    environment: str = "development"
    database_url: str = "sqlite:///var/newsroom.db"
    # Put into DATABASE_URL / BROKER_URL when set, so those carry no secret themselves.
    database_password: str | None = None
    broker_url: str = "memory://"
    broker_password: str | None = None
    # Where the few tasks whose answer a caller waits for (Redaktionen's previews, its count of
    # subscribers, its test mail) leave that answer. Unset: the broker's Redis in the
    # distributed mode, the process's memory in the embedded one (its worker is a thread).
    result_backend: str | None = None
    # Seconds Redaktionen waits for such an answer before it says the service is unavailable.
    editor_task_timeout: float = 10.0
    # Seconds a message handed to a worker stays invisible to others (Redis; see celery_app).
    broker_visibility_timeout: float = 60.0
    site_dir: Path = Path("var/site")
    # State of the processes that is not the site or the database (beat's schedule, stamps).
    var_dir: Path = Path("var")
    # Unset: http://localhost:PORT, following HOST and PORT (what `newsroom run` serves).
    base_url: str | None = None
    smtp_url: str = "file:var/outbox"
    mail_from: str = "Hållbar upphandling <nyheter@localhost>"
    secret_key: str | None = None
    site_title: str = "Hållbar upphandling"
    timezone: str = "Europe/Stockholm"
    language: str = "sv"
    digest_schedule: str = "0 7 * * 1"
    # Notify: at most one newsletter per immediate subscriber per window; what becomes
    # visible meanwhile goes out together when it closes. Seconds or ISO 8601 ("PT10M");
    # 0 mails every item at once.
    immediate_window: timedelta = timedelta(minutes=10)
    host: str = "127.0.0.1"
    port: int = 8000
    # `newsroom run`: the addresses (IPs or networks, comma-separated, or *) whose
    # X-Forwarded-For and X-Forwarded-Proto are believed. Empty: none, readers connect directly.
    forwarded_allow_ips: str = ""
    # `newsroom run`: who may read /metrics (networks, comma-separated, or *).
    metrics_from: str = "127.0.0.0/8,::1"
    # Workers: the port of their Prometheus endpoint (unset: none).
    metrics_port: int | None = None
    # Posts per token: a burst of this many, then this many per second (429 beyond).
    ingest_burst: int = 120
    ingest_rate_per_second: float = 2.0
    # Operators extend the taxonomy with JSON objects of slug -> display name.
    extra_regions: dict[str, str] = Field(default_factory=dict)
    extra_topics: dict[str, str] = Field(default_factory=dict)
    # Logs: level, "text" or "json", and the service name JSON lines carry.
    log_level: str = "INFO"
    log_format: str = "text"
    service: str | None = None
    # Celery beat's health check file (default: under VAR_DIR).
    beat_heartbeat: Path | None = None
    # `newsroom post`: the contributor's token (or --token).
    token: str | None = None
    # Fault injection for tests/faults/ (never set in production): where the relay crashes.
    fault_relay: str | None = None
    # docker-compose.yml and `make stack`: the host port of the web server (nginx).
    http_port: int = 8080

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # A variable beats its *_FILE; both beat a line in .env (copied from .env.example).
        return (
            init_settings,
            env_settings,
            FileSettingsSource(settings_cls),
            dotenv_settings,
            file_secret_settings,
        )

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
    # Notify: a newsletter is shown as stuck (Redaktionen, metrics) when rows wait and nothing
    # was sent for this many minutes.
    newsletter_stuck_minutes: int = 15
    # Notify: DKIM signing happens when all three are set (needs the `dkimpy` package).
    dkim_domain: str | None = None
    dkim_selector: str | None = None
    dkim_private_key_file: Path | None = None
    # Notify: the envelope sender of ledger mail (VERP). Set: `bounces@example.se` becomes
    # `bounces+<signed tag naming the delivery>@example.se`; unset: MAIL_FROM's address.
    bounce_address: str | None = None
    # Notify: the mailbox bounces arrive in, read by `notify.poll_bounces`
    # (`imap://user:pass@host:port/INBOX`, `imaps://…`, `pop3://…`, `pop3s://…`); unset: not
    # polled.
    bounce_mailbox_url: str | None = None
    # Notify: the folder a bounce mail nobody can read is moved to (kept for a person).
    bounce_keep_folder: str = "Ej-tolkade"
    # Notify: seconds between two polls of the bounce mailbox (Celery beat).
    bounce_poll_seconds: float = 300.0
    # Notify: soft bounces (4.x.x) of one address within SOFT_BOUNCE_DAYS that suppress it.
    soft_bounce_limit: int = 3
    soft_bounce_days: int = 7
    # Notify: the secret a mail provider signs bounce webhooks with (HMAC-SHA256); unset:
    # the webhook refuses everything. Requests older than the window are refused.
    bounce_webhook_secret: str | None = None
    bounce_webhook_window_seconds: int = 300

    @field_validator(
        "dkim_domain",
        "dkim_selector",
        "dkim_private_key_file",
        "bounce_address",
        "bounce_mailbox_url",
        "bounce_webhook_secret",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value):
        # `NEWSROOM_DKIM_PRIVATE_KEY_FILE=` in a .env would otherwise be Path("."), "set".
        return None if value == "" else value

    @field_validator("immediate_window", mode="before")
    @classmethod
    def _seconds(cls, value):
        # The environment holds text: "600" means seconds, as a number would.
        if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d*)?\s*", value):
            return float(value)
        return value

    @field_validator("immediate_window")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("NEWSROOM_IMMEDIATE_WINDOW cannot be negative")
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.environment != "development" and self.secret_key == PLACEHOLDER_SECRET:
            raise ValueError("NEWSROOM_SECRET_KEY is still the placeholder; set a real secret")
        return self

    @model_validator(mode="after")
    def _passwords_into_urls(self) -> Settings:
        self.database_url = _with_password(self.database_url, self.database_password)
        self.broker_url = _with_password(self.broker_url, self.broker_password)
        return self

    @property
    def signing_key(self) -> str:
        """The secret that signs links; the placeholder only in development."""
        if self.secret_key:
            return self.secret_key
        if self.environment == "development":
            return PLACEHOLDER_SECRET
        # Only the services that sign links are given the secret (docker-compose.yml).
        raise RuntimeError("NEWSROOM_SECRET_KEY (or NEWSROOM_SECRET_KEY_FILE) is not set")

    @property
    def public_url(self) -> str:
        """The base URL without a trailing slash, for joining paths onto."""
        if self.base_url:
            return self.base_url.rstrip("/")
        host = self.host
        if host in ("127.0.0.1", "0.0.0.0", "::", "::1", ""):
            host = "localhost"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def results_url(self) -> str:
        """The Celery result backend: RESULT_BACKEND, or the one that suits the broker."""
        if self.result_backend:
            return self.result_backend
        if self.broker_url.startswith("memory://"):
            return "cache+memory://"
        if self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return "rpc://"

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

    @property
    def beat_heartbeat_file(self) -> Path:
        return self.beat_heartbeat or self.var_dir / "beat.heartbeat"

    def metrics_allowed(self, client_host: str | None) -> bool:
        """Whether a client at this address may read /metrics (METRICS_FROM)."""
        return address_in(client_host, self.metrics_from)

    def dump_public(self) -> str:
        """The settings as JSON, secrets masked, for `newsroom run` to print."""
        data = self.model_dump(mode="json")
        for name in SECRETS:
            if data.get(name):
                data[name] = "***"
        for name in (
            "database_url",
            "broker_url",
            "smtp_url",
            "bounce_mailbox_url",
            "result_backend",
        ):
            if data.get(name):
                data[name] = _masked(data[name])
        data["base_url"] = self.public_url
        return json.dumps(data, ensure_ascii=False, indent=2)


def address_in(host: str | None, networks: str) -> bool:
    """Whether `host` (an IP address) is in the comma-separated `networks` ("*": any)."""
    allowed = [part.strip() for part in networks.split(",") if part.strip()]
    if "*" in allowed:
        return True
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    for network in allowed:
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


def _masked(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _with_password(url: str, password: str | None) -> str:
    if not password:
        return url
    parts = urlsplit(url)
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
