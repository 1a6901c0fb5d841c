"""Contributors' lifecycle: add, list, revoke, reactivate, a new token, an e-mail address.

Operator-facing (the `newsroom contributor` commands): errors are `ContributorError`s with
English messages. A token is returned once and only its hash is stored.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.ingest.auth import new_token
from services.ingest.schemas import EMAIL_PATTERN
from shared import taxonomy
from shared.db import utcnow
from shared.models import ROLES, Contributor, normalize_email

_EMAIL = re.compile(EMAIL_PATTERN)


class ContributorError(ValueError):
    """A contributor command that cannot be carried out, with the reason for the operator."""


def _named(session: Session, name: str) -> Contributor:
    contributor = session.scalar(select(Contributor).where(Contributor.name == name.strip()))
    if contributor is None:
        raise ContributorError(f"no contributor named {name.strip()!r}")
    return contributor


def _checked_email(session: Session, email: str, *, owner: Contributor | None = None) -> str:
    email = normalize_email(email)
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise ContributorError(f"{email!r} is not an e-mail address (name@example.se)")
    holder = find_by_email(session=session, email=email)
    if holder is not None and holder is not owner:
        raise ContributorError(f"the e-mail address {email} already belongs to {holder.name!r}")
    return email


def add_contributor(
    *,
    session: Session,
    name: str,
    region: str,
    role: str = "contributor",
    email: str | None = None,
) -> str:
    """Create a contributor and return its token."""
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise ContributorError("the name must be 1-100 printable characters")
    if region not in taxonomy.regions():
        raise ContributorError(f"unknown region {region!r}; see GET /api/v1/regions for the slugs")
    if role not in ROLES:
        raise ContributorError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    existing = session.scalar(select(Contributor).where(Contributor.name == name))
    if existing is not None and existing.revoked_at is not None:
        raise ContributorError(
            f"{name!r} exists and is revoked; `newsroom contributor reactivate {name}` "
            "lets them post again with a new token"
        )
    if existing is not None:
        raise ContributorError(
            f"a contributor named {name!r} already exists; "
            f"`newsroom contributor rotate {name}` gives it a new token"
        )
    if email is not None:
        email = _checked_email(session, email)
    token, digest = new_token()
    session.add(Contributor(name=name, region=region, role=role, email=email, token_hash=digest))
    session.flush()
    return token


def list_contributors(*, session: Session) -> list[Contributor]:
    """Every contributor, active ones first, by name."""
    query = select(Contributor).order_by(Contributor.revoked_at.is_not(None), Contributor.name)
    return list(session.scalars(query))


def find_by_email(*, session: Session, email: str) -> Contributor | None:
    """The contributor with this address, in any case, or None."""
    return session.scalar(select(Contributor).where(Contributor.email == normalize_email(email)))


def revoke_contributor(*, session: Session, name: str) -> bool:
    """Revoke a contributor's token; False when no contributor has that name."""
    contributor = session.scalar(select(Contributor).where(Contributor.name == name.strip()))
    if contributor is None:
        return False
    if contributor.revoked_at is None:
        contributor.revoked_at = utcnow()
    return True


def reactivate_contributor(*, session: Session, name: str) -> str:
    """Let a revoked contributor post again, with a new token (the old one stays dead)."""
    contributor = _named(session, name)
    if contributor.revoked_at is None:
        raise ContributorError(
            f"{contributor.name!r} is active; `newsroom contributor rotate` replaces a lost token"
        )
    token, contributor.token_hash = new_token()
    contributor.revoked_at = None
    session.flush()
    return token


def rotate_token(*, session: Session, name: str) -> str:
    """Give an active contributor a new token; the old one stops working."""
    contributor = _named(session, name)
    if contributor.revoked_at is not None:
        raise ContributorError(
            f"{contributor.name!r} is revoked; `newsroom contributor reactivate` gives a new token"
        )
    token, contributor.token_hash = new_token()
    session.flush()
    return token


def set_email(*, session: Session, name: str, email: str) -> str:
    """Set a contributor's e-mail address; return it as stored."""
    contributor = _named(session, name)
    contributor.email = _checked_email(session, email, owner=contributor)
    session.flush()
    return contributor.email


__all__ = [
    "ContributorError",
    "add_contributor",
    "find_by_email",
    "list_contributors",
    "reactivate_contributor",
    "revoke_contributor",
    "rotate_token",
    "set_email",
]
