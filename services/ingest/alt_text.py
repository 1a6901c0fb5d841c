"""Alt text of an image shown with an item: required unless the contributor marks the image
decorative, and never only a file name ("IMG_1234.jpg" says nothing to a screen reader).

For the item schemas: `alt_text_problem` gives the Swedish message for a pair of alt text
and decorative flag, and `AltText` is the field type that refuses a file name on its own.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

IMAGE_EXTENSIONS = "jpe?g|jfif|png|webp|heic|heif|avif|gif|tiff?|bmp|svg"
# A name with an image extension and no spaces between words: "bild.png", "IMG_1234.JPG",
# "Skärmavbild 2024-05-02 kl. 10.11.12.png" (a macOS screenshot keeps its spaces).
_FILE_NAME = re.compile(rf"^\S.*\.(?:{IMAGE_EXTENSIONS})$", re.IGNORECASE)
# What cameras and phones name files, with the extension gone: "IMG_1234", "DSC01234",
# "PXL_20240502_101112345", "20240502_101112".
_CAMERA_NAME = re.compile(
    r"^(?:img|dsc[fn]?|dcim|pxl|mvimg|photo|image|bild|foto|screenshot|skärmavbild|p)"
    r"[_-]?\d[\d_.-]{2,}$|^\d[\d_.-]{5,}$",
    re.IGNORECASE,
)


def _any_case(pattern: str) -> str:
    """A pattern whose letters match either case, for JSON Schema (ECMA-262 has no flags)."""
    out, in_class, escaped = [], False, False
    for char in pattern:
        if escaped or not char.isalpha() or char.lower() == char.upper():
            out.append(char)
        elif in_class:
            out.append(char.lower() + char.upper())
        else:
            out.append(f"[{char.lower()}{char.upper()}]")
        escaped = char == "\\" and not escaped
        if not escaped and char == "[":
            in_class = True
        elif not escaped and char == "]":
            in_class = False
    return "".join(out)


# What `is_file_name` refuses, as the schema's `not: {pattern}` of the alt text.
FILE_NAME_PATTERN = (
    r"^\s*(?:"
    + _any_case(rf"\S.*\.(?:{IMAGE_EXTENSIONS})")
    + "|"
    + _any_case(
        r"(?:img|dsc[fn]?|dcim|pxl|mvimg|photo|image|bild|foto|screenshot|skärmavbild|p)"
        r"[_-]?\d[\d_.-]{2,}|\d[\d_.-]{5,}"
    )
    + r")\s*$"
)

MISSING = "Skriv en alternativtext som beskriver bilden, eller markera bilden som dekorativ."
FILE_NAME = "Alternativtexten är bara ett filnamn; beskriv vad bilden visar."
BOTH = "En dekorativ bild har ingen alternativtext; ta bort texten eller markeringen."


def is_file_name(text: str) -> bool:
    """Whether alt text is only a file name (with or without its extension)."""
    text = text.strip()
    return bool(_FILE_NAME.match(text) or _CAMERA_NAME.match(text))


def alt_text_problem(alt: str | None, *, decorative: bool) -> str | None:
    """The Swedish message when `alt` is not acceptable for the image, else None."""
    text = (alt or "").strip()
    if decorative:
        return BOTH if text else None
    if not text:
        return MISSING
    if is_file_name(text):
        return FILE_NAME
    return None


def _not_a_file_name(value: str) -> str:
    if value.strip() and is_file_name(value):
        # A custom error keeps the message as written (a ValueError gets "Value error, ").
        raise PydanticCustomError("alt_text", FILE_NAME)
    return value


AltText = Annotated[str, AfterValidator(_not_a_file_name)]

__all__ = ["FILE_NAME_PATTERN", "AltText", "alt_text_problem", "is_file_name"]
