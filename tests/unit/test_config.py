import re
from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from shared.config import Settings, get_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_run_on_a_laptop():
    settings = Settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.is_embedded
    assert str(settings.mail_dir) == "var/outbox"
    assert settings.timezone == "Europe/Stockholm"
    assert settings.public_url == "http://localhost:8000"


def test_placeholder_secret_is_refused_outside_development():
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(environment="production", secret_key="change-me")
    assert Settings(environment="production", secret_key="s3cret-enough").signing_key
    # A service that signs nothing needs no secret; one that does refuses to go on without.
    with pytest.raises(RuntimeError, match="NEWSROOM_SECRET_KEY"):
        _ = Settings(environment="production").signing_key
    assert Settings().signing_key == "change-me"  # development only


def test_environment_overrides_defaults(monkeypatch):
    monkeypatch.setenv("NEWSROOM_SMTP_URL", "file:///srv/mail")
    monkeypatch.setenv("NEWSROOM_EXTRA_TOPICS", '{"vatten": "Vatten"}')
    settings = Settings()
    assert str(settings.mail_dir) == "/srv/mail"
    assert settings.extra_topics == {"vatten": "Vatten"}
    assert Settings(smtp_url="smtp://mail:25").mail_dir is None


def test_links_follow_host_and_port_while_base_url_is_unset(monkeypatch):
    monkeypatch.setenv("NEWSROOM_PORT", "8123")
    assert Settings().public_url == "http://localhost:8123"
    monkeypatch.setenv("NEWSROOM_HOST", "nyheter.lan")
    assert Settings().public_url == "http://nyheter.lan:8123"
    monkeypatch.setenv("NEWSROOM_BASE_URL", "https://nyheter.example.se/")
    assert Settings().public_url == "https://nyheter.example.se"


def test_secrets_come_from_files(monkeypatch, tmp_path):
    (tmp_path / "secret_key").write_text("from-a-file-0123456789\n")
    (tmp_path / "db").write_text("p@ss/word")
    (tmp_path / "redis").write_text("r3dis")
    monkeypatch.setenv("NEWSROOM_ENVIRONMENT", "production")
    monkeypatch.setenv("NEWSROOM_SECRET_KEY_FILE", str(tmp_path / "secret_key"))
    monkeypatch.setenv("NEWSROOM_DATABASE_URL", "postgresql+psycopg://newsroom@postgres/newsroom")
    monkeypatch.setenv("NEWSROOM_DATABASE_PASSWORD_FILE", str(tmp_path / "db"))
    monkeypatch.setenv("NEWSROOM_BROKER_URL", "redis://redis:6379/0")
    monkeypatch.setenv("NEWSROOM_BROKER_PASSWORD_FILE", str(tmp_path / "redis"))
    settings = Settings()
    assert settings.signing_key == "from-a-file-0123456789"
    assert settings.database_url == "postgresql+psycopg://newsroom:p%40ss%2Fword@postgres/newsroom"
    assert settings.broker_url == "redis://:r3dis@redis:6379/0"
    shown = settings.dump_public()
    assert "p%40ss" not in shown and "r3dis" not in shown and "from-a-file" not in shown
    # A variable set directly wins over its file.
    monkeypatch.setenv("NEWSROOM_SECRET_KEY", "direct-0123456789")
    assert Settings().signing_key == "direct-0123456789"
    # The placeholder is refused from a file as well.
    (tmp_path / "secret_key").write_text("change-me")
    monkeypatch.delenv("NEWSROOM_SECRET_KEY")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings()
    monkeypatch.setenv("NEWSROOM_SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="NEWSROOM_SECRET_KEY_FILE"):
        Settings()
    monkeypatch.delenv("NEWSROOM_SECRET_KEY_FILE")


def _settings_classes() -> list[type[BaseSettings]]:
    """Every settings class of the project (imported through the service modules)."""
    import newsroom.embedded  # noqa: F401  (imports every service)

    found, todo = [], [BaseSettings]
    while todo:
        for cls in todo.pop().__subclasses__():
            todo.append(cls)
            if cls.__module__.split(".")[0] in ("shared", "services", "newsroom"):
                found.append(cls)
    return found


def _variables_in(paths: list[Path]) -> set[str]:
    names = set()
    for path in paths:
        # Markers inside mail templates end in "__"; variables never do.
        names |= set(re.findall(r"\bNEWSROOM_([A-Z0-9_]*[A-Z0-9])\b(?!_)", path.read_text()))
    return names


def test_every_variable_is_declared_once_in_settings_and_in_env_example():
    fields = {name.upper() for cls in _settings_classes() for name in cls.model_fields}
    code = [
        p
        for folder in ("shared", "services", "newsroom", "deploy")
        for p in (ROOT / folder).rglob("*")
        if p.suffix in (".py", ".conf", ".json", ".html", ".txt")
    ]
    code += [ROOT / name for name in ("docker-compose.yml", "compose.override.yml", "Makefile")]
    used = _variables_in(code)
    undeclared = {
        name for name in used if name not in fields and name.removesuffix("_FILE") not in fields
    }
    assert not undeclared, f"read but not a setting: {sorted(undeclared)}"
    documented = _variables_in([ROOT / ".env.example"])
    assert not fields - documented, f"not in .env.example: {sorted(fields - documented)}"
    assert not documented - fields - {f"{n}_FILE" for n in fields}, "documented, not a setting"


def test_no_module_reads_newsroom_variables_from_the_environment():
    for path in [*ROOT.joinpath("shared").rglob("*.py"), *ROOT.joinpath("services").rglob("*.py")]:
        text = path.read_text()
        assert not re.search(r"environ(\.get)?\s*[\[(]\s*[\"']NEWSROOM_", text), path
        assert not re.search(r"getenv\(\s*[\"']NEWSROOM_", text), path
    get_settings.cache_clear()
