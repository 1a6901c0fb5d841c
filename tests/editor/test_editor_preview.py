"""Förhandsgranska, the subscribers an item reaches and the test mail, over HTTP on the
one-process app: render's and notify's own templates answer by task, nothing is saved or
public, and the test mail reaches the author only."""

from __future__ import annotations

import re

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from services.ingest.editor import previews
from shared import media
from shared import previews as questions
from shared.config import get_settings
from shared.db import session_scope
from shared.models import Item, OutboxEvent
from shared.ratelimit import RateLimiter
from tests.editor.conftest import add_person, mails, sign_in, wait_for_mail
from tests.editor.test_editor_items import item_id, load
from tests.editor.test_editor_media import PHOTO, REPORT, upload
from tests.integration.test_notify_support import add_subscribers

# SQLite only: PostgreSQL answers the same questions in tests/integration/test_editor_questions.py.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
ANNA, BO = "anna@regionskane.se", "bo@regionskane.se"
ITEM = {
    "rubrik": "Workshop om hållbara textilier",
    "sammanfattning": "Region Skåne bjuder in till en workshop om textilier.",
    "text": "Vi går igenom **riskanalys** och uppföljning.\n\n## Program\n\nVälkommen!",
    "regioner": "region-skane",
    "amnen": ["textilier"],
    "skicka": "ja",
    "version": "",
}


def frames(html: str) -> dict[str, str]:
    found = re.findall(r'<iframe class="preview-frame[^"]*" src="([^"]+)" title="([^"]+)"', html)
    return {title.split(": ")[1]: src for src, title in found}


def nothing_saved() -> None:
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 0
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 0


def test_preview_shows_the_real_item_page_and_newsletter_and_saves_nothing(client, outbox):
    add_person("Anna Ström", ANNA)
    add_person("Bo Berg", BO)
    token = sign_in(client, outbox, ANNA)
    answer = client.post(
        "/redaktion/nyheter/ny", data={**ITEM, "csrftoken": token, "atgard": "forhandsgranska"}
    )
    assert answer.status_code == 200, answer.text
    assert "frame-src 'self'" in answer.headers["content-security-policy"]
    shown = frames(answer.text)
    assert set(shown) == {"sidan på webbplatsen", "mejlet till prenumeranterna"}
    assert '<strong class="preview-subject">Workshop om hållbara textilier</strong>' in answer.text
    # The text part, as notify's item.txt makes it, with the item's future address.
    text = re.search(r'<pre class="preview-text">(.*?)</pre>', answer.text, re.S).group(1)
    assert "Vi går igenom **riskanalys** och uppföljning." in text
    assert re.search(r"Läs på webben: http://localhost:8000/aktuellt/\d{4}/\d\d/workshop-om-", text)

    page = client.get(shown["sidan på webbplatsen"])
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "sandbox" in csp and "script-src" not in csp and "default-src 'none'" in csp
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    # render's item.html in the site's layout: header, menu, article, byline and tag labels.
    for marker in (
        '<a class="skip" href="#innehall">Hoppa till innehållet</a>',
        '<nav aria-label="Huvudmeny">',
        '<article class="item">',
        "<h1>Workshop om hållbara textilier</h1>",
        "<strong>riskanalys</strong>",
        'av <span class="author">Anna Ström</span>',
        '<ul class="labels">',
        'href="/region/region-skane/"',
        '<link rel="stylesheet" href="/static/style.css">',
    ):
        assert marker in page.text, marker
    mail = client.get(shown["mejlet till prenumeranterna"])
    assert mail.status_code == 200 and "sandbox" in mail.headers["content-security-policy"]
    # notify's mail/item.html with its CSS inlined, as subscribers get it.
    for marker in ('class="masthead"', "Läs på webben", "<strong>riskanalys</strong>", "style="):
        assert marker in mail.text, marker

    nothing_saved()
    site = get_settings().site_dir
    assert not list(site.glob("aktuellt/*/*/workshop-om-*"))
    assert mails(outbox, "marta@example.se") == []

    # Nobody else opens a preview, nor a forged one.
    client.cookies.clear()
    sign_in(client, outbox, BO)
    assert client.get(shown["sidan på webbplatsen"]).status_code == 404
    assert client.get(shown["mejlet till prenumeranterna"] + "x").status_code == 404


def test_preview_unavailable_says_so_in_swedish_and_keeps_the_form(client, outbox, monkeypatch):
    add_person("Anna Ström", ANNA)
    token = sign_in(client, outbox, ANNA)
    # Queues no worker reads: the services do not answer within the (short) wait.
    monkeypatch.setattr(questions, "PREVIEW_ITEM", ("render.preview_item", "ingen"))
    monkeypatch.setattr(questions, "PREVIEW_NEWSLETTER", ("notify.preview_newsletter", "ingen"))
    monkeypatch.setenv("NEWSROOM_EDITOR_TASK_TIMEOUT", "0.5")
    get_settings.cache_clear()
    answer = client.post(
        "/redaktion/nyheter/ny", data={**ITEM, "csrftoken": token, "atgard": "forhandsgranska"}
    )
    assert answer.status_code == 200
    assert "Förhandsgranskningen kunde inte visas just nu: webbplatsens sidmallar" in answer.text
    assert "nyhetsbrevets e-posttjänst svarar inte" in answer.text
    assert "<iframe" not in answer.text and ITEM["sammanfattning"] in answer.text
    nothing_saved()


def test_counts_of_subscribers_follow_regions_and_topics(client, outbox):
    add_person("Anna Ström", ANNA)
    token = sign_in(client, outbox, ANNA)
    add_subscribers("alla@example.se", "alla2@example.se")
    add_subscribers("skane@example.se", regions=["region-skane"])
    add_subscribers("skane-handskar@example.se", regions=["region-skane"], topics=["handskar"])
    add_subscribers("gotland@example.se", regions=["region-gotland"])
    add_subscribers("vecka@example.se", frequency="weekly", regions=["region-skane"])
    with session_scope() as session:
        from shared.models import Subscriber

        add_subscribers("vantar@example.se")
        session.execute(
            Subscriber.__table__.update()
            .where(Subscriber.email == "vantar@example.se")
            .values(status="pending")
        )

    def count(query: str) -> dict:
        answer = client.get(f"/redaktion/mottagare?{query}")
        assert answer.status_code == 200
        return answer.json()

    assert count("regioner=region-skane") == {
        "immediate": 3,  # everything, twice, and Skåne; not Skåne's handskar only (no topic)
        "weekly": 1,
        "phrase": "3 prenumeranter",
    }
    assert count("regioner=region-skane&amnen=handskar")["immediate"] == 4
    assert count("regioner=region-gotland&amnen=textilier")["immediate"] == 3
    assert count("regioner=region-kalmar-lan&amnen=okant")["phrase"] == "2 prenumeranter"

    # The form says it on each button; unticked, nobody is mailed.
    page = client.post(
        "/redaktion/nyheter/ny",
        data={**ITEM, "amnen": ["handskar"], "csrftoken": token, "atgard": "forhandsgranska"},
    ).text
    assert 'Publicera<span class="effect"' in page
    assert "> – skickas till 4 prenumeranter</span></button>" in page
    assert "Just nu når nyheten 4 prenumeranter som får mejl direkt och 1 som får" in page
    quiet = client.post(
        "/redaktion/nyheter/ny",
        data={**ITEM, "skicka": "", "csrftoken": token, "atgard": "forhandsgranska"},
    ).text
    assert re.search(r"Publicera<span[^>]*> – inget mejl</span>", quiet)


def test_a_test_mail_reaches_the_author_only_and_is_rate_limited(client, outbox, monkeypatch):
    add_person("Anna Ström", ANNA)
    token = sign_in(client, outbox, ANNA)
    add_subscribers("marta@example.se")
    monkeypatch.setattr(previews, "test_limiter", RateLimiter(rate=1 / 120, burst=1))
    labels = {"kind": "test_newsletter", "result": "sent"}
    before = REGISTRY.get_sample_value("newsroom_notify_mails_total", labels) or 0

    answer = client.post(
        "/redaktion/nyheter/ny", data={**ITEM, "csrftoken": token, "atgard": "provmejl"}
    )
    assert answer.status_code == 200, answer.text
    assert f"Provmejlet är skickat till {ANNA}" in answer.text
    assert ITEM["sammanfattning"] in answer.text  # the form is kept as typed
    message = wait_for_mail(outbox, ANNA, count=2)  # after the sign-in code
    assert message["Subject"] == "Provmejl: Workshop om hållbara textilier"
    assert str(message["To"]) == ANNA
    assert "riskanalys" in message.get_body(("plain",)).get_content()
    assert 'class="masthead"' in message.get_body(("html",)).get_content()
    assert len(list(outbox.glob("*.eml"))) == 2 and mails(outbox, "marta@example.se") == []
    after = REGISTRY.get_sample_value("newsroom_notify_mails_total", labels)
    assert after == before + 1
    nothing_saved()

    again = client.post(
        "/redaktion/nyheter/ny", data={**ITEM, "csrftoken": token, "atgard": "provmejl"}
    )
    assert again.status_code == 429
    assert "Du har skickat flera provmejl på kort tid. Vänta 2 minuter" in again.text
    assert len(list(outbox.glob("*.eml"))) == 2


def test_the_form_mails_an_update_again_only_when_asked(client, outbox):
    from shared.models import Delivery

    add_person("Anna Ström", ANNA)
    token = sign_in(client, outbox, ANNA)
    add_subscribers("marta@example.se", regions=["region-skane"])
    published = client.post(
        "/redaktion/nyheter/ny", data={**ITEM, "csrftoken": token, "atgard": "publicera"}
    )
    identifier = re.search(r"/redaktion/nyheter/([0-9a-f-]{36})", str(published.url)).group(1)
    first = wait_for_mail(outbox, "marta@example.se")
    assert first["Subject"] == ITEM["rubrik"]
    url = f"/redaktion/nyheter/{identifier}"
    fixed = {**ITEM, "csrftoken": token, "atgard": "uppdatera", "rubrik": "Rättad rubrik"}
    page = client.post(url, data={**fixed, "version": "1"})
    assert "Ändringen är sparad" in page.text
    assert re.search(r"Uppdatera<span[^>]*> – inget nytt mejl</span>", page.text)
    client.post(url, data={**fixed, "version": "2", "skicka_igen": "ja", "rubrik": "Igen"})
    again = wait_for_mail(outbox, "marta@example.se", count=2)
    assert again["Subject"] == "Igen"
    with session_scope() as session:
        keys = sorted(session.scalars(select(Delivery.newsletter)).all())
    # The first publication and the change asked for; the change not asked for is no mail.
    assert keys == [f"item:{identifier}", f"item:{identifier}:v3"]
    assert len(mails(outbox, "marta@example.se")) == 2


def test_preview_shows_the_saved_image_and_documents_as_readers_will(client, outbox):
    # What was uploaded to a saved item is on its preview, page and mail, also where the
    # worker answering has never seen these media (a new process, another machine).
    add_person("Anna Ström", ANNA)
    token = sign_in(client, outbox, ANNA)
    saved = client.post(
        "/redaktion/nyheter/ny", data={**ITEM, "csrftoken": token, "atgard": "spara"}
    )
    identifier = item_id(saved)
    upload(client, identifier, token, PHOTO, "IMG_1.jpg", syfte="bild", alt="Deltagare i salen")
    upload(client, identifier, token, REPORT, "r.pdf", syfte="dokument", titel="Programmet")
    media.forget()

    answer = client.post(
        f"/redaktion/nyheter/{identifier}",
        data={
            **ITEM,
            "version": str(load(identifier).version),
            "csrftoken": token,
            "atgard": "forhandsgranska",
        },
    )
    assert answer.status_code == 200, answer.text
    shown = frames(answer.text)
    page = client.get(shown["sidan på webbplatsen"]).text
    assert re.search(r'<img src="/media/[^"]+\.jpg"[^>]* alt="Deltagare i salen"', page)
    assert re.search(r'<a href="/media/[^"]+\.pdf" type="application/pdf">Programmet</a>', page)
    mail = client.get(shown["mejlet till prenumeranterna"]).text
    assert 'alt="Deltagare i salen"' in mail and "Programmet" in mail
