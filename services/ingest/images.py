"""Uploaded images: recognised from their bytes, measured from the header before anything is
decoded, then decoded and re-encoded from their pixels (orientation applied, every metadata
block dropped) into the files the site publishes."""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass
from typing import BinaryIO

import pillow_heif
from PIL import Image, ImageOps, features

from shared.problems import Problem

MAX_BYTES = 25 * 1024 * 1024
MAX_PIXELS = 50_000_000
WIDTHS = (480, 960, 1600)
MAIL_WIDTH = 600  # what mail clients show at full width of a 600 px newsletter column

if not features.check("avif"):  # wheels since Pillow 11.3 have it; a source build may not
    raise RuntimeError("Pillow was built without AVIF support (libavif); install its wheel")
# Pillow refuses an image over twice this many pixels on its own (DecompressionBombError,
# raised while reading the header); `measure` refuses anything over it before decoding.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# The primary image only: thumbnails, depth maps and auxiliary images are never decoded.
pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

# Pillow warns of an image between MAX_IMAGE_PIXELS and twice that while reading its header;
# `open_image` refuses it right after, so the warning would only repeat the refusal in logs.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

log = logging.getLogger(__name__)
DAMAGED = "Bilden är skadad eller ofullständig."

# Pillow format name -> content type of the upload
FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "HEIF": "image/heic",
}
# HEIF brands whose images are HEVC-coded (what phones write); AVIF's brands are not taken.
HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
HEAD_BYTES = 64  # enough of the file for `sniff` (an ftyp box lists its brands early)

# Encoder settings, chosen on a 12-megapixel photo (bench/media.py): the 960 px AVIF well
# under 150 kB, all files in about a second of CPU. AVIF runs on one thread because
# libaom's output depends on its thread count; one thread gives the same bytes every time.
AVIF = {"quality": 60, "speed": 8, "max_threads": 1}
WEBP = {"quality": 80, "method": 4}
JPEG = {"quality": 82, "optimize": True, "progressive": True}
ORIGINAL_JPEG = {"quality": 90}
ORIGINAL_PNG = {"compress_level": 6}
MAX_ICC_BYTES = 65_536  # real RGB profiles are 0.5-4 kB; a larger one is not kept


@dataclass(frozen=True)
class Rendition:
    """One encoded file: `variant` is "original" or "<format>-<width>"."""

    variant: str
    content_type: str
    extension: str
    width: int
    height: int
    data: bytes


def sniff(head: bytes) -> str | None:
    """The Pillow format name of an accepted image type from its first bytes, else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        box = min(int.from_bytes(head[:4], "big"), len(head))
        major, compatible = head[8:12], [head[i : i + 4] for i in range(16, box - 3, 4)]
        if major in HEIC_BRANDS or (
            major in (b"mif1", b"msf1") and HEIC_BRANDS.intersection(compatible)
        ):
            return "HEIF"
    return None


def _unreadable(detail: str) -> Problem:
    return Problem(422, detail, errors=[{"field": "file", "message": detail}])


def open_image(file: BinaryIO, image_format: str) -> Image.Image:
    """The image with only its header read, refused (422) when it has too many pixels."""
    try:
        image = Image.open(file, formats=[image_format])
    except Image.DecompressionBombError:
        raise _too_many_pixels() from None
    except Exception as exc:  # Pillow's plugins raise many kinds for a broken header
        log.info("image header refused: %r", exc)
        raise _unreadable(DAMAGED) from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise _too_many_pixels()
    if width < 1 or height < 1:
        image.close()
        raise _unreadable("Bilden saknar bildpunkter.")
    return image


def _too_many_pixels() -> Problem:
    return _unreadable(
        f"Bilden har för många bildpunkter; högst {MAX_PIXELS // 1_000_000} megapixel tas emot."
    )


def decode(image: Image.Image) -> tuple[Image.Image, bytes | None]:
    """The pixels, upright, in RGB or RGBA with no metadata, and the RGB colour profile
    worth keeping (or None)."""
    try:
        image.load()
    except Exception as exc:  # truncated data, corrupt scans, bad chunk checksums
        log.info("image data refused: %r", exc)
        raise _unreadable(DAMAGED) from None
    icc = image.info.get("icc_profile")
    # A CMYK or grey profile describes other pixels than the RGB ones written below.
    keep_icc = (
        image.mode in ("RGB", "RGBA")
        and isinstance(icc, bytes)
        and len(icc) <= MAX_ICC_BYTES
        and icc[16:20] == b"RGB "
    )
    ImageOps.exif_transpose(image, in_place=True)
    has_alpha = image.has_transparency_data
    if image.mode.startswith("I"):  # 16-bit grey PNG: keep the high byte
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    target = "RGBA" if has_alpha else "RGB"
    pixels = image if image.mode == target else image.convert(target)
    # Encoders fall back to `info` (comments, EXIF, XMP, text chunks) for what they are not
    # given: clear it, so only the pixels and the profile passed explicitly are written.
    pixels.info = {}
    return pixels, icc if keep_icc else None


def widths_for(width: int) -> list[int]:
    """The variant widths of an image `width` pixels wide: never wider than the original."""
    widths = [w for w in WIDTHS if w < width]
    if width <= WIDTHS[-1]:
        widths.append(width)
    return widths


def _encode(image: Image.Image, image_format: str, icc: bytes | None, **options) -> bytes:
    out = io.BytesIO()
    if icc:
        options["icc_profile"] = icc
    image.save(out, image_format, **options)
    return out.getvalue()


def _opaque(image: Image.Image) -> Image.Image:
    """The image on white, for JPEG (which has no transparency)."""
    if image.mode != "RGBA":
        return image
    flat = Image.new("RGB", image.size, (255, 255, 255))
    flat.paste(image, mask=image.getchannel("A"))
    return flat


# format -> (content type, extension, encoder options)
ENCODINGS = {
    "AVIF": ("image/avif", "avif", AVIF),
    "WEBP": ("image/webp", "webp", WEBP),
    "JPEG": ("image/jpeg", "jpg", JPEG),
}


def _variant(image: Image.Image, image_format: str, icc: bytes | None) -> Rendition:
    content_type, extension, options = ENCODINGS[image_format]
    if image_format == "JPEG":
        image = _opaque(image)
    return Rendition(
        f"{extension.replace('jpg', 'jpeg')}-{image.width}",
        content_type,
        extension,
        image.width,
        image.height,
        _encode(image, image_format, icc, **options),
    )


def renditions(pixels: Image.Image, icc: bytes | None, *, source_format: str) -> list[Rendition]:
    """The sanitized original and every variant: AVIF, WebP and JPEG per width, and a JPEG
    at MAIL_WIDTH for newsletters. Closes `pixels` once the largest variant is made from
    them, so the full-size image is freed before the AVIF encoder takes its memory."""
    width, height = pixels.size
    if source_format == "PNG" or pixels.mode == "RGBA":
        data = _encode(pixels, "PNG", icc, **ORIGINAL_PNG)
        original = Rendition("original", "image/png", "png", width, height, data)
    else:
        data = _encode(pixels, "JPEG", icc, **ORIGINAL_JPEG)
        original = Rendition("original", "image/jpeg", "jpg", width, height, data)
    files = [original]
    web_widths = widths_for(width)
    source = pixels
    for target in sorted(set(web_widths) | {min(MAIL_WIDTH, width)}, reverse=True):
        # Each smaller size from the one before: a 4000 px photo is reduced once, and
        # LANCZOS on an already reduced copy costs a fraction and looks the same.
        size = (target, max(1, round(height * target / width)))
        scaled = source if size == source.size else source.resize(size, Image.LANCZOS, None, 3.0)
        if source is pixels and scaled is not pixels:
            pixels.close()  # 36 MB for 12 megapixels, no longer needed
        formats = ("AVIF", "WEBP", "JPEG") if target in web_widths else ("JPEG",)
        files.extend(_variant(scaled, image_format, icc) for image_format in formats)
        source = scaled
    return files


def process(file: BinaryIO, image_format: str) -> list[Rendition]:
    """Every file of an uploaded image, from its bytes: checked, decoded, re-encoded."""
    image = open_image(file, image_format)
    try:
        pixels, icc = decode(image)
        return renditions(pixels, icc, source_format=image_format)
    finally:
        image.close()
