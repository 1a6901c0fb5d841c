"""The notify HTTP side: JSON and form posts, the same answer for every address, tokens,
preferences, RFC 8058 one-click unsubscribe and rate limits."""

from __future__ import annotations

from sqlalchemy import select

from services.notify import tasks
from shared.db import session_scope
from shared.models import Delivery, Subscriber
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
    assert client.get(link(confirmation, "/bekrafta")).status_code == 200
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
