"""Image processing on its own: type from the bytes, limits before decoding, orientation,
metadata gone, the variants' sizes, and the same bytes every time."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image, ImageCms, ImageFile

from services.ingest import images
from shared.problems import Problem
from tests import media_samples as samples

ROOT = Path(__file__).resolve().parents[2]


def process(data: bytes) -> list[images.Rendition]:
    return images.process(io.BytesIO(data), images.sniff(data[: images.HEAD_BYTES]))


def by_variant(files: list[images.Rendition]) -> dict[str, images.Rendition]:
    return {file.variant: file for file in files}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (samples.encode(samples.marked(), "JPEG"), "JPEG"),
        (samples.encode(samples.marked(), "PNG"), "PNG"),
        (samples.encode(samples.marked(), "WEBP"), "WEBP"),
        (samples.heic(), "HEIF"),
        (samples.encode(samples.marked(), "AVIF"), None),  # not among the accepted types
        (samples.encode(samples.marked(), "GIF"), None),
        (samples.encode(samples.marked(), "BMP"), None),
        (samples.encode(samples.marked(), "TIFF"), None),
        (samples.SVG_WITH_SCRIPT, None),
        (samples.pdf(), None),
        (b"", None),
    ],
)
def test_the_type_comes_from_the_bytes(data, expected):
    assert images.sniff(data[: images.HEAD_BYTES]) == expected


def test_variants_are_never_wider_than_the_original():
    assert images.widths_for(4000) == [480, 960, 1600]
    assert images.widths_for(1600) == [480, 960, 1600]
    assert images.widths_for(1000) == [480, 960, 1000]
    assert images.widths_for(300) == [300]

    files = by_variant(process(samples.encode(samples.photo(1000, 750), "JPEG", quality=90)))
    assert sorted(files) == sorted(
        [
            "original",
            *(f"{kind}-{width}" for kind in ("avif", "webp", "jpeg") for width in (480, 960, 1000)),
            "jpeg-600",  # for newsletters
        ]
    )
    for file in files.values():
        decoded = Image.open(io.BytesIO(file.data))
        assert decoded.size == (file.width, file.height)
        assert (
            decoded.format
            == {"avif": "AVIF", "webp": "WEBP", "jpg": "JPEG", "png": "PNG"}[file.extension]
        )
        assert file.width * 750 == pytest.approx(file.height * 1000, abs=1000)


def test_a_jpeg_with_gps_comes_out_with_no_metadata_at_all():
    data = samples.phone_jpeg(samples.photo(800, 600))
    assert b"Exif\x00\x00" in data and b"Hornsgatan" in data and b"GPSLatitude" in data

    for file in process(data):
        decoded = Image.open(io.BytesIO(file.data))
        assert not decoded.getexif(), file.variant
        assert samples.GPS_IFD not in decoded.getexif()
        assert not {"exif", "xmp", "comment", "XML:com.adobe.xmp"} & set(decoded.info)
        for trace in (b"Exif\x00\x00", b"Hornsgatan", b"GPSLatitude", b"iPhone", b"Apple"):
            assert trace not in file.data, (file.variant, trace)


def test_the_colour_profile_stays():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = samples.encode(samples.marked(), "JPEG", icc_profile=srgb, exif=samples.phone_exif())
    for file in process(data):
        assert Image.open(io.BytesIO(file.data)).info.get("icc_profile") == srgb, file.variant


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_the_exif_orientation_is_applied_to_the_pixels(orientation):
    files = by_variant(
        process(samples.phone_jpeg(samples.marked(300, 200), orientation=orientation))
    )
    original = Image.open(io.BytesIO(files["original"].data)).convert("RGB")
    # The blue block sits in the top left corner of the stored pixels once turned upright:
    # orientation 6 turns it to the top right, 8 to the bottom left, 3 to the bottom right.
    expected_size = (300, 200) if orientation == 3 else (200, 300)
    assert original.size == expected_size
    width, height = original.size
    corner = {3: (width - 5, height - 5), 6: (width - 5, 5), 8: (5, height - 5)}[orientation]
    assert original.getpixel(corner)[2] > 150  # blue
    assert original.getpixel((width // 2, height // 2))[0] > 150  # red


def test_a_phone_heic_becomes_an_upright_jpeg_without_metadata():
    data = samples.heic(samples.photo(640, 480), orientation=6)
    assert images.sniff(data[: images.HEAD_BYTES]) == "HEIF"

    files = by_variant(process(data))
    original = files["original"]
    assert (original.content_type, original.extension) == ("image/jpeg", "jpg")
    assert (original.width, original.height) == (480, 640)  # turned upright
    assert {"avif-480", "webp-480", "jpeg-480"} <= set(files)
    for file in files.values():
        assert not Image.open(io.BytesIO(file.data)).getexif()
        assert b"Exif\x00\x00" not in file.data and b"iPhone" not in file.data


def test_transparency_is_kept_where_the_format_has_it():
    image = Image.new("RGBA", (500, 400), (0, 128, 0, 0))
    image.paste((0, 128, 0, 255), (100, 100, 400, 300))
    files = by_variant(process(samples.encode(image, "PNG")))
    assert files["original"].content_type == "image/png"
    assert Image.open(io.BytesIO(files["avif-480"].data)).mode == "RGBA"
    assert Image.open(io.BytesIO(files["webp-480"].data)).mode == "RGBA"
    jpeg = Image.open(io.BytesIO(files["jpeg-480"].data))
    assert jpeg.getpixel((2, 2)) == pytest.approx((255, 255, 255), abs=3)  # on white


def test_sixteen_bit_grey_and_palette_images_are_accepted():
    grey = Image.linear_gradient("L").resize((300, 300)).convert("I;16")
    grey = grey.point(lambda value: value * 256)
    palette = samples.marked().convert("P")
    for image in (grey, palette, samples.marked().convert("CMYK")):
        image_format = "JPEG" if image.mode == "CMYK" else "PNG"
        files = by_variant(process(samples.encode(image, image_format)))
        assert files["original"].width == image.width


@pytest.mark.parametrize("pixels", [(8000, 8000), (20000, 20000)])
def test_a_decompression_bomb_is_refused_before_it_is_decoded(pixels):
    data = samples.png_bomb(*pixels)
    assert len(data) < 200_000  # a few kB that would decode to 64-400 megabytes
    decoded = []

    def watch(frame, event, _arg):
        # Observe, change nothing: every call of Pillow's decoding entry point.
        if event == "call" and frame.f_code is ImageFile.ImageFile.load.__code__:
            decoded.append(frame.f_code.co_name)

    sys.setprofile(watch)
    try:
        with pytest.raises(Problem) as refused:
            process(data)
        refused_decodes = list(decoded)
        process(samples.png_bomb(300, 200))  # the watch sees an image that is decoded
    finally:
        sys.setprofile(None)
    assert refused.value.status == 422
    assert "megapixel" in refused.value.detail
    assert refused_decodes == []
    assert "load" in decoded


def test_a_decompression_bomb_never_takes_the_memory_it_asks_for(tmp_path):
    # In a process of its own, whose peak memory (VmHWM) before and after is its own: the
    # bomb is 8000 x 8000 (64 megapixels: only a warning to Pillow's own check), which
    # decoded takes 64 MB as 1-bit and 192 MB as RGB.
    path = tmp_path / "bomb.png"
    path.write_bytes(samples.png_bomb(8000, 8000))
    script = f"""
import io, json, sys
from services.ingest import images
from shared.problems import Problem

def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024

data = open({str(path)!r}, "rb").read()
before = peak()
try:
    images.process(io.BytesIO(data), "PNG")
    status = 201
except Problem as exc:
    status = exc.status
print(json.dumps({{"status": status, "grew_mb": peak() - before}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == 422
    assert result["grew_mb"] < 20


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
def test_a_truncated_image_is_refused(image_format):
    data = samples.encode(samples.photo(400, 300), image_format)
    with pytest.raises(Problem) as refused:
        process(data[: len(data) // 2])
    assert refused.value.status == 422
    assert refused.value.detail == "Bilden är skadad eller ofullständig."


def test_garbage_after_a_valid_signature_is_refused():
    with pytest.raises(Problem) as refused:
        process(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    assert refused.value.status == 422


def test_the_same_image_gives_the_same_bytes_every_time():
    data = samples.phone_jpeg(samples.photo(1700, 1100), orientation=6)
    first = [(file.variant, file.data) for file in process(data)]
    assert first == [(file.variant, file.data) for file in process(data)]

    # Two at once (threads share the encoders' libraries) and in another process.
    results: list[list] = []
    threads = [
        threading.Thread(
            target=lambda: results.append([(f.variant, f.data) for f in process(data)])
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [first, first]
    script = (
        "import io, hashlib, sys; from services.ingest import images; data = sys.stdin.buffer"
        ".read(); print(*(f.variant + ':' + hashlib.sha256(f.data).hexdigest() for f in "
        "images.process(io.BytesIO(data), 'JPEG')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], input=data, capture_output=True, check=True, cwd=ROOT
    )
    assert out.stdout.decode().split() == [
        f"{variant}:{hashlib.sha256(blob).hexdigest()}" for variant, blob in first
    ]
