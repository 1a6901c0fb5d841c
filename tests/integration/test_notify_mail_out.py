"""Mail leaving the process: `.eml` files in embedded mode, DKIM signing, the standalone app."""

from __future__ import annotations

import base64
import email
import email.policy
import subprocess

from fastapi.testclient import TestClient

from shared.config import get_settings

from services.notify import mail, tasks
from services.notify.api import create_app
from services.notify.settings import get_notify_settings
from tests.integration.test_notify_support import add_subscribers, link, make_item, published
from tests.integration.test_notify_support import (  # noqa: F401 (fixtures)
    client_fixture,
    eager_fixture,
)


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def test_embedded_mode_writes_one_eml_file_per_mail(db, client, eager):
    outbox = get_settings().mail_dir
    answer = client.post("/api/v1/subscriptions", json={"email": "fil@example.se"})
    assert answer.status_code == 202
    [path] = outbox.glob("*.eml")
    confirmation = parse(path.read_bytes())
    assert confirmation["To"] == "fil@example.se"
    assert client.get(link(confirmation, "/bekrafta")).status_code == 200
    add_subscribers(*(f"p{i}@example.se" for i in range(5)))
    tasks.handle_event.apply(kwargs={"event": published(make_item(title="Åtta fabriker"))})
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 7 and not list(outbox.glob(".*"))  # no partial files left
    newsletters = [parse(f.read_bytes()) for f in files[1:]]
    assert {m["Subject"] for m in newsletters} == {"Åtta fabriker"}
    assert len({m["Message-ID"] for m in newsletters}) == 6


def test_dkim_signature_covers_the_unsubscribe_headers(tmp_path, monkeypatch):
    import dkim

    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    monkeypatch.setenv("NEWSROOM_DKIM_DOMAIN", "example.se")
    monkeypatch.setenv("NEWSROOM_DKIM_SELECTOR", "nyheter")
    monkeypatch.setenv("NEWSROOM_DKIM_PRIVATE_KEY_FILE", str(key))
    get_notify_settings.cache_clear()
    try:
        message = mail.build_message(
            to="a@example.se",
            subject="Veckans nyheter",
            text="t",
            html="<p>t</p>",
            unsubscribe_url="https://example.se/u",
        )
        data = mail.message_bytes(message)
    finally:
        get_notify_settings.cache_clear()
    signature = parse(data)["DKIM-Signature"]
    tags = dict(part.split("=", 1) for part in signature.replace(" ", "").split(";") if part)
    signed = {name.lower() for name in tags["h"].split(":")}
    assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject"} <= signed
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    assert dkim.verify(data, dnsfunc=lambda name, timeout=5: record)


def test_standalone_app_health_readiness_metrics_and_docs(db):
    with TestClient(create_app()) as standalone:
        assert standalone.get("/healthz").json() == {"status": "ok"}
        ready = standalone.get("/readyz")
        assert ready.status_code == 200 and ready.json()["database"] == "ok"
        assert "newsroom_notify_mails_total" in standalone.get("/metrics").text
        assert standalone.get("/api/notify/docs").status_code == 200
        schema = standalone.get("/api/notify/openapi.json").json()
        body = schema["paths"]["/api/v1/subscriptions"]["post"]["requestBody"]["content"]
        assert set(body) == {"application/json", "application/x-www-form-urlencoded"}
        missing = standalone.get("/api/v1/nothing")
        assert missing.headers["content-type"] == "application/problem+json"
