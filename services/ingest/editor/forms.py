"""The item form: what a person typed, as `ItemIn` for the service, and Swedish messages
beside each field for whatever the rules refuse."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from starlette.datastructures import FormData

from services.ingest.permissions import is_editor
from services.ingest.schemas import ItemIn
from shared.config import get_settings
from shared.models import Contributor, Item

# ItemIn's fields -> the form's field ids (the error summary links to them).
FIELD_IDS = {
    "title": "rubrik",
    "summary": "sammanfattning",
    "body": "text",
    "regions": "regioner",
    "topics": "amnen",
    "published_at": "datum",
    "status": "atgard",
}
NAMES = {
    "rubrik": ("rubriken", "Rubriken"),
    "sammanfattning": ("sammanfattningen", "Sammanfattningen"),
    "text": ("texten", "Texten"),
}
ACTIONS = ("spara", "publicera", "schemalagg", "granskning", "uppdatera", "forhandsgranska")
# Buttons that save nothing: they show, or mail the author, what the form would make.
ACTIONS += ("provmejl",)


@dataclass
class FieldError:
    field: str
    message: str


@dataclass
class ItemForm:
    """The item form's values as typed (strings), so a refused form shows them again."""

    title: str = ""
    summary: str = ""
    body: str = ""
    regions: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    date: str = ""
    time: str = ""
    notify: bool = True
    notify_again: bool = False
    version: int | None = None

    @classmethod
    def from_form(cls, form: FormData) -> ItemForm:
        version = str(form.get("version") or "")
        return cls(
            title=str(form.get("rubrik") or ""),
            summary=_lines(str(form.get("sammanfattning") or "")),
            body=_lines(str(form.get("text") or "")),
            regions=[str(v) for v in form.getlist("regioner") if v][:50],
            topics=[str(v) for v in form.getlist("amnen") if v][:50],
            date=str(form.get("datum") or "").strip(),
            time=str(form.get("tid") or "").strip(),
            notify=form.get("skicka") == "ja",
            notify_again=form.get("skicka_igen") == "ja",
            version=int(version) if version.isdigit() and len(version) < 10 else None,
        )

    @classmethod
    def from_item(cls, item: Item) -> ItemForm:
        local = item.published_at.astimezone(_zone())
        return cls(
            title=item.title,
            summary=item.summary,
            body=item.body_md,
            regions=list(item.regions),
            topics=list(item.topics),
            date=f"{local:%Y-%m-%d}",
            time=f"{local:%H:%M}",
            notify=item.notify,
            version=item.version,
        )

    @classmethod
    def new(cls, contributor: Contributor) -> ItemForm:
        regions = [] if is_editor(contributor) else [contributor.region]
        return cls(regions=regions)

    def published_at(self) -> tuple[datetime | None, list[FieldError]]:
        """The chosen time (None: none given), read as the site's local time."""
        if not self.date and not self.time:
            return None, []
        if not self.date:
            return None, [FieldError("datum", "Ange ett datum, eller lämna även tiden tom.")]
        try:
            day = datetime.strptime(self.date, "%Y-%m-%d")
        except ValueError:
            return None, [FieldError("datum", "Ange datumet som år-månad-dag, t.ex. 2026-05-04.")]
        clock = self.time or "00:00"
        try:
            hours, minutes = (int(part) for part in clock.split(":")[:2])
            local = day.replace(hour=hours, minute=minutes, tzinfo=_zone())
        except ValueError:
            return None, [FieldError("tid", "Ange tiden som timmar och minuter, t.ex. 09:30.")]
        if not 1900 <= local.year <= 2999:
            return None, [FieldError("datum", "Året ska ligga mellan 1900 och 2999.")]
        return local, []

    def to_input(
        self,
        *,
        status: str,
        published_at: datetime | None,
        author: dict[str, Any] | None,
    ) -> tuple[ItemIn | None, list[FieldError]]:
        """`ItemIn` for the service, or the reasons it cannot be one, field by field."""
        data: dict[str, Any] = {
            "title": self.title,
            "summary": self.summary,
            "body": self.body,
            "regions": self.regions,
            "topics": self.topics,
            "status": status,
            "notify": self.notify,
            "notify_again": self.notify_again,
        }
        if published_at is not None:
            data["published_at"] = published_at.isoformat(timespec="seconds")
        if author:
            data["author"] = author
        try:
            return ItemIn.model_validate(data), []
        except ValidationError as exc:
            return None, swedish_errors(exc)


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def _lines(text: str) -> str:
    # Browsers send CRLF line ends from a textarea; the stored Markdown keeps plain LF.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def swedish_errors(exc: ValidationError) -> list[FieldError]:
    """ItemIn's validation errors as messages a person understands, one per field."""
    found: dict[str, FieldError] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "body"
        field_id = FIELD_IDS.get(name, "rubrik")
        if field_id not in found:
            found[field_id] = FieldError(field_id, _message(field_id, error))
    order = list(FIELD_IDS.values())
    return sorted(found.values(), key=lambda e: order.index(e.field))


def _message(field_id: str, error: dict[str, Any]) -> str:
    kind, context = error["type"], error.get("ctx") or {}
    if field_id == "regioner":
        if kind == "too_short":
            return "Välj minst en region."
        return "Välj regioner ur listan. " + _sentence(error["msg"])
    if field_id == "amnen":
        return "Välj ämnen ur listan. " + _sentence(error["msg"])
    the, The = NAMES.get(field_id, ("fältet", "Fältet"))
    if kind in ("missing", "string_too_short"):
        return f"Skriv {the}."
    if kind == "string_too_long":
        return f"{The} får vara högst {context.get('max_length')} tecken."
    if kind == "invalid" and "tom" in error["msg"]:
        return f"Skriv {the}."
    return f"{The}: {_sentence(error['msg'])}"


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


__all__ = ["ACTIONS", "FieldError", "ItemForm", "swedish_errors"]
