"""The `newsroom` command: run, administer and feed the system."""

from __future__ import annotations

import json
import os
import sys
from importlib.resources import files
from pathlib import Path

import click

from newsroom.cli_contributors import contributor
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
    from shared.celery_app import configure

    # Links follow where we listen while NEWSROOM_BASE_URL is unset: the options become the
    # settings every part of this process reads.
    if host:
        os.environ["NEWSROOM_HOST"] = host
    if port:
        os.environ["NEWSROOM_PORT"] = str(port)
    get_settings.cache_clear()
    settings = get_settings()
    configure(settings)
    if _site_outdated(settings):
        _rebuild(quiet=True)
    base = settings.public_url
    outbox = settings.mail_dir or settings.smtp_url
    click.echo(
        f"""
Newsroom runs on {base}   (listening on {settings.host}:{settings.port})
  site        {base}/            (files in {settings.site_dir})
  API docs    {base}/api/docs
  mail        {outbox}
  database    {settings.database_url}

Get a token to post with:  .venv/bin/newsroom contributor add "Ditt namn" --region region-skane
""",
        err=True,
    )
    # Forwarded headers only from the proxies NEWSROOM_FORWARDED_ALLOW_IPS names (none by
    # default): otherwise any reader could pick the address the per-address limits count.
    trusted = settings.forwarded_allow_ips.strip()
    uvicorn.run(
        create_app(),
        host=settings.host,
        port=settings.port,
        log_level="info",  # access lines without query strings (shared/logging.py)
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )


def _site_stamp(settings) -> Path:
    return settings.var_dir / "site-built-for.json"


def _site_outdated(settings) -> bool:
    """No site yet, or one built for another base URL (absolute links in every page)."""
    if not (settings.site_dir / "index.html").exists():
        return True
    try:
        built = json.loads(_site_stamp(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    return built != {"site_dir": str(settings.site_dir.resolve()), "base_url": settings.public_url}


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration and say which."""
    from sqlalchemy.engine import make_url

    from shared.migrate import current_revisions, upgrade

    url = get_settings().database_url
    shown = make_url(url).render_as_string(hide_password=True)
    applied = upgrade()
    at = ", ".join(current_revisions()) or "none"
    if not applied:
        click.echo(f"{shown} is up to date at revision {at}; no migration to apply.")
    else:
        click.echo(f"Applied {len(applied)} migration{'s' * (len(applied) != 1)} to {shown}:")
        for revision in applied:
            click.echo(f"  {revision.id}  {revision.title}")
        click.echo(f"The database is now at revision {at}.")
    from services.search.index import unfilled
    from shared.db import session_scope

    with session_scope() as session:
        empty = unfilled(session=session)
    if empty:
        # The first upgrade with search (or a restore without its index): fill it once.
        _reindex()


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--url", default=None, help="Tjänstens adress (standard: NEWSROOM_BASE_URL).")
@click.option("--token", default=None, help="Din token (standard: NEWSROOM_TOKEN).")
@click.option("--dry-run", is_flag=True, help="Kontrollera filen utan att skicka den.")
def post(file: Path, url: str | None, token: str | None, dry_run: bool) -> None:
    """Publicera en Markdown-fil med front matter (nyhetens fält i YAML)."""
    from services.ingest.authoring import post_file

    token = token or get_settings().token
    code = post_file(
        path=file,
        url=url or get_settings().public_url,
        token=token,
        dry_run=dry_run,
        out=sys.stdout,
    )
    sys.exit(code)


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _rebuild(*, quiet: bool = False, workers: int | None = None):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from services.render.rebuild import rebuild

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
    stamp = _site_stamp(settings)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(
        json.dumps({"site_dir": str(settings.site_dir.resolve()), "base_url": settings.public_url}),
        encoding="utf-8",
    )
    if not quiet:
        click.echo(f"Site rebuilt in {settings.site_dir}: {report}", err=True)
    elif report.failed:
        failed = ", ".join(sorted(report.failed))
        click.echo(f"Site rebuilt without {len(report.failed)} items: {failed}", err=True)
    # The search index is refilled with the site: both show the items as they are now.
    _reindex(quiet=quiet)
    return report


def _reindex(*, quiet: bool = False) -> None:
    from services.search.index import reindex
    from shared.db import analyze, session_scope

    with session_scope() as session:
        kept = reindex(session=session)
    with session_scope() as session:
        analyze(session, "search_documents", "search_words")
    if not quiet:
        click.echo(f"Search index refilled: {kept} items.", err=True)


@main.command("rebuild")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes rendering at once (default: one per CPU).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Exit with status 1 when an item could not be rendered (it is left out either way).",
)
def rebuild_command(workers: int | None, strict: bool) -> None:
    """Render the whole site from the database; items that cannot be rendered are named."""
    report = _rebuild(workers=workers)
    if strict and report.failed:
        sys.exit(1)


@main.group()
def search() -> None:
    """The search index."""


@search.command("reindex")
def search_reindex() -> None:
    """Refill the search index from the items (after a restore or a changed stemmer)."""
    _reindex()


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
    from shared.db import analyze, session_scope

    data = json.loads((path or SAMPLE).read_text(encoding="utf-8"))
    with session_scope() as session:
        added = seed_items(session=session, items=data["items"], pages=data.get("pages", []))
    if added:
        with session_scope() as session:  # statistics of the committed rows
            analyze(session, "items", "item_tags", "pages")
    click.echo(f"{added} sample items and pages added.", err=True)
    if added:
        _rebuild(quiet=True)


@main.group()
def digest() -> None:
    """The weekly digest."""


@digest.command("send")
def digest_send() -> None:
    """Send the digest now: every item that became visible since the previous digest
    (whatever its date), to each weekly subscriber it matches; nobody gets an empty one.
    Run again the same day, it sends only what is still missing."""
    from services.notify.tasks import send_digest_here

    sent = send_digest_here()
    click.echo(f"Digest sent to {sent} subscribers.", err=True)


@main.group()
def subscriber() -> None:
    """Subscribers' data (GDPR)."""


@subscriber.command("export")
@click.argument("email")
def subscriber_export(email: str) -> None:
    """Print everything stored about an address, as JSON."""
    from services.notify.privacy import export_subscriber
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
    from services.notify.privacy import forget_subscriber
    from shared.db import session_scope, utcnow

    with session_scope() as session:
        if not forget_subscriber(session=session, email=email, now=utcnow()):
            raise click.ClickException(f"nothing is stored about {email}")
    click.echo(f"{email} forgotten.", err=True)


@subscriber.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Report what each row would do; change nothing.")
@click.option(
    "--confirm-by-mail",
    is_flag=True,
    help="Import as pending: each new address gets a confirmation mail (through the outbox).",
)
def subscriber_import(path: Path, dry_run: bool, confirm_by_mail: bool) -> None:
    """Import the old newsletter tool's CSV (address, regions, topics, frequency, consent
    source, consent date); existing subscribers are left untouched."""
    from services.notify.admin import importing
    from shared.db import session_scope, utcnow

    if path.stat().st_size > importing.MAX_BYTES:
        raise click.ClickException("Filen är för stor: högst 5 MB; dela upp listan.")
    data = path.read_bytes()
    try:
        with session_scope() as session:
            report = importing.import_file(
                session=session,
                data=data,
                by_mail=confirm_by_mail,
                dry_run=dry_run,
                now=utcnow(),
            )
    except importing.ImportFileError as exc:
        raise click.ClickException(exc.message) from exc
    for row in report.rows:
        if row.outcome != importing.NEW:
            click.echo(f"rad {row.line}: {row.email}: {row.outcome}: {row.reason}")
    counts = report.counts
    verb = "skulle importeras" if dry_run else "importerades"
    click.echo(
        f"{counts[importing.NEW]} {verb}"
        + (" (med bekräftelsemejl)" if confirm_by_mail else "")
        + f", {counts[importing.EXISTS]} fanns redan, {counts[importing.INVALID]} fel,"
        f" {counts[importing.DUPLICATE]} dubbletter.",
        err=True,
    )


main.add_command(contributor)
