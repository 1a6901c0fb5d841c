"""Faults 2, 4 and 6: a notify worker killed mid-newsletter, the outbox relay crashing on
either side of the publish, and the SMTP server gone for a while."""

from __future__ import annotations

import collections
import contextlib
import sys
import time

import pytest
from sqlalchemy import create_engine, text

from tests import servers
from tests.faults.burst import editors, pending_outbox, wait_quiet
from tests.faults.conftest import FULL, Stack, client, eventually
from tests.faults.subscribers import bulk_subscribers, delivery_states

RECIPIENTS = 10_000 if FULL else 1_000
ITEM = {
    "title": "Nyhetsbrev: uppföljning av textilier i Östergötland",
    "summary": "Så gick uppföljningen av leverantörerna; åtgärder återstår.",
    "body": "## Vad vi såg\n\nTvå fabriker i **Indien** besöktes.",
    "regions": ["region-ostergotland"],
    "topics": ["textilier"],
}


def received(stack: Stack, title: str) -> collections.Counter[str]:
    """How many copies of the newsletter with `title` each address received."""
    counts: collections.Counter[str] = collections.Counter()
    smtp = stack.smtp
    for message, (_, rcpts) in zip(list(smtp.messages), list(smtp.envelopes), strict=False):
        if title in str(message["Subject"]):
            counts.update(rcpts)
    return counts


def post_item(stack: Stack, token: str, **changes) -> dict:
    with client(stack.urls["ingest"], token) as http:
        answer = http.post("/api/v1/items", json={**ITEM, **changes})
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.mark.timeout(900 if FULL else 240)
def test_notify_worker_killed_mid_newsletter(stack: Stack):
    emails = bulk_subscribers(stack, RECIPIENTS)
    [token] = editors(stack, 1)
    stack.uvicorn("ingest", "services.ingest.api:create_app")
    stack.worker("notify", "services.notify.tasks", "notify", concurrency=2)
    post_item(stack, token)
    kills = 0
    for fraction in (0.3, 0.6):
        eventually(
            lambda f=fraction: sum(received(stack, ITEM["title"]).values()) >= f * RECIPIENTS,
            timeout=300,
            what=f"{fraction:.0%} of the newsletter",
            every=0.02,
        )
        stack.kill9("notify")
        kills += 1
        killed_at = time.monotonic()
        time.sleep(0.5)
        stack.restart("notify")

    def settled() -> bool:
        states = delivery_states(stack)
        return not states.get("claimed") and wait_quiet(stack, "notify", timeout=120) >= 0

    eventually(settled, timeout=300, what="every ledger row sent", every=1)
    recovery = time.monotonic() - killed_at
    in_flight = delivery_states(stack).get("sending", [])
    # A mail in flight at a kill stays `sending`; notify.resume_stalled (every 5 minutes in
    # beat) sends it again once it is older than IN_FLIGHT_AFTER. Age those rows instead of
    # waiting ten minutes, and run the sweep.
    engine = create_engine(stack.database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE deliveries SET claimed_at = claimed_at - interval '1 hour'"
                " WHERE status = 'sending'"
            )
        )
    engine.dispose()
    stack.run(
        sys.executable,
        "-c",
        "from services.notify.tasks import resume_stalled; resume_stalled.apply()",
    )
    eventually(
        lambda: (
            not delivery_states(stack).get("sending") and not delivery_states(stack).get("claimed")
        ),
        timeout=120,
        what="mails in flight at the kills sent again",
        every=1,
    )
    wait_quiet(stack, "notify", timeout=120)
    counts = received(stack, ITEM["title"])
    missing = set(emails) - set(counts)
    duplicates = sum(n - 1 for n in counts.values())
    print(
        f"\nFAULT notify-kill: {RECIPIENTS} recipients, {kills} kills, newsletter complete "
        f"{recovery:.1f} s after the last kill ({len(in_flight)} in flight, sent again by "
        f"the stalled sweep); {duplicates} duplicates, {len(missing)} missing"
    )
    # Everyone got it, and at most one duplicate per mail in flight (one per pool process).
    assert not missing
    assert len(in_flight) <= kills * 2
    assert duplicates <= len(in_flight)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("point", ["crash-before-send", "crash-after-send"])
def test_relay_crash_around_publish_delivers_once(stack: Stack, point: str):
    emails = bulk_subscribers(stack, 20)
    [token] = editors(stack, 1)
    stack.worker("notify", "services.notify.tasks", "notify", concurrency=2)
    stack.worker("render", "services.render.tasks", "render", concurrency=2)
    stack.uvicorn("ingest", "services.ingest.api:create_app", NEWSROOM_FAULT_RELAY=point)
    title = f"{ITEM['title']} ({point})"
    with client(stack.urls["ingest"], token) as http, contextlib.suppress(Exception):
        http.post("/api/v1/items", json={**ITEM, "title": title})  # may die before answering
    eventually(
        lambda: stack.procs["ingest"].poll() is not None, timeout=30, what="the relay crashed"
    )
    assert stack.procs["ingest"].returncode == 137
    assert pending_outbox(stack.database_url) == 1
    crashed_at = time.monotonic()
    stack.uvicorn("ingest", "services.ingest.api:create_app")  # the same port, no fault
    eventually(
        lambda: set(received(stack, title)) >= set(emails),
        timeout=120,
        what="newsletter to every subscriber",
    )
    wait_quiet(stack, "notify", timeout=60)
    wait_quiet(stack, "render", timeout=60)
    recovery = time.monotonic() - crashed_at
    counts = received(stack, title)
    handled = (stack.logdir / "notify.log").read_text().count("notify.handle_event[")
    print(
        f"\nFAULT relay {point}: delivered {recovery:.1f} s after the crash; "
        f"notify.handle_event log lines {handled}; copies {max(counts.values())}"
    )
    assert set(counts.values()) == {1}
    [item] = [
        p
        for p in stack.site.rglob("index.html")
        if title in p.read_text(encoding="utf-8") and "/aktuellt/20" in str(p)
    ]
    assert item.exists()


@pytest.mark.timeout(240)
def test_smtp_down_then_back_completes_newsletter_once(stack: Stack):
    port = servers.free_port()
    recorder = servers.SMTPRecorder("127.0.0.1", port)
    stack.smtp = recorder
    stack.env["NEWSROOM_SMTP_URL"] = recorder.url
    emails = bulk_subscribers(stack, 300)
    [token] = editors(stack, 1)
    stack.uvicorn("ingest", "services.ingest.api:create_app")
    stack.worker("notify", "services.notify.tasks", "notify", concurrency=2)
    down_for = 60 if FULL else 15
    went_down = time.monotonic()
    post_item(stack, token)  # nothing listens on the SMTP port
    eventually(lambda: delivery_states(stack).get("claimed"), timeout=30, what="rows claimed")
    time.sleep(max(0.0, down_for - (time.monotonic() - went_down)))
    from aiosmtpd.controller import Controller

    controller = Controller(
        servers._RecordingHandler(recorder), hostname="127.0.0.1", port=port, decode_data=False
    )
    controller.start()
    back_at = time.monotonic()
    try:
        eventually(
            lambda: set(received(stack, ITEM["title"])) >= set(emails),
            timeout=200,
            what="the newsletter after SMTP came back",
            every=0.5,
        )
        recovery = time.monotonic() - back_at
        wait_quiet(stack, "notify", timeout=120)
        counts = received(stack, ITEM["title"])
        print(
            f"\nFAULT smtp-down {down_for} s: newsletter to {len(emails)} complete "
            f"{recovery:.1f} s after SMTP came back; max copies {max(counts.values())}"
        )
        assert set(counts.values()) == {1}
    finally:
        controller.stop()


@pytest.mark.timeout(240)
def test_confirmation_goes_out_once_the_broker_is_back(stack: Stack):
    """Redis gone while someone subscribes: the answer is the same 202, the request waits in
    the outbox, and the confirmation mail arrives, once, after Redis comes back."""
    address = "sara.berg@example.se"
    stack.uvicorn("notify", "services.notify.api:create_app")
    stack.worker("notify-worker", "services.notify.tasks", "notify", concurrency=1)
    stack.redis.kill9()
    with client(stack.urls["notify"]) as http:
        answer = http.post("/api/v1/subscriptions", json={"email": address, "topics": ["miljo"]})
    assert answer.status_code == 202, answer.text
    assert pending_outbox(stack.database_url) == 1
    time.sleep(2)
    assert stack.smtp.to(address) == []
    stack.redis.start()
    back_at = time.monotonic()
    [mail] = eventually(lambda: stack.smtp.to(address), timeout=120, what="confirmation mail")
    recovery = time.monotonic() - back_at
    assert "Bekräfta" in str(mail["Subject"])
    wait_quiet(stack, "notify", timeout=60)
    time.sleep(2)
    assert len(stack.smtp.to(address)) == 1
    assert pending_outbox(stack.database_url) == 0
    print(f"\nFAULT broker-down subscribe: confirmation {recovery:.1f} s after Redis came back")
