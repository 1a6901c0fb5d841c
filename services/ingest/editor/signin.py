"""Signing in to Redaktionen: a six-digit code and a link by mail, each single-use, for
15 minutes, rate limited per address and per IP; the same answer for unknown addresses."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.models import Contributor, EditorSignIn

LIFETIME = timedelta(minutes=15)
# Wrong codes before a sign-in is spent: 5 guesses of 1,000,000 codes.
MAX_FAILURES = 5
# Mails per address and requests per IP in a window, counted from the table itself so that
# every ingest process sees the same counts.
PER_ADDRESS, PER_IP = 5, 30
WINDOW = timedelta(hours=1)
CODE_DIGITS = 6


class SignInError(Exception):
    """The code or link does not sign anyone in; `message` says why, in Swedish."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RateLimited(Exception):
    """Too many requests for this address or from this IP."""


@dataclass(frozen=True)
class Requested:
    """A new sign-in: the browser's attempt token, and what to mail (None: unknown address)."""

    attempt: str
    code: str
    link_token: str
    contributor: Contributor | None


def normalise_email(email: str) -> str:
    return email.strip().lower()


def digest(purpose: str, value: str) -> str:
    """A keyed hash (HMAC-SHA256 with the secret key): a leaked table reveals no code."""
    key = get_settings().signing_key.encode()
    return hmac.new(key, f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def request_sign_in(
    *, session: Session, email: str, ip: str, now: datetime, lifetime: timedelta = LIFETIME
) -> Requested:
    """Record a sign-in for `email`, known or not, usable for `lifetime` (an invitation's is
    longer); RateLimited beyond the limits."""
    email = normalise_email(email)
    email_hash, ip_hash = digest("email", email), digest("ip", ip)
    since = now - WINDOW
    by_address = session.scalar(
        select(func.count())
        .select_from(EditorSignIn)
        .where(EditorSignIn.email_hash == email_hash, EditorSignIn.created_at > since)
    )
    by_ip = session.scalar(
        select(func.count())
        .select_from(EditorSignIn)
        .where(EditorSignIn.ip_hash == ip_hash, EditorSignIn.created_at > since)
    )
    if by_address >= PER_ADDRESS or by_ip >= PER_IP:
        raise RateLimited()
    contributor = session.scalar(
        select(Contributor).where(
            func.lower(Contributor.email) == email, Contributor.revoked_at.is_(None)
        )
    )
    attempt, link_token, code = secrets.token_urlsafe(32), secrets.token_urlsafe(32), new_code()
    session.add(
        EditorSignIn(
            attempt_hash=digest("attempt", attempt),
            link_hash=digest("link", link_token),
            code_hash=digest("code", f"{attempt}:{code}"),
            email_hash=email_hash,
            ip_hash=ip_hash,
            contributor_id=contributor.id if contributor is not None else None,
            created_at=now,
            expires_at=now + lifetime,
            failures=0,
        )
    )
    session.flush()
    return Requested(attempt=attempt, code=code, link_token=link_token, contributor=contributor)


def verify_code(*, session: Session, attempt: str, code: str, now: datetime) -> Contributor:
    """The contributor signed in by `code` typed in the browser holding `attempt`.

    Raises SignInError; a wrong code counts against the sign-in (the caller commits that).
    """
    row = session.scalar(
        select(EditorSignIn).where(EditorSignIn.attempt_hash == digest("attempt", attempt or ""))
    )
    if row is None:
        raise SignInError("Be om en ny kod: vi hittar ingen inloggning i den här webbläsaren.")
    _usable(row, now=now)
    code = "".join(code.split())
    if not hmac.compare_digest(row.code_hash, digest("code", f"{attempt}:{code}")):
        row.failures += 1
        session.flush()
        if row.failures >= MAX_FAILURES:
            raise SignInError(
                "Koden stämmer inte, och du har försökt för många gånger. Be om en ny kod."
            )
        raise SignInError("Koden stämmer inte. Kontrollera de sex siffrorna i mejlet.")
    return _consume(session, row, now=now)


def verify_link(*, session: Session, token: str, now: datetime) -> Contributor:
    """The contributor signed in by the link of a sign-in mail; raises SignInError."""
    row = session.scalar(
        select(EditorSignIn).where(EditorSignIn.link_hash == digest("link", token or ""))
    )
    if row is None:
        raise SignInError("Länken är ogiltig. Be om en ny kod.")
    _usable(row, now=now)
    return _consume(session, row, now=now)


def link_is_open(*, session: Session, token: str, now: datetime) -> bool:
    """Whether a link may still sign in (for the page before its button)."""
    row = session.scalar(
        select(EditorSignIn).where(EditorSignIn.link_hash == digest("link", token or ""))
    )
    try:
        return row is not None and _usable(row, now=now) is None
    except SignInError:
        return False


def _usable(row: EditorSignIn, *, now: datetime) -> None:
    if row.used_at is not None:
        raise SignInError("Koden eller länken har redan använts. Be om en ny kod.")
    if row.failures >= MAX_FAILURES:
        raise SignInError("För många felaktiga försök med den här koden. Be om en ny kod.")
    if row.expires_at <= now:
        raise SignInError("Koden eller länken har gått ut. Be om en ny kod.")


def _consume(session: Session, row: EditorSignIn, *, now: datetime) -> Contributor:
    # One UPDATE that only an unused row passes: two concurrent uses sign in once.
    used = session.execute(
        update(EditorSignIn)
        .where(EditorSignIn.id == row.id, EditorSignIn.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        raise SignInError("Koden eller länken har redan använts. Be om en ny kod.")
    contributor = session.get(Contributor, row.contributor_id) if row.contributor_id else None
    if contributor is None or contributor.revoked_at is not None:
        # An unknown address never gets a code; the same words as a wrong code.
        raise SignInError("Koden stämmer inte. Kontrollera de sex siffrorna i mejlet.")
    return contributor


__all__ = [
    "LIFETIME",
    "RateLimited",
    "Requested",
    "SignInError",
    "link_is_open",
    "normalise_email",
    "request_sign_in",
    "verify_code",
    "verify_link",
]
