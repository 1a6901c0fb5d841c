"""Uploaded media as pages, feeds and mails show them: what the site publishes of each medium
(its files under `/media/`, their sizes, types and widths), read from `media` and
`media_files` without their bytes, and an item's image and documents resolved from the ids it
refers to.

A medium never changes once stored (its URL folder is a hash of its content), so what was read
of one is kept per process: `load` reads the media a render or a mail needs in one query, and
the pure functions below (`item_image`, `item_documents`) look them up without a session.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from babel.numbers import format_decimal
from sqlalchemy import select
from sqlalchemy.orm import Session, load_only, selectinload

from shared.models import Media, MediaFile

# Media kept per process (about 2 kB each): every medium of a 50-item feed many times over.
CACHE_SIZE = 4096
MAIL_WIDTH = 600  # the newsletter's column; the upload made a JPEG at this width
# Formats of the <picture>: its <source>s in this order, the JPEG as the <img> fallback.
SOURCE_FORMATS = ("avif", "webp")
# What readers are told a document is ("PDF, 2,3 MB"), by its content type.
FORMAT_NAMES = {
    "application/pdf": "PDF",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint",
    "application/vnd.oasis.opendocument.text": "OpenDocument-text",
    "application/vnd.oasis.opendocument.spreadsheet": "OpenDocument-kalkylblad",
    "application/vnd.oasis.opendocument.presentation": "OpenDocument-presentation",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
}


@dataclass(frozen=True)
class PublishedFile:
    """One file of a medium as the site publishes it."""

    variant: str  # "original", "avif-960", "jpeg-600", ...
    path: str  # its URL path under /media/
    content_type: str
    size: int
    width: int | None
    height: int | None

    @property
    def format(self) -> str:
        return self.variant.split("-", 1)[0]


@dataclass(frozen=True)
class StoredMedia:
    """What pages, feeds and mails need of a medium: never its bytes."""

    id: str
    kind: str
    folder: str
    original: PublishedFile
    files: tuple[PublishedFile, ...]

    def variants(self, image_format: str) -> list[PublishedFile]:
        """The variants of one format ("avif", "webp", "jpeg"), narrowest first."""
        found = [file for file in self.files if file.format == image_format]
        return sorted(found, key=lambda file: file.width or 0)

    def web_widths(self) -> list[int]:
        """The widths with every format of the <picture> (the mail's JPEG has only one)."""
        widths = {file.width for file in self.variants("avif")}
        return sorted(width for width in widths if width)

    def at(self, image_format: str, width: int) -> PublishedFile | None:
        return next((f for f in self.variants(image_format) if f.width == width), None)


_CACHE: OrderedDict[str, StoredMedia] = OrderedDict()


def _stored(media: Media) -> StoredMedia:
    files = tuple(
        PublishedFile(
            variant=file.variant,
            path=media.folder + file.name,
            content_type=file.content_type,
            size=file.size,
            width=file.width,
            height=file.height,
        )
        for file in sorted(media.files, key=lambda file: file.variant)
    )
    original = next(file for file in files if file.variant == "original")
    return StoredMedia(str(media.id), media.kind, media.folder, original, files)


def item_media_ids(item: Any) -> set[str]:
    """The ids of the media an item (a shared.models.Item) refers to. Whatever else a damaged
    row holds is passed over here: the item's own page fails and is left out (render's
    failures.py), never the pages that list it beside others."""
    references = [item.image, *(item.attachments if isinstance(item.attachments, list) else ())]
    return {
        reference["media_id"]
        for reference in references
        if isinstance(reference, dict) and isinstance(reference.get("media_id"), str)
    }


def load(session: Session, ids: Iterable[str]) -> None:
    """Read the media with these ids that this process does not know yet (one query)."""
    missing = set()
    for media_id in ids:
        if media_id in _CACHE:
            _CACHE.move_to_end(media_id)
        else:
            try:
                missing.add(uuid.UUID(media_id))
            except ValueError:
                continue  # not an id: nothing to show (ingest refuses it)
    if not missing:
        return
    files = selectinload(Media.files).options(
        load_only(
            MediaFile.variant,
            MediaFile.name,
            MediaFile.content_type,
            MediaFile.size,
            MediaFile.width,
            MediaFile.height,
        )
    )
    query = select(Media).options(files).where(Media.id.in_(missing))
    for media in session.scalars(query):
        _CACHE[str(media.id)] = _stored(media)
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)


def load_for(session: Session, items: Iterable[Any]) -> None:
    """Read the media these items refer to (see `load`)."""
    ids: set[str] = set()
    for item in items:
        ids |= item_media_ids(item)
    load(session, ids)


def lookup(media_id: str) -> StoredMedia | None:
    """A medium `load` has read, else None."""
    return _CACHE.get(media_id)


def remember(stored: StoredMedia) -> None:
    """Keep a medium as if `load` had read it (what a unit test renders without a database)."""
    _CACHE[stored.id] = stored


def forget() -> None:
    """Forget every medium read (tests that swap databases)."""
    _CACHE.clear()


# An item's image and documents ----------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One <source> of a <picture>: a type and its srcset."""

    type: str
    srcset: tuple[tuple[str, int], ...]  # (path, width)


@dataclass(frozen=True)
class ItemImage:
    """An item's image as a page, a feed or a mail shows it; `alt` "" when decorative."""

    src: str  # a path under the site (uploaded) or an absolute URL
    alt: str
    decorative: bool
    width: int | None = None
    height: int | None = None
    srcset: tuple[tuple[str, int], ...] = ()  # the JPEG fallback's widths
    sources: tuple[Source, ...] = ()
    mail: PublishedFile | None = None  # the JPEG at the newsletter's width
    feed: PublishedFile | None = None  # the widest JPEG, for feeds
    small: PublishedFile | None = None  # the narrowest JPEG, for lists
    uploaded: bool = False

    def thumbnail(self) -> ItemImage:
        """The image as a list's small picture: decorative (the heading beside it names the
        item), its narrowest JPEG as the fallback."""
        small = self.small
        if small is None:
            return replace(self, alt="", decorative=True)
        return replace(
            self, alt="", decorative=True, src=small.path, width=small.width, height=small.height
        )


def _srcset(files: list[PublishedFile]) -> tuple[tuple[str, int], ...]:
    return tuple((file.path, file.width or 0) for file in files)


def item_image(item: Any) -> ItemImage | None:
    """The item's image: a <picture>'s worth for an uploaded one, the URL for the other kind,
    None when it has none (or its medium was not loaded)."""
    image = item.image
    if not image:
        return None
    decorative = bool(image.get("decorative"))
    alt = "" if decorative else (image.get("alt") or "")
    if image.get("url"):
        return ItemImage(src=image["url"], alt=alt, decorative=decorative)
    media = lookup(image.get("media_id") or "")
    if media is None or media.kind != "image":
        return None
    widths = set(media.web_widths())
    jpegs = [file for file in media.variants("jpeg") if file.width in widths]
    if not jpegs:  # no variants (never stored so): the original alone
        original = media.original
        return ItemImage(
            src=original.path,
            alt=alt,
            decorative=decorative,
            width=original.width,
            height=original.height,
            feed=original,
            mail=original,
            uploaded=True,
        )
    # The fallback <img> at 960 px (or the widest below it): what most screens need.
    fallback = max((f for f in jpegs if (f.width or 0) <= 960), key=lambda f: f.width or 0)
    mail_width = min(MAIL_WIDTH, media.original.width or MAIL_WIDTH)
    return ItemImage(
        src=fallback.path,
        alt=alt,
        decorative=decorative,
        width=fallback.width,
        height=fallback.height,
        srcset=_srcset(jpegs),
        sources=tuple(
            Source(f"image/{image_format}", _srcset(media.variants(image_format)))
            for image_format in SOURCE_FORMATS
        ),
        mail=media.at("jpeg", mail_width) or fallback,
        feed=jpegs[-1],
        small=jpegs[0],
        uploaded=True,
    )


@dataclass(frozen=True)
class Document:
    """A document listed under an item: its link, title, and for an uploaded one its format
    and size ("PDF, 2,3 MB") and the type and exact length feeds announce."""

    href: str  # a path under the site (uploaded) or an absolute URL
    title: str
    content_type: str | None = None
    size: int | None = None
    uploaded: bool = False

    @property
    def format_name(self) -> str | None:
        return format_name(self.content_type) if self.content_type else None

    @property
    def description(self) -> str | None:
        """ "PDF, 2,3 MB" for an uploaded document, None for a link."""
        if self.size is None or self.content_type is None:
            return None
        return f"{self.format_name}, {human_size(self.size)}"


def item_documents(item: Any) -> list[Document]:
    """The item's attachments in order; an uploaded one whose medium is unknown is left out."""
    documents = []
    for attachment in item.attachments or ():
        title = attachment.get("title") or ""
        if attachment.get("url"):
            documents.append(Document(href=attachment["url"], title=title or attachment["url"]))
            continue
        media = lookup(attachment.get("media_id") or "")
        if media is None:
            continue
        original = media.original
        documents.append(
            Document(
                href=original.path,
                title=title or original.path.rsplit("/", 1)[-1],
                content_type=original.content_type,
                size=original.size,
                uploaded=True,
            )
        )
    return documents


def format_name(content_type: str) -> str:
    """A document's format as readers know it: "PDF", "Word", ..."""
    return FORMAT_NAMES.get(content_type) or content_type.rsplit("/", 1)[-1].upper()


def human_size(size: int, *, language: str = "sv") -> str:
    """A file size as Swedish readers write it: "850 kB", "2,3 MB" (1 kB = 1,024 bytes, as
    the upload limits count)."""
    if size < 1024:
        return f"{size} byte"
    if size < 1024 * 1024:
        return f"{format_decimal(round(size / 1024), locale=language)} kB"
    megabytes = size / (1024 * 1024)
    shown = format_decimal(round(megabytes, 1), format="#,##0.#", locale=language)
    return f"{shown} MB"


__all__ = [
    "Document",
    "ItemImage",
    "PublishedFile",
    "StoredMedia",
    "human_size",
    "item_documents",
    "item_image",
    "item_media_ids",
    "load",
    "load_for",
    "lookup",
]
