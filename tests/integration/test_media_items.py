"""Items that refer to uploaded media by id (`image: {media_id, alt}`, `attachments:
[{media_id, title}]`), through the API on SQLite and PostgreSQL: what is stored and
answered, and every refusal a Swedish 422 naming its field."""

from __future__ import annotations

import io
import uuid

import pytest

from services.ingest.authoring import post_file
from shared.db import session_scope
from shared.models import Item, OutboxEvent
from tests import media_items
from tests import media_samples as samples
from tests.integration.test_ingest_api import ITEM, auth, client, make_token  # noqa: F401
from tests.integration.test_ingest_authoring import server  # noqa: F401 (fixture)

ITEMS = "/api/v1/items"


@pytest.fixture
def token(db) -> str:
    return make_token()


@pytest.fixture
def photo(db) -> str:
    return str(media_items.image(900, 600))


@pytest.fixture
def report(db) -> str:
    return str(media_items.pdf())


def post(client, token, **fields):
    return client.post(ITEMS, json={**ITEM, **fields}, headers=auth(token))


def errors_of(response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {error["field"]: error["message"] for error in response.json()["errors"]}


def test_an_item_shows_an_uploaded_image_and_document(client, token, photo, report):
    response = post(
        client,
        token,
        image={"media_id": photo, "alt": "Deltagare vid workshopen i Malmö"},
        attachments=[
            {"media_id": report, "title": "Verksamhetsrapport 2020"},
            {"url": "https://exempel.se/bilaga.pdf", "title": "Bilaga"},
        ],
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["image"] == {"media_id": photo, "alt": "Deltagare vid workshopen i Malmö"}
    assert body["attachments"] == [
        {"title": "Verksamhetsrapport 2020", "media_id": report},
        {"title": "Bilaga", "url": "https://exempel.se/bilaga.pdf"},
    ]
    with session_scope() as session:
        item = session.get(Item, uuid.UUID(body["id"]))
        assert item.image["media_id"] == photo
    again = client.get(f"{ITEMS}/{body['id']}", headers=auth(token)).json()
    assert again["image"] == body["image"] and again["attachments"] == body["attachments"]


def test_a_decorative_image_has_no_alt_text(client, token, photo):
    response = post(client, token, image={"media_id": photo, "decorative": True})
    assert response.status_code == 201, response.text
    assert response.json()["image"] == {"media_id": photo, "decorative": True}


def test_put_changes_the_image(client, token, photo):
    created = post(client, token).json()
    etag = client.get(f"{ITEMS}/{created['id']}", headers=auth(token)).headers["ETag"]
    response = client.put(
        f"{ITEMS}/{created['id']}",
        json={**ITEM, "image": {"media_id": photo, "alt": "Karta över regionerna"}},
        headers={**auth(token), "If-Match": etag},
    )
    assert response.status_code == 200, response.text
    assert response.json()["image"]["media_id"] == photo
    etag = response.headers["ETag"]
    response = client.put(
        f"{ITEMS}/{created['id']}",
        json={**ITEM, "image": {"media_id": str(uuid.uuid4()), "alt": "Karta"}},
        headers={**auth(token), "If-Match": etag},
    )
    assert errors_of(response) == {"image.media_id": response.json()["errors"][0]["message"]}


BAD_IMAGES = [
    ({"alt": "Karta"}, "image", "ange url (en adress) eller media_id"),
    ({"alt": "Karta", "url": "https://exempel.se/a.jpg", "media_id": "PHOTO"}, "image", "inte"),
    ({"media_id": "PHOTO"}, "image.alt", "alternativtext"),
    ({"media_id": "PHOTO", "alt": "  "}, "image.alt", "alternativtext"),
    ({"media_id": "PHOTO", "alt": "IMG_1234.JPG"}, "image.alt", "filnamn"),
    ({"media_id": "PHOTO", "alt": "DSC01234"}, "image.alt", "filnamn"),
    ({"url": "https://exempel.se/a.jpg", "alt": "bild.png"}, "image.alt", "filnamn"),
    ({"media_id": "PHOTO", "alt": "Karta", "decorative": True}, "image.alt", "dekorativ"),
    ({"media_id": "inte-ett-id", "alt": "Karta"}, "image.media_id", "id"),
]


def test_bad_image_references_are_refused_naming_the_field(client, token, photo):
    for image, field, words in BAD_IMAGES:
        image = {key: photo if value == "PHOTO" else value for key, value in image.items()}
        errors = errors_of(post(client, token, image=image))
        assert field in errors, (image, errors)
        assert words in errors[field], (image, errors)


def test_unknown_media_and_a_document_as_image_are_refused(client, token, report):
    unknown = str(uuid.uuid4())
    errors = errors_of(
        post(
            client,
            token,
            image={"media_id": report, "alt": "Rapportens framsida"},
            attachments=[
                {"media_id": report, "title": "Rapporten"},
                {"media_id": unknown, "title": "Saknas"},
            ],
        )
    )
    assert errors == {
        "image.media_id": (
            "Filen är ett dokument, inte en bild; lägg den under attachments i stället."
        ),
        "attachments.1.media_id": (
            "Det finns ingen uppladdad fil med detta id; ladda upp filen först "
            "(POST /api/v1/media)."
        ),
    }
    with session_scope() as session:
        assert session.query(Item).count() == 0


def test_an_image_may_be_an_attachment(client, token, photo):
    response = post(
        client, token, attachments=[{"media_id": photo, "title": "Bilden i full storlek"}]
    )
    assert response.status_code == 201, response.text


def test_an_attachment_names_one_source(client, token, report):
    errors = errors_of(post(client, token, attachments=[{"title": "Rapporten"}]))
    assert "ange url (en adress) eller media_id" in errors["attachments.0"]


def test_the_upload_records_the_event_that_publishes_its_files(client, token):
    data = samples.pdf()
    response = client.post(
        "/api/v1/media",
        files={"file": ("rapport.pdf", data, "application/pdf")},
        headers=auth(token),
    )
    assert response.status_code == 201, response.text
    with session_scope() as session:
        events = session.query(OutboxEvent).filter_by(type="media.uploaded").all()
        assert [event.payload["media_id"] for event in events] == [response.json()["id"]]
    again = client.post(
        "/api/v1/media",
        files={"file": ("samma.pdf", data, "application/pdf")},
        headers=auth(token),
    )
    assert again.json()["id"] == response.json()["id"]
    with session_scope() as session:
        assert session.query(OutboxEvent).filter_by(type="media.uploaded").count() == 1


def test_the_openapi_schema_documents_both_forms(client):
    schema = client.get("/api/openapi.json").json()["components"]["schemas"]
    image = schema["Image"]
    assert {"url", "media_id", "alt", "decorative"} <= set(image["properties"])
    sources = [{"required": ["url"]}, {"required": ["media_id"]}]
    assert image["allOf"][0] == {"oneOf": sources}
    assert "null" not in str(image["properties"]["url"]) + str(image["properties"]["media_id"])
    assert "pattern" in image["properties"]["alt"]["not"]
    assert {"url", "media_id", "title"} <= set(schema["Attachment"]["properties"])
    assert schema["Attachment"]["oneOf"] == sources


MEDIA_FILE = """---
title: Verksamhetsrapport 2020
summary: Rapporten kan laddas ned i sin helhet här.
date: 2021-03-25 09:00
regions: nationella-kansliet
topics: [verksamhetsrapport]
image:
  media_id: {photo}
  alt: Deltagare vid nätverksträffen i Stockholm
attachments:
  - media_id: {report}
    title: Verksamhetsrapport 2020
---
Regionerna har **tillsammans** följt upp leverantörer.
"""


def test_newsroom_post_takes_media_ids_in_the_front_matter(server, photo, report, tmp_path):
    base = server
    token = make_token()
    path = tmp_path / "rapport.md"
    path.write_text(MEDIA_FILE.format(photo=photo, report=report), encoding="utf-8")
    out = io.StringIO()
    assert post_file(path=path, url=base, token=token, dry_run=True, out=out) == 0, out
    assert post_file(path=path, url=base, token=token, out=out) == 0, out.getvalue()
    with session_scope() as session:
        [item] = session.query(Item).all()
        assert item.image == {
            "media_id": photo,
            "alt": "Deltagare vid nätverksträffen i Stockholm",
        }
        assert item.attachments == [{"title": "Verksamhetsrapport 2020", "media_id": report}]

    # An alt text that is a file name: refused, the field named on its line.
    path.write_text(
        MEDIA_FILE.format(photo=photo, report=report).replace(
            "Deltagare vid nätverksträffen i Stockholm", "IMG_2041.jpg"
        ),
        encoding="utf-8",
    )
    out = io.StringIO()
    assert post_file(path=path, url=base, token=token, dry_run=True, out=out) == 1
    assert "  image.alt: Alternativtexten är bara ett filnamn" in out.getvalue()
