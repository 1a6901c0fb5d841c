"""`POST /api/v1/media` and `GET /api/v1/media/{id}` on a real database (SQLite and
PostgreSQL): what is stored for good uploads, and that every bad one is refused with a
Swedish problem+json and leaves nothing behind."""

from __future__ import annotations

import io
import os
import tempfile
import uuid

import pytest
from PIL import Image
from sqlalchemy import create_engine, select, text

from shared.db import session_scope
from shared.models import Media, MediaFile
from tests import media_samples as samples
from tests.integration.test_ingest_api import auth, client, count, make_token  # noqa: F401

MEDIA = "/api/v1/media"


def upload(client, token, data: bytes, name: str = "bild.jpg", content_type: str = "image/jpeg"):
    return client.post(MEDIA, files={"file": (name, data, content_type)}, headers=auth(token))


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["detail"]
    assert problem["errors"][0]["message"]
    return problem


def stored_files(media_id: str) -> dict[str, MediaFile]:
    with session_scope() as session:
        files = session.scalars(
            select(MediaFile).where(MediaFile.media_id == uuid.UUID(media_id))
        ).all()
        for file in files:
            _ = file.data  # deferred: load it before the session closes
        return {file.variant: file for file in files}


def open_temporary_files() -> int:
    """Files of this process open in the temporary folder (a spooled upload on disk)."""
    folder = tempfile.gettempdir()
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith(folder)
        except OSError:
            pass
    return count


@pytest.fixture
def token(db) -> str:
    return make_token()


@pytest.fixture
def nothing_left_behind(db, tmp_path, monkeypatch):
    """After the test: no medium, no file row, no temporary file, none left open."""
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))  # where uploads over 1 MB spool
    before = open_temporary_files()
    yield
    assert count(Media) == 0
    assert count(MediaFile) == 0
    assert open_temporary_files() <= before
    assert list(spool.iterdir()) == []


def test_a_photo_is_stored_with_its_variants(client, token):
    data = samples.encode(samples.photo(1800, 1200), "JPEG", quality=90)
    response = upload(client, token, data, name="Workshop i Malmö.jpg")

    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"{MEDIA}/{body['id']}"
    assert body["kind"] == "image"
    assert (body["width"], body["height"]) == (1800, 1200)
    assert body["content_type"] == "image/jpeg"
    assert body["name"] == "workshop-i-malmo.jpg"
    assert body["url"] == "http://localhost:8000" + body["path"]
    assert body["path"].startswith("/media/") and body["path"].endswith("/workshop-i-malmo.jpg")

    files = stored_files(body["id"])
    assert body["bytes"] == files["original"].size == len(files["original"].data)
    assert set(files) == {
        "original",
        "jpeg-600",
        *(f"{kind}-{width}" for kind in ("avif", "webp", "jpeg") for width in (480, 960, 1600)),
    }
    assert files["avif-960"].name == "workshop-i-malmo-960.avif"
    assert files["avif-960"].content_type == "image/avif"
    assert (files["avif-960"].width, files["avif-960"].height) == (960, 640)
    for file in files.values():
        assert Image.open(io.BytesIO(file.data)).size == (file.width, file.height)

    again = client.get(f"{MEDIA}/{body['id']}", headers=auth(token))
    assert again.status_code == 200
    assert again.json() == body


def test_a_png_named_pdf_is_stored_as_the_png_it_is(client, token):
    data = samples.encode(samples.marked(), "PNG")
    response = upload(client, token, data, name="rapport.pdf", content_type="application/pdf")

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["kind"], body["content_type"], body["name"]) == (
        "image",
        "image/png",
        "rapport.png",
    )
    assert (body["width"], body["height"]) == (300, 200)


def test_a_pdf_named_jpg_is_stored_as_the_pdf_it_is(client, token):
    data = samples.pdf()
    response = upload(client, token, data, name="semester.jpg", content_type="image/jpeg")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "document"
    assert (body["content_type"], body["name"]) == ("application/pdf", "semester.pdf")
    assert body["bytes"] == len(data)
    assert "width" not in body and "height" not in body
    assert stored_files(body["id"])["original"].data == data  # a document is kept as sent


@pytest.mark.parametrize("kind", ["docx", "xlsx", "pptx", "odt", "ods", "odp"])
def test_office_and_opendocument_files_get_their_own_type(client, token, kind):
    data = samples.ooxml(kind) if kind.endswith("x") else samples.odf(kind)
    response = upload(client, token, data, name="Budget 2025.zip", content_type="application/zip")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == f"budget-2025.{kind}"
    assert body["content_type"].startswith("application/vnd.")


@pytest.mark.usefixtures("nothing_left_behind")
@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        (samples.SVG_WITH_SCRIPT, "logga.svg", "image/svg+xml"),
        (samples.SVG_WITH_SCRIPT, "logga.png", "image/png"),
        (b"<html><script>alert(1)</script></html>", "sida.pdf", "application/pdf"),
        (samples.encode(samples.marked(), "GIF"), "animation.gif", "image/gif"),
        (samples.zipped({"virus.exe": b"MZ"}), "rapport.docx", "application/zip"),
        (b"MZ\x90\x00" + b"\x00" * 100, "program.exe", "application/octet-stream"),
    ],
)
def test_what_is_neither_an_accepted_image_nor_document_is_refused(
    client, token, data, name, content_type
):
    problem = assert_problem(upload(client, token, data, name, content_type), 415)
    assert problem["errors"][0]["field"] == "file"


def test_a_photo_with_gps_coordinates_is_stored_without_them(client, token):
    data = samples.phone_jpeg(samples.photo(1000, 700), orientation=6)
    assert b"Exif\x00\x00" in data and b"Hornsgatan" in data

    body = upload(client, token, data, name="IMG_1234.JPG").json()

    assert (body["width"], body["height"]) == (700, 1000)  # upright
    for file in stored_files(body["id"]).values():
        decoded = Image.open(io.BytesIO(file.data))
        assert not decoded.getexif() and "xmp" not in decoded.info, file.variant
        for trace in (b"Exif\x00\x00", b"Hornsgatan", b"GPSLatitude", b"iPhone"):
            assert trace not in file.data, (file.variant, trace)


def test_a_heic_from_a_phone_is_published_as_jpeg_avif_and_webp(client, token):
    data = samples.heic(samples.photo(800, 600), orientation=6)
    response = upload(client, token, data, name="IMG_0042.HEIC", content_type="image/heic")

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["content_type"], body["name"]) == ("image/jpeg", "img-0042.jpg")
    assert (body["width"], body["height"]) == (600, 800)
    files = stored_files(body["id"])
    assert {"avif-480", "webp-480", "jpeg-480", "jpeg-600"} <= set(files)
    assert all(b"iPhone" not in file.data for file in files.values())


@pytest.mark.usefixtures("nothing_left_behind")
def test_a_decompression_bomb_is_refused(client, token):
    problem = assert_problem(upload(client, token, samples.png_bomb(8000, 8000), "b.png"), 422)
    assert "megapixel" in problem["detail"]


@pytest.mark.usefixtures("nothing_left_behind")
def test_a_truncated_image_is_refused(client, token):
    data = samples.encode(samples.photo(600, 400), "JPEG")
    problem = assert_problem(upload(client, token, data[: len(data) // 2]), 422)
    assert problem["detail"] == "Bilden är skadad eller ofullständig."


@pytest.mark.usefixtures("nothing_left_behind")
def test_an_empty_file_is_refused(client, token):
    problem = assert_problem(upload(client, token, b""), 422)
    assert problem["detail"] == "Filen är tom."


@pytest.mark.usefixtures("nothing_left_behind")
def test_an_image_over_25_mb_is_refused_while_it_streams(client, token):
    data = samples.encode(samples.marked(), "JPEG") + b"\x00" * (26 * 1024 * 1024)
    problem = assert_problem(upload(client, token, data), 413)
    assert problem["detail"] == "Bilden är större än 25 MB."


def test_a_file_name_with_folders_and_control_characters_is_made_a_clean_slug(client, token):
    name = "../../../etc/\x00passwd\x1b\r\n..\\Årsrapport 2025.pdf"
    body = upload(client, token, samples.pdf(), name=name).json()

    assert body["name"] == "arsrapport-2025.pdf"
    assert body["path"] == f"/media/{body['path'].split('/')[2]}/arsrapport-2025.pdf"
    image = upload(client, token, samples.encode(samples.marked(), "PNG"), "../\x07x/../")
    assert image.json()["name"] == "bild.png"
    for file in stored_files(image.json()["id"]).values():
        assert file.name.startswith("bild") and "/" not in file.name


def test_the_same_content_is_stored_once(client, token):
    other = make_token(name="Skåne", region="region-skane")
    data = samples.encode(samples.photo(700, 500), "JPEG")

    first = upload(client, token, data, name="forsta.jpg")
    second = upload(client, other, data, name="andra.jpg")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()  # the first upload's name and id
    assert count(Media) == 1


@pytest.mark.usefixtures("nothing_left_behind")
@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"file": "x"}', "application/json", 415),
        (b"", None, 415),
        (b"--x\r\n", "multipart/form-data", 400),  # no boundary
        (b"garbage", "multipart/form-data; boundary=x", 400),
        (b"--x--\r\n", "multipart/form-data; boundary=x", 422),  # no part at all
        (
            b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n%PDF-1.7',
            "multipart/form-data; boundary=x",
            400,  # the body ends inside the file
        ),
        (
            b'--x\r\nContent-Disposition: form-data; name="title"\r\n\r\nhej\r\n--x--\r\n',
            "multipart/form-data; boundary=x",
            422,  # no file field
        ),
        (
            b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n'
            b'%PDF-1.7 a\r\n--x\r\nContent-Disposition: form-data; name="file"; '
            b'filename="b.pdf"\r\n\r\n%PDF-1.7 b\r\n--x--\r\n',
            "multipart/form-data; boundary=x",
            400,  # two files
        ),
    ],
)
def test_a_body_that_is_not_one_file_in_multipart_is_refused(
    client, token, content, content_type, status
):
    headers = auth(token)
    if content_type:
        headers["Content-Type"] = content_type
    assert_problem(client.post(MEDIA, content=content, headers=headers), status)


@pytest.mark.usefixtures("nothing_left_behind")
def test_uploads_need_a_token(client):
    response = client.post(MEDIA, files={"file": ("a.pdf", samples.pdf(), "application/pdf")})
    assert response.status_code == 401


def test_an_unknown_medium_is_404(client, token):
    response = client.get(f"{MEDIA}/{uuid.uuid4()}", headers=auth(token))
    assert response.status_code == 404
    assert response.json()["detail"] == "Filen finns inte."


def test_the_openapi_schema_documents_the_upload_and_its_errors(client):
    operation = client.get("/api/openapi.json").json()["paths"][MEDIA]["post"]
    body = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["properties"]["file"]["format"] == "binary"
    for status in ("201", "400", "401", "413", "415", "422", "429"):
        assert status in operation["responses"], status
    assert "application/problem+json" in operation["responses"]["413"]["content"]


def test_file_contents_are_stored_uncompressed_out_of_line_on_postgresql(postgres_url):
    from shared.migrate import upgrade

    upgrade(postgres_url)
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            storage = connection.scalar(
                text(
                    "SELECT attstorage FROM pg_attribute"
                    " WHERE attrelid = 'media_files'::regclass AND attname = 'data'"
                )
            )
    finally:
        engine.dispose()
    assert storage == "e"  # EXTERNAL: no second compression of compressed files
