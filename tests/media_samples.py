"""Images and documents for the media tests, made in code: photo-like pixels, phone EXIF with
GPS coordinates, HEIC, decompression bombs, and minimal Office and OpenDocument files."""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib

import pillow_heif
from PIL import Image, ImageChops, ImageDraw, ImageFilter

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def photo(width: int = 1200, height: int = 900, *, seed: int = 1) -> Image.Image:
    """An RGB image with a photo's mix of smooth areas, edges and sensor grain.

    Detail at every scale (noise enlarged from several sizes), shapes with hard edges and a
    fine grain on top: its JPEG is as large as a camera's at the same quality, so encoder
    sizes and times measured on it carry over to real photos.
    """
    rng = random.Random(seed)
    bands = []
    for _ in range(3):
        layer = None
        for cells, amplitude in ((6, 1.0), (24, 0.6), (96, 0.35), (384, 0.2), (1536, 0.12)):
            small = (min(cells, width), max(2, min(cells, width) * height // width))
            noise = Image.effect_noise(small, 64).resize((width, height), Image.BICUBIC)
            noise = noise.point(lambda v, a=amplitude: 128 + (v - 128) * a)
            layer = noise if layer is None else ImageChops.add(layer, noise, 1.0, -128)
        bands.append(layer)
    image = Image.merge("RGB", bands)
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y = rng.randrange(width), rng.randrange(height)
        size = rng.randrange(max(2, width // 200), max(3, width // 8))
        box = [x, y, x + size, y + int(size * rng.random())]
        fill = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
    image = image.filter(ImageFilter.GaussianBlur(1.2))
    grain = Image.effect_noise((width, height), 12).convert("RGB")
    return ImageChops.add(image, grain, 1.0, -128)


def marked(width: int = 300, height: int = 200) -> Image.Image:
    """Red, with a blue block in the top left corner: shows where "up" ended up."""
    image = Image.new("RGB", (width, height), (220, 0, 0))
    image.paste((0, 0, 220), (0, 0, width // 3, height // 4))
    return image


def phone_exif(*, orientation: int = 1) -> Image.Exif:
    """EXIF as a phone writes it: make, model, GPS position of Stockholm, orientation."""
    exif = Image.Exif()
    exif[0x010F] = "Apple"
    exif[0x0110] = "iPhone 15"
    exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (59.0, 19.0, 46.75)
    gps[3], gps[4] = "E", (18.0, 4.0, 7.5)
    return exif


XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-'
    b'rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:'
    b'GPSLatitude="59,19.78N"/></rdf:RDF></x:xmpmeta>'
)


def encode(image: Image.Image, image_format: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, image_format, **options)
    return out.getvalue()


def phone_jpeg(image: Image.Image | None = None, *, orientation: int = 1) -> bytes:
    """A JPEG with EXIF (GPS, camera), XMP and a comment, as a phone or an editor leaves it."""
    return encode(
        image or marked(),
        "JPEG",
        quality=90,
        exif=phone_exif(orientation=orientation),
        xmp=XMP,
        comment=b"Taken at Hornsgatan 12",
    )


def heic(image: Image.Image | None = None, *, orientation: int = 1) -> bytes:
    """A HEIC as an iPhone writes it (HEVC via libheif), with EXIF and GPS."""
    pillow_heif.register_heif_opener()
    return encode(
        image or marked(), "HEIF", quality=80, exif=phone_exif(orientation=orientation).tobytes()
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of width x height white pixels: a few kB that decode to
    width x height bytes in Pillow (and three times that in RGB)."""
    compressor = zlib.compressobj(9)
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<script>alert(document.cookie)</script><rect width="10" height="10"/></svg>'
)


def pdf(text: str = "Verksamhetsrapport") -> bytes:
    """A one-page PDF (Pillow writes it)."""
    return encode(Image.new("RGB", (40, 20), "white"), "PDF", title=text)


OOXML_MAIN = {
    "docx": (
        "word/document.xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    ),
    "xlsx": (
        "xl/workbook.xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    ),
    "pptx": (
        "ppt/presentation.xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
    ),
    "docm": ("word/document.xml", "application/vnd.ms-word.document.macroEnabled.main+xml"),
}
ODF_TYPES = {
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
}


def zipped(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            method = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=method)
    return out.getvalue()


def ooxml(kind: str, *, with_main_part: bool = True) -> bytes:
    """A minimal Word, Excel or PowerPoint package (or a macro-enabled Word one: "docm")."""
    part, content_type = OOXML_MAIN[kind]
    declaration = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/{part}" ContentType="{content_type}"/></Types>'
    )
    entries = {"[Content_Types].xml": declaration.encode(), "_rels/.rels": b""}
    if with_main_part:
        entries[part] = b"<document/>"
    return zipped(entries)


def odf(kind: str) -> bytes:
    """A minimal OpenDocument package: `mimetype` first and stored, then its content."""
    return zipped(
        {"mimetype": ODF_TYPES[kind].encode(), "content.xml": b"<office:document-content/>"}
    )
