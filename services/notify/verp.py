"""VERP: a return address per delivery, `bounces+<tag>@example.se`, so that a bounce names
the one ledger row it is about without anyone trusting what its body says.

The tag is the delivery's id and an HMAC-SHA256 over that id and its subscriber's link id,
keyed with NEWSROOM_SECRET_KEY: nobody can make one for another row (and so suppress
someone), and a tag of a row that was deleted and whose id was used again does not match
the new row. Lower case only, since some mail servers fold the local part's case.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from shared.config import Settings, get_settings

# 80 bits of MAC: guessing one takes some 10^24 tries.
MAC_LENGTH = 20
# A tag in a VERP address (`+tag@`) or at the start of a Message-ID (`<tag.`).
TAG = re.compile(
    rf"(?:^|[+<\s])d([0-9a-z]{{1,12}})-([0-9a-f]{{{MAC_LENGTH}}})(?=[@.])", re.IGNORECASE
)


def _mac(delivery_id: int, link_id: str, settings: Settings) -> str:
    message = f"newsroom.verp:{delivery_id}:{link_id}".encode()
    return hmac.new(settings.signing_key.encode(), message, hashlib.sha256).hexdigest()[:MAC_LENGTH]


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


def tag(*, delivery_id: int, link_id: str, settings: Settings | None = None) -> str:
    """The signed tag naming one delivery: `d<id in base 36>-<MAC>`."""
    settings = settings or get_settings()
    return f"d{_base36(delivery_id)}-{_mac(delivery_id, link_id, settings)}"


def return_address(tag: str, settings: Settings | None = None) -> str | None:
    """NEWSROOM_BOUNCE_ADDRESS with a delivery's tag, or None when it is unset."""
    settings = settings or get_settings()
    if not settings.bounce_address:
        return None
    local, _, domain = settings.bounce_address.rpartition("@")
    return f"{local}+{tag}@{domain}"


def envelope_sender(
    *, delivery_id: int, link_id: str, settings: Settings | None = None
) -> str | None:
    """The VERP return address of one delivery, or None without NEWSROOM_BOUNCE_ADDRESS."""
    settings = settings or get_settings()
    return return_address(tag(delivery_id=delivery_id, link_id=link_id, settings=settings))


def find(texts: Iterable[str]) -> tuple[int, str] | None:
    """The first (delivery id, MAC) a VERP address or a Message-ID among `texts` carries,
    unverified."""
    for text in texts:
        match = TAG.search(text or "")
        if match:
            return int(match[1], 36), match[2].lower()
    return None


def verify(*, delivery_id: int, mac: str, link_id: str, settings: Settings | None = None) -> bool:
    """Whether `mac` is the MAC of this delivery of this subscriber."""
    expected = _mac(delivery_id, link_id, settings or get_settings())
    return hmac.compare_digest(expected, mac.lower())
