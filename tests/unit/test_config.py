import pytest
from pydantic import ValidationError

from shared.config import Settings


def test_defaults_run_on_a_laptop():
    settings = Settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.is_embedded
    assert str(settings.mail_dir) == "var/outbox"
    assert settings.timezone == "Europe/Stockholm"


def test_placeholder_secret_is_refused_outside_development():
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(environment="production")
    assert Settings(environment="production", secret_key="s3cret-enough").secret_key


def test_environment_overrides_defaults(monkeypatch):
    monkeypatch.setenv("NEWSROOM_SMTP_URL", "file:///srv/mail")
    monkeypatch.setenv("NEWSROOM_EXTRA_TOPICS", '{"vatten": "Vatten"}')
    settings = Settings()
    assert str(settings.mail_dir) == "/srv/mail"
    assert settings.extra_topics == {"vatten": "Vatten"}
    assert Settings(smtp_url="smtp://mail:25").mail_dir is None
