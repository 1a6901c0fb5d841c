"""Sidor over HTTP on a real database: editors only, addresses the site uses refused in
Swedish, preview without saving, a page saved through the outbox onto the site and into every
footer, a stale form refused, required pages kept."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import func, select

from shared.db import session_scope
from shared.models import AuditEntry, OutboxEvent, Page
from shared.sitepages import REQUIRED_SLUGS
from tests.editor.conftest import add_person, csrf, sign_in

EVA = "eva@kansliet.se"


def wait_for_file(path: Path, text: str, *, present: bool = True, timeout: float = 60) -> None:
    """Wait (bounded) until `path` holds `text` (or, `present` False, until it does not)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = path.is_file() and text in path.read_text(encoding="utf-8")
        if found is present:
            return
        time.sleep(0.1)
    raise TimeoutError(f"{path} {'never' if present else 'still'} holds {text!r}")


def counts() -> tuple[int, int]:
    with session_scope() as session:
        pages = session.scalar(select(func.count()).select_from(Page))
        events = session.scalar(select(func.count()).select_from(OutboxEvent))
        return pages, events


def test_contributors_may_not_edit_pages(client, outbox):
    add_person("Anna Ström", "anna@regionskane.se")
    token = sign_in(client, outbox, "anna@regionskane.se")
    for path in ("/redaktion/sidor/", "/redaktion/sidor/ny", "/redaktion/sidor/kontakt"):
        page = client.get(path)
        assert page.status_code == 403 and "Bara redaktörer kan se den här sidan." in page.text
    form = {"rubrik": "Kontakt", "text": "Ny text", "andrad": "", "csrftoken": token}
    assert client.post("/redaktion/sidor/kontakt", data=form).status_code == 403


def test_bad_addresses_are_refused_and_nothing_is_saved(client, outbox):
    add_person("Eva Redaktör", EVA, role="editor", region="nationella-kansliet")
    token = sign_in(client, outbox, EVA)
    listing = client.get("/redaktion/sidor/")
    assert listing.status_code == 200
    for title in ("Om oss", "Kontakt", "Tillgänglighetsredogörelse", "Personuppgifter", "Vision"):
        assert f">{title}</a>" in listing.text
    before = counts()
    form = {"rubrik": "Arkivet", "text": "Om arkivet.", "atgard": "spara", "csrftoken": token}
    refusals = {
        "arkiv": "Adressen /arkiv/ används redan av webbplatsen",
        "redaktion": "Adressen /redaktion/ används redan av webbplatsen",
        "sok": "Adressen /sok/ används redan av webbplatsen",
        "redaktionen": "Adressen /redaktionen/ används redan av webbplatsen",
        "Om oss!": "Adressen får bara innehålla små bokstäver",
        "": "Skriv en adress för sidan",
        "kontakt": "Det finns redan en sida med adressen /kontakt/",
    }
    for slug, message in refusals.items():
        page = client.post("/redaktion/sidor/ny", data={**form, "adress": slug})
        assert page.status_code == 422 and message in page.text, slug
        assert 'href="#adress"' in page.text and 'value="Arkivet"' in page.text
    assert counts() == before


def test_a_page_is_previewed_saved_and_shown_in_every_footer(client, outbox, site_dir):
    add_person("Eva Redaktör", EVA, role="editor", region="nationella-kansliet")
    token = sign_in(client, outbox, EVA)
    form = {
        "adress": "styrelse",
        "rubrik": "Styrelsen",
        "text": "Vi **leder**.",
        "csrftoken": token,
    }
    preview = client.post("/redaktion/sidor/ny", data={**form, "atgard": "forhandsgranska"})
    assert preview.status_code == 200 and "<strong>leder</strong>" in preview.text
    assert 'value="styrelse"' in preview.text
    with session_scope() as session:
        assert session.get(Page, "styrelse") is None

    saved = client.post("/redaktion/sidor/ny", data={**form, "atgard": "spara"})
    assert saved.status_code == 200 and "Sidan är skapad." in saved.text
    with session_scope() as session:
        [event] = session.scalars(select(OutboxEvent).where(OutboxEvent.type == "page.updated"))
        assert event.payload["slug"] == "styrelse" and "previous_title" not in event.payload
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert (entry.actor_name, entry.action, entry.target) == (
            "Eva Redaktör",
            "page.created",
            "/styrelse/",
        )
    wait_for_file(site_dir / "styrelse/index.html", "<strong>leder</strong>")
    for relative in ("index.html", "vision/index.html", "404.html", "prenumerera/index.html"):
        wait_for_file(site_dir / relative, '<a href="/styrelse/">Styrelsen</a>')
    # The search page, the one page of the site made per request, links it too.
    assert '<a href="/styrelse/">Styrelsen</a>' in client.get("/sok/?q=styrelse").text

    # A form opened before someone else saved is refused, with what was typed kept.
    edit = client.get("/redaktion/sidor/styrelse").text
    opened = csrf(edit) and edit.split('name="andrad" value="')[1].split('"')[0]
    first = {"rubrik": "Styrelsen", "text": "Vi leder nätverket.", "andrad": opened}
    assert (
        "Sidan är sparad."
        in client.post("/redaktion/sidor/styrelse", data={**first, "csrftoken": token}).text
    )
    stale = client.post(
        "/redaktion/sidor/styrelse",
        data={"rubrik": "Styrelsen", "text": "Min text.", "andrad": opened, "csrftoken": token},
    )
    assert stale.status_code == 409 and "Någon annan har sparat sidan" in stale.text
    assert "Min text." in stale.text
    wait_for_file(site_dir / "styrelse/index.html", "Vi leder nätverket.")

    no_csrf = client.post("/redaktion/sidor/styrelse/radera", data={"ja": "1"})
    assert no_csrf.status_code == 403 and (site_dir / "styrelse/index.html").exists()
    kept = client.post("/redaktion/sidor/kontakt/radera", data={"csrftoken": token})
    assert kept.status_code == 409 and "måste finnas" in kept.text
    gone = client.post("/redaktion/sidor/styrelse/radera", data={"csrftoken": token})
    assert "Sidan är borttagen" in gone.text
    wait_for_file(site_dir / "index.html", "/styrelse/", present=False)
    wait_for_file(site_dir / "styrelse/index.html", "Styrelsen", present=False)
    with session_scope() as session:
        assert set(session.scalars(select(Page.slug))) == set(REQUIRED_SLUGS)
