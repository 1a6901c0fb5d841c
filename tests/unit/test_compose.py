"""docker-compose.yml is valid without a Docker engine: structure, references, commands."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml

from deploy import stack

ROOT = stack.ROOT
COMPOSE = stack.load()
SERVICES = COMPOSE["services"]
SECRETS = {
    "POSTGRES_PASSWORD": "s3cret-db",
    "NEWSROOM_BASE_URL": "https://nyheter.example.se",
    "NEWSROOM_SMTP_URL": "smtp://mail.example.se:587?starttls=1",
    "NEWSROOM_MAIL_FROM": "Hållbar upphandling <nyheter@example.se>",
    "NEWSROOM_SECRET_KEY": "a-real-secret-of-enough-length-0123456789",
}
EXPECTED = {
    "redis",
    "postgres",
    "migrate",
    "ingest",
    "notify",
    "render-worker",
    "notify-worker",
    "beat",
    "web",
}


def test_yaml_parses_with_every_expected_service():
    assert EXPECTED <= set(SERVICES)
    assert set(COMPOSE["volumes"]) >= {"redis-data", "postgres-data", "site"}


def test_every_depends_on_target_exists_and_has_what_its_condition_needs():
    for name, service in SERVICES.items():
        for target, rule in stack.depends_on(service).items():
            assert target in SERVICES, f"{name} depends on unknown {target}"
            condition = rule["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[target], f"{name} waits for {target}'s health"
            elif condition == "service_completed_successfully":
                assert stack.is_one_shot(SERVICES[target]), f"{target} never completes"
            else:
                pytest.fail(f"{name} -> {target}: use a real condition, not {condition}")
    stack.start_order(COMPOSE)  # no cycles


def test_long_running_services_wait_for_migrate_and_healthy_stores():
    for name in ("ingest", "notify", "render-worker", "notify-worker", "beat", "rebuild"):
        deps = stack.depends_on(SERVICES[name])
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["redis"]["condition"] == "service_healthy", name
    assert SERVICES["migrate"]["command"] == ["newsroom", "db", "upgrade"]


def test_named_volumes_are_declared():
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in COMPOSE["volumes"], f"{name}: volume {source} undeclared"
            else:
                assert (ROOT / source).exists(), f"{name}: {source} missing"


def test_healthchecks_restart_policy_pinned_images_and_no_root():
    for name, service in SERVICES.items():
        if stack.is_one_shot(service):
            assert service["restart"] == "no"
            continue
        assert "healthcheck" in service, f"{name} has no healthcheck"
        assert service["restart"] == "unless-stopped", name
        image = service["image"]
        tag = image.rsplit(":", 1)[-1]
        assert ":" in image and re.match(r"v?\d+\.\d+", tag), f"{name}: unpinned {image}"
    for name in ("redis", "postgres") + tuple(n for n, s in SERVICES.items() if "build" in s):
        assert SERVICES[name].get("user") not in (None, "root", "0"), name
    assert "nginx-unprivileged" in SERVICES["web"]["image"]  # runs as uid 101 on :8080
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER 10001", dockerfile, re.M)
    assert re.search(r"^FROM python:\d+\.\d+\.\d+-", dockerfile, re.M)


def test_redis_keeps_every_message():
    command = " ".join(SERVICES["redis"]["command"])
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command
    assert "--maxmemory-policy noeviction" in command
    assert any(v.endswith(":/data") for v in SERVICES["redis"]["volumes"])
    assert any("/var/lib/postgresql/data" in v for v in SERVICES["postgres"]["volumes"])


def _module_attr(reference: str):
    module, _, attr = reference.partition(":")
    return getattr(importlib.import_module(module), attr)


def test_commands_reference_code_that_exists():
    for name, service in SERVICES.items():
        if "build" not in service:
            continue
        argv = stack.as_list(service["command"])
        if argv[0] == "uvicorn":
            assert "--factory" in argv
            assert callable(_module_attr(argv[1])), name
        elif argv[0] == "celery":
            app = _module_attr(argv[argv.index("-A") + 1])
            assert app.__class__.__name__ == "Celery", name
            if "worker" in argv:
                queue = argv[argv.index("-Q") + 1]
                tasks = [t for t in app.tasks if t.startswith(f"{queue}.")]
                assert tasks, f"{name}: no task of queue {queue} registered by {argv[2]}"
            if "beat" in argv:
                assert app.conf.beat_schedule, name
        elif argv[0] == "newsroom":
            from click.testing import CliRunner

            from newsroom.cli import main

            result = CliRunner().invoke(main, [*argv[1:], "--help"])
            assert result.exit_code == 0, f"{name}: {argv} -> {result.output}"
        else:
            pytest.fail(f"{name}: unexpected program {argv[0]}")
        for arg in argv:
            if arg.startswith(stack.IMAGE_WORKDIR):
                assert (ROOT / arg.removeprefix(stack.IMAGE_WORKDIR)).exists(), arg


def test_healthchecks_reference_code_that_exists():
    for _name, service in SERVICES.items():
        test = " ".join(service.get("healthcheck", {}).get("test", []))
        for module in re.findall(r"-A (\S+)", test) + re.findall(r"-m (\S+)", test):
            _module_attr(module) if ":" in module else importlib.import_module(module)


def test_secrets_refuse_to_start_when_unset():
    with pytest.raises(stack.MissingVariable, match="POSTGRES_PASSWORD"):
        stack.interpolated(COMPOSE, {k: v for k, v in SECRETS.items() if k != "POSTGRES_PASSWORD"})
    for key in SECRETS:
        with pytest.raises(stack.MissingVariable, match=key):
            stack.interpolated(COMPOSE, {**SECRETS, key: ""})
    resolved = stack.interpolated(COMPOSE, SECRETS)
    env = resolved["services"]["ingest"]["environment"]
    assert env["NEWSROOM_DATABASE_URL"].endswith(":s3cret-db@postgres:5432/newsroom")
    assert env["NEWSROOM_ENVIRONMENT"] == "production"


def test_env_example_leaves_compose_secrets_unset_and_the_app_refuses_its_placeholder():
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    with pytest.raises(stack.MissingVariable):
        stack.interpolated(COMPOSE, example)
    # With the example's placeholder secret the app itself refuses to start in production.
    from shared.config import Settings

    env = stack.interpolated(COMPOSE, {**SECRETS, "NEWSROOM_SECRET_KEY": "change-me"})
    settings_env = env["services"]["migrate"]["environment"]
    with pytest.raises(ValueError, match="placeholder"):
        Settings(
            **{
                k.removeprefix("NEWSROOM_").lower(): v
                for k, v in settings_env.items()
                if k.startswith("NEWSROOM_")
                and k not in ("NEWSROOM_LOG_FORMAT", "NEWSROOM_LOG_LEVEL")
            }
        )


def test_interpolation_follows_compose_rules():
    assert stack.interpolate("$${HOME} ${A:-x} ${B-y} ${C}", {"B": ""}) == "${HOME} x  "
    assert stack.interpolate("${A:-x}", {"A": "1"}) == "1"
    with pytest.raises(stack.MissingVariable, match="set A"):
        stack.interpolate("${A:?set A}", {})


def test_override_adds_mailpit_for_development():
    override = yaml.safe_load((ROOT / "compose.override.yml").read_text())
    assert "mailpit" in override["services"]
    assert "healthcheck" in override["services"]["mailpit"]
    for name, service in override["services"].items():
        assert name in SERVICES or "image" in service, name
        for target in stack.depends_on(service):
            assert target in SERVICES or target in override["services"]


def test_nginx_routes_apis_and_sets_headers():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(r"location = /api/v1/subscriptions \{ proxy_pass http://notify; \}", conf)
    assert re.search(r"location \^~ /prenumeration/ \{ proxy_pass http://notify; \}", conf)
    assert re.search(r"location \^~ /api/ \{ proxy_pass http://ingest; \}", conf)
    for header in (
        "X-Content-Type-Options",
        "Content-Security-Policy",
        "Referrer-Policy",
        "X-Frame-Options",
    ):
        assert f"add_header {header}" in conf
    assert "gzip on;" in conf and "etag on;" in conf
    # add_header inside a location would drop the server's security headers there.
    for block in re.findall(r"location[^{]*\{([^}]*)\}", conf):
        assert "add_header" not in block
    local = stack.Local(
        site_dir=Path("/srv/x"),
        workdir=Path("/tmp/newsroom-nginx-test"),
        ports={8001: 18001, 8002: 18002},
    )
    generated = stack.nginx_config(COMPOSE, local, listen=18080)
    assert "server 127.0.0.1:18001;" in generated and "root /srv/x;" in generated


def test_local_commands_follow_the_compose_file():
    local = stack.Local(site_dir=Path("/tmp/site"), workdir=Path("/tmp/w"), ports={8001: 18001})
    argv = stack.service_command(COMPOSE, "ingest", local)
    assert argv[argv.index("--port") + 1] == "18001"
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    worker = stack.service_command(COMPOSE, "render-worker", local, instance=2)
    assert worker[worker.index("-n") + 1] == "render-2@%h"
    check = stack.healthcheck_command(COMPOSE, "render-worker", local, instance=2)
    assert "render-2@$HOSTNAME" in check[-1]
    assert "18001" in " ".join(stack.healthcheck_command(COMPOSE, "ingest", local))


def test_the_compose_specification_accepts_both_files():
    """compose-spec (the compose_spec Rust crate) rejects unknown keys and invalid values."""
    import json

    from compose_spec import PyCompose

    resolved = stack.interpolated(COMPOSE, SECRETS)
    PyCompose.from_json(json.dumps(resolved))
    PyCompose.from_json(json.dumps(yaml.safe_load((ROOT / "compose.override.yml").read_text())))
    typo = json.loads(json.dumps(resolved))
    typo["services"]["web"]["healthcheck"]["intervall"] = "5s"
    with pytest.raises(ValueError, match="intervall"):
        PyCompose.from_json(json.dumps(typo))


def test_make_stack_writes_a_procfile_of_every_long_running_service(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSROOM_SECRET_KEY", "unit-test-secret")
    assert (
        stack.main(
            [
                "--dry-run",
                "--workdir",
                str(tmp_path),
                "--port",
                "18080",
                "--scale",
                "render-worker=2",
            ]
        )
        == 0
    )
    lines = dict(line.split(": ", 1) for line in (tmp_path / "Procfile").read_text().splitlines())
    assert set(lines) == {
        "ingest",
        "notify",
        "render-worker-1",
        "render-worker-2",
        "notify-worker",
        "beat",
        "web",
    }
    assert "-n render-2@%h" in lines["render-worker-2"]
    ports = {
        re.search(r"NEWSROOM_METRICS_PORT=(\d+)", lines[name])[1]
        for name in ("render-worker-1", "render-worker-2", "notify-worker")
    }
    assert len(ports) == 3  # one metrics port per worker process
    assert "PROMETHEUS_MULTIPROC_DIR" not in lines["ingest"]
    assert "listen 127.0.0.1:18080;" in (tmp_path / "nginx.conf").read_text()
