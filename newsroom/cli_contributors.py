"""`newsroom contributor …`: people who may post, as the ingest service's contributors.py
keeps them (the same rules as Redaktionen's Personer)."""

from __future__ import annotations

import click


@click.group()
def contributor() -> None:
    """People who may post through the API: their tokens, roles, regions and addresses."""


def _contributor_command(action):
    """Run `action(session)` in one transaction; a refusal becomes the command's error."""
    from services.ingest.contributors import ContributorError
    from shared.db import session_scope

    try:
        with session_scope() as session:
            return action(session)
    except ContributorError as exc:
        raise click.ClickException(str(exc)) from exc


def _show_token(message: str, token: str) -> None:
    click.echo(f"{message} The token is shown only once:")
    click.echo(token)


@contributor.command("add")
@click.argument("name")
@click.option("--region", required=True, help="Region slug, e.g. region-skane.")
@click.option(
    "--role", type=click.Choice(["contributor", "editor", "admin"]), default="contributor"
)
@click.option("--email", default=None, help="The address the person signs in with.")
def contributor_add(name: str, region: str, role: str, email: str | None) -> None:
    """Add a contributor and print the token, once, alone on the last line."""
    from services.ingest.contributors import add_contributor

    token = _contributor_command(
        lambda session: add_contributor(
            session=session, name=name, region=region, role=role, email=email
        )
    )
    _show_token(f"Contributor {name!r} ({role}, {region}) added.", token)


@contributor.command("list")
def contributor_list() -> None:
    """Show every contributor: name, role, region, e-mail and status (never a token)."""
    from services.ingest.contributors import list_contributors

    def rows(session) -> list[tuple[str, ...]]:
        return [
            (
                person.name,
                person.role,
                person.region,
                person.email or "-",
                f"revoked {person.revoked_at:%Y-%m-%d}" if person.revoked_at else "active",
                f"{person.created_at:%Y-%m-%d}",
            )
            for person in list_contributors(session=session)
        ]

    table = [("NAME", "ROLE", "REGION", "E-MAIL", "STATUS", "ADDED"), *_contributor_command(rows)]
    if len(table) == 1:
        click.echo("No contributors yet; add one with `newsroom contributor add`.")
        return
    widths = [max(len(row[column]) for row in table) for column in range(len(table[0]))]
    for row in table:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@contributor.command("revoke")
@click.argument("name")
def contributor_revoke(name: str) -> None:
    """Revoke a contributor's token at once (within 2 seconds in every ingest process)."""
    from services.ingest.contributors import revoke_contributor

    if not _contributor_command(lambda session: revoke_contributor(session=session, name=name)):
        raise click.ClickException(f"no contributor named {name!r}")
    click.echo(f"Contributor {name!r} revoked; the token stops working within 2 seconds.")


@contributor.command("reactivate")
@click.argument("name")
def contributor_reactivate(name: str) -> None:
    """Let a revoked contributor post again; print a new token alone on the last line."""
    from services.ingest.contributors import reactivate_contributor

    token = _contributor_command(lambda session: reactivate_contributor(session=session, name=name))
    _show_token(f"Contributor {name!r} reactivated; the old token stays revoked.", token)


@contributor.command("rotate")
@click.argument("name")
def contributor_rotate(name: str) -> None:
    """Replace a contributor's token; print the new one alone on the last line."""
    from services.ingest.contributors import rotate_token

    token = _contributor_command(lambda session: rotate_token(session=session, name=name))
    _show_token(f"New token for {name!r}; the old one stops working within 2 seconds.", token)


@contributor.command("set-email")
@click.argument("name")
@click.argument("email")
def contributor_set_email(name: str, email: str) -> None:
    """Set the e-mail address a contributor signs in with."""
    from services.ingest.contributors import set_email

    stored = _contributor_command(
        lambda session: set_email(session=session, name=name, email=email)
    )
    click.echo(f"E-mail address of {name!r} set to {stored}.")


@contributor.command("review")
@click.argument("name")
@click.option("--off", is_flag=True, help="Let the contributor publish again.")
def contributor_review(name: str, off: bool) -> None:
    """Mark a contributor "granskas innan publicering": items go to an editor first."""
    from services.ingest.contributors import set_review

    _contributor_command(lambda session: set_review(session=session, name=name, required=not off))
    state = "publishes directly" if off else "sends items for review before publication"
    click.echo(f"{name!r} {state}.")
