"""Uploaded documents: PDF, Office Open XML and OpenDocument, recognised from their content
(magic bytes, and for the zip-based formats the container's own declaration), never from
the file name or the declared type."""

from __future__ import annotations

import logging
import struct
import zipfile
from dataclasses import dataclass
from typing import BinaryIO
from xml.etree import ElementTree

from shared.problems import Problem

MAX_BYTES = 50 * 1024 * 1024

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DocumentType:
    extension: str
    content_type: str


PDF = DocumentType("pdf", "application/pdf")
# The main part's content type in [Content_Types].xml: what makes a zip a Word, Excel or
# PowerPoint file (their macro-enabled and template kinds have other types and are refused).
OOXML = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": (
        DocumentType(
            "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        )
    ),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": (
        DocumentType("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    ),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": (
        DocumentType(
            "pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        )
    ),
}
# The `mimetype` entry every OpenDocument package starts with.
ODF = {
    "application/vnd.oasis.opendocument.text": DocumentType(
        "odt", "application/vnd.oasis.opendocument.text"
    ),
    "application/vnd.oasis.opendocument.spreadsheet": DocumentType(
        "ods", "application/vnd.oasis.opendocument.spreadsheet"
    ),
    "application/vnd.oasis.opendocument.presentation": DocumentType(
        "odp", "application/vnd.oasis.opendocument.presentation"
    ),
}
CONTENT_TYPES_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
# A Word file has a dozen entries, a large presentation a few thousand. The central
# directory is read whole into memory, so a 50 MB zip of a million empty entries (about
# 500 MB of ZipInfo objects) is refused from its end record before it is opened.
MAX_ENTRIES = 20_000
MAX_DECLARATION_BYTES = 1_048_576  # [Content_Types].xml: a few kB in real files
EOCD = b"PK\x05\x06"


def sniff(head: bytes) -> str | None:
    """ "PDF" or "ZIP" from a file's first bytes, else None."""
    if head.startswith(b"%PDF-"):
        return "PDF"
    if head.startswith(b"PK\x03\x04"):
        return "ZIP"
    return None


def _not_a_document() -> Problem:
    detail = (
        "Filen är inget dokument som tas emot. Tillåtna är PDF, Word (docx), Excel (xlsx), "
        "PowerPoint (pptx) och OpenDocument (odt, ods, odp)."
    )
    return Problem(415, detail, errors=[{"field": "file", "message": detail}])


def _damaged() -> Problem:
    detail = "Dokumentet är skadat och kunde inte läsas."
    return Problem(422, detail, errors=[{"field": "file", "message": detail}])


def identify(file: BinaryIO, container: str) -> DocumentType:
    """The type of a document whose first bytes said `container` ("PDF" or "ZIP")."""
    if container == "PDF":
        return PDF
    _check_central_directory(file)
    try:
        with zipfile.ZipFile(file) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                found = ODF.get(_read(archive, "mimetype", 200).decode("ascii", "replace").strip())
            elif "[Content_Types].xml" in names:
                found = _ooxml_type(archive, names)
            else:
                found = None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        log.info("zip refused: %r", exc)
        raise _damaged() from None
    if found is None:
        raise _not_a_document()
    return found


def _check_central_directory(file: BinaryIO) -> None:
    file.seek(0, 2)
    size = file.tell()
    tail_start = max(0, size - 65_557)  # the end record and its comment of at most 64 kB
    file.seek(tail_start)
    tail = file.read()
    at = tail.rfind(EOCD)
    if at < 0 or len(tail) - at < 22:
        raise _damaged()
    entries = struct.unpack("<H", tail[at + 10 : at + 12])[0]
    if entries > MAX_ENTRIES:  # 0xFFFF: the Zip64 marker, more than any document needs
        raise _not_a_document()
    file.seek(0)


def _read(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    with archive.open(name) as entry:
        data = entry.read(limit + 1)  # the declared size may lie; read no more than this
    if len(data) > limit:
        raise ValueError(f"{name} larger than {limit} bytes")
    return data


def _ooxml_type(archive: zipfile.ZipFile, names: set[str]) -> DocumentType | None:
    declaration = _read(archive, "[Content_Types].xml", MAX_DECLARATION_BYTES)
    # The format has no DTD: one here can only be an entity-expansion attack on the parser.
    if b"<!DOCTYPE" in declaration or b"<!ENTITY" in declaration:
        return None
    try:
        root = ElementTree.fromstring(declaration)
    except ElementTree.ParseError:
        return None
    found = {
        OOXML[override.get("ContentType", "")]
        for override in root.iter(CONTENT_TYPES_NS + "Override")
        if override.get("ContentType") in OOXML
        and override.get("PartName", "").lstrip("/") in names
    }
    return found.pop() if len(found) == 1 else None
