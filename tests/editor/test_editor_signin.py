"""Signing in to Redaktionen over HTTP on a real database: codes and links single-use and
for 15 minutes, wrong codes and floods refused, the same answer for unknown addresses,
sessions that end on sign-out, expiry and revocation, CSRF on every form."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from services.ingest.contributors import revoke_contributor
from services.ingest.editor import signin
from shared.db import session_scope, utcnow
from shared.models import EditorSession, EditorSignIn
from tests.editor.conftest import add_person, code_and_link, csrf, mails, sign_in, wait_for_mail

ANNA = "anna.strom@regionskane.se"


def request_code(client, address: str) -> str:
    token = csrf(client.get("/redaktion/logga-in").text)
    answer = client.post("/redaktion/logga-in", data={"epost": address, "csrftoken": token})
    assert answer.status_code == 200, answer.text
    return token


def test_the_mailed_code_signs_in_once_and_sign_out_ends_the_session(client, outbox):
    add_person("Anna Ström", ANNA)
    token = request_code(client, ANNA)
    message = wait_for_mail(outbox, ANNA)
    assert "Redaktionen" in str(message["Subject"])
    code, link = code_and_link(message)
    assert link.startswith("http://localhost:8000/redaktion/logga-in/lank?t=")

    page = client.post("/redaktion/logga-in/kod", data={"kod": code, "csrftoken": token})
    assert page.status_code == 200 and "Mina nyheter" in page.text and "Logga ut" in page.text
    cookie = next(c for c in client.cookies.jar if c.name == "redaktion")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/redaktion/"
    with session_scope() as session:
        [row] = session.scalars(select(EditorSignIn)).all()
        assert code not in (row.code_hash, row.link_hash) and row.used_at is not None

    # The code and the link are spent.
    again = client.post("/redaktion/logga-in/kod", data={"kod": code, "csrftoken": token})
    assert again.status_code == 422 and "Be om en ny kod" in again.text
    link_page = client.get(link.removeprefix("http://localhost:8000"))
    assert link_page.status_code == 400 and "Länken fungerar inte" in link_page.text

    out = client.post("/redaktion/logga-ut", data={"csrftoken": token})
    assert "Du är utloggad" in out.text
    assert client.get("/redaktion/").url.path == "/redaktion/logga-in"


def test_the_link_shows_a_button_and_only_its_post_signs_in(client, outbox):
    add_person("Anna Ström", ANNA)
    request_code(client, ANNA)
    _, link = code_and_link(wait_for_mail(outbox, ANNA))
    path = link.removeprefix("http://localhost:8000")
    client.cookies.clear()  # the link opened in another browser (the phone's mail app)

    for _ in range(2):  # a mail scanner opens it first: nothing happens
        shown = client.get(path)
        assert shown.status_code == 200 and 'type="submit">Logga in</button>' in shown.text
        assert shown.headers["referrer-policy"] == "no-referrer"
    assert client.get("/redaktion/").url.path == "/redaktion/logga-in"

    token = csrf(client.get(path).text)
    signed_in = client.post(
        "/redaktion/logga-in/lank", data={"t": path.split("t=")[1], "csrftoken": token}
    )
    assert "Logga ut" in signed_in.text
    reused = client.post(
        "/redaktion/logga-in/lank", data={"t": path.split("t=")[1], "csrftoken": token}
    )
    assert reused.status_code == 400 and "redan använts" in reused.text


def test_an_expired_code_is_refused(client, outbox):
    add_person("Anna Ström", ANNA)
    token = request_code(client, ANNA)
    code, link = code_and_link(wait_for_mail(outbox, ANNA))
    with session_scope() as session:
        session.execute(update(EditorSignIn).values(expires_at=utcnow() - timedelta(seconds=1)))
    answer = client.post("/redaktion/logga-in/kod", data={"kod": code, "csrftoken": token})
    assert answer.status_code == 422 and "gått ut" in answer.text
    assert "Logga ut" not in answer.text
    assert client.get(link.removeprefix("http://localhost:8000")).status_code == 400


def test_five_wrong_codes_spend_the_sign_in(client, outbox):
    add_person("Anna Ström", ANNA)
    token = request_code(client, ANNA)
    code, _ = code_and_link(wait_for_mail(outbox, ANNA))
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for attempt in range(signin.MAX_FAILURES):
        answer = client.post("/redaktion/logga-in/kod", data={"kod": wrong, "csrftoken": token})
        assert answer.status_code == 422
        assert (
            "för många" if attempt == signin.MAX_FAILURES - 1 else "stämmer inte"
        ) in answer.text
        # The error summary links to the field; the field keeps what was typed.
        assert '<a href="#kod">' in answer.text and f'value="{wrong}"' in answer.text
    right = client.post("/redaktion/logga-in/kod", data={"kod": code, "csrftoken": token})
    assert right.status_code == 422 and "Logga ut" not in right.text


def test_unknown_and_known_addresses_get_the_same_answer(client, outbox):
    add_person("Anna Ström", ANNA)
    known = client.post(
        "/redaktion/logga-in", data={"epost": ANNA, "csrftoken": request_code(client, "x@y.se")}
    )
    unknown = client.post(
        "/redaktion/logga-in", data={"epost": "okand@example.se", "csrftoken": csrf(known.text)}
    )
    assert known.status_code == unknown.status_code == 200
    assert known.url.path == unknown.url.path == "/redaktion/logga-in/kod"
    strip = lambda text: text.replace(csrf(text), "")  # noqa: E731
    assert strip(known.text) == strip(unknown.text)
    wait_for_mail(outbox, ANNA)
    assert mails(outbox, "okand@example.se") == []


def test_codes_are_rate_limited_per_address_and_per_ip(client, outbox):
    add_person("Anna Ström", ANNA)
    token = request_code(client, ANNA)
    for _ in range(signin.PER_ADDRESS - 1):
        client.post("/redaktion/logga-in", data={"epost": ANNA, "csrftoken": token})
    refused = client.post("/redaktion/logga-in", data={"epost": ANNA, "csrftoken": token})
    assert refused.status_code == 429 and "Vänta" in refused.text
    # An unknown address is limited alike, and the IP as a whole.
    for number in range(signin.PER_IP):
        answer = client.post(
            "/redaktion/logga-in", data={"epost": f"p{number}@example.se", "csrftoken": token}
        )
    assert answer.status_code == 429


def test_a_bad_address_is_shown_beside_the_field(client):
    token = csrf(client.get("/redaktion/logga-in").text)
    answer = client.post("/redaktion/logga-in", data={"epost": "anna at skane", "csrftoken": token})
    assert answer.status_code == 422
    assert '<a href="#epost">' in answer.text and 'id="epost-fel"' in answer.text
    assert 'value="anna at skane"' in answer.text and 'aria-invalid="true"' in answer.text


def test_a_form_without_its_csrf_token_is_refused(client, outbox):
    add_person("Anna Ström", ANNA)
    token = sign_in(client, outbox, ANNA)
    item = {"rubrik": "R", "sammanfattning": "S", "text": "T", "regioner": "region-skane"}
    for data in (item, {**item, "csrftoken": "förfalskad"}):
        answer = client.post("/redaktion/nyheter/ny", data={**data, "atgard": "spara"})
        assert answer.status_code == 403 and "Formuläret kunde inte skickas" in answer.text
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    # Only URL-encoded forms are taken (asgi-csrf's multipart reader is broken): no 500.
    multipart = client.post(
        "/redaktion/nyheter/ny", files={"csrftoken": (None, token), "rubrik": (None, "R")}
    )
    assert multipart.status_code == 415 and "kunde inte tas emot" in multipart.text
    # Signing in is protected too, also for a browser without cookies (login CSRF).
    client.cookies.clear()
    assert client.post("/redaktion/logga-in", data={"epost": ANNA}).status_code == 403
    # The JSON API with its bearer token is not affected.
    assert token and client.get("/api/v1/regions").status_code == 200


def test_a_revoked_persons_session_ends_at_once(client, outbox):
    add_person("Anna Ström", ANNA)
    token = sign_in(client, outbox, ANNA)
    assert client.get("/redaktion/").url.path == "/redaktion/"
    with session_scope() as session:
        assert revoke_contributor(session=session, name="Anna Ström")
    page = client.get("/redaktion/")
    assert page.url.path == "/redaktion/logga-in" and "Logga in" in page.text
    refused = client.post(
        "/redaktion/nyheter/ny",
        data={
            "csrftoken": token,
            "rubrik": "R",
            "sammanfattning": "S",
            "text": "T",
            "regioner": "region-skane",
            "atgard": "publicera",
        },
    )
    assert refused.url.path == "/redaktion/logga-in"
    # And a revoked person gets no new code.
    request_code(client, ANNA)
    assert len(mails(outbox, ANNA)) == 1


def test_idle_and_old_sessions_end(client, outbox):
    add_person("Anna Ström", ANNA)
    sign_in(client, outbox, ANNA)
    with session_scope() as session:
        session.execute(
            update(EditorSession).values(last_seen_at=utcnow() - timedelta(hours=2, minutes=1))
        )
    assert client.get("/redaktion/").url.path == "/redaktion/logga-in"
    sign_in(client, outbox, ANNA, count=2)
    with session_scope() as session:
        session.execute(
            update(EditorSession)
            .where(EditorSession.ended_at.is_(None))
            .values(created_at=utcnow() - timedelta(hours=12, minutes=1))
        )
    assert client.get("/redaktion/").url.path == "/redaktion/logga-in"
