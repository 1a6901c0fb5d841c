"""Signed, expiring tokens for the links in mails, one salt per purpose."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from functools import lru_cache
from typing import Literal

from itsdangerous import BadSignature, URLSafeTimedSerializer

from shared.config import get_settings

Purpose = Literal["confirm", "manage", "unsubscribe"]

# How long a link works. A confirmation expires with the pending subscription; unsubscribe
# links sit in old mails and must keep working long after (RFC 8058 asks for that).
MAX_AGE: dict[str, timedelta] = {
    "confirm": timedelta(days=30),
    "manage": timedelta(days=365),
    "unsubscribe": timedelta(days=730),
}


class InvalidToken(Exception):
    """The token is forged, expired, malformed or made for another purpose."""


def _serializer(purpose: Purpose) -> URLSafeTimedSerializer:
    return _serializer_for(get_settings().signing_key, purpose)


@lru_cache(maxsize=16)
def _serializer_for(secret_key: str, purpose: Purpose) -> URLSafeTimedSerializer:
    # Made once per key and purpose: a newsletter signs two links for every recipient.
    return URLSafeTimedSerializer(secret_key, salt=f"newsroom.notify.{purpose}")


def email_digest(email: str) -> str:
    """A short fingerprint of the address: binds a token to it without putting it in URLs."""
    return hashlib.sha256(email.encode()).hexdigest()[:16]


def make_token(purpose: Purpose, *, subscriber_id: int, email: str) -> str:
    return _serializer(purpose).dumps([subscriber_id, email_digest(email)])


def read_token(purpose: Purpose, token: str) -> tuple[int, str]:
    """The (subscriber id, address fingerprint) a valid token carries; else InvalidToken."""
    try:
        data = _serializer(purpose).loads(token, max_age=int(MAX_AGE[purpose].total_seconds()))
    except BadSignature as exc:  # SignatureExpired is a BadSignature too
        raise InvalidToken(str(exc)) from exc
    if not (isinstance(data, list) and len(data) == 2 and isinstance(data[0], int)):
        raise InvalidToken("unexpected payload")
    return data[0], str(data[1])
