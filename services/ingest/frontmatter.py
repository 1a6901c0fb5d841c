"""Item files: a YAML front matter of the API fields, then the Markdown text.

Errors name the file's own line and say how to fix it, in Swedish; what authors commonly
write is accepted (`regions: region-skane` for a one-element list, `date:` for
`published_at`, a date or a local time without an offset).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from shared.config import get_settings

FENCE = "---"
# How the hint names the value of a field ("sätt titeln inom citattecken").
_THE_VALUE = {
    "title": "titeln",
    "summary": "sammanfattningen",
    "name": "namnet",
    "alt": "alternativtexten",
}
_LOCAL_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2}))?)?", flags=re.ASCII
)


class ItemFileError(ValueError):
    """The file is not front matter plus Markdown; `line` is the file's line, when known."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(f"rad {line}: {message}" if line else message)
        self.line = line


class _Loader(yaml.SafeLoader):
    """YAML without implicit dates (`published_at` reaches the API as written) and without
    duplicate fields (the last would win silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ItemFileError(
                    f"fältet {key} förekommer flera gånger", line=key_node.start_mark.line + 2
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)


def parse_item_file(text: str) -> dict[str, Any]:
    """The API fields of an item file: its front matter, and its Markdown as `body`."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    lines = text.split("\n")
    if not lines or lines[0].strip() != FENCE:
        raise ItemFileError("filen måste börja med en front matter mellan två rader '---'")
    try:
        end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() in (FENCE, "..."))
    except StopIteration:
        raise ItemFileError("front matter saknar avslutande rad '---'") from None
    source = "\n".join(lines[1:end])
    try:
        front = yaml.load(source, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise _explained(exc, source, lines) from None
    if front is None:
        front = {}
    if not isinstance(front, dict):
        raise ItemFileError("front matter måste vara fält och värden (title: …)", line=2)
    if "body" in front:
        raise ItemFileError("texten skrivs efter front matter, inte som fältet body")
    body = "\n".join(lines[end + 1 :]).strip("\n")
    return {**_as_authors_mean(front), "body": body}


def _as_authors_mean(front: dict[str, Any]) -> dict[str, Any]:
    front = dict(front)
    if "date" in front:
        if "published_at" in front:
            raise ItemFileError("ange antingen date eller published_at, inte båda")
        front["published_at"] = front.pop("date")
    for field in ("regions", "topics"):
        if isinstance(front.get(field), str):  # "regions: region-skane, region-halland"
            front[field] = [part.strip() for part in front[field].split(",") if part.strip()]
    if isinstance(front.get("published_at"), str):
        front["published_at"] = _with_offset(front["published_at"].strip())
    return front


def _with_offset(value: str) -> str:
    # A date, or a time without an offset, is the site's local time ("2021-04-29" is that
    # day's midnight); anything else goes to the API as written, which judges it.
    match = _LOCAL_TIME.fullmatch(value)
    if match is None:
        return value
    day, hour, minute, second = match.groups()
    try:
        local = datetime.fromisoformat(day).replace(
            hour=int(hour or 0), minute=int(minute or 0), second=int(second or 0)
        )
    except ValueError:
        return value
    return local.replace(tzinfo=ZoneInfo(get_settings().timezone)).isoformat()


def _explained(exc: yaml.YAMLError, source: str, lines: list[str]) -> ItemFileError:
    """A YAML error as the file's line and what to do about it."""
    # The front matter starts on the file's second line; marks count lines from 0.
    if isinstance(exc, yaml.reader.ReaderError):
        line = source.count("\n", 0, exc.position) + 2
        what = f"otillåtet tecken U+{exc.character:04X}" if isinstance(exc.character, int) else ""
        return ItemFileError(what or "filen innehåller ett otillåtet tecken", line=line)
    problem = getattr(exc, "problem", None) or ""
    context = getattr(exc, "context", None) or ""
    mark = getattr(exc, "problem_mark", None)
    if context.startswith(("while parsing a flow", "while scanning a quoted")):
        mark = getattr(exc, "context_mark", None) or mark  # where the list or quote began
    line = mark.line + 2 if mark is not None else None
    text = lines[line - 1] if line and line <= len(lines) else ""
    if problem == "mapping values are not allowed here":
        previous = lines[line - 2] if line and line > 2 else ""
        if previous.strip() and ":" not in previous:
            return ItemFileError("raden saknar kolon efter fältnamnet (fält: värde)", line=line - 1)
        if text[:1].isspace():
            return ItemFileError(
                "raden är indragen men hör inte till fältet ovanför; ta bort mellanslagen först "
                "på raden",
                line=line,
            )
        return ItemFileError(
            _quote_hint(text, "innehåller ett kolon följt av mellanslag"), line=line
        )
    if "cannot start any token" in problem:
        if "'\\t'" in problem:
            return ItemFileError(
                "tabbtecken kan inte användas för indrag; använd mellanslag", line=line
            )
        return ItemFileError(
            _quote_hint(text, "börjar med ett tecken som YAML reserverar"), line=line
        )
    if context.startswith("while parsing a flow sequence"):
        return ItemFileError("listan inom [ ] är inte avslutad med ]", line=line)
    if context.startswith("while parsing a flow mapping"):
        return ItemFileError("fälten inom { } är inte avslutade med }", line=line)
    if context.startswith("while scanning a quoted"):
        return ItemFileError("citattecknet som börjar här är inte avslutat", line=line)
    if "could not determine a constructor" in problem:
        return ItemFileError("taggar som !!python är inte tillåtna", line=line)
    return ItemFileError(
        "front matter är inte giltig YAML; kontrollera indrag och citattecken "
        "(text med kolon sätts inom citattecken)",
        line=line,
    )


def _quote_hint(text: str, what: str) -> str:
    field, _, value = text.partition(":")
    field = field.strip()
    value = value.strip().replace("\\", "\\\\").replace('"', '\\"')
    the_value = _THE_VALUE.get(field, "värdet")
    return f'{the_value} {what}; sätt {the_value} inom citattecken: {field}: "{value}"'


__all__ = ["FENCE", "ItemFileError", "parse_item_file"]
