"""Contributors' lifecycle: add or invite, change, deactivate, reactivate, a new token.

One set of rules for the `newsroom contributor` commands and Redaktionen's people pages:
every change is written to the audit log in the caller's transaction (`actor` None: the
command line). Refusals are `ContributorError`s, with an English message for operators and a
Swedish one (`swedish`, `field`) for the pages. A token is returned once; only its hash is
stored.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.ingest import audit
from services.ingest.auth import forget_cached, new_token
from services.ingest.schemas import EMAIL_PATTERN
from shared import taxonomy
from shared.db import utcnow
from shared.models import (
    ROLES,
    Contributor,
    EditorSession,
    EditorSignIn,
    ItemRevision,
    normalize_email,
)

_EMAIL = re.compile(EMAIL_PATTERN)


class ContributorError(ValueError):
    """A contributor change that cannot be carried out, with the reason in English (the
    message), in Swedish (`swedish`) and the form field it concerns (`field`)."""

    def __init__(self, message: str, swedish: str | None = None, field: str = "") -> None:
        super().__init__(message)
        self.swedish = swedish or message
        self.field = field


def _named(session: Session, name: str) -> Contributor:
    contributor = session.scalar(select(Contributor).where(Contributor.name == name.strip()))
    if contributor is None:
        raise ContributorError(f"no contributor named {name.strip()!r}", "Personen finns inte.")
    return contributor


def _checked_email(session: Session, email: str, *, owner: Contributor | None = None) -> str:
    email = normalize_email(email)
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise ContributorError(
            f"{email!r} is not an e-mail address (name@example.se)",
            "Ange en e-postadress, till exempel namn@region.se.",
            "epost",
        )
    holder = find_by_email(session=session, email=email)
    if holder is not None and holder is not owner:
        raise ContributorError(
            f"the e-mail address {email} already belongs to {holder.name!r}",
            f"E-postadressen används redan av {holder.name}.",
            "epost",
        )
    return email


def _check_region(region: str) -> None:
    if region not in taxonomy.regions():
        raise ContributorError(
            f"unknown region {region!r}; see GET /api/v1/regions for the slugs",
            "Välj en region i listan.",
            "region",
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ContributorError(
            f"unknown role {role!r}; choose one of {', '.join(ROLES)}", "Välj en roll.", "roll"
        )


def _extra_regions(regions: list[str], *, home: str) -> list[str]:
    """Known regions beside `home`, once each, in the taxonomy's order."""
    unknown = [region for region in regions if region not in taxonomy.regions()]
    if unknown:
        raise ContributorError(
            f"unknown regions {', '.join(unknown)}", "Välj regioner i listan.", "fler"
        )
    wanted = set(regions) - {home}
    return [slug for slug in taxonomy.regions() if slug in wanted]


def _keep_an_admin(session: Session, contributor: Contributor) -> None:
    """Refuse to leave the network without an active admin (nobody could undo it here)."""
    if contributor.role != "admin" or contributor.revoked_at is not None:
        return
    others = session.scalar(
        select(func.count())
        .select_from(Contributor)
        .where(
            Contributor.role == "admin",
            Contributor.revoked_at.is_(None),
            Contributor.id != contributor.id,
        )
    )
    if not others:
        raise ContributorError(
            f"{contributor.name!r} is the last active admin",
            f"{contributor.name} är den enda aktiva administratören. Gör någon annan till "
            "administratör först.",
            "roll",
        )


def add_contributor(
    *,
    session: Session,
    name: str,
    region: str,
    role: str = "contributor",
    email: str | None = None,
    review_required: bool = False,
    extra_regions: list[str] | None = None,
    actor: Contributor | None = None,
    invited: bool = False,
) -> str:
    """Create a contributor and return its token."""
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise ContributorError(
            "the name must be 1-100 printable characters",
            "Skriv personens namn (högst 100 tecken).",
            "namn",
        )
    _check_region(region)
    _check_role(role)
    existing = session.scalar(select(Contributor).where(Contributor.name == name))
    if existing is not None and existing.revoked_at is not None:
        raise ContributorError(
            f"{name!r} exists and is revoked; `newsroom contributor reactivate {name}` "
            "lets them post again with a new token",
            f"{name} finns redan men är avstängd. Återaktivera personen i listan.",
            "namn",
        )
    if existing is not None:
        raise ContributorError(
            f"a contributor named {name!r} already exists; "
            f"`newsroom contributor rotate {name}` gives it a new token",
            f"Det finns redan någon som heter {name}.",
            "namn",
        )
    if email is not None:
        email = _checked_email(session, email)
    token, digest = new_token()
    contributor = Contributor(
        name=name,
        region=region,
        role=role,
        email=email,
        token_hash=digest,
        review_required=review_required,
    )
    details = {"role": role, "region": region, "email": email, "review_required": review_required}
    if extra_regions:
        # Only when given: the column's default serves rows of any schema version.
        contributor.extra_regions = _extra_regions(extra_regions, home=region)
        details["extra_regions"] = contributor.extra_regions
    session.add(contributor)
    action = "person.invited" if invited else "person.added"
    audit.record(session, actor=actor, action=action, target=name, details=details)
    session.flush()
    return token


def list_contributors(*, session: Session) -> list[Contributor]:
    """Every contributor, active ones first, by name."""
    query = select(Contributor).order_by(Contributor.revoked_at.is_not(None), Contributor.name)
    return list(session.scalars(query))


def last_activity(*, session: Session) -> dict[int, datetime]:
    """Each contributor's latest sign of life: a signed-in page or a version of an item saved
    (through the API or Redaktionen)."""
    seen = select(EditorSession.contributor_id, func.max(EditorSession.last_seen_at)).group_by(
        EditorSession.contributor_id
    )
    wrote = (
        select(ItemRevision.contributor_id, func.max(ItemRevision.created_at))
        .where(ItemRevision.contributor_id.is_not(None))
        .group_by(ItemRevision.contributor_id)
    )
    latest: dict[int, datetime] = {}
    for contributor_id, moment in [*session.execute(seen), *session.execute(wrote)]:
        if moment is not None and (contributor_id not in latest or moment > latest[contributor_id]):
            latest[contributor_id] = moment
    return latest


def find_by_email(*, session: Session, email: str) -> Contributor | None:
    """The contributor with this address, in any case, or None."""
    return session.scalar(select(Contributor).where(Contributor.email == normalize_email(email)))


def change_contributor(
    *,
    session: Session,
    contributor: Contributor,
    actor: Contributor | None = None,
    **changes: Any,
) -> dict[str, list]:
    """Change `role`, `region`, `extra_regions`, `email` and/or `review_required`; return what
    changed
    ({field: [before, after]}), recorded in the audit log when anything did."""
    if "role" in changes:
        _check_role(changes["role"])
        if changes["role"] != "admin":
            _keep_an_admin(session, contributor)
    if "region" in changes:
        _check_region(changes["region"])
    if "extra_regions" in changes:
        home = changes.get("region", contributor.region)
        changes["extra_regions"] = _extra_regions(changes["extra_regions"], home=home)
    if changes.get("email") is not None:
        changes["email"] = _checked_email(session, changes["email"], owner=contributor)
    done: dict[str, list] = {}
    for key in ("role", "region", "extra_regions", "email", "review_required"):
        before = getattr(contributor, key)
        if key == "extra_regions":
            before = list(before or [])
        if key in changes and before != changes[key]:
            done[key] = [before, changes[key]]
            setattr(contributor, key, changes[key])
    if done:
        forget_cached(contributor.token_hash)  # a new role or region counts at once here
        action = "person.email" if set(done) == {"email"} else "person.changed"
        audit.record(session, actor=actor, action=action, target=contributor.name, details=done)
        session.flush()
    return done


def deactivate(
    *, session: Session, contributor: Contributor, actor: Contributor | None = None
) -> bool:
    """Stop a contributor: token, signed-in sessions and unused sign-in links end at once.
    False when already deactivated."""
    if contributor.revoked_at is not None:
        return False
    _keep_an_admin(session, contributor)
    now = utcnow()
    contributor.revoked_at = now
    session.execute(
        update(EditorSession)
        .where(EditorSession.contributor_id == contributor.id, EditorSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    session.execute(
        update(EditorSignIn)
        .where(EditorSignIn.contributor_id == contributor.id, EditorSignIn.used_at.is_(None))
        .values(expires_at=now)
    )
    forget_cached(contributor.token_hash)
    audit.record(session, actor=actor, action="person.deactivated", target=contributor.name)
    session.flush()
    return True


def reactivate(
    *, session: Session, contributor: Contributor, actor: Contributor | None = None
) -> str:
    """Let a deactivated contributor work again, with a new token (the old one stays dead)."""
    if contributor.revoked_at is None:
        raise ContributorError(
            f"{contributor.name!r} is active; `newsroom contributor rotate` replaces a lost token",
            f"{contributor.name} är redan aktiv.",
        )
    token, contributor.token_hash = new_token()
    contributor.revoked_at = None
    audit.record(session, actor=actor, action="person.reactivated", target=contributor.name)
    session.flush()
    return token


def new_token_for(
    *, session: Session, contributor: Contributor, actor: Contributor | None = None
) -> str:
    """Give an active contributor a new token; the old one stops working."""
    if contributor.revoked_at is not None:
        raise ContributorError(
            f"{contributor.name!r} is revoked; `newsroom contributor reactivate` gives a new token",
            f"{contributor.name} är avstängd. Återaktivera personen först.",
        )
    forget_cached(contributor.token_hash)
    token, contributor.token_hash = new_token()
    audit.record(session, actor=actor, action="person.token", target=contributor.name)
    session.flush()
    return token


# --- by name, as the command line names people ----------------------------------------------


def revoke_contributor(*, session: Session, name: str) -> bool:
    """Deactivate a contributor by name; False when no contributor has that name."""
    contributor = session.scalar(select(Contributor).where(Contributor.name == name.strip()))
    if contributor is None:
        return False
    deactivate(session=session, contributor=contributor)
    return True


def reactivate_contributor(*, session: Session, name: str) -> str:
    """Let a revoked contributor post again, with a new token (the old one stays dead)."""
    return reactivate(session=session, contributor=_named(session, name))


def rotate_token(*, session: Session, name: str) -> str:
    """Give an active contributor a new token; the old one stops working."""
    return new_token_for(session=session, contributor=_named(session, name))


def set_email(*, session: Session, name: str, email: str) -> str:
    """Set a contributor's e-mail address; return it as stored."""
    contributor = _named(session, name)
    change_contributor(session=session, contributor=contributor, email=email)
    return contributor.email


def set_review(*, session: Session, name: str, required: bool) -> None:
    """Mark a contributor "granskas innan publicering" (or not)."""
    change_contributor(session=session, contributor=_named(session, name), review_required=required)


__all__ = [
    "ContributorError",
    "add_contributor",
    "change_contributor",
    "deactivate",
    "find_by_email",
    "last_activity",
    "list_contributors",
    "new_token_for",
    "reactivate",
    "reactivate_contributor",
    "revoke_contributor",
    "rotate_token",
    "set_email",
    "set_review",
]
