"""The notify HTTP side: JSON and form posts, the same answer for every address, tokens,
preferences, RFC 8058 one-click unsubscribe and rate limits."""

from __future__ import annotations

import re

from sqlalchemy import select

from services.notify import api, tasks
from shared import subscribing
from shared.config import get_settings
from shared.db import session_scope
from shared.models import Delivery, OutboxEvent, Subscriber, SuppressedAddress
from tests.integration.test_notify_support import (  # noqa: F401 (fixtures)
    client_fixture,
    eager_fixture,
    legacy_token,
    link,
    make_item,
    published,
    token_for,
    use_smtp,
)

ADDRESS = "nils.holm@example.se"


def confirmed(client, smtp_server, address=ADDRESS, **choices):
    client.post("/api/v1/subscriptions", json={"email": address, **choices})
    confirmation = smtp_server.to(address)[-1]
    assert client.post(link(confirmation, "/bekrafta")).status_code == 200
    with session_scope() as session:
        subscriber = session.scalars(select(Subscriber).where(Subscriber.email == address)).one()
        return subscriber.id


def test_same_answer_whatever_the_state_of_the_address(db, smtp_server, client, eager, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    unknown = client.post("/api/v1/subscriptions", json={"email": "ny@example.se"})
    confirmed(client, smtp_server)
    known = client.post(
        "/api/v1/subscriptions", json={"email": ADDRESS, "regions": ["region-gotland"]}
    )
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    assert unknown.headers["content-type"] == known.headers["content-type"]
    # The confirmed subscriber's choices did not change without a link from their mail…
    with session_scope() as session:
        subscriber = session.scalars(select(Subscriber).where(Subscriber.email == ADDRESS)).one()
        assert subscriber.regions == [] and subscriber.status == "confirmed"
    # …they got a mail with their settings link instead.
    latest = smtp_server.to(ADDRESS)[-1]
    assert latest["Subject"] == "Du prenumererar redan på Hållbar upphandling"
    settings = client.get(link(latest, "/prenumeration/installningar"))
    assert settings.status_code == 200 and ADDRESS in settings.text


def test_form_post_gets_a_swedish_page(db, smtp_server, client, eager, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    answer = client.post(
        "/api/v1/subscriptions",
        content="email=form%40example.se&regions=region-skane&regions=region-gotland"
        "&topics=miljo&frequency=weekly",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 202
    assert answer.headers["content-type"].startswith("text/html")
    assert "Kolla din e-post" in answer.text and 'lang="sv"' in answer.text
    with session_scope() as session:
        subscriber = session.scalars(select(Subscriber)).one()
        assert subscriber.regions == ["region-skane", "region-gotland"]
        assert subscriber.topics == ["miljo"] and subscriber.frequency == "weekly"
        assert subscriber.consent_source == "form" and subscriber.status == "pending"
    assert len(smtp_server.to("form@example.se")) == 1

    bad = client.post("/api/v1/subscriptions", data={"email": "nej", "regions": "atlantis"})
    assert bad.status_code == 400 and "Ange en giltig e-postadress." in bad.text
    assert "Okänd region: atlantis" in bad.text


def test_json_errors_are_problem_details(db, client):
    answer = client.post(
        "/api/v1/subscriptions", json={"email": "nej", "topics": ["fiske"], "frequency": "weekly"}
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in answer.json()["errors"]} == {"email", "topics"}
    typed = client.post("/api/v1/subscriptions", json={"email": "a@b.se", "frequency": "daily"})
    assert typed.status_code == 422 and typed.json()["errors"][0]["field"] == "frequency"
    other = client.post(
        "/api/v1/subscriptions", content="email=a@b.se", headers={"content-type": "text/plain"}
    )
    assert other.status_code == 415


def test_bad_and_wrong_purpose_tokens_are_refused(db, smtp_server, client, eager, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    subscriber_id = confirmed(client, smtp_server)
    confirm = token_for("confirm", ADDRESS)
    leave = token_for("unsubscribe", ADDRESS)
    for response in (
        client.post(f"/prenumeration/avregistrera?token={confirm}"),
        client.get(f"/prenumeration/installningar?token={leave}"),
        client.get(f"/prenumeration/bekrafta?token={leave}"),
        client.get("/prenumeration/bekrafta?token=trasig"),
        client.get("/prenumeration/bekrafta"),
    ):
        assert response.status_code == 400
        assert "Länken fungerar inte" in response.text
    # A token for an address that is not the subscriber's (e.g. a reused id) is refused too.
    other = legacy_token("unsubscribe", subscriber_id=subscriber_id, email="x@example.se")
    assert client.post(f"/prenumeration/avregistrera?token={other}").status_code == 400
    with session_scope() as session:
        assert session.get(Subscriber, subscriber_id).status == "confirmed"


def test_preferences_are_shown_and_changed(db, smtp_server, client, eager, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    subscriber_id = confirmed(client, smtp_server, regions=["region-skane"])
    token = token_for("manage", ADDRESS)
    shown = client.get(f"/prenumeration/installningar?token={token}")
    assert shown.status_code == 200
    assert 'value="region-skane" checked' in shown.text and "Region Östergötland" in shown.text
    saved = client.post(
        f"/prenumeration/installningar?token={token}",
        data={
            "regions": ["region-gotland"],
            "topics": ["miljo", "handskar"],
            "frequency": "weekly",
        },
    )
    assert saved.status_code == 200 and "sparade" in saved.text
    with session_scope() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert (subscriber.regions, subscriber.topics, subscriber.frequency) == (
            ["region-gotland"],
            ["miljo", "handskar"],
            "weekly",
        )
    wrong = client.post(f"/prenumeration/installningar?token={token}", data={"regions": "x"})
    assert wrong.status_code == 400


def test_one_click_unsubscribe(db, smtp_server, client, eager, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    confirmed(client, smtp_server)
    tasks.handle_event.apply(kwargs={"event": published(make_item())})
    newsletter = smtp_server.to(ADDRESS)[-1]
    url = newsletter["List-Unsubscribe"].strip("<>")
    path = url[url.index("/prenumeration/") :]
    assert link(newsletter, "/avregistrera") == path

    # A GET (what mail scanners do) only shows a page with a button.
    shown = client.get(path)
    assert shown.status_code == 200 and '<form method="post"' in shown.text
    with session_scope() as session:
        assert session.scalars(select(Subscriber)).one().status == "confirmed"

    # The mail client's bare POST, no cookies: 200, no redirect; again: still fine.
    for _ in range(2):
        client.cookies.clear()
        answer = client.post(
            path,
            content="List-Unsubscribe=One-Click",
            follow_redirects=False,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 200 and "Du prenumererar inte längre" in answer.text
    with session_scope() as session:
        subscriber = session.scalars(select(Subscriber)).one()
        assert subscriber.status == "unsubscribed" and subscriber.unsubscribed_at is not None

    count = len(smtp_server.messages)
    tasks.handle_event.apply(kwargs={"event": published(make_item())})
    assert len(smtp_server.messages) == count
    # An old confirmation link does not bring them back.
    first = smtp_server.to(ADDRESS)[0]
    again = client.get(link(first, "/bekrafta"))
    assert again.status_code == 200 and "gäller inte längre" in again.text


def test_rate_limits_per_client_and_per_address(db, smtp_server, client, eager, monkeypatch):
    monkeypatch.setenv("NEWSROOM_SUBSCRIBE_PER_IP_PER_MINUTE", "10")
    use_smtp(monkeypatch, smtp_server.url)  # also reloads the notify settings
    answers = [
        client.post("/api/v1/subscriptions", json={"email": "flood@example.se"}) for _ in range(12)
    ]
    codes = [a.status_code for a in answers]
    assert codes[:10] == [202] * 10 and codes[10:] == [429, 429]
    assert answers[-1].headers["content-type"] == "application/problem+json"
    assert int(answers[-1].headers["retry-after"]) >= 1
    # Ten accepted requests, but the inbox got only a few mails.
    assert len(smtp_server.to("flood@example.se")) == 3
    with session_scope() as session:
        assert len(session.scalars(select(Delivery)).all()) == 3
    form = client.post("/api/v1/subscriptions", data={"email": "x@example.se"})
    assert form.status_code == 429 and "För många försök" in form.text


def test_json_errors_speak_swedish(db, client):
    many = ",".join(['"region-skane"'] * 101)
    frequency = "Välj immediate eller weekly."
    cases = {
        "{}": [("email", "Ange en e-postadress.")],
        '{"email": 5}': [("email", "Ska vara text.")],
        '{"email": "a@b.se", "regions": "region-skane"}': [("regions", "Ska vara en lista.")],
        '{"email": "a@b.se", "topics": [7]}': [("topics", "Ska vara text.")],
        '{"email": "a@b.se", "frequency": "daily"}': [("frequency", frequency)],
        '{"email"': [("body", "Ogiltig JSON.")],
        "[]": [("body", "Skicka ett JSON-objekt.")],
        '{"email": "' + "a" * 400 + '"}': [("email", "För lång: högst 320 tecken.")],
        '{"email": "a@b.se", "regions": [' + many + "]}": [
            ("regions", "För många val: högst 100.")
        ],
    }
    for body, expected in cases.items():
        answer = client.post(
            "/api/v1/subscriptions", content=body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 422, body
        problem = answer.json()
        assert problem["detail"] == "Uppgifterna uppfyller inte kraven."
        assert [(e["field"], e["message"]) for e in problem["errors"]] == expected, body


def snapshot() -> dict:
    """Every row notify keeps, to tell whether a request changed anything."""
    tables = (Subscriber, Delivery, OutboxEvent, SuppressedAddress)
    with session_scope() as session:
        return {
            table.__tablename__: sorted(
                repr(sorted(vars(row).items(), key=lambda kv: kv[0])).replace(
                    repr(row._sa_instance_state), ""
                )
                for row in session.scalars(select(table))
            )
            for table in tables
        }


def test_a_confirmation_link_shows_a_button_and_only_the_post_confirms(
    db, smtp_server, client, eager, monkeypatch
):
    use_smtp(monkeypatch, smtp_server.url)
    client.post(
        "/api/v1/subscriptions",
        json={"email": ADDRESS, "regions": ["region-skane"], "topics": ["textilier"]},
    )
    path = link(smtp_server.to(ADDRESS)[-1], "/prenumeration/bekrafta")
    for _ in range(2):  # a mail scanner, then the person
        shown = client.get(path)
        assert shown.status_code == 200
        assert '<form method="post"' in shown.text and "Bekräfta prenumerationen" in shown.text
        assert "Du får nyheter från Region Skåne om Textilier" in shown.text
    with session_scope() as session:
        assert session.scalars(select(Subscriber.status)).one() == "pending"
    done = client.post(path)
    assert done.status_code == 200 and "Tack, prenumerationen är bekräftad" in done.text
    with session_scope() as session:
        assert session.scalars(select(Subscriber.status)).one() == "confirmed"
    assert "Redan bekräftad" in client.get(path).text


def test_no_get_changes_anything(db, smtp_server, client, eager, monkeypatch):
    """Mail scanners open every link: no notify page reached by GET may change a thing,
    whatever the state of the subscriber its link names."""
    use_smtp(monkeypatch, smtp_server.url)
    purposes = {
        "/prenumeration/bekrafta": "confirm",
        "/prenumeration/installningar": "manage",
        "/prenumeration/avregistrera": "unsubscribe",
    }
    tokenless = {"/prenumerera/"}  # the subscription form, its choices from the query
    routes = [r.path for r in api.router.routes if "GET" in getattr(r, "methods", ())]
    assert set(routes) == set(purposes) | tokenless, "a new GET route: say which token it takes"
    for email in ("vantar@example.se", "med@example.se", "borta@example.se"):
        client.post("/api/v1/subscriptions", json={"email": email})
    client.post(link(smtp_server.to("med@example.se")[-1], "/bekrafta"))
    client.post(link(smtp_server.to("borta@example.se")[-1], "/bekrafta"))
    client.post(f"/prenumeration/avregistrera?token={token_for('unsubscribe', 'borta@example.se')}")
    before = snapshot()
    for email in ("vantar@example.se", "med@example.se", "borta@example.se"):
        for path, purpose in purposes.items():
            answer = client.get(path, params={"token": token_for(purpose, email)})
            assert answer.status_code == 200, (email, path)
    form = client.get("/prenumerera/", params={"region": "region-skane", "amne": "handskar"})
    assert form.status_code == 200
    assert snapshot() == before


def test_a_link_ticks_its_region_or_topic_on_the_form(db, client):
    """Region and topic pages link /prenumerera/?region=… (or ?amne=…): the form comes with
    that choice ticked, made on the server, so it works without JavaScript."""
    answer = client.get(
        "/prenumerera/", params={"region": "region-skane", "amne": ["handskar", "okänt-ämne"]}
    )
    assert answer.status_code == 200 and "no-store" not in answer.headers["cache-control"]
    html = answer.text
    ticked = re.findall(r'<input type="(?:checkbox|radio)" id="([^"]+)"[^>]* checked>', html)
    assert ticked == ["frequency-immediate", "region-region-skane", "topic-handskar"]
    assert "Du får nyheter från Region Skåne om Handskar" in html
    assert 'aria-current="page">Prenumerera</a>' in html
    assert 'action="/api/v1/subscriptions"' in html and "okänt-ämne" not in html
    plain = client.get("/prenumerera/").text
    assert re.findall(r'id="([^"]+)"[^>]* checked>', plain) == ["frequency-immediate"]


def test_after_unsubscribing_the_link_says_it_is_done(db, smtp_server, client, eager, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    confirmed(client, smtp_server)
    path = f"/prenumeration/avregistrera?token={token_for('unsubscribe', ADDRESS)}"
    assert '<form method="post"' in client.get(path).text
    assert client.post(path).status_code == 200
    again = client.get(path)
    assert again.status_code == 200 and "Du prenumererar inte längre" in again.text
    assert 'method="post"' not in again.text and "Vill du sluta" not in again.text


def test_subscription_pages_wear_the_site_layout(db, smtp_server, client, eager, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    confirmed(client, smtp_server)
    pages = [
        client.get(f"/prenumeration/installningar?token={token_for('manage', ADDRESS)}"),
        client.get(f"/prenumeration/avregistrera?token={token_for('unsubscribe', ADDRESS)}"),
        client.get("/prenumeration/bekrafta?token=trasig"),
        client.post("/api/v1/subscriptions", data={"email": "nej"}),
        client.post("/api/v1/subscriptions", data={"email": "ja@example.se"}),
    ]
    for answer in pages:
        html = answer.text
        assert '<link rel="stylesheet" href="/static/style.css">' in html
        assert '<header class="site-header">' in html and '<nav aria-label="Huvudmeny">' in html
        assert '<footer class="site-footer">' in html and 'href="/arkiv/"' in html
        assert "<style" not in html  # the site's stylesheet only (CSP allows no inline style)


def test_a_form_error_keeps_every_choice(db, client, eager):
    answer = client.post(
        "/api/v1/subscriptions",
        data={
            "email": "per.olof@",
            "regions": ["region-skane", "region-gotland"],
            "topics": ["textilier"],
            "frequency": "weekly",
        },
    )
    assert answer.status_code == 400
    html = answer.text
    assert 'value="per.olof@"' in html and "Det här behöver rättas" in html
    assert '<a href="#email">Ange en giltig e-postadress.</a>' in html
    for checked in ("region-skane", "region-gotland", "textilier", "weekly"):
        assert f'value="{checked}" checked' in html, checked
    assert 'value="region-kronoberg" checked' not in html
    assert 'value="immediate" checked' not in html
    assert subscribing.consent_text("Hållbar upphandling") in html
    assert "Du får nyheter från Region Skåne eller Region Gotland om Textilier" in html
    with session_scope() as session:
        assert session.scalars(select(OutboxEvent)).all() == []


def test_a_settings_error_keeps_every_choice(db, smtp_server, client, eager, monkeypatch):
    use_smtp(monkeypatch, smtp_server.url)
    confirmed(client, smtp_server)
    path = f"/prenumeration/installningar?token={token_for('manage', ADDRESS)}"
    answer = client.post(
        path, data={"regions": ["region-skane", "atlantis"], "topics": ["textilier"]}
    )
    assert answer.status_code == 400 and "Okänd region: atlantis" in answer.text
    assert 'value="region-skane" checked' in answer.text
    assert 'value="textilier" checked' in answer.text


def test_the_form_and_the_settings_say_how_choices_combine(
    db, smtp_server, client, eager, monkeypatch
):
    from services.render.views import Site, render_subscribe

    use_smtp(monkeypatch, smtp_server.url)
    confirmed(client, smtp_server, regions=["region-skane"], topics=["textilier"])
    settings_page = client.get(
        f"/prenumeration/installningar?token={token_for('manage', ADDRESS)}"
    ).text
    site_page = render_subscribe(Site.from_settings(get_settings())).decode()
    for html in (settings_page, site_page):
        assert subscribing.CHOICE_RULE in html and subscribing.CHOICE_EXAMPLE in html
    assert "Du får nyheter från Region Skåne om Textilier" in settings_page
    # The consent the site's form shows is the very text stored with the subscription.
    with session_scope() as session:
        stored = session.scalars(select(Subscriber.consent_text)).one()
    assert stored == subscribing.consent_text(get_settings().site_title)
    assert stored in site_page
