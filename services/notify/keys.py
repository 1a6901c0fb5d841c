"""Newsletter keys: what a ledger row is for, as a typed value; the ledger stores `str(key)`."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

_WEEK = re.compile(r"\d{4}-W\d{2}")


class NewsletterKey:
    """One newsletter (an item, a bundle, a digest) or one confirmation mail; `parse` reads
    the stored form back."""

    kind: ClassVar[str]

    @staticmethod
    def parse(text: str) -> NewsletterKey:
        """The key a ledger row's `newsletter` column holds; ValueError if it is none."""
        kind, _, value = text.partition(":")
        if kind == ItemKey.kind:
            item_id, _, edition = value.partition(":v")
            return ItemKey(uuid.UUID(item_id), int(edition) if edition else None)
        if kind == DigestKey.kind:
            return DigestKey.parse_period(value)
        if kind == BundleKey.kind and value.isdigit():
            return BundleKey(int(value))
        if kind == ConfirmationKey.kind and value:
            return ConfirmationKey(value)
        raise ValueError(f"not a newsletter key: {text!r}")


@dataclass(frozen=True)
class ItemKey(NewsletterKey):
    """The newsletter of one item, to its immediate subscribers; a change the author asked to
    mail again is a newsletter of its own (`edition`: the item's version then), so the ledger
    sends each at most once per subscriber."""

    item_id: uuid.UUID
    edition: int | None = None
    kind: ClassVar[str] = "item"

    def __str__(self) -> str:
        if self.edition is None:
            return f"item:{self.item_id}"
        return f"item:{self.item_id}:v{self.edition}"


@dataclass(frozen=True)
class DigestKey(NewsletterKey):
    """One digest, named for the local day it was made ("2021-05-03"); digests made before
    digests carried what became visible since the previous one were named for the week
    they covered ("2021-W17"), and such keys still read."""

    period: str
    kind: ClassVar[str] = "digest"

    @classmethod
    def parse_period(cls, period: str) -> DigestKey:
        if _WEEK.fullmatch(period):
            year, week = period.split("-W")
            date.fromisocalendar(int(year), int(week), 1)  # a week that exists
        elif date.fromisoformat(period).isoformat() != period:  # ValueError unless a day
            raise ValueError(f"not a digest period: {period!r}")
        return cls(period)

    @classmethod
    def on(cls, now: datetime, *, timezone: str) -> DigestKey:
        """The digest made at `now`: one per local day."""
        return cls(now.astimezone(ZoneInfo(timezone)).date().isoformat())

    @property
    def week(self) -> int:
        """The week the digest rounds off, for its subject: the one that ended the day before
        it was made (or, for an old key, the week it covered)."""
        if "-W" in self.period:
            return int(self.period.rpartition("-W")[2])
        return (date.fromisoformat(self.period) - timedelta(days=1)).isocalendar().week

    def __str__(self) -> str:
        return f"digest:{self.period}"


@dataclass(frozen=True)
class BundleKey(NewsletterKey):
    """The items that waited in one immediate window, to its subscribers, when it closed."""

    window_id: int
    kind: ClassVar[str] = "bundle"

    def __str__(self) -> str:
        return f"bundle:{self.window_id}"


@dataclass(frozen=True)
class ConfirmationKey(NewsletterKey):
    """The double opt-in (or settings link) mail of one subscription request (its event id)."""

    request: str
    kind: ClassVar[str] = "confirm"

    def __str__(self) -> str:
        return f"confirm:{self.request}"


CONFIRMATION_PREFIX = f"{ConfirmationKey.kind}:"
