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
# What compose needs from .env (the secrets themselves are files, see `secrets:`).
SECRETS = {
    "NEWSROOM_BASE_URL": "https://nyheter.example.se",
    "NEWSROOM_MAIL_FROM": "Hållbar upphandling <nyheter@example.se>",
}
APPS = [name for name, service in SERVICES.items() if "build" in service]
EXPECTED = {
    "redis",
    "postgres",
    "migrate",
    "ingest",
    "notify",
    "search",
    "render-worker",
    "search-worker",
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
    for name in (
        "ingest",
        "notify",
        "search",
        "render-worker",
        "search-worker",
        "notify-worker",
        "beat",
        "rebuild",
    ):
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
        # An exact patch release, not a moving tag (PostgreSQL numbers its releases major.minor).
        exact = r"\d+\.\d+" if image.startswith("postgres:") else r"v?\d+\.\d+\.\d+"
        assert ":" in image and re.match(exact + r"(-|$)", tag), f"{name}: unpinned {image}"
    for name in ("redis", "postgres") + tuple(n for n, s in SERVICES.items() if "build" in s):
        assert SERVICES[name].get("user") not in (None, "root", "0"), name
    assert "nginx-unprivileged" in SERVICES["web"]["image"]  # runs as uid 101 on :8080
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER 10001", dockerfile, re.M)
    assert re.search(r"^FROM python:\d+\.\d+\.\d+-", dockerfile, re.M)
    assert "redis:7.2.5" not in SERVICES["redis"]["image"]  # before 7.2's security fixes


def test_every_container_is_locked_down():
    for name, service in SERVICES.items():
        assert service.get("read_only") is True, f"{name}: writable root file system"
        assert service.get("cap_drop") == ["ALL"], f"{name} keeps capabilities"
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert service.get("mem_limit") and service.get("pids_limit"), f"{name}: no limits"
    assert "/tmp/prometheus" in SERVICES["render-worker"]["tmpfs"]
    # Beat keeps its schedule on a volume of its own, the var folder its settings name.
    assert "beat-state:/var/lib/newsroom" in SERVICES["beat"]["volumes"]
    assert SERVICES["beat"]["environment"]["NEWSROOM_VAR_DIR"] == "/var/lib/newsroom"


def _secret_files(service: dict) -> set[str]:
    env = service.get("environment") or {}
    return {
        value.removeprefix("/run/secrets/")
        for key, value in env.items()
        if str(value).startswith("/run/secrets/")
    }


def test_each_service_gets_only_the_secrets_it_uses():
    for name in APPS:
        given = set(SERVICES[name].get("secrets", []))
        assert given == _secret_files(SERVICES[name]), f"{name}: secrets {given}"
        env = SERVICES[name]["environment"]
        assert not any(key in env for key in ("NEWSROOM_SECRET_KEY", "NEWSROOM_SMTP_URL"))
        assert ":" not in env["NEWSROOM_DATABASE_URL"].split("@")[0].split("//")[1], name
    signs = {name for name in APPS if "secret_key" in SERVICES[name]["secrets"]}
    assert signs == {"ingest", "notify", "notify-worker"}
    assert {name for name in APPS if "smtp_url" in SERVICES[name]["secrets"]} == {"notify-worker"}
    # Only what queues or runs tasks talks to the broker.
    assert {n for n in APPS if "redis_password" not in SERVICES[n]["secrets"]} == {
        "migrate",
        "rebuild",
        "search",
    }
    assert "secrets" not in SERVICES["web"]
    assert SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets/")
    assert set(COMPOSE["secrets"]) == {
        "postgres_password",
        "redis_password",
        "secret_key",
        "smtp_url",
    }
    assert all("file" in secret for secret in COMPOSE["secrets"].values())


def test_nginx_cannot_reach_the_data_and_the_data_cannot_reach_out():
    networks = {name: set(service.get("networks", [])) for name, service in SERVICES.items()}
    assert networks["web"] == {"front"}
    for store in ("redis", "postgres"):
        assert networks[store] == {"back"}
    assert COMPOSE["networks"]["back"]["internal"] is True
    assert networks["ingest"] == networks["notify"] == networks["search"] == {"front", "back"}
    # Only the notify worker sends mail out.
    assert {n for n in APPS if "outbound" in networks[n]} == {"notify-worker"}


def test_redis_wants_a_password_and_stops_accepting_before_its_memory_runs_out():
    command = " ".join(SERVICES["redis"]["command"])
    assert "requirepass" in command and "/run/secrets/redis_password" in command
    maxmemory = re.search(r"--maxmemory (\d+)mb", command)
    assert maxmemory and int(maxmemory[1]) < int(SERVICES["redis"]["mem_limit"].rstrip("m"))
    assert "REDISCLI_AUTH" in " ".join(SERVICES["redis"]["healthcheck"]["test"])


def test_apis_trust_forwarded_headers_from_the_front_network_only():
    subnet = COMPOSE["networks"]["front"]["ipam"]["config"][0]["subnet"]
    for name in ("ingest", "notify", "search"):
        argv = stack.as_list(SERVICES[name]["command"])
        assert argv[argv.index("--forwarded-allow-ips") + 1] == subnet, name


def test_redis_keeps_every_message():
    command = " ".join(SERVICES["redis"]["command"]).replace("\n", " ")
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


def test_required_values_refuse_to_start_when_unset():
    for key in SECRETS:
        with pytest.raises(stack.MissingVariable, match=key):
            stack.interpolated(COMPOSE, {**SECRETS, key: ""})
    resolved = stack.interpolated(COMPOSE, SECRETS)
    env = resolved["services"]["ingest"]["environment"]
    assert env["NEWSROOM_DATABASE_URL"] == "postgresql+psycopg://newsroom@postgres:5432/newsroom"
    assert env["NEWSROOM_ENVIRONMENT"] == "production"


def test_env_example_leaves_compose_values_unset_and_the_app_refuses_a_placeholder_secret(
    tmp_path, monkeypatch
):
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    with pytest.raises(stack.MissingVariable):
        stack.interpolated(COMPOSE, example)
    # The notify services read their secrets from files; a placeholder there stops them.
    from shared.config import Settings

    env = stack.interpolated(COMPOSE, SECRETS)["services"]["notify-worker"]["environment"]
    for name, value in {
        "postgres_password": "s3cret-db",
        "redis_password": "s3cret-redis",
        "secret_key": "change-me",
        "smtp_url": "smtp://mail.example.se:587?starttls=1",
    }.items():
        (tmp_path / name).write_text(value + "\n")
    for key, value in env.items():
        monkeypatch.setenv(key, str(value).replace("/run/secrets/", f"{tmp_path}/"))
    with pytest.raises(ValueError, match="placeholder"):
        Settings()
    (tmp_path / "secret_key").write_text("a-real-secret-of-enough-length-0123456789")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://newsroom:s3cret-db@postgres:5432/newsroom"
    assert settings.broker_url == "redis://:s3cret-redis@redis:6379/0"
    assert settings.smtp_url.startswith("smtp://mail.example.se:587")


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
    assert re.search(r"location = /api/v1/search \{ proxy_pass http://search; \}", conf)
    assert re.search(r"location \^~ /sok/ \{ proxy_pass http://search; \}", conf)
    # Redaktionen's pages of notify's data go to notify, the rest of Redaktionen to ingest.
    assert re.search(r"location \^~ /redaktion/nyhetsbrev/ \{ proxy_pass http://notify; \}", conf)
    subscribers = dict(_locations(conf))["^~ /redaktion/prenumeranter/"]
    assert "proxy_pass http://notify;" in subscribers
    assert re.search(r"location \^~ /redaktion \{ proxy_pass http://ingest; \}", conf)
    for header in (
        "X-Content-Type-Options",
        "Content-Security-Policy",
        "Referrer-Policy",
        "X-Frame-Options",
        "Permissions-Policy",
    ):
        assert f"add_header {header}" in conf
    assert "gzip on;" in conf and "etag on;" in conf
    # add_header inside a location would drop the server's security headers there.
    for _, body in _locations(conf):
        assert "add_header" not in body
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


def _locations(conf: str) -> list[tuple[str, str]]:
    """Each `location ... { body }` of the config, nested braces included, and the rest."""
    found = []
    for match in re.finditer(r"location([^{]*)\{", conf):
        depth, end = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(conf[end], 0)
            end += 1
        found.append((match[1].strip(), conf[match.end() : end - 1]))
    return found


def _directive(conf: str, name: str) -> list[str]:
    return re.findall(rf"^\s*{name}\s+([^;]+);", conf, re.M)


def test_nginx_sets_forwarded_for_itself_and_redirects_relatively():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert _directive(conf, "proxy_set_header X-Forwarded-For") == ["$remote_addr"]
    assert "$proxy_add_x_forwarded_for" not in conf
    assert _directive(conf, "absolute_redirect") == ["off"]


def test_nginx_limits_connections_per_address_and_slow_clients():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert _directive(conf, "limit_conn_zone") == [
        "$binary_remote_addr zone=newsroom_per_address:10m"
    ]
    [limit] = _directive(conf, "limit_conn")
    assert limit.startswith("newsroom_per_address ") and int(limit.split()[1]) <= 32
    for name in ("client_header_timeout", "client_body_timeout", "send_timeout"):
        [value] = _directive(conf, name)
        assert int(value.rstrip("s")) <= 15, name
    assert int(_directive(conf, "keepalive_timeout")[0].rstrip("s")) <= 30


def test_nginx_leaves_the_apps_cache_control_and_referrer_policy_alone():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    server = conf[conf.index("server {") :]
    # `expires` rewrites Cache-Control; only the static locations may use it.
    outside = server
    for _, body in _locations(server):
        outside = outside.replace(body, "")
        if "proxy_pass" in body:
            assert "expires" not in body
    assert not _directive(outside, "expires")
    # Each security header is added only when the app sent none of its own.
    assert "map $upstream_http_referrer_policy $newsroom_header_referrer" in conf
    assert "add_header Referrer-Policy $newsroom_header_referrer always;" in conf


def test_make_stack_writes_a_procfile_of_every_long_running_service(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSROOM_SECRET_KEY", "unit-test-secret")
    monkeypatch.setenv("NEWSROOM_DATABASE_URL", "postgresql+psycopg://u:db-password@127.0.0.1/x")
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
        "search",
        "render-worker-1",
        "render-worker-2",
        "search-worker",
        "notify-worker",
        "beat",
        "web",
    }
    assert "-n render-2@%h" in lines["render-worker-2"]
    assert "listen 127.0.0.1:18080;" in (tmp_path / "nginx.conf").read_text()
    # No secret on a command line (readable by anyone in /proc): environments are files of
    # this user only, secrets too, and the Procfile names them.
    procfile = (tmp_path / "Procfile").read_text()
    assert "unit-test-secret" not in procfile and "db-password" not in procfile
    env_files = {label: tmp_path / "env" / f"{label}.env" for label in lines if label != "web"}
    for label, path in env_files.items():
        assert oct(path.stat().st_mode & 0o777) == "0o600", label
        assert str(path) in lines[label]
    assert "db-password" in env_files["ingest"].read_text()
    assert (tmp_path / "secrets" / "secret_key").read_text() == "unit-test-secret"
    assert oct((tmp_path / "secrets" / "secret_key").stat().st_mode & 0o777) == "0o600"
    notify_env = env_files["notify-worker"].read_text()
    assert f"NEWSROOM_SECRET_KEY_FILE={tmp_path}/secrets/secret_key" in notify_env
    assert "NEWSROOM_SECRET_KEY_FILE" not in env_files["search"].read_text()
    assert "PROMETHEUS_MULTIPROC_DIR" not in env_files["ingest"].read_text()
    ports = {
        re.search(r"NEWSROOM_METRICS_PORT=(\d+)", env_files[name].read_text())[1]
        for name in ("render-worker-1", "render-worker-2", "search-worker", "notify-worker")
    }
    assert len(ports) == 4  # one metrics port per worker process
    # The local APIs believe forwarded headers from the local nginx only.
    assert "--forwarded-allow-ips 127.0.0.1" in lines["ingest"]
