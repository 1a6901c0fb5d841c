"""Mail leaving the process: `.eml` files in embedded mode, DKIM signing, pipelined SMTP, the
standalone app."""

from __future__ import annotations

import base64
import email
import email.policy
import subprocess

import pytest
from fastapi.testclient import TestClient

from services.notify import mail, tasks
from services.notify import transport as transports
from services.notify.api import create_app
from shared.config import get_settings
from tests.integration.test_notify_support import (  # noqa: F401 (fixtures)
    add_subscribers,
    client_fixture,
    eager_fixture,
    link,
    make_item,
    published,
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
    assert client.post(link(confirmation, "/bekrafta")).status_code == 200
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
    get_settings.cache_clear()
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
        get_settings.cache_clear()
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


def test_pipelined_smtp_keeps_leading_dots_and_fails_like_sendmail(monkeypatch):
    from tests import servers
    from tests.integration.test_notify_support import ScriptedHandler

    handler = None

    def factory(recorder):
        nonlocal handler
        handler = ScriptedHandler(recorder)
        handler.pipelining = True
        return handler

    data = b"Subject: punkter\r\n\r\n.en rad\r\n..\r\n.\r\nslut"
    with servers.smtp(factory) as recorder:
        handler.script["full@example.se"] = ["452 4.2.2 Mailbox full"]
        handler.script["gone@example.se"] = ["550 5.1.1 No such user"]
        smtp = transports.SMTPTransport(recorder.url, sender="nyheter@example.se")
        try:
            smtp.send(recipient="a@example.se", data=data)
            assert smtp._pipelining
            with pytest.raises(transports.TemporaryFailure) as deferred:
                smtp.send(recipient="full@example.se", data=data)
            with pytest.raises(transports.PermanentFailure) as refused:
                smtp.send(recipient="gone@example.se", data=data)
            smtp.send(recipient="b@example.se", data=data)  # the same connection goes on
        finally:
            smtp.close()
        assert (deferred.value.code, refused.value.code) == (452, 550)
        assert handler.connections == 1
        assert recorder.envelopes == [
            ("nyheter@example.se", ["a@example.se"]),
            ("nyheter@example.se", ["b@example.se"]),
        ]
        body = recorder.messages[0].get_content()
        assert body.replace("\r\n", "\n") == ".en rad\n..\n.\nslut\n"
