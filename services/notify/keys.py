"""Newsletter keys: what a ledger row is for, as a typed value; the ledger stores `str(key)`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo


class NewsletterKey:
    """One newsletter (an item, a digest) or one confirmation mail; `parse` reads the stored
    form back."""

    kind: ClassVar[str]

    @staticmethod
    def parse(text: str) -> NewsletterKey:
        """The key a ledger row's `newsletter` column holds; ValueError if it is none."""
        kind, _, value = text.partition(":")
        if kind == ItemKey.kind:
            return ItemKey(uuid.UUID(value))
        if kind == DigestKey.kind:
            return DigestKey.parse_period(value)
        if kind == ConfirmationKey.kind and value:
            return ConfirmationKey(value)
        raise ValueError(f"not a newsletter key: {text!r}")


@dataclass(frozen=True)
class ItemKey(NewsletterKey):
    """The newsletter of one item, to its immediate subscribers."""

    item_id: uuid.UUID
    kind: ClassVar[str] = "item"

    def __str__(self) -> str:
        return f"item:{self.item_id}"


@dataclass(frozen=True)
class DigestKey(NewsletterKey):
    """The weekly digest of one local ISO week: `year`, `week`."""

    year: int
    week: int
    kind: ClassVar[str] = "digest"

    @classmethod
    def parse_period(cls, period: str) -> DigestKey:
        year, week = period.split("-W")
        return cls(int(year), int(week))

    @classmethod
    def covering(cls, now: datetime, *, timezone: str) -> DigestKey:
        """The digest sent at `now`: it covers the previous local week."""
        local = now.astimezone(ZoneInfo(timezone))
        year, week, _ = (local - timedelta(days=7)).isocalendar()
        return cls(year, week)

    def bounds(self, *, timezone: str) -> tuple[datetime, datetime]:
        """The week's start and end (Monday 00:00 local time), in UTC."""
        # Aware arithmetic in a ZoneInfo zone is wall-clock arithmetic: midnight stays
        # midnight across a daylight-saving switch.
        start = datetime.fromisocalendar(self.year, self.week, 1).replace(tzinfo=ZoneInfo(timezone))
        return start.astimezone(UTC), (start + timedelta(days=7)).astimezone(UTC)

    def __str__(self) -> str:
        return f"digest:{self.year}-W{self.week:02d}"


@dataclass(frozen=True)
class ConfirmationKey(NewsletterKey):
    """The double opt-in (or settings link) mail of one subscription request (its event id)."""

    request: str
    kind: ClassVar[str] = "confirm"

    def __str__(self) -> str:
        return f"confirm:{self.request}"


CONFIRMATION_PREFIX = f"{ConfirmationKey.kind}:"
