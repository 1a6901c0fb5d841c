"""Writing in Redaktionen over HTTP on a real database: the form's rules are the API's,
errors beside the fields with nothing lost, conflicts shown and never overwritten, history
and restore, review, withdrawal, and nobody else's items."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from sqlalchemy import select

from services.ingest import service
from shared.db import session_scope, utcnow
from shared.models import Contributor, Item, ItemReview, ItemRevision, OutboxEvent
from tests.editor.conftest import add_person, sign_in, wait_for_mail

ANNA, BO, EVA = "anna@regionskane.se", "bo@regionuppsala.se", "eva@kansliet.se"
ITEM = {
    "rubrik": "Workshop om hållbara textilier",
    "sammanfattning": "Region Skåne bjuder in till en workshop om textilier.",
    "text": "Vi går igenom **riskanalys** och uppföljning.\n\nVälkommen!",
    "regioner": "region-skane",
    "amnen": ["textilier"],
    "skicka": "ja",
    "version": "",
}


def post(client, url: str, token: str, **fields):
    return client.post(url, data={**ITEM, "csrftoken": token, **fields})


def item_id(response) -> uuid.UUID:
    return uuid.UUID(re.search(r"/redaktion/nyheter/([0-9a-f-]{36})", str(response.url)).group(1))


def load(identifier: uuid.UUID) -> Item:
    with session_scope() as session:
        item = session.get(Item, identifier)
        session.expunge(item)
        return item


def test_save_a_draft_then_publish_it_with_the_services_rules(client, outbox):
    add_person("Anna Ström", ANNA)
    token = sign_in(client, outbox, ANNA)
    form = client.get("/redaktion/nyheter/ny").text
    for label in ("Rubrik", "Sammanfattning", "Text", "Region Skåne", "Textilier"):
        assert f">{label}</label>" in form
    for button in (
        "Förhandsgranska",
        "Spara utkast",
        "Publicera",
        "Schemalägg",
        "Skicka för granskning",
    ):
        assert re.search(f'>{button}(<span class="effect"[^>]*>[^<]*</span>)?</button>', form)
    assert "Region Uppsala" not in form  # a contributor chooses among its own regions only

    draft = post(client, "/redaktion/nyheter/ny", token, atgard="spara")
    assert "Utkastet är sparat" in draft.text and "Status: <strong" in draft.text
    identifier = item_id(draft)
    item = load(identifier)
    assert item.status == "draft" and item.author_name == "Anna Ström" and item.notify
    with session_scope() as session:
        assert session.scalars(select(OutboxEvent)).all() == []

    published = post(
        client, f"/redaktion/nyheter/{identifier}", token, atgard="publicera", version="1"
    )
    assert "Nyheten är publicerad" in published.text
    item = load(identifier)
    assert item.status == "published" and item.version == 2
    assert item.published_at <= utcnow()
    with session_scope() as session:
        [event] = session.scalars(select(OutboxEvent)).all()
        assert event.type == "item.published"
        assert [r.version for r in session.scalars(select(ItemRevision))] == [1, 2]
    listing = client.get("/redaktion/").text
    assert "Workshop om hållbara textilier" in listing and ">Publicerad</span>" in listing


def test_refused_fields_are_explained_beside_each_and_nothing_typed_is_lost(client, outbox):
    add_person("Anna Ström", ANNA)
    token = sign_in(client, outbox, ANNA)
    answer = post(
        client,
        "/redaktion/nyheter/ny",
        token,
        atgard="publicera",
        rubrik="",
        regioner="",
        datum="2026-13-45",
        text="Min text **kvar**",
    )
    assert answer.status_code == 422
    html = answer.text
    assert "<h2>Det finns problem</h2>" in html
    for field, message in (
        ("rubrik", "Skriv rubriken."),
        ("regioner", "Välj minst en region."),
        ("datum", "Ange datumet som år-månad-dag"),
    ):
        assert f'<a href="#{field}">{message}' in html
        assert f'id="{field}-fel"' in html
    assert "Min text **kvar**</textarea>" in html
    assert 'value="Region Skåne bjuder' not in html  # the summary is a textarea
    assert "Region Skåne bjuder in till en workshop om textilier.</textarea>" in html
    with session_scope() as session:
        assert session.scalars(select(Item)).all() == []


def test_another_regions_item_and_region_are_refused(client, outbox):
    add_person("Anna Ström", ANNA)
    add_person("Bo Berg", BO, region="region-uppsala")
    with session_scope() as session:
        bo = session.scalar(select(Contributor).where(Contributor.name == "Bo Berg"))
        theirs = service.create_item(
            session=session,
            contributor=bo,
            data={
                "title": "Uppsalas nyhet",
                "summary": "S.",
                "body": "T.",
                "regions": ["region-uppsala"],
                "status": "draft",
            },
        )
        theirs_id = theirs.id
    token = sign_in(client, outbox, ANNA)
    for path in (f"/redaktion/nyheter/{theirs_id}", f"/redaktion/nyheter/{theirs_id}/historik"):
        page = client.get(path)
        assert page.status_code == 404 and "inte din" in page.text
    forged = post(client, f"/redaktion/nyheter/{theirs_id}", token, atgard="publicera", version="1")
    assert forged.status_code == 404 and load(theirs_id).status == "draft"
    # A forged checkbox for another region is refused by the service's own rule.
    foreign = post(
        client, "/redaktion/nyheter/ny", token, atgard="publicera", regioner="region-uppsala"
    )
    assert foreign.status_code == 403 and "Du får bara publicera för region-skane" in foreign.text


def test_the_second_save_of_the_same_version_is_shown_as_a_conflict(client, outbox, db):
    from fastapi.testclient import TestClient

    add_person("Anna Ström", ANNA)
    add_person("Eva Ek", EVA, region="nationella-kansliet", role="editor")
    anna_token = sign_in(client, outbox, ANNA)
    identifier = item_id(post(client, "/redaktion/nyheter/ny", anna_token, atgard="spara"))
    with TestClient(client.app, base_url="http://localhost:8000") as other:
        eva_token = sign_in(other, outbox, EVA)
        evas = post(
            other,
            f"/redaktion/nyheter/{identifier}",
            eva_token,
            atgard="spara",
            version="1",
            rubrik="Evas rubrik",
        )
        assert "Utkastet är sparat" in evas.text
    annas = post(
        client,
        f"/redaktion/nyheter/{identifier}",
        anna_token,
        atgard="spara",
        version="1",
        rubrik="Annas rubrik",
    )
    assert annas.status_code == 409
    assert "Någon annan har sparat nyheten medan du skrev" in annas.text
    assert "Borttaget: </span>Evas rubrik" in annas.text
    assert "Tillagt: </span>Annas rubrik" in annas.text
    assert 'value="Annas rubrik"' in annas.text  # nothing typed is lost
    assert load(identifier).title == "Evas rubrik"
    # Saving again from the conflict page is a deliberate choice to replace Eva's version.
    assert 'name="version" value="2"' in annas.text
    again = post(
        client,
        f"/redaktion/nyheter/{identifier}",
        anna_token,
        atgard="spara",
        version="2",
        rubrik="Annas rubrik",
    )
    assert again.status_code == 200 and load(identifier).title == "Annas rubrik"


def test_history_shows_who_changed_what_and_restores_a_version(client, outbox):
    add_person("Anna Ström", ANNA)
    token = sign_in(client, outbox, ANNA)
    identifier = item_id(post(client, "/redaktion/nyheter/ny", token, atgard="publicera"))
    post(
        client,
        f"/redaktion/nyheter/{identifier}",
        token,
        atgard="uppdatera",
        version="1",
        rubrik="Workshop om textilier – nytt datum",
    )
    history = client.get(f"/redaktion/nyheter/{identifier}/historik").text
    assert (
        history.count("<td>Anna Ström</td>") == 2
        and "Version 2" in history
        and "Version 1" in history
    )
    change = client.get(f"/redaktion/nyheter/{identifier}/historik/2").text
    assert "Borttaget: </span>Workshop om hållbara textilier" in change
    assert "Tillagt: </span>Workshop om textilier – nytt datum" in change
    first = client.get(f"/redaktion/nyheter/{identifier}/historik/1").text
    assert "Återställ version 1" in first
    stale = client.post(
        f"/redaktion/nyheter/{identifier}/historik/1/aterstall",
        data={"csrftoken": token, "nuvarande": "1"},
    )
    assert stale.status_code == 409 and load(identifier).version == 2
    restored = client.post(
        f"/redaktion/nyheter/{identifier}/historik/1/aterstall",
        data={"csrftoken": token, "nuvarande": "2"},
    )
    assert "Den valda versionen är återställd" in restored.text
    item = load(identifier)
    assert item.title == ITEM["rubrik"] and item.version == 3 and item.status == "published"
    with session_scope() as session:
        events = [e.payload for e in session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))]
    # The restore and the update are edits of a visible item: no mail unless asked for.
    assert [e["type"] for e in events] == ["item.published", "item.updated", "item.updated"]
    assert all("notify" not in e for e in events)


def test_an_update_mails_again_only_when_the_author_asks(client, outbox):
    add_person("Anna Ström", ANNA)
    token = sign_in(client, outbox, ANNA)
    identifier = item_id(
        post(client, "/redaktion/nyheter/ny", token, atgard="publicera", skicka="")
    )
    assert load(identifier).notify is False
    post(
        client,
        f"/redaktion/nyheter/{identifier}",
        token,
        atgard="uppdatera",
        version="1",
        skicka_igen="ja",
        rubrik="Rättad rubrik",
    )
    with session_scope() as session:
        updated = session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == "item.updated")
        ).one()
    assert updated.payload["notify"] is True


def test_a_scheduled_item_waits_and_schedule_needs_a_future_time(client, outbox):
    add_person("Anna Ström", ANNA)
    token = sign_in(client, outbox, ANNA)
    past = post(
        client, "/redaktion/nyheter/ny", token, atgard="schemalagg", datum="2020-01-01", tid="09:00"
    )
    assert past.status_code == 422 and "i framtiden" in past.text
    later = (utcnow() + timedelta(days=3)).astimezone()
    from zoneinfo import ZoneInfo

    local = later.astimezone(ZoneInfo("Europe/Stockholm"))
    answer = post(
        client,
        "/redaktion/nyheter/ny",
        token,
        atgard="schemalagg",
        datum=f"{local:%Y-%m-%d}",
        tid=f"{local:%H:%M}",
    )
    assert "Nyheten är schemalagd" in answer.text and ">Schemalagd</strong>" in answer.text
    item = load(item_id(answer))
    assert item.status == "published" and item.published_at > utcnow() + timedelta(days=2)
    with session_scope() as session:
        [event] = session.scalars(select(OutboxEvent)).all()
        assert event.deliver_after == item.published_at


def test_review_an_editor_returns_with_a_comment_then_publishes(client, outbox, db):
    from fastapi.testclient import TestClient

    add_person("Anna Ström", ANNA, review=True)
    add_person("Eva Ek", EVA, region="nationella-kansliet", role="editor")
    token = sign_in(client, outbox, ANNA)
    form = client.get("/redaktion/nyheter/ny").text
    assert ">Skicka för granskning<" in form and ">Publicera<" not in form
    refused = post(client, "/redaktion/nyheter/ny", token, atgard="publicera")
    assert refused.status_code == 403 and "granskas innan publicering" in refused.text
    sent = post(client, "/redaktion/nyheter/ny", token, atgard="granskning")
    assert "skickad för granskning" in sent.text and ">För granskning</strong>" in sent.text
    identifier = item_id(sent)

    with TestClient(client.app, base_url="http://localhost:8000") as eva:
        eva_token = sign_in(eva, outbox, EVA)
        queue = eva.get("/redaktion/granskning/").text
        assert ITEM["rubrik"] in queue and "Anna Ström" in queue
        empty = eva.post(
            f"/redaktion/nyheter/{identifier}/skicka-tillbaka",
            data={"csrftoken": eva_token, "kommentar": "  "},
        )
        assert empty.status_code == 422 and '<a href="#kommentar">' in empty.text
        back = eva.post(
            f"/redaktion/nyheter/{identifier}/skicka-tillbaka",
            data={"csrftoken": eva_token, "kommentar": "Lägg till datum och plats."},
        )
        assert "skickad tillbaka" in back.text
        mail = wait_for_mail(outbox, ANNA, count=2)
        text = mail.get_body(preferencelist=("plain",)).get_content()
        assert "Lägg till datum och plats." in text and "Eva Ek" in text
        assert f"/redaktion/nyheter/{identifier}" in text
        assert ITEM["rubrik"] not in eva.get("/redaktion/granskning/").text

        page = client.get(f"/redaktion/nyheter/{identifier}").text
        assert "Lägg till datum och plats." in page and ">Utkast</strong>" in page
        post(client, f"/redaktion/nyheter/{identifier}", token, atgard="granskning", version="1")
        published = post(
            eva, f"/redaktion/nyheter/{identifier}", eva_token, atgard="publicera", version="2"
        )
        assert "Nyheten är publicerad" in published.text
    assert load(identifier).status == "published"
    with session_scope() as session:
        outcomes = [r.outcome for r in session.scalars(select(ItemReview).order_by(ItemReview.id))]
    assert outcomes == ["returned", "published"]


def test_withdraw_asks_first_and_then_takes_the_item_down(client, outbox):
    add_person("Eva Ek", EVA, region="nationella-kansliet", role="editor")
    token = sign_in(client, outbox, EVA)
    identifier = item_id(
        post(
            client,
            "/redaktion/nyheter/ny",
            token,
            atgard="publicera",
            regioner="nationella-kansliet",
        )
    )
    confirm = client.get(f"/redaktion/nyheter/{identifier}/aterkalla").text
    assert "Vill du återkalla nyheten?" in confirm and "går inte att ta tillbaka" in confirm
    assert load(identifier).status == "published"
    done = client.post(f"/redaktion/nyheter/{identifier}/aterkalla", data={"csrftoken": token})
    assert "Nyheten är återkallad" in done.text and ">Återkallad</strong>" in done.text
    assert load(identifier).status == "withdrawn"
    with session_scope() as session:
        types = [e.type for e in session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))]
    assert types == ["item.published", "item.withdrawn"]


def test_autosave_answers_the_script_and_never_touches_published_items(client, outbox):
    add_person("Anna Ström", ANNA)
    token = sign_in(client, outbox, ANNA)
    headers = {"Accept": "application/json"}
    incomplete = client.post(
        "/redaktion/nyheter/ny/autospara",
        headers=headers,
        data={"csrftoken": token, "rubrik": "Bara rubrik"},
    )
    assert incomplete.status_code == 422 and incomplete.json()["saved"] is False
    first = client.post(
        "/redaktion/nyheter/ny/autospara", headers=headers, data={**ITEM, "csrftoken": token}
    )
    answer = first.json()
    assert answer["saved"] and answer["version"] == 1 and "sparades automatiskt" in answer["detail"]
    second = client.post(
        f"{answer['url']}/autospara",
        headers=headers,
        data={**ITEM, "csrftoken": token, "version": "1", "rubrik": "Ny"},
    )
    assert second.json()["version"] == 2 and load(uuid.UUID(answer["id"])).status == "draft"
    stale = client.post(
        f"{answer['url']}/autospara",
        headers=headers,
        data={**ITEM, "csrftoken": token, "version": "1"},
    )
    assert stale.status_code == 409 and stale.json()["conflict"]
    post(client, answer["url"], token, atgard="publicera", version="2")
    untouched = client.post(
        f"{answer['url']}/autospara",
        headers=headers,
        data={**ITEM, "csrftoken": token, "version": "3", "rubrik": "X"},
    )
    assert untouched.json()["saved"] is False
    assert load(uuid.UUID(answer["id"])).title == ITEM["rubrik"]


def test_checks_before_publishing_are_shown_in_swedish(client, outbox):
    add_person("Anna Ström", ANNA)
    token = sign_in(client, outbox, ANNA)
    body = "Region Skåne bjuder in till en workshop om textilier.\n\nSe [planen](www.plan.se)."
    page = post(
        client,
        "/redaktion/nyheter/ny",
        token,
        atgard="forhandsgranska",
        rubrik="Å" * 120,
        text=body,
    ).text
    assert "Rubriken har 120 tecken" in page
    assert "Sammanfattningen upprepar textens första stycke" in page
    assert "Länken ”www.plan.se” börjar inte med http:// eller https://" in page
    assert "Läsbarhetsindex (LIX)" in page
    assert "Förhandsgranskning" in page and "Inget är sparat än." in page
    with session_scope() as session:
        assert session.scalars(select(Item)).all() == []
