"""Personer over HTTP on a real database: admins only, CSRF on every form, the invitation that
signs in, changes, tokens shown once and working against the API, deactivation that ends
sessions and tokens at once, and the audit log (from the pages and the command line)."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from shared.db import session_scope
from shared.models import AuditEntry, Contributor, EditorSession
from tests.browser import assert_valid_html
from tests.editor.conftest import add_person, csrf, sign_in, wait_for_mail
from tests.integration.test_ingest_api import ITEM
from tests.integration.test_ingest_cli import newsroom

ADMIN = "ada.admin@kansliet.se"
ANNA = "anna.strom@regionskane.se"


def person(name: str) -> Contributor:
    with session_scope() as session:
        return session.scalar(select(Contributor).where(Contributor.name == name))


def log() -> list[tuple[str, str, str, dict]]:
    """(actor, action, target, details) of the audit log, oldest first."""
    with session_scope() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        return [(e.actor_name, e.action, e.target, e.details) for e in entries]


def switch(client, jar: httpx.Cookies | None) -> httpx.Cookies:
    """Become another browser: `jar`'s cookies (None: none); returns the current ones."""
    current = httpx.Cookies(client.cookies)
    client.cookies.clear()
    if jar is not None:
        client.cookies.update(jar)
    return current


def api_status(client, token: str) -> int:
    return client.get("/api/v1/items", headers={"Authorization": f"Bearer {token}"}).status_code


def test_only_admins_see_people_and_the_log(client, outbox):
    anna = add_person("Anna Ström", ANNA)
    add_person("Eva Redaktör", "eva@kansliet.se", role="editor", region="nationella-kansliet")
    token = sign_in(client, outbox, "eva@kansliet.se")
    assert "Sidor" in client.get("/redaktion/").text
    assert 'href="/redaktion/personer/"' not in client.get("/redaktion/").text
    for path in ("/redaktion/personer/", "/redaktion/personer/ny", "/redaktion/personer/logg"):
        page = client.get(path)
        assert page.status_code == 403, path
        assert "Bara administratörer kan se den här sidan." in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
    refused = client.post(f"/redaktion/personer/{anna}/stang-av", data={"csrftoken": token})
    assert refused.status_code == 403 and "Bara administratörer" in refused.text
    assert person("Anna Ström").revoked_at is None


def test_a_form_without_its_csrf_token_changes_nobody(client, outbox):
    anna = add_person("Anna Ström", ANNA)
    add_person("Ada Admin", ADMIN, role="admin", region="nationella-kansliet")
    sign_in(client, outbox, ADMIN)
    for path in (f"/redaktion/personer/{anna}/stang-av", f"/redaktion/personer/{anna}/token"):
        answer = client.post(path, data={"ja": "1"})
        assert answer.status_code == 403 and "Formuläret kunde inte skickas" in answer.text
        wrong = client.post(path, data={"csrftoken": "fel"})
        assert wrong.status_code == 403
    assert person("Anna Ström").revoked_at is None
    assert [entry for entry in log() if entry[0] == "Ada Admin"] == []


def test_an_invitation_signs_the_person_in(client, outbox):
    add_person("Ada Admin", ADMIN, role="admin", region="nationella-kansliet")
    token = sign_in(client, outbox, ADMIN)
    form = {
        "namn": "Bo Ny",
        "epost": "Bo.Ny@RegionSkane.se",
        "roll": "contributor",
        "region": "region-skane",
        "granskas": "ja",
        "csrftoken": token,
    }
    bad = client.post("/redaktion/personer/ny", data={**form, "epost": "bo@"})
    assert bad.status_code == 422 and "Ange en e-postadress" in bad.text
    assert 'value="Bo Ny"' in bad.text  # what was typed is kept
    same_name = client.post("/redaktion/personer/ny", data={**form, "namn": "Ada Admin"})
    assert (
        same_name.status_code == 422
        and "Det finns redan någon som heter Ada Admin" in same_name.text
    )

    page = client.post("/redaktion/personer/ny", data=form)
    assert page.status_code == 200 and "Inbjudan är skickad" in page.text
    bo = person("Bo Ny")
    assert (bo.email, bo.role, bo.region, bo.review_required) == (
        "bo.ny@regionskane.se",
        "contributor",
        "region-skane",
        True,
    )
    assert log()[-1][:3] == ("Ada Admin", "person.invited", "Bo Ny")

    message = wait_for_mail(outbox, "bo.ny@regionskane.se")
    assert str(message["Subject"]) == "Du är inbjuden till Redaktionen"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "Ada Admin har bjudit in dig" in text and "7 dagar" in text
    link = re.search(r"http://localhost:8000(/redaktion/logga-in/lank\?t=\S+)", text).group(1)

    switch(client, None)  # Bo opens the mail in a browser of his own
    button = client.get(link)
    assert button.status_code == 200 and "Logga in" in button.text
    t = link.split("t=", 1)[1]
    signed_in = client.post(
        "/redaktion/logga-in/lank", data={"t": t, "csrftoken": csrf(button.text)}
    )
    assert signed_in.status_code == 200 and "Logga ut" in signed_in.text
    assert "Bo Ny" in signed_in.text


def test_change_token_deactivate_and_reactivate(client, outbox):
    anna_id = add_person("Anna Ström", ANNA)
    add_person("Ada Admin", ADMIN, role="admin", region="nationella-kansliet")
    sign_in(client, outbox, ANNA)
    anna_browser = switch(client, None)
    token = sign_in(client, outbox, ADMIN)
    url = f"/redaktion/personer/{anna_id}"

    listing = client.get("/redaktion/personer/")
    assert listing.status_code == 200
    pattern = rf'<tr>\s*<th scope="row"><a href="{url}">Anna Ström</a>.*?</tr>'
    row = re.search(pattern, listing.text, re.S).group(0)
    assert "Skribent" in row and "Region Skåne" in row and ANNA in row and "Aktiv" in row
    assert "<time" in row  # last active: she signed in

    changed = client.post(
        url,
        data={
            "epost": ANNA,
            "roll": "editor",
            "region": "region-halland",
            "granskas": "ja",
            "csrftoken": token,
        },
    )
    assert "Ändringarna är sparade." in changed.text
    anna = person("Anna Ström")
    assert (anna.role, anna.region, anna.review_required) == ("editor", "region-halland", True)
    assert log()[-1] == (
        "Ada Admin",
        "person.changed",
        "Anna Ström",
        {
            "role": ["contributor", "editor"],
            "region": ["region-skane", "region-halland"],
            "review_required": [False, True],
        },
    )

    shown = client.post(f"{url}/token", data={"csrftoken": token})
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    new_token = re.search(r'id="token" value="(nr_[^"]+)"', shown.text).group(1)
    assert new_token not in client.get(url).text  # shown once
    assert api_status(client, new_token) == 200
    second = client.post(f"{url}/token", data={"csrftoken": token})
    newer = re.search(r'id="token" value="(nr_[^"]+)"', second.text).group(1)
    assert api_status(client, new_token) == 401 and api_status(client, newer) == 200

    stopped = client.post(f"{url}/stang-av", data={"csrftoken": token})
    assert "Personen är avstängd" in stopped.text and "Avstängd" in stopped.text
    assert api_status(client, newer) == 401
    with session_scope() as session:
        live = session.scalars(
            select(EditorSession).where(EditorSession.contributor_id == anna_id)
        ).all()
        assert live and all(row.ended_at is not None for row in live)
    admin_browser = switch(client, anna_browser)
    assert client.get("/redaktion/").url.path == "/redaktion/logga-in"
    switch(client, admin_browser)

    back = client.post(f"{url}/ateraktivera", data={"csrftoken": token})
    assert "Anna Ström är återaktiverad" in back.text
    again = re.search(r'id="token" value="(nr_[^"]+)"', back.text).group(1)
    assert api_status(client, again) == 200 and api_status(client, newer) == 401
    # Her old session stays ended: reactivation is no way back into a browser left signed in.
    switch(client, anna_browser)
    assert client.get("/redaktion/").url.path == "/redaktion/logga-in"
    switch(client, admin_browser)

    assert [entry[1] for entry in log() if entry[0] == "Ada Admin"] == [
        "person.changed",
        "person.token",
        "person.token",
        "person.deactivated",
        "person.reactivated",
    ]
    page = client.get("/redaktion/personer/logg")
    assert page.status_code == 200
    shown_order = re.findall(
        r"(återaktiverade|stängde av|skapade en ny API-token för|ändrade) Anna Ström", page.text
    )
    assert shown_order == [
        "återaktiverade",
        "stängde av",
        "skapade en ny API-token för",
        "skapade en ny API-token för",
        "ändrade",
    ]
    assert "roll: Skribent → Redaktör" in page.text
    assert "region: Region Skåne → Region Halland" in page.text


def test_the_last_admin_cannot_lock_everyone_out(client, outbox):
    ada = add_person("Ada Admin", ADMIN, role="admin", region="nationella-kansliet")
    token = sign_in(client, outbox, ADMIN)
    refused = client.post(f"/redaktion/personer/{ada}/stang-av", data={"csrftoken": token})
    assert refused.status_code == 409 and "enda aktiva administratören" in refused.text
    demoted = client.post(
        f"/redaktion/personer/{ada}",
        data={
            "epost": ADMIN,
            "roll": "editor",
            "region": "nationella-kansliet",
            "csrftoken": token,
        },
    )
    assert demoted.status_code == 422 and "enda aktiva administratören" in demoted.text
    assert person("Ada Admin").role == "admin" and person("Ada Admin").revoked_at is None
    assert client.get("/redaktion/personer/999999").status_code == 404


def test_the_command_line_writes_the_same_log(db):
    newsroom("contributor", "add", "Cilla CLI", "--region", "region-skane")
    newsroom("contributor", "set-email", "Cilla CLI", "cilla@regionskane.se")
    newsroom("contributor", "review", "Cilla CLI")
    newsroom("contributor", "rotate", "Cilla CLI")
    newsroom("contributor", "revoke", "Cilla CLI")
    newsroom("contributor", "reactivate", "Cilla CLI")
    assert [entry[:3] for entry in log()] == [
        ("Kommandoraden", "person.added", "Cilla CLI"),
        ("Kommandoraden", "person.email", "Cilla CLI"),
        ("Kommandoraden", "person.changed", "Cilla CLI"),
        ("Kommandoraden", "person.token", "Cilla CLI"),
        ("Kommandoraden", "person.deactivated", "Cilla CLI"),
        ("Kommandoraden", "person.reactivated", "Cilla CLI"),
    ]
    assert log()[2][3] == {"review_required": [False, True]}


def test_extra_regions_let_a_contributor_publish_there(client, outbox):
    anna = add_person("Anna Ström", ANNA)
    add_person("Ada Admin", ADMIN, role="admin", region="nationella-kansliet")
    token = sign_in(client, outbox, ADMIN)
    form = {"epost": ANNA, "roll": "contributor", "region": "region-skane", "csrftoken": token}
    form["fler"] = ["region-halland", "region-skane", "region-blekinge"]
    assert "Ändringarna är sparade." in client.post(f"/redaktion/personer/{anna}", data=form).text
    assert person("Anna Ström").writes_for == ["region-skane", "region-blekinge", "region-halland"]
    assert log()[-1][3] == {"extra_regions": [[], ["region-blekinge", "region-halland"]]}
    listing = client.get("/redaktion/personer/").text
    assert "Region Skåne, Region Blekinge, Region Halland" in listing
    assert re.search(r"Region Halland</td>.*?<td>Aldrig</td>", listing, re.S)  # never active
    assert (
        "fler regioner: – → Region Blekinge, Region Halland"
        in client.get("/redaktion/personer/logg").text
    )

    shown = client.post(f"/redaktion/personer/{anna}/token", data={"csrftoken": token}).text
    new_token = re.search(r'id="token" value="(nr_[^"]+)"', shown).group(1)
    bearer = {"Authorization": f"Bearer {new_token}"}
    item = {**ITEM, "regions": ["region-halland"]}
    assert client.post("/api/v1/items", json=item, headers=bearer).status_code == 201
    elsewhere = client.post(
        "/api/v1/items", json={**item, "regions": ["region-gotland"]}, headers=bearer
    )
    assert elsewhere.status_code == 403
    assert "region-skane, region-blekinge, region-halland" in elsewhere.json()["detail"]
    # Posting through the API is activity too.
    listing = client.get("/redaktion/personer/").text
    assert not re.search(r"Region Halland</td>.*?<td>Aldrig</td>", listing, re.S)
    # Her item form offers the regions she writes for, and no other.
    switch(client, None)
    sign_in(client, outbox, ANNA)
    form = client.get("/redaktion/nyheter/ny").text
    offered = re.findall(r'name="regioner" value="([^"]+)"', form)
    assert offered == ["region-skane", "region-blekinge", "region-halland"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # HTML is the same on both
def test_the_admin_pages_are_valid_html(client, outbox):
    anna = add_person("Anna Ström", ANNA)
    add_person("Ada Admin", ADMIN, role="admin", region="nationella-kansliet")
    token = sign_in(client, outbox, ADMIN)
    documents = [
        client.get("/redaktion/personer/").text,
        client.get("/redaktion/personer/ny").text,
        client.post("/redaktion/personer/ny", data={"namn": "", "csrftoken": token}).text,
        client.get(f"/redaktion/personer/{anna}").text,
        client.post(f"/redaktion/personer/{anna}/token", data={"csrftoken": token}).text,
        client.get("/redaktion/personer/logg").text,
        client.get("/redaktion/sidor/").text,
        client.get("/redaktion/sidor/ny").text,
        client.post(
            "/redaktion/sidor/ny",
            data={"adress": "api", "rubrik": "", "text": "", "csrftoken": token},
        ).text,
        client.post(
            "/redaktion/sidor/kontakt",
            data={
                "rubrik": "Kontakt",
                "text": "## Hej",
                "atgard": "forhandsgranska",
                "csrftoken": token,
            },
        ).text,
        client.get("/redaktion/sidor/vision").text,
    ]
    assert_valid_html(*documents)
