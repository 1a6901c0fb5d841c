"""The `newsroom` command: run, administer and feed the system."""

from __future__ import annotations

import json
import os
import sys
from importlib.resources import files
from pathlib import Path

import click

from shared.config import get_settings

SAMPLE = files("shared") / "data" / "sample_items.json"


@click.group()
def main() -> None:
    """Newsroom: news, site, feeds and newsletters of the network for sustainable procurement."""


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default NEWSROOM_HOST).")
@click.option("--port", default=None, type=int, help="Port (default NEWSROOM_PORT).")
def run(host: str | None, port: int | None) -> None:
    """Run everything in one process: site, APIs, worker, relay (embedded mode)."""
    import uvicorn

    from newsroom.embedded import create_app

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    if not (settings.site_dir / "index.html").exists():
        _rebuild(quiet=True)
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    base = f"http://{shown}:{port}"
    outbox = settings.mail_dir or settings.smtp_url
    click.echo(
        f"""
Newsroom runs on {base}
  site        {base}/            (files in {settings.site_dir})
  API docs    {base}/api/docs
  mail        {outbox}
  database    {settings.database_url}

Get a token to post with:  .venv/bin/newsroom contributor add "Ditt namn" --region region-skane
""",
        err=True,
    )
    uvicorn.run(create_app(), host=host, port=port, log_level="info", proxy_headers=True)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from shared.migrate import upgrade

    upgrade()
    click.echo("Database is up to date.", err=True)


@main.group()
def contributor() -> None:
    """People who may post through the API."""


@contributor.command("add")
@click.argument("name")
@click.option("--region", required=True, help="Region slug, e.g. region-skane.")
@click.option(
    "--role", type=click.Choice(["contributor", "editor", "admin"]), default="contributor"
)
def contributor_add(name: str, region: str, role: str) -> None:
    """Add a contributor and print the token, once, alone on the last line."""
    from services.ingest.auth import add_contributor
    from shared.db import session_scope

    try:
        with session_scope() as session:
            token = add_contributor(session=session, name=name, region=region, role=role)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Contributor {name!r} ({role}, {region}) added. The token is shown only once:")
    click.echo(token)


@contributor.command("revoke")
@click.argument("name")
def contributor_revoke(name: str) -> None:
    """Revoke a contributor's token at once."""
    from services.ingest.auth import revoke_contributor
    from shared.db import session_scope

    with session_scope() as session:
        if not revoke_contributor(session=session, name=name):
            raise click.ClickException(f"no active contributor named {name!r}")
    click.echo(f"Token of {name!r} revoked.")


@contributor.command("review")
@click.argument("name")
@click.option("--off", is_flag=True, help="Let the contributor publish again.")
def contributor_review(name: str, off: bool) -> None:
    """Mark a contributor "granskas innan publicering": items go to an editor first."""
    from sqlalchemy import select

    from shared.db import session_scope
    from shared.models import Contributor

    with session_scope() as session:
        found = session.scalar(select(Contributor).where(Contributor.name == name.strip()))
        if found is None:
            raise click.ClickException(f"no contributor named {name!r}")
        found.review_required = not off
    state = "publishes directly" if off else "sends items for review before publication"
    click.echo(f"{name!r} {state}.")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", default=None, help="API base URL (default NEWSROOM_BASE_URL).")
@click.option("--token", envvar="NEWSROOM_TOKEN", help="Bearer token (or NEWSROOM_TOKEN).")
@click.option("--dry-run", is_flag=True, help="Validate the file without posting it.")
def post(file: Path, url: str | None, token: str | None, dry_run: bool) -> None:
    """Post a Markdown file with a YAML front matter of the API fields."""
    from services.ingest.authoring import post_file

    if not token and not dry_run:
        raise click.UsageError("give --token or set NEWSROOM_TOKEN")
    code = post_file(
        path=file,
        url=url or get_settings().base_url,
        token=token,
        dry_run=dry_run,
        out=click.get_text_stream("stdout"),
    )
    sys.exit(code)


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _rebuild(*, quiet: bool = False, workers: int | None = None) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from services.render.service import rebuild

    settings = get_settings()
    # Refreshed from `advance` only: no refresh thread, since the rebuild forks its helpers.
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=quiet,
        transient=quiet,
        auto_refresh=False,
    ) as progress:
        task = progress.add_task("Bygger webbplatsen", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, refresh=True)

        report = rebuild(site_dir=settings.site_dir, progress=advance, workers=workers or _cpus())
    if not quiet:
        click.echo(f"Site rebuilt in {settings.site_dir}: {report}", err=True)


@main.command("rebuild")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes rendering at once (default: one per CPU).",
)
def rebuild_command(workers: int | None) -> None:
    """Render the whole site from the database."""
    _rebuild(workers=workers)


@main.command()
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="A JSON file shaped like the sample (default: the bundled sample items).",
)
def seed(path: Path | None) -> None:
    """Load the sample items and pages (nothing happens for those already there)."""
    from services.ingest.service import seed as seed_items
    from shared.db import session_scope

    data = json.loads((path or SAMPLE).read_text(encoding="utf-8"))
    with session_scope() as session:
        added = seed_items(session=session, items=data["items"], pages=data.get("pages", []))
    click.echo(f"{added} sample items and pages added.", err=True)
    if added:
        _rebuild(quiet=True)


@main.group()
def digest() -> None:
    """The weekly digest."""


@digest.command("send")
def digest_send() -> None:
    """Send this week's digest now to every weekly subscriber with matching items."""
    from services.notify.service import send_weekly_digest

    sent = send_weekly_digest()
    click.echo(f"Digest sent to {sent} subscribers.", err=True)


@main.group()
def subscriber() -> None:
    """Subscribers' data (GDPR)."""


@subscriber.command("export")
@click.argument("email")
def subscriber_export(email: str) -> None:
    """Print everything stored about an address, as JSON."""
    from services.notify.service import export_subscriber
    from shared.db import session_scope

    with session_scope() as session:
        data = export_subscriber(session=session, email=email)
    if data is None:
        raise click.ClickException(f"nothing is stored about {email}")
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@subscriber.command("forget")
@click.argument("email")
def subscriber_forget(email: str) -> None:
    """Erase an address, keeping only a hash so a suppression is still honoured."""
    from services.notify.service import forget_subscriber
    from shared.db import session_scope

    with session_scope() as session:
        if not forget_subscriber(session=session, email=email):
            raise click.ClickException(f"nothing is stored about {email}")
    click.echo(f"{email} forgotten.", err=True)
