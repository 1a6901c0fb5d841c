"""The docker-compose.yml topology as local processes, its commands read from the file itself.

`make stack` (`python -m deploy.stack`) runs the one-shot services (migrate, rebuild) and then
every long-running service under honcho, against this machine's PostgreSQL and Redis, with
nginx from the distribution serving the site. tests/e2e/test_stack.py uses the same functions,
so what is tested is what docker-compose.yml says, with hosts, ports and paths made local.
Compose's secrets become files in the work folder (mode 0600), and each process reads its
environment from a file of its own: no secret appears on a command line (readable in /proc).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
# Where the image keeps what docker-compose.yml points into (Dockerfile: WORKDIR /app).
IMAGE_WORKDIR = "/app/"
# Where compose mounts each secret (`secrets:`), as /run/secrets/<name>.
SECRETS_DIR = "/run/secrets/"
# Settings that name compose hosts or container paths: a local run must give each of them.
LOCAL_SETTINGS = (
    "NEWSROOM_DATABASE_URL",
    "NEWSROOM_BROKER_URL",
    "NEWSROOM_SITE_DIR",
    "NEWSROOM_SMTP_URL",
    "NEWSROOM_BASE_URL",
)


class MissingVariable(ValueError):
    """A `${VAR:?message}` whose variable is unset or empty: compose refuses to start."""


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose's variable syntax: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
    ${VAR:?error}, ${VAR?error}."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        op, arg = match["op"], match["arg"] or ""
        present = name in variables
        value = variables.get(name, "")
        if op in (":-", ":?"):
            missing = not value
        else:
            missing = not present
        if op in (":-", "-"):
            return arg if missing else value
        if op in (":?", "?") and missing:
            raise MissingVariable(f"{name}: {arg or 'required'}")
        return value

    return _VARIABLE.sub(substitute, value)


def interpolated(node: Any, variables: Mapping[str, str]) -> Any:
    """Every string of a parsed compose document, interpolated."""
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, list):
        return [interpolated(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: interpolated(value, variables) for key, value in node.items()}
    return node


def load(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """docker-compose.yml parsed, anchors and merge keys resolved, not interpolated."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def is_app_service(service: dict[str, Any]) -> bool:
    """Built from this repository's Dockerfile (and not only in an opt-in profile)."""
    return "build" in service and not service.get("profiles")


def is_one_shot(service: dict[str, Any]) -> bool:
    return str(service.get("restart", "no")) == "no"


def depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: {"condition": "service_started"} for name in deps}
    return deps


def start_order(compose: dict[str, Any]) -> list[str]:
    """Service names, each after everything it depends on (a cycle raises)."""
    services = compose["services"]
    done: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            raise ValueError(f"depends_on cycle through {name}")
        visiting.add(name)
        for dependency in depends_on(services[name]):
            visit(dependency)
        visiting.discard(name)
        done.append(name)

    for name in services:
        visit(name)
    return done


def as_list(command: Any) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


@dataclass
class Local:
    """How compose's hosts, ports and paths map onto this machine."""

    site_dir: Path
    workdir: Path
    ports: dict[int, int] = field(default_factory=dict)  # container port -> local port
    host: str = "127.0.0.1"
    bin_dir: Path = Path(sys.executable).parent
    # Processes per Celery worker, when this machine should run fewer than compose says.
    concurrency: int | None = None

    @property
    def secrets_dir(self) -> Path:
        return self.workdir / "secrets"

    def port(self, container_port: int) -> int:
        return self.ports.get(container_port, container_port)

    def volume(self, name: str) -> Path:
        """The local folder of a named volume."""
        return self.workdir / "volumes" / name

    def text(self, value: str) -> str:
        """Container paths and loopback ports inside one argument, made local."""
        value = value.replace(IMAGE_WORKDIR, f"{ROOT}/")
        value = value.replace(SECRETS_DIR, f"{self.secrets_dir}/")
        for container_port in self.ports:
            value = re.sub(
                rf"(?<=127\.0\.0\.1:){container_port}\b", str(self.port(container_port)), value
            )
        return value

    def program(self, name: str) -> str:
        candidate = self.bin_dir / name
        return str(candidate) if candidate.exists() else name


def node_name(argv: list[str]) -> str | None:
    """The Celery node name prefix of a worker command (`-n render@%h` gives "render")."""
    if "-n" in argv:
        return argv[argv.index("-n") + 1].split("@", 1)[0]
    return None


def service_command(
    compose: dict[str, Any], name: str, local: Local, *, instance: int | None = None
) -> list[str]:
    """The service's command from docker-compose.yml, runnable here."""
    argv = as_list(compose["services"][name]["command"])
    out = [local.program(argv[0])]
    nodename = node_name(argv)
    previous = argv[0]
    for arg in argv[1:]:
        if previous == "--host" and arg == "0.0.0.0":
            arg = local.host
        elif previous == "--forwarded-allow-ips":
            arg = local.host  # the local nginx, the one proxy
        elif previous == "--port":
            arg = str(local.port(int(arg)))
        elif previous == "--concurrency" and local.concurrency:
            arg = str(local.concurrency)
        elif previous == "-n" and instance is not None and nodename:
            arg = arg.replace(f"{nodename}@", f"{nodename}-{instance}@", 1)
        out.append(local.text(arg))
        previous = arg
    return out


def healthcheck_command(
    compose: dict[str, Any], name: str, local: Local, *, instance: int | None = None
) -> list[str] | None:
    """The service's health check as a local command (CMD-SHELL runs under sh)."""
    check = compose["services"][name].get("healthcheck")
    if not check or check.get("disable"):
        return None
    test = as_list(check["test"])
    kind, rest = test[0], test[1:]
    service_argv = as_list(compose["services"][name].get("command") or [])
    nodename = node_name(service_argv)

    def localize(arg: str) -> str:
        arg = local.text(arg).replace("$$", "$")
        if instance is not None and nodename:
            arg = arg.replace(f"{nodename}@", f"{nodename}-{instance}@")
        return arg

    if kind == "CMD-SHELL":
        script = localize(" ".join(rest))
        script = re.sub(
            r"(?:(?<=^)|(?<= ))(celery|python|newsroom|uvicorn)(?= )",
            lambda m: shlex.quote(local.program(m[1])),
            script,
        )
        return ["sh", "-c", script]
    if kind == "CMD":
        return [local.program(rest[0]), *(localize(arg) for arg in rest[1:])]
    raise ValueError(f"{name}: unsupported healthcheck {kind}")


def service_environment(
    compose: dict[str, Any],
    name: str,
    overrides: Mapping[str, str],
    variables: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The service's `environment:` interpolated, with the local values in `overrides`."""
    environment = compose["services"][name].get("environment") or {}
    if isinstance(environment, list):
        environment = dict(entry.split("=", 1) for entry in environment)
    missing = [key for key in LOCAL_SETTINGS if key in environment and key not in overrides]
    if missing:
        raise ValueError(f"a local run must set {missing}")
    variables = dict(os.environ if variables is None else variables)
    result = {}
    for key, value in environment.items():
        result[key] = overrides[key] if key in overrides else interpolate(str(value), variables)
    return result


def named_volumes(compose: dict[str, Any], name: str) -> dict[str, str]:
    """The service's named volumes (other than the site): container path -> volume name."""
    mounts = {}
    for volume in compose["services"][name].get("volumes") or []:
        source, target = volume.split(":")[:2]
        if source in (compose.get("volumes") or {}) and source != "site":
            mounts[target] = source
    return mounts


def write_secrets(local: Local, values: Mapping[str, str]) -> None:
    """Compose's secrets as files of this user only (what /run/secrets/<name> holds)."""
    local.secrets_dir.mkdir(parents=True, exist_ok=True)
    local.secrets_dir.chmod(0o700)
    for name, value in values.items():
        path = local.secrets_dir / name
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(value, encoding="utf-8")


def process_environment(
    compose: dict[str, Any],
    name: str,
    overrides: Mapping[str, str],
    local: Local,
    *,
    instance: int | None = None,
    metrics_port: int | None = None,
) -> dict[str, str]:
    """`service_environment` for one local process: secrets and volumes in local folders,
    its own metrics port and folder."""
    env = {
        key: local.text(value)
        for key, value in service_environment(compose, name, overrides).items()
    }
    for target, volume in named_volumes(compose, name).items():
        folder = local.volume(volume)
        folder.mkdir(parents=True, exist_ok=True)
        env = {key: value.replace(target, str(folder), 1) for key, value in env.items()}
    if "NEWSROOM_METRICS_PORT" in env:
        if metrics_port is None:
            raise ValueError(f"{name} serves metrics: give it a local port")
        env["NEWSROOM_METRICS_PORT"] = str(metrics_port)
    if "PROMETHEUS_MULTIPROC_DIR" in env:
        # Like compose's tmpfs: a new, empty folder for every start.
        folder = local.workdir / "prometheus" / f"{name}-{instance or 1}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return env


def nginx_upstreams(compose: dict[str, Any]) -> tuple[Path, str]:
    """The nginx config file docker-compose.yml mounts into `web`, and the site's mount point."""
    config = root = None
    for volume in compose["services"]["web"]["volumes"]:
        source, target = volume.split(":")[:2]
        if target.startswith("/etc/nginx/"):
            config = ROOT / source
        elif source == "site":
            root = target
    if config is None or root is None:
        raise ValueError("web must mount the nginx config and the site volume")
    return config, root


def nginx_config(compose: dict[str, Any], local: Local, *, listen: int) -> str:
    """A complete nginx.conf for a local nginx: the mounted server config, made local."""
    source, root = nginx_upstreams(compose)
    text = source.read_text(encoding="utf-8")
    services = compose["services"]

    def upstream(match: re.Match[str]) -> str:
        host, port = match["host"], int(match["port"])
        if host not in services:
            raise ValueError(f"nginx upstream {host} is not a compose service")
        return f"server {local.host}:{local.port(port)};"

    text, count = re.subn(r"server (?P<host>[\w-]+):(?P<port>\d+);", upstream, text)
    if count == 0:
        raise ValueError("no upstream servers in the nginx config")
    text, count = re.subn(rf"root {re.escape(root)};", f"root {local.site_dir};", text)
    if count != 1:
        raise ValueError(f"nginx config must set `root {root};` once")
    text, count = re.subn(r"listen 8080;", f"listen {local.host}:{listen};", text)
    if count != 1:
        raise ValueError("nginx config must `listen 8080;` once")
    temp = local.workdir / "nginx"
    temp.mkdir(parents=True, exist_ok=True)
    # Running as root (CI), workers keep root's identity so they may read a private tmp folder.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    temp_paths = "\n".join(
        f"    {kind}_temp_path {temp / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""# Generated by deploy/stack.py from {source.relative_to(ROOT)}; do not edit.
{user}worker_processes 1;
daemon off;
pid {temp / "nginx.pid"};
error_log stderr notice;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
{temp_paths}
{text}
}}
"""


def nginx_binary(*, install: bool = True) -> str:
    """nginx from the distribution; installed with apt-get when missing and we are root."""
    found = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(path).exists()),
        None,
    )
    if found:
        return found
    if install and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for attempt in ([], ["update"]):
            if attempt:
                subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
            done = subprocess.run(
                ["apt-get", "install", "-y", "--no-install-recommends", "nginx-light"],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode == 0 and Path("/usr/sbin/nginx").exists():
                return "/usr/sbin/nginx"
        raise RuntimeError(f"apt-get install nginx-light failed:\n{done.stderr[-2000:]}")
    raise RuntimeError(
        "nginx is not installed: install it first (Debian: sudo apt-get install nginx-light)"
    )


def nginx_command(config_file: Path, prefix: Path, *, install: bool = True) -> list[str]:
    """nginx in the foreground on a generated config (installed first when `install`)."""
    binary = nginx_binary() if install else (shutil.which("nginx") or "/usr/sbin/nginx")
    return [binary, "-e", "stderr", "-p", str(prefix), "-c", str(config_file)]


# --- `make stack` ----------------------------------------------------------------------------


def _create_database(url: str) -> None:
    """Create the PostgreSQL database of `url` when it does not exist yet."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        return
    with psycopg.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)
        ).fetchone():
            conn.execute(f'CREATE DATABASE "{parsed.database}"')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.stack", description=__doc__)
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "stack")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("NEWSROOM_HTTP_PORT", "8080"))
    )
    parser.add_argument(
        "--scale",
        action="append",
        default=[],
        metavar="SERVICE=N",
        help="run N processes of a worker, e.g. --scale render-worker=2",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="write the Procfile and nginx.conf, start nothing"
    )
    args = parser.parse_args(argv)

    compose = load()
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    local = Local(site_dir=workdir / "site", workdir=workdir)
    key_file = local.secrets_dir / "secret_key"
    database_url = os.environ.get(
        "NEWSROOM_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/newsroom_stack"
    )
    # The local stores' passwords stay in their URLs (none on this machine's by default).
    write_secrets(
        local,
        {
            "secret_key": os.environ.get("NEWSROOM_SECRET_KEY")
            or (key_file.read_text() if key_file.exists() else secrets.token_urlsafe(32)),
            "postgres_password": "",
            "redis_password": "",
            "smtp_url": os.environ.get("NEWSROOM_SMTP_URL", f"file:{workdir / 'outbox'}"),
        },
    )
    overrides = {
        "NEWSROOM_DATABASE_URL": database_url,
        "NEWSROOM_BROKER_URL": os.environ.get("NEWSROOM_BROKER_URL", "redis://127.0.0.1:6379/1"),
        "NEWSROOM_SITE_DIR": str(workdir / "site"),
        "NEWSROOM_BASE_URL": os.environ.get("NEWSROOM_BASE_URL", f"http://localhost:{args.port}"),
        "NEWSROOM_MAIL_FROM": os.environ.get(
            "NEWSROOM_MAIL_FROM", "Hållbar upphandling <nyheter@localhost>"
        ),
    }
    scale = dict(item.split("=", 1) for item in args.scale)
    services = compose["services"]
    app = [name for name in start_order(compose) if is_app_service(services[name])]
    env_dir = workdir / "env"
    env_dir.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ}
    lines = []
    metrics_port = 9101
    for name in app:
        if is_one_shot(services[name]):
            continue
        count = int(scale.get(name, 1))
        for n in range(1, count + 1):
            instance = n if count > 1 else None
            label = f"{name}-{n}" if count > 1 else name
            own = process_environment(
                compose, name, overrides, local, instance=instance, metrics_port=metrics_port
            )
            if "NEWSROOM_METRICS_PORT" in own:
                print(
                    f"{label}: metrics on http://127.0.0.1:{metrics_port}/metrics", file=sys.stderr
                )
                metrics_port += 1
            argv = service_command(compose, name, local, instance=instance)
            # The environment from a file of this user only; the command line names the file.
            env_file = env_dir / f"{label}.env"
            env_file.touch(mode=0o600)
            env_file.write_text(
                "".join(f"{key}={shlex.quote(value)}\n" for key, value in own.items()),
                encoding="utf-8",
            )
            script = f"set -a && . {shlex.quote(str(env_file))} && set +a && exec "
            lines.append(f"{label}: {script}{shlex.join(argv)}")
    nginx_conf = workdir / "nginx.conf"
    nginx_conf.write_text(nginx_config(compose, local, listen=args.port), encoding="utf-8")
    web = nginx_command(nginx_conf, workdir / "nginx", install=not args.dry_run)
    lines.append(f"web: {shlex.join(web)}")
    procfile = workdir / "Procfile"
    procfile.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {procfile} and {nginx_conf}", file=sys.stderr)
    if args.dry_run:
        return 0

    _create_database(database_url)
    for name in app:
        if is_one_shot(services[name]):
            print(
                f"--- {name}: {shlex.join(service_command(compose, name, local))}", file=sys.stderr
            )
            subprocess.run(
                service_command(compose, name, local),
                env={**os.environ, **process_environment(compose, name, overrides, local)},
                cwd=ROOT,
                check=True,
            )
    print(f"--- the site: http://localhost:{args.port}/  (stop with Ctrl-C)", file=sys.stderr)
    honcho = Local.program(local, "honcho")
    os.chdir(ROOT)
    # An empty env file: honcho would otherwise let a developer's .env override these values.
    (workdir / "honcho.env").write_text("")
    os.execvpe(
        honcho,
        [honcho, "start", "-f", str(procfile), "-d", str(ROOT), "-e", str(workdir / "honcho.env")],
        env,
    )
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
