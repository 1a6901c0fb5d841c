"""Signed, expiring tokens for the links in mails, one salt per purpose.

A token carries the subscriber's random `link_id` and nothing else: no sequential id, no hash
of the address that a guess could be checked against.
"""

from __future__ import annotations

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
# Longer than any token this module makes (about 60 characters); refused unread.
MAX_LENGTH = 1000


class InvalidToken(Exception):
    """The token is forged, expired, malformed or made for another purpose."""


def _serializer(purpose: Purpose) -> URLSafeTimedSerializer:
    return _serializer_for(get_settings().signing_key, purpose)


@lru_cache(maxsize=16)
def _serializer_for(secret_key: str, purpose: Purpose) -> URLSafeTimedSerializer:
    # Made once per key and purpose: a newsletter signs two links for every recipient.
    return URLSafeTimedSerializer(secret_key, salt=f"newsroom.notify.{purpose}")


def make_token(purpose: Purpose, *, link_id: str) -> str:
    return _serializer(purpose).dumps(link_id)


def read_token(purpose: Purpose, token: str) -> str | tuple[int, str]:
    """The link id a valid token carries; else InvalidToken.

    Links mailed before link ids carried `[subscriber id, address fingerprint]`: those are
    returned as that pair, and keep working until they expire (two years at most).
    """
    if not token or len(token) > MAX_LENGTH:
        raise InvalidToken("empty or too long")
    try:
        data = _serializer(purpose).loads(token, max_age=int(MAX_AGE[purpose].total_seconds()))
    except BadSignature as exc:  # SignatureExpired is a BadSignature too
        raise InvalidToken(str(exc)) from exc
    if isinstance(data, str) and data:
        return data
    if isinstance(data, list) and len(data) == 2 and isinstance(data[0], int):
        return data[0], str(data[1])
    raise InvalidToken("unexpected payload")
