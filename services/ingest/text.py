"""What plain text an item may hold, as validators and as the matching OpenAPI patterns.

Feeds are XML, so every character must be one XML 1.0 allows (its `Char` production: no
C0 control but tab and line breaks, no lone surrogate, no U+FFFE or U+FFFF); one character
outside it would stop every feed that lists the item. Control characters (Unicode Cc) have
no business in news either. Single-line fields (a title, a name, an alt text) also hold
nothing that hides or reorders what a reader sees: bidirectional overrides are refused,
zero-width characters removed, and a field that is empty once invisible characters are
removed is refused.
"""

from __future__ import annotations

import re

from pydantic_core import PydanticCustomError

# Regex fragments, written with escapes that Python's `re` and ECMA-262 (JSON Schema) read
# alike. Lone surrogates are refused by the validators only: a JSON Schema regex cannot
# name them.
CONTROLS = r"\x00-\x1f\x7f-\x9f"  # Unicode category Cc
LINE_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # Cc but tab, LF and CR
NOT_XML = r"\ufffe\uffff"  # outside XML 1.0's Char production beyond Cc and surrogates
BIDI_OVERRIDES = r"\u202a-\u202e\u2066-\u2069"  # embeddings, overrides and isolates
ZERO_WIDTH = r"\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff"
LINE_SEPARATORS = r"\u2028\u2029"
# Everything that shows nothing: blanks of every script, zero-width characters, the line
# and paragraph separators (which become a space or a line break), and the filler
# characters that render as nothing (Hangul fillers, the blank Braille pattern).
INVISIBLE = (
    r" \u00a0\u00ad\u115f\u1160\u1680\u180e\u2000-\u200f\u2028\u2029\u202f\u205f-\u2064"
    r"\u2800\u3000\u3164\ufeff\uffa0"
)

_SINGLE_FORBIDDEN = CONTROLS + NOT_XML + BIDI_OVERRIDES
_MULTI_FORBIDDEN = LINE_CONTROLS + NOT_XML
_MULTI_INVISIBLE = INVISIBLE + r"\t\n\r"
# Leading invisible characters, one visible character, then anything allowed: unambiguous,
# so linear time.
SINGLE_LINE_PATTERN = rf"^[{INVISIBLE}]*[^{_SINGLE_FORBIDDEN}{INVISIBLE}][^{_SINGLE_FORBIDDEN}]*$"
MULTI_LINE_PATTERN = (
    rf"^[{_MULTI_INVISIBLE}]*[^{_MULTI_FORBIDDEN}{_MULTI_INVISIBLE}][^{_MULTI_FORBIDDEN}]*$"
)
MARKDOWN_PATTERN = rf"^[^{_MULTI_FORBIDDEN}]*$"

_SURROGATES = "\ud800-\udfff"
_CONTROL = re.compile(f"[{CONTROLS}{_SURROGATES}{NOT_XML}]")
_LINE_CONTROL = re.compile(f"[{LINE_CONTROLS}{_SURROGATES}{NOT_XML}]")
_BIDI = re.compile(f"[{BIDI_OVERRIDES}]")
_ZERO_WIDTH = re.compile(f"[{ZERO_WIDTH}]")
_LINE_SEPARATOR = re.compile(f"[{LINE_SEPARATORS}]")
_VISIBLE = re.compile(f"[^{_MULTI_INVISIBLE}]")


def invalid(message: str) -> PydanticCustomError:
    """A validation error whose message is shown as written, in Swedish."""
    # A plain ValueError would get "Value error, " in front of it.
    return PydanticCustomError("invalid", message.replace("{", "(").replace("}", ")"))


def _refuse(found: re.Match[str] | None, what: str) -> None:
    # Lone surrogates and U+FFFE/U+FFFF break UTF-8 or XML, NUL breaks PostgreSQL text, other
    # control characters are unprintable: refuse them rather than store them.
    if found is not None:
        code = ord(found.group())
        raise invalid(f"otillåtet {what} U+{code:04X} på position {found.start() + 1}")


def _what(char: str) -> str:
    return "kontrolltecken" if re.fullmatch(f"[{CONTROLS}]", char) else "tecken"


def check_characters(value: str, *, multi_line: bool) -> str:
    """Refuse what XML or a reader cannot take (named with its position)."""
    found = (_LINE_CONTROL if multi_line else _CONTROL).search(value)
    if found is not None:
        _refuse(found, _what(found.group()))
    return value


def single_line(value: str) -> str:
    """A title, name or alt text: no control or bidirectional override character, line
    separators as spaces, no zero-width characters, something visible."""
    check_characters(value, multi_line=False)
    _refuse(_BIDI.search(value), "riktningstecken")
    value = _ZERO_WIDTH.sub("", _LINE_SEPARATOR.sub(" ", value))
    return require_visible(value)


def multi_line(value: str) -> str:
    """A summary: line breaks and tabs allowed, line separators as line breaks, something
    visible."""
    check_characters(value, multi_line=True)
    return require_visible(_LINE_SEPARATOR.sub("\n", value))


def markdown(value: str) -> str:
    """Markdown: line breaks and tabs allowed, line separators as line breaks."""
    check_characters(value, multi_line=True)
    return _LINE_SEPARATOR.sub("\n", value)


def require_visible(value: str) -> str:
    if _VISIBLE.search(value) is None:
        raise invalid("får inte vara tom")
    return value


def has_no_space(value: str) -> str:
    """For URLs: no control character and no blank of any kind."""
    check_characters(value, multi_line=False)
    if any(char.isspace() for char in value):
        raise invalid("adressen får inte innehålla blanksteg")
    return value


__all__ = [
    "MARKDOWN_PATTERN",
    "MULTI_LINE_PATTERN",
    "NOT_XML",
    "SINGLE_LINE_PATTERN",
    "check_characters",
    "invalid",
    "markdown",
    "multi_line",
    "single_line",
]
