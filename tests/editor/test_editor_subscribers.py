"""Redaktionen's subscriber and newsletter pages, answered by notify alone (its own app, the
session and CSRF token of shared/redaktion/) and by the embedded app: who may see them, the
export and the forgetting, the import's dry run and confirmation, CSRF on every POST."""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.notify import ledger, privacy
from services.notify.keys import ItemKey
from shared.db import session_scope, utcnow
from shared.models import Contributor, Subscriber
from shared.redaktion import sessions
from tests.editor.conftest import add_person, csrf

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

CSV = (
    "adress;regioner;ämnen;frekvens;samtyckets källa;samtyckesdatum\n"
    "ny@example.se;Region Skåne;;veckovis;formulär;2019-03-01\n"
    "finns@example.se;;;;formulär;2019-03-01\n"
    "trasig;;;;formulär;2019-03-01\n"
)


def signed_in(client: TestClient, role: str) -> TestClient:
    name = f"{role.capitalize()} {uuid.uuid4().hex[:6]}"
    person = add_person(name, f"{uuid.uuid4().hex[:8]}@kansliet.se", role=role)
    with session_scope() as session:
        token = sessions.start(
            session=session, contributor=session.get(Contributor, person), now=utcnow()
        )
    client.cookies.set(sessions.cookie_name(), token)
    return client


@pytest.fixture
def notify(db) -> Iterator[TestClient]:
    from services.notify.api import create_app

    with TestClient(create_app(), base_url="http://localhost:8000") as client:
        yield client


def add_subscriber(email: str, status: str = "confirmed") -> int:
    with session_scope() as session:
        subscriber = Subscriber(email=email, status=status, consent_source="form")
        session.add(subscriber)
        session.flush()
        return subscriber.id


def test_who_may_see_which_page(notify):
    answer = notify.get("/redaktion/prenumeranter/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/redaktion/logga-in?slut=1"

    signed_in(notify, "contributor")
    for path in ("/redaktion/prenumeranter/", "/redaktion/nyhetsbrev/"):
        answer = notify.get(path)
        assert answer.status_code == 403 and "Det gick inte" in answer.text
    signed_in(notify, "editor")
    assert notify.get("/redaktion/nyhetsbrev/").status_code == 200
    answer = notify.get("/redaktion/prenumeranter/")
    assert answer.status_code == 403 and "Bara administratörer" in answer.text
    signed_in(notify, "admin")
    answer = notify.get("/redaktion/prenumeranter/")
    assert answer.status_code == 200
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    assert '<link rel="stylesheet" href="/redaktion/static/editor.css?v=' in answer.text


def test_find_export_and_forget_from_the_page(notify):
    add_subscriber("anna@example.se")
    add_subscriber("bo@example.se", status="pending")
    signed_in(notify, "admin")
    page = notify.get("/redaktion/prenumeranter/")
    assert re.search(r"Aktiv</th><td class=\"number\">1<", page.text)
    assert re.search(r"Väntar på bekräftelse</th><td class=\"number\">1<", page.text)
    token = csrf(page.text)

    # Every POST needs the form's token.
    refused = notify.post("/redaktion/prenumeranter/sok", data={"adress": "anna@example.se"})
    assert refused.status_code == 403 and "Formuläret kunde inte skickas" in refused.text

    found = notify.post(
        "/redaktion/prenumeranter/sok", data={"adress": " Anna@Example.se", "csrftoken": token}
    )
    assert found.status_code == 200 and "Exportera (JSON)" in found.text

    exported = notify.post(
        "/redaktion/prenumeranter/exportera",
        data={"adress": "anna@example.se", "csrftoken": token},
    )
    assert exported.status_code == 200
    assert exported.headers["content-disposition"] == 'attachment; filename="prenumerant.json"'
    with session_scope() as session:
        assert exported.json() == json.loads(
            json.dumps(
                privacy.export_subscriber(session=session, email="anna@example.se"), default=str
            )
        )

    asked = notify.post(
        "/redaktion/prenumeranter/glom", data={"adress": "anna@example.se", "csrftoken": token}
    )
    assert "Ja, glöm adressen" in asked.text
    with session_scope() as session:  # asking changed nothing
        assert session.scalar(select(Subscriber).where(Subscriber.email == "anna@example.se"))
    done = notify.post(
        "/redaktion/prenumeranter/glom",
        data={"adress": "anna@example.se", "bekraftat": "ja", "csrftoken": token},
    )
    assert done.status_code == 200 and "anna@example.se är borttagen" in done.text
    with session_scope() as session:
        assert (
            session.scalar(select(Subscriber).where(Subscriber.email == "anna@example.se")) is None
        )
        assert privacy.export_subscriber(session=session, email="anna@example.se")["suppression"]
    missing = notify.post(
        "/redaktion/prenumeranter/exportera",
        data={"adress": "ingen@example.se", "csrftoken": token},
    )
    assert missing.status_code == 404 and "Inget finns sparat" in missing.text


def test_import_upload_dry_run_then_confirm(notify):
    add_subscriber("finns@example.se", status="unsubscribed")
    signed_in(notify, "admin")
    token = csrf(notify.get("/redaktion/prenumeranter/import").text)
    files = {"fil": ("lista.csv", CSV.encode(), "text/csv")}

    refused = notify.post("/redaktion/prenumeranter/import", files=files)
    assert refused.status_code == 403  # no token in the form
    forged = notify.post(
        "/redaktion/prenumeranter/import", data={"csrftoken": "x" + token}, files=files
    )
    assert forged.status_code == 403

    dry = notify.post("/redaktion/prenumeranter/import", data={"csrftoken": token}, files=files)
    assert dry.status_code == 200, dry.text
    assert "Granska importen" in dry.text and "Inget är sparat än" in dry.text
    assert "<td>4</td>" in dry.text and "”trasig” är ingen giltig e-postadress." in dry.text
    with session_scope() as session:
        assert session.scalar(select(Subscriber).where(Subscriber.email == "ny@example.se")) is None
    text = re.search(r'name="innehall" value="([^"]*)"', dry.text).group(1)

    done = notify.post(
        "/redaktion/prenumeranter/import/bekrafta",
        data={"innehall": html.unescape(text), "csrftoken": token},
    )
    assert done.status_code == 200 and "Importen är klar" in done.text
    with session_scope() as session:
        new = session.scalar(select(Subscriber).where(Subscriber.email == "ny@example.se"))
        old = session.scalar(select(Subscriber).where(Subscriber.email == "finns@example.se"))
    assert new.status == "confirmed" and new.consent_source == "formulär"
    assert old.status == "unsubscribed"

    bad = notify.post(
        "/redaktion/prenumeranter/import",
        data={"csrftoken": token},
        files={"fil": ("lista.csv", "ö;".encode("latin-1"), "text/csv")},
    )
    assert bad.status_code == 422 and "inte kodad som UTF-8" in bad.text
    huge = notify.post(
        "/redaktion/prenumeranter/import",
        data={"csrftoken": token},
        files={"fil": ("lista.csv", b"x" * (7 * 1024 * 1024), "text/csv")},
    )
    assert huge.status_code == 413 and "Filen är för stor" in huge.text


def test_a_file_over_a_megabyte_comes_back_whole(notify):
    signed_in(notify, "admin")
    token = csrf(notify.get("/redaktion/prenumeranter/import").text)
    regions = "|".join(["Region Skåne", "Region Halland", "Region Gotland"] * 26)
    rows = [f"p{n}@example.se;{regions};;veckovis;formulär;2019-03-01" for n in range(1000)]
    data = ("\n".join(rows) + "\n").encode()
    assert len(data) > 1024 * 1024
    files = {"fil": ("lista.csv", data, "text/csv")}
    dry = notify.post("/redaktion/prenumeranter/import", data={"csrftoken": token}, files=files)
    assert "1\u00a0000 nya adresser kan importeras" in dry.text
    text = html.unescape(re.search(r'name="innehall" value="([^"]*)"', dry.text).group(1))
    done = notify.post(
        "/redaktion/prenumeranter/import/bekrafta", data={"innehall": text, "csrftoken": token}
    )
    assert done.status_code == 200 and "1\u00a0000 prenumeranter importerades" in done.text


def test_newsletter_pages_waiting_addresses_for_admins_only(notify):
    ids = [add_subscriber(f"s{n}@example.se") for n in range(3)]
    key = str(ItemKey(uuid.uuid4()))
    with session_scope() as session:
        ledger.claim(session=session, newsletter=key, subscriber_ids=ids, now=utcnow())
    signed_in(notify, "editor")
    listing = notify.get("/redaktion/nyhetsbrev/")
    assert "Nyhet som inte längre finns" in listing.text and "Skickas" in listing.text
    detail = notify.get(f"/redaktion/nyhetsbrev/{key}")
    assert "3 mottagare har inte fått sitt mejl än." in detail.text
    assert "s0@example.se" not in detail.text
    signed_in(notify, "admin")
    assert "s0@example.se" in notify.get(f"/redaktion/nyhetsbrev/{key}").text
    assert notify.get("/redaktion/nyhetsbrev/item:nej").status_code == 404
    metrics = notify.get("/metrics").text  # notify's own /metrics
    assert (
        f'newsroom_newsletter_recipients{{kind="item",newsletter="{key}",status="claimed"}} 3.0'
        in metrics
    )


def test_the_embedded_app_serves_them_too(db):
    from newsroom.embedded import create_app

    with TestClient(create_app(with_workers=False), base_url="http://localhost:8000") as client:
        signed_in(client, "admin")
        answer = client.get("/redaktion/prenumeranter/")
        assert answer.status_code == 200 and "<h1>Prenumeranter</h1>" in answer.text
        assert client.get("/redaktion/nyhetsbrev/").status_code == 200
        assert client.get("/redaktion/static/editor.css").status_code == 200
