"""An item's image and documents in Redaktionen, without JavaScript (multipart forms) on a
real database: uploaded, saved as a new version through the service's rules (alt text or
"Dekorativ bild", a title), refused in plain Swedish with nothing saved, removed again."""

from __future__ import annotations

import uuid

from services.ingest.editor import csrf as editor_csrf
from shared.db import session_scope
from shared.models import Media
from tests import media_samples as samples
from tests.editor.conftest import add_person, csrf, sign_in
from tests.editor.test_editor_items import ANNA, item_id, load, post

PHOTO = samples.encode(samples.photo(640, 480), "JPEG")
REPORT = samples.pdf("Verksamhetsrapport")


def upload(client, identifier, token, data: bytes, name: str, **fields):
    item = load(identifier)
    return client.post(
        f"/redaktion/nyheter/{identifier}/media",
        data={"csrftoken": token, "version": str(item.version), **fields},
        files={"file": (name, data, "application/octet-stream")},
    )


def test_an_image_and_a_document_are_added_and_removed(client, outbox):
    add_person("Anna Ström", ANNA)
    token = sign_in(client, outbox, ANNA)
    saved = post(client, "/redaktion/nyheter/ny", token, atgard="spara")
    identifier = item_id(saved)
    page = client.get(f"/redaktion/nyheter/{identifier}").text
    for label in ("Bild", "Alternativtext", "Dekorativ bild (ingen alternativtext behövs)"):
        assert f">{label}</label>" in page
    assert 'enctype="multipart/form-data"' in page

    answer = upload(client, identifier, token, PHOTO, "IMG_1.jpg", syfte="bild", alt="Deltagare")
    assert answer.status_code == 200 and "Ändringen av bild eller dokument är sparad" in answer.text
    item = load(identifier)
    assert item.image["alt"] == "Deltagare" and item.version == 2
    with session_scope() as session:
        assert session.get(Media, uuid.UUID(item.image["media_id"])).kind == "image"

    answer = upload(
        client, identifier, token, REPORT, "rapport.pdf", syfte="dokument", titel="Rapporten"
    )
    assert answer.status_code == 200, answer.text
    assert [a["title"] for a in load(identifier).attachments] == ["Rapporten"]

    answer = upload(client, identifier, token, PHOTO, "b.jpg", syfte="bild", dekorativ="ja")
    assert load(identifier).image == {"media_id": item.image["media_id"], "decorative": True}

    form = {"csrftoken": token, "version": str(load(identifier).version)}
    answer = client.post(
        f"/redaktion/nyheter/{identifier}/media/ta-bort", data={**form, "vad": "dokument-0"}
    )
    assert answer.status_code == 200 and load(identifier).attachments == []
    form["version"] = str(load(identifier).version)
    client.post(f"/redaktion/nyheter/{identifier}/media/ta-bort", data={**form, "vad": "bild"})
    assert load(identifier).image is None


def test_refusals_are_plain_swedish_and_save_nothing(client, outbox):
    add_person("Anna Ström", ANNA)
    token = sign_in(client, outbox, ANNA)
    identifier = item_id(post(client, "/redaktion/nyheter/ny", token, atgard="spara"))
    cases = [
        ({"syfte": "bild"}, PHOTO, "Skriv en alternativtext", 422),
        ({"syfte": "bild", "alt": "IMG_2041.jpg"}, PHOTO, "bara ett filnamn", 422),
        ({"syfte": "bild", "alt": "Rapportens framsida"}, REPORT, "inte en bild", 415),
        ({"syfte": "dokument", "titel": "Bild"}, b"<svg/>", "Filtypen tas inte emot", 415),
        ({"syfte": "dokument"}, REPORT, "dokumentets titel", 422),
    ]
    for fields, data, words, status in cases:
        answer = upload(client, identifier, token, data, "fil", **fields)
        assert answer.status_code == status, (fields, answer.text)
        assert words.lower() in answer.text.lower(), (fields, answer.text)
    assert load(identifier).version == 1 and load(identifier).image is None
    with session_scope() as session:
        assert session.query(Media).count() == 0  # refused before the file was processed

    # A stale form (someone saved since) and a forged token change nothing either.
    stale = client.post(
        f"/redaktion/nyheter/{identifier}/media",
        data={"csrftoken": token, "version": "7", "syfte": "bild", "alt": "Deltagare"},
        files={"file": ("a.jpg", PHOTO, "image/jpeg")},
    )
    assert stale.status_code == 409 and "har ändrats" in stale.text
    forged = upload(client, identifier, token + "x", PHOTO, "a.jpg", syfte="bild", alt="Deltagare")
    assert forged.status_code == 403
    assert load(identifier).version == 1


def test_the_token_check_is_the_libraries(client, outbox):
    add_person("Anna Ström", ANNA)
    token = sign_in(client, outbox, ANNA)
    cookie = client.cookies.get(editor_csrf.cookie_name())
    assert editor_csrf.token_matches(cookie=cookie, submitted=token)
    assert token == csrf(client.get("/redaktion/nyheter/ny").text)
    assert not editor_csrf.token_matches(cookie=cookie, submitted=None)
    assert not editor_csrf.token_matches(cookie="forged." + cookie, submitted="forged." + cookie)
    assert not editor_csrf.token_matches(cookie=cookie, submitted="å" + token)
