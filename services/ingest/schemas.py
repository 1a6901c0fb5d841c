"""What the ingest API accepts and answers; every rule a field has lives here."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.ingest import text
from services.ingest.alt_text import FILE_NAME_PATTERN, alt_text_problem
from services.ingest.text import (
    MARKDOWN_PATTERN,
    MULTI_LINE_PATTERN,
    NOT_XML,
    SINGLE_LINE_PATTERN,
    invalid,
)
from shared import taxonomy

MAX_BODY_BYTES = 100_000  # "≤ 100 kB" of Markdown, counted in UTF-8 bytes
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
# Far enough apart for any real news item, near enough that no time zone conversion overflows.
FIRST_YEAR, LAST_YEAR = 1900, 2999
# No blank of any kind in a URL (str.isspace beyond ASCII, spelt out for `re.ASCII` readers),
# nor a character XML cannot hold.
_NOT_IN_URL = rf"\s\x00-\x1f\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000{NOT_XML}"
URL_PATTERN = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://"
    rf"[^/?#@\[\]:{_NOT_IN_URL}][^/?#@\[\]{_NOT_IN_URL}]*"
    rf"(?:[/?#][^{_NOT_IN_URL}]*)?$"
)
DATE_PATTERN = r"^(?:19|2[0-9])[0-9]{2}-"
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = rf"^{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+$"
_EMAIL = re.compile(EMAIL_PATTERN)
# RFC 3339, the "date-time" of JSON Schema: seconds and an offset are not optional.
_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt]"  # date
    r"[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"  # time
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$"  # offset
)


def _rfc3339(value: object) -> object:
    # Pydantic alone would also take a Unix timestamp or a date without a time.
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise invalid("ange tid med sekunder och tidszon, t.ex. 2021-04-29T09:00:00+02:00")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]


def _http_url(value: str) -> str:
    text.has_no_space(value)
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise invalid("ogiltig adress; skriv http(s)://värdnamn/…") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise invalid("endast http- och https-adresser är tillåtna")
    if not host or "@" in parts.netloc or parts.netloc.startswith(":"):
        raise invalid("adressen ska vara http(s)://värdnamn/… utan inloggningsuppgifter")
    return value


def _markdown(value: str) -> str:
    value = text.markdown(value)
    if len(value.encode("utf-8")) > MAX_BODY_BYTES:
        raise invalid(f"texten får vara högst {MAX_BODY_BYTES // 1000} kB")
    return value


def _email(value: str) -> str:
    # Syntax only (an author's address is shown, never mailed), checked with the very pattern
    # the schema publishes, so that clients and the API agree on every address.
    if not _EMAIL.fullmatch(value):
        raise invalid("ogiltig e-postadress; skriv namn@exempel.se")
    return value


def _text(max_length: int, *, multi_line: bool = False) -> type[str]:
    """Plain text: no control characters, not blank (surrounding blanks are trimmed on save)."""
    return Annotated[  # type: ignore[return-value]
        str,
        StringConstraints(min_length=1, max_length=max_length),
        AfterValidator(text.multi_line if multi_line else text.single_line),
        Field(
            json_schema_extra={"pattern": MULTI_LINE_PATTERN if multi_line else SINGLE_LINE_PATTERN}
        ),
    ]


Title = _text(200)
ShortText = _text(300)
Summary = _text(600, multi_line=True)
Markdown = Annotated[
    str,
    StringConstraints(min_length=1),
    AfterValidator(_markdown),
    Field(json_schema_extra={"pattern": MARKDOWN_PATTERN}),
]
Email = Annotated[
    str,
    StringConstraints(max_length=254),
    AfterValidator(_email),
    Field(json_schema_extra={"pattern": EMAIL_PATTERN}),
]
Slug = Annotated[str, StringConstraints(max_length=100, pattern=SLUG_PATTERN)]
TagSlug = Annotated[str, StringConstraints(max_length=64, pattern=SLUG_PATTERN)]
HttpUrl = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000),
    AfterValidator(_http_url),
    Field(json_schema_extra={"pattern": URL_PATTERN}),
]


class _Strict(BaseModel):
    # Unknown fields are errors, never silently dropped or assigned (no mass assignment).
    model_config = ConfigDict(extra="forbid")


class Author(_Strict):
    name: Title
    email: Email | None = None


MediaId = Annotated[uuid.UUID, Field(description="Id från POST /api/v1/media.")]
ONE_OF_SOURCES = [{"required": ["url"]}, {"required": ["media_id"]}]
NO_SOURCE = "ange url (en adress) eller media_id (en uppladdad fil)"
TWO_SOURCES = "ange antingen url eller media_id, inte båda"


def _one_source(url: str | None, media_id: uuid.UUID | None) -> None:
    if url is None and media_id is None:
        raise invalid(NO_SOURCE)
    if url is not None and media_id is not None:
        raise invalid(TWO_SOURCES)


class Attachment(_Strict):
    """A document shown under the item: an uploaded medium (`media_id`) or a `url`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": ONE_OF_SOURCES})

    title: Title
    # Either one, never null: the schema says so (`oneOf`), the validator below too.
    url: HttpUrl = Field(default=None)
    media_id: MediaId = Field(default=None)

    @model_validator(mode="after")
    def _source(self) -> Attachment:
        _one_source(self.url, self.media_id)
        return self


class Image(_Strict):
    """The item's image: an uploaded image (`media_id`) or a `url`, with its alt text."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "allOf": [
                {"oneOf": ONE_OF_SOURCES},
                # Alt text, or marked decorative and then without alt text.
                {
                    "oneOf": [
                        {"required": ["alt"], "properties": {"decorative": {"const": False}}},
                        {
                            "required": ["decorative"],
                            "properties": {"decorative": {"const": True}},
                            "not": {"required": ["alt"]},
                        },
                    ]
                },
            ]
        },
    )

    url: HttpUrl = Field(default=None)
    media_id: MediaId = Field(default=None)
    # Before `alt`: the alt text's rule reads it.
    decorative: bool = Field(
        default=False, description="Dekorativ bild: ingen alternativtext, skärmläsare hoppar över."
    )
    alt: ShortText = Field(
        default=None,
        validate_default=True,  # its absence is checked too: required unless decorative
        description="Alternativtext; krävs om bilden inte är dekorativ, och är inte ett filnamn.",
        json_schema_extra={"not": {"pattern": FILE_NAME_PATTERN}},
    )

    @field_validator("alt", mode="wrap")
    @classmethod
    def _alt_text(cls, value: object, handler, info: ValidationInfo) -> str | None:
        decorative = bool(info.data.get("decorative"))
        if value is None or (isinstance(value, str) and not value.strip()):
            # Absent, or an empty field of a form: no alt text at all.
            if decorative:
                return None
            raise invalid(alt_text_problem(None, decorative=False) or "")
        text = handler(value)
        problem = alt_text_problem(text, decorative=decorative)
        if problem:
            raise invalid(problem)
        return text

    @model_validator(mode="after")
    def _source(self) -> Image:
        _one_source(self.url, self.media_id)
        return self


def _check_tags(
    values: list[str], known: dict[str, str], kind: str, unknown_kind: str
) -> list[str]:
    duplicates = sorted({value for value in values if values.count(value) > 1})
    if duplicates:
        raise invalid(f"{kind} anges flera gånger: {', '.join(duplicates)}")
    unknown = [value for value in values if value not in known]
    if unknown:
        raise invalid(f"{unknown_kind}: {', '.join(unknown)}")
    return values


def _tag_schema(schema: dict, kind: str) -> None:
    # The taxonomy is configuration, so the documented slugs are read when the schema is built.
    known = taxonomy.regions() if kind == "region" else taxonomy.topics()
    schema["items"]["enum"] = list(known)
    schema["uniqueItems"] = True


class ItemIn(_Strict):
    """A news item as a contributor posts it (POST) or replaces it (PUT)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Året i korthet – Verksamhetsrapport 2020",
                    "summary": "Regionernas gemensamma arbete med hållbar upphandling under 2020.",
                    "body": "Under 2020 har regionerna **tillsammans** följt upp leverantörer.",
                    "published_at": "2021-03-25T09:00:00+01:00",
                    "regions": ["nationella-kansliet"],
                    "topics": ["verksamhetsrapport"],
                }
            ]
        },
    )

    title: Title
    summary: Summary
    body: Markdown = Field(description="Markdown, högst 100 kB; rå HTML tvättas bort.")
    published_at: (
        Annotated[Timestamp, Field(json_schema_extra={"pattern": DATE_PATTERN})] | None
    ) = Field(
        default=None,
        description="ISO 8601 med tidszon; saknas = nu; i framtiden = schemalagd.",
    )
    regions: list[TagSlug] = Field(
        min_length=1, max_length=30, json_schema_extra=lambda schema: _tag_schema(schema, "region")
    )
    topics: list[TagSlug] = Field(
        default_factory=list,
        max_length=30,
        json_schema_extra=lambda schema: _tag_schema(schema, "topic"),
    )
    slug: Slug | None = Field(default=None, description="Annars skapas den från rubriken.")
    author: Author | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    image: Image | None = None
    status: Literal["published", "draft"] = "published"
    notify: bool = Field(
        default=True, description="Mejla prenumeranterna när nyheten först syns på webbplatsen."
    )
    notify_again: bool = Field(
        default=False,
        description="Mejla en ändring av en redan publicerad nyhet till prenumeranterna igen.",
    )

    @field_validator("published_at")
    @classmethod
    def _reasonable_date(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise invalid(f"året ska ligga mellan {FIRST_YEAR} och {LAST_YEAR}")
        return value.astimezone(UTC)

    @field_validator("regions")
    @classmethod
    def _known_regions(cls, values: list[str]) -> list[str]:
        return _check_tags(values, taxonomy.regions(), "region", "okänd region")

    @field_validator("topics")
    @classmethod
    def _known_topics(cls, values: list[str]) -> list[str]:
        return _check_tags(values, taxonomy.topics(), "ämne", "okänt ämne")


# What the API reports: "scheduled" is a published item whose time has not come.
ItemStatus = Literal["published", "scheduled", "draft", "withdrawn"]


class ItemOut(BaseModel):
    """A stored item as the API answers it."""

    id: uuid.UUID
    slug: str
    month: str
    path: str
    url: str
    status: ItemStatus
    version: int
    title: str
    summary: str
    body: str
    body_html: str
    published_at: datetime
    regions: list[str]
    topics: list[str]
    author: dict[str, str | None] | None
    attachments: list[dict[str, str]]
    image: dict[str, str | bool] | None
    notify: bool = True
    contributor: str | None
    created_at: datetime
    updated_at: datetime
    withdrawn_at: datetime | None


class ItemPage(BaseModel):
    """One page of items, newest first; pass `next_cursor` as `cursor` for the next one."""

    items: list[ItemOut]
    next_cursor: str | None


class TaxonomyEntry(BaseModel):
    slug: str
    name: str
