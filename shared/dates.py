"""Dates as Swedish readers write them: "29 apr 2021", in the site's time zone."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from zoneinfo import ZoneInfo

from babel.dates import format_date


@cache
def month_abbreviations(language: str) -> dict[int, str]:
    """Babel's short month names without their dot ("apr."): a Babel call per date costs more
    than a whole page, so they are looked up once per language."""
    return {
        month: format_date(date(2000, month, 1), "MMM", locale=language).rstrip(".")
        for month in range(1, 13)
    }


def short_date(moment: date | datetime, *, timezone: str, language: str) -> str:
    """ "29 apr 2021"; a datetime is first taken to local time in `timezone`."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(ZoneInfo(timezone)).date()
    return f"{moment.day} {month_abbreviations(language)[moment.month]} {moment.year}"


def month_heading(year: int, month: int, *, language: str) -> str:
    """The heading of a month: "April 2021"."""
    name = format_date(date(year, month, 1), "LLLL y", locale=language)
    return name[:1].upper() + name[1:]


__all__ = ["month_abbreviations", "month_heading", "short_date"]
