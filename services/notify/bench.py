"""Measure newsletter throughput to a local aiosmtpd server and per-recipient render time.

    .venv/bin/python -m services.notify.bench [--recipients 2000] [--database-url URL]

Uses a throw-away SQLite database unless --database-url is given (it only adds rows
there). The SMTP server is aiosmtpd's sink in a process of its own, as a real server would
be (in a thread of this process it would share the GIL and halve the pace). Needs the test
extra (aiosmtpd).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--database-url")
    parser.add_argument(
        "--sink",
        choices=("aiosmtpd", "postfix"),
        default="aiosmtpd",
        help="the receiving server: aiosmtpd's Sink or Postfix's smtp-sink",
    )
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="notify-bench-")
    port = _free_port()
    os.environ["NEWSROOM_DATABASE_URL"] = args.database_url or f"sqlite:///{workdir}/bench.db"
    os.environ["NEWSROOM_SMTP_URL"] = f"smtp://127.0.0.1:{port}"

    from shared.db import session_scope, utcnow
    from shared.migrate import upgrade
    from sqlalchemy import func, select

    from shared.models import Delivery, Item, Subscriber

    from services.notify import mail, service

    upgrade()
    now = utcnow()
    with session_scope() as session:
        session.add_all(
            Subscriber(
                email=f"bench-{uuid.uuid4().hex[:10]}@example.se",
                status="confirmed",
                created_at=now,
                confirmed_at=now,
            )
            for _ in range(args.recipients)
        )
        item = Item(
            slug=f"bench-{uuid.uuid4().hex[:8]}",
            month=f"{now:%Y-%m}",
            title="Åtta fabriker i Malaysia – så gick uppföljningen av handskar",
            summary="Regionerna följde upp leverantörernas arbete med mänskliga rättigheter.",
            body_md="## Vad vi såg\n\n" + "Text om uppföljningen. " * 60,
            body_html="<h2>Vad vi såg</h2><p>" + "Text om uppföljningen. " * 60 + "</p>",
            published_at=now - timedelta(minutes=1),
            regions=["region-skane"],
            topics=["handskar"],
        )
        session.add(item)
        session.flush()
        item_id = item.id
    event = {"type": "item.published", "item_id": str(item_id), "item_version": 1}

    # Rendering alone: the common part once, then each recipient's links and message.
    with session_scope() as session:
        item = session.get(Item, item_id)
        subscribers = list(session.query(Subscriber).limit(500))
        newsletter = service.ItemNewsletter(item, now=now)
        started = time.perf_counter()
        newsletter.message_for(subscribers[0], now=now)
        first = time.perf_counter() - started
        started = time.perf_counter()
        for subscriber in subscribers:
            mail.message_bytes(newsletter.message_for(subscriber, now=now))
        per_recipient = (time.perf_counter() - started) / len(subscribers)

    if args.sink == "postfix":
        user = ["-u", "postfix"] if os.geteuid() == 0 else []  # it refuses to run as root
        command = ["smtp-sink", *user, f"127.0.0.1:{port}", "100"]
    else:
        command = [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ]
    sink = subprocess.Popen(command)
    try:
        for _ in range(100):  # bounded wait for the sink to listen
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        started = time.perf_counter()
        with session_scope() as session:
            key, waiting = service.plan_item_newsletter(session=session, event=event, now=utcnow())
        planned = time.perf_counter() - started
        started = time.perf_counter()
        sent = sum(
            service.deliver_batch(newsletter=key, subscriber_ids=batch).sent
            for batch in service.batches(waiting)
        )
        elapsed = time.perf_counter() - started
    finally:
        sink.terminate()
        sink.wait()
    with session_scope() as session:
        ledger_sent = session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.newsletter == key, Delivery.status == "sent")
        )
    assert sent == ledger_sent == args.recipients, (sent, ledger_sent)
    print(f"database:            {os.environ['NEWSROOM_DATABASE_URL'].split(':')[0]}")
    print(f"smtp server:         {args.sink} (own process)")
    print(f"recipients:          {sent}")
    print(f"first render:        {first * 1000:.1f} ms (templates + CSS inlining, once)")
    print(f"per recipient:       {per_recipient * 1000:.2f} ms (links + message + bytes)")
    print(f"plan + claim ledger: {planned * 1000:.0f} ms")
    print(
        f"delivery:            {elapsed:.1f} s = {sent / elapsed:.0f} mails/s "
        f"(one process, batches of {service.batches(list(range(1000)))[0].__len__()}, "
        "ledger committed around each mail)"
    )


if __name__ == "__main__":
    main()
