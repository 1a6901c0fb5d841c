"""Documents: the type comes from the content (magic bytes, the zip container's own
declaration), never from the name; anything else is refused."""

from __future__ import annotations

import io
import struct

import pytest

from services.ingest import documents, media
from shared.problems import Problem
from tests import media_samples as samples


def identify(data: bytes) -> documents.DocumentType:
    container = documents.sniff(data[:64])
    if container is None:
        raise Problem(415, "no container")
    return documents.identify(io.BytesIO(data), container)


@pytest.mark.parametrize(
    ("data", "extension"),
    [
        (samples.pdf(), "pdf"),
        (samples.ooxml("docx"), "docx"),
        (samples.ooxml("xlsx"), "xlsx"),
        (samples.ooxml("pptx"), "pptx"),
        (samples.odf("odt"), "odt"),
        (samples.odf("ods"), "ods"),
        (samples.odf("odp"), "odp"),
    ],
)
def test_each_accepted_format_is_recognised_from_its_content(data, extension):
    found = identify(data)
    assert found.extension == extension
    assert found.content_type.startswith("application/")


@pytest.mark.parametrize(
    "data",
    [
        samples.zipped({"hello.txt": b"hej"}),  # a zip, but no document
        samples.ooxml("docm"),  # Word with macros
        samples.zipped({"mimetype": b"application/epub+zip", "content.opf": b""}),
        samples.zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b""}),
        # The main part declared but missing from the package.
        samples.ooxml("docx", with_main_part=False),
        # An entity-expansion attack in the declaration is not parsed at all.
        samples.zipped(
            {
                "[Content_Types].xml": b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaa">'
                b'<!ENTITY b "&a;&a;&a;&a;">]><Types>&b;</Types>',
                "word/document.xml": b"",
            }
        ),
    ],
)
def test_a_zip_that_is_no_accepted_document_is_refused(data):
    with pytest.raises(Problem) as refused:
        identify(data)
    assert refused.value.status == 415


def test_a_zip_with_more_entries_than_any_document_is_refused_before_it_is_opened():
    # Only the end record is made: it claims 60,000 entries in its central directory.
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 60_000, 60_000, 0, 0, 0)
    with pytest.raises(Problem) as refused:
        identify(b"PK\x03\x04" + b"\x00" * 100 + end)
    assert refused.value.status == 415


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_a_damaged_zip_is_refused(cut):
    data = samples.ooxml("docx")
    with pytest.raises(Problem) as refused:
        identify(data[: int(len(data) * cut)])
    assert refused.value.status == 422


@pytest.mark.parametrize(
    ("filename", "fallback", "expected"),
    [
        (
            "Verksamhetsrapport 2025 – Region Skåne.pdf",
            "dokument",
            "verksamhetsrapport-2025-region-skane",
        ),
        ("../../etc/passwd", "dokument", "passwd"),
        ("..\\..\\windows\\system32\\evil.docx", "dokument", "evil"),
        ("rapport\x00\x1b[31m\r\n.pdf.exe", "dokument", "rapport-31m-pdf"),
        ("../", "dokument", "dokument"),
        ("...", "bild", "bild"),
        ("", "bild", "bild"),
        (".bashrc", "dokument", "bashrc"),
        ("IMG_1234.HEIC", "bild", "img-1234"),
        ("a" * 300 + ".pdf", "dokument", "a" * 80),
    ],
)
def test_stored_names_are_clean_slugs(filename, fallback, expected):
    assert media.clean_stem(filename, fallback=fallback) == expected
