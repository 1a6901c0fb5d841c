"""Bearer tokens: random, shown once, stored as a SHA-256 hash, trusted from a per-process
cache for TOKEN_CACHE_SECONDS."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import new_session
from shared.models import Contributor

TOKEN_PREFIX = "nr_"
MAX_TOKEN_LENGTH = 200
# How long this process trusts a token it has looked up without asking the database again.
# A revoked token, or a contributor's new role or region, takes effect within this many
# seconds in every ingest process (`newsroom contributor revoke` and `rotate` run in another
# process).
TOKEN_CACHE_SECONDS = 2.0
TOKEN_CACHE_SIZE = 10_000
# token hash -> (monotonic expiry, detached contributor); only active contributors
_token_cache: dict[str, tuple[float, Contributor]] = {}
_clock = time.monotonic


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A new random token and the hash under which it is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_token(token)


def find_contributor(*, session: Session, token: str) -> Contributor | None:
    """The active contributor holding `token`, or None."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    digest = hash_token(token)
    contributor = session.scalar(select(Contributor).where(Contributor.token_hash == digest))
    # The lookup is by hash, so timing reveals nothing about the token; the constant-time
    # comparison guards against a database collation that compares loosely.
    if contributor is None or not hmac.compare_digest(contributor.token_hash, digest):
        return None
    if contributor.revoked_at is not None:
        return None
    return contributor


def authenticate(token: str) -> Contributor | None:
    """`find_contributor`, remembered for TOKEN_CACHE_SECONDS: a request of a known token
    costs no query. The lookup has a session of its own, so its connection goes back to the
    pool at once instead of staying with the request until it commits. The contributor comes
    back detached, so later requests share it read-only (nothing a rollback can expire)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    contributor = cached_contributor(token)
    if contributor is not None:
        return contributor
    with new_session() as session:
        contributor = find_contributor(session=session, token=token)
    if contributor is not None:
        if len(_token_cache) >= TOKEN_CACHE_SIZE:
            _token_cache.clear()
        _token_cache[contributor.token_hash] = (_clock() + TOKEN_CACHE_SECONDS, contributor)
    return contributor


def cached_contributor(token: str) -> Contributor | None:
    """The contributor of `token` from this process's cache, unless missing or expired."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    digest = hash_token(token)
    entry = _token_cache.get(digest)
    if entry is None:
        return None
    if entry[0] <= _clock():
        _token_cache.pop(digest, None)
        return None
    return entry[1]


def clear_token_cache() -> None:
    _token_cache.clear()


def forget_cached(token_hash: str) -> None:
    """Drop a token from this process's cache: its revocation or new role counts at once here
    (other processes follow within TOKEN_CACHE_SECONDS)."""
    _token_cache.pop(token_hash, None)
