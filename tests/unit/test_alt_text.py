"""Alt text rules for images shown with an item (used by the item schemas)."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, ValidationError

from services.ingest.alt_text import (
    FILE_NAME,
    FILE_NAME_PATTERN,
    AltText,
    alt_text_problem,
    is_file_name,
)

FILE_NAMES = [
    "IMG_1234.jpg",
    "bild.png",
    "  DSC01234.JPG ",
    "PXL_20240502_101112345.jpg",
    "Skärmavbild 2024-05-02 kl. 10.11.12.png",
    "rapport-omslag.webp",
    "foto.heic",
    "IMG_1234",
    "DSC01234",
    "20240502_101112",
    "P1010123",
]


@pytest.mark.parametrize("text", FILE_NAMES)
def test_a_file_name_is_not_alt_text(text):
    assert is_file_name(text)
    assert alt_text_problem(text, decorative=False) == FILE_NAME


DESCRIPTIONS = [
    "Deltagare vid workshopen om textilier i Malmö",
    "Omslaget till Verksamhetsrapport 2025",
    "Bild 2 av 3: handskar på ett lagerhyllplan",
    "Diagram: andel avtal med uppföljning, 2019–2024",
    "Foto",
]


@pytest.mark.parametrize("text", DESCRIPTIONS)
def test_a_description_is_alt_text(text):
    assert not is_file_name(text)
    assert alt_text_problem(text, decorative=False) is None


def test_alt_text_is_required_unless_the_image_is_decorative():
    assert alt_text_problem(None, decorative=False).startswith("Skriv en alternativtext")
    assert alt_text_problem("   ", decorative=False).startswith("Skriv en alternativtext")
    assert alt_text_problem("", decorative=True) is None
    assert alt_text_problem(None, decorative=True) is None
    assert alt_text_problem("En solnedgång", decorative=True).startswith("En dekorativ bild")


def test_the_field_type_refuses_a_file_name_with_a_swedish_message():
    class Image(BaseModel):
        alt: AltText

    assert Image(alt="Deltagare vid workshopen").alt == "Deltagare vid workshopen"
    with pytest.raises(ValidationError) as refused:
        Image(alt="IMG_1234.jpg")
    assert refused.value.errors()[0]["msg"] == FILE_NAME


def test_the_schemas_pattern_refuses_what_the_rule_refuses():
    """The OpenAPI schema's `not: {pattern}` of the alt text (ECMA-262: no flags) agrees with
    `is_file_name` on every example, in any case."""
    for text in FILE_NAMES + DESCRIPTIONS:
        for variant in (text, text.upper(), text.lower()):
            assert bool(re.search(FILE_NAME_PATTERN, variant)) == is_file_name(variant), variant
