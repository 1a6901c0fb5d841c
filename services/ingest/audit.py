"""The audit log: every admin action on people and pages, from Redaktionen or the command
line, written in the same transaction as the change it records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.ingest.permissions import ROLE_NAMES
from shared import taxonomy
from shared.db import utcnow
from shared.models import AuditEntry, Contributor

COMMAND_LINE = "Kommandoraden"
# action -> what the log page says, in Swedish
ACTIONS = {
    "person.added": "lade till",
    "person.invited": "bjöd in",
    "person.changed": "ändrade",
    "person.deactivated": "stängde av",
    "person.reactivated": "återaktiverade",
    "person.token": "skapade en ny API-token för",
    "person.email": "ändrade e-postadress för",
    "page.created": "skapade sidan",
    "page.updated": "ändrade sidan",
    "page.deleted": "tog bort sidan",
}
# details whose value is [before, after]
CHANGES = {"role", "region", "extra_regions", "email", "review_required", "title"}
# details' keys -> their Swedish names on the log page
FIELDS = {
    "role": "roll",
    "region": "region",
    "extra_regions": "fler regioner",
    "email": "e-post",
    "review_required": "granskas innan publicering",
    "title": "rubrik",
    "name": "namn",
}


def record(
    session: Session,
    *,
    actor: Contributor | None,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Add one entry to the caller's transaction; `actor` None: the command line."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    session.add(
        AuditEntry(
            at=utcnow(),
            actor_id=actor.id if actor is not None else None,
            actor_name=actor.name if actor is not None else COMMAND_LINE,
            action=action,
            target=target,
            details=details or {},
        )
    )


def recent(*, session: Session, limit: int = 200, before: int | None = None) -> list[AuditEntry]:
    """The newest entries first; `before`: only entries older than that id (the next page)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    return list(session.scalars(query))


def describe(entry: AuditEntry) -> str:
    """What the entry records, as a Swedish phrase without its actor ("stängde av Anna")."""
    return f"{ACTIONS.get(entry.action, entry.action)} {entry.target}"


def detail_lines(entry: AuditEntry) -> list[str]:
    """The entry's details in Swedish, one line each ("roll: contributor → editor")."""
    lines = []
    for key, value in (entry.details or {}).items():
        name = FIELDS.get(key, key)
        if isinstance(value, list) and len(value) == 2 and key in CHANGES:
            lines.append(f"{name}: {_word(key, value[0])} → {_word(key, value[1])}")
        else:
            lines.append(f"{name}: {_word(key, value)}")
    return lines


def _word(key: str, value: Any) -> str:
    """A detail's value as people read it: role and region names, ja/nej, a dash for none."""
    if key == "role" and value in ROLE_NAMES:
        return ROLE_NAMES[value]
    if key in ("region", "extra_regions"):
        names = taxonomy.regions()
        value = (
            [names.get(slug, slug) for slug in value]
            if isinstance(value, list)
            else (names.get(value, value))
        )
    if value is True:
        return "ja"
    if value is False:
        return "nej"
    if value is None or value == "" or value == []:
        return "–"
    if isinstance(value, list):
        return ", ".join(str(part) for part in value)
    return str(value)


__all__ = ["ACTIONS", "COMMAND_LINE", "describe", "detail_lines", "record", "recent"]
