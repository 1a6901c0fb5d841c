"""Fixtures of Redaktionen's tests: the one-process app with its worker (mail lands in the
test's outbox), people with addresses and signing in as they do (pages: tests/browser.py)."""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.ingest.contributors import add_contributor
from shared.db import session_scope
from shared.models import Contributor


def add_person(
    name: str,
    email_address: str,
    *,
    region: str = "region-skane",
    role: str = "contributor",
    review: bool = False,
) -> int:
    """A contributor with an address to sign in with; returns the id."""
    with session_scope() as session:
        add_contributor(session=session, name=name, region=region, role=role)
        contributor = session.scalar(select(Contributor).where(Contributor.name == name))
        contributor.email = email_address
        contributor.review_required = review
        session.flush()
        return contributor.id


def mails(outbox: Path, to: str) -> list[EmailMessage]:
    """Mails written to `outbox` for `to`, oldest first."""
    found = []
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if to in str(message["To"]):
            found.append(message)
    return found


def wait_for_mail(outbox: Path, to: str, *, count: int = 1, timeout: float = 30) -> EmailMessage:
    """The `count`-th mail to `to`, waiting (bounded) for the worker to write it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = mails(outbox, to)
        if len(found) >= count:
            return found[count - 1]
        time.sleep(0.1)
    raise TimeoutError(f"no mail {count} to {to} within {timeout} s")


def code_and_link(message: EmailMessage) -> tuple[str, str]:
    """The six-digit code and the link of a sign-in mail (from its text part)."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    code = re.search(r"Din kod är: (\d{6})", text).group(1)
    link = re.search(r"https?://\S+/redaktion/logga-in/lank\?t=\S+", text).group(0)
    return code, link


def csrf(html: str) -> str:
    return re.search(r'name="csrftoken" value="([^"]+)"', html).group(1)


@pytest.fixture
def outbox(db, tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def client(db) -> Iterator[TestClient]:
    """The embedded app with its worker thread: sign-in mails really go out (to files)."""
    from newsroom.embedded import create_app

    with TestClient(create_app(), base_url="http://localhost:8000") as test_client:
        yield test_client


def sign_in(client: TestClient, outbox: Path, address: str, *, count: int = 1) -> str:
    """Sign in through the pages with the mailed code; returns the CSRF token."""
    page = client.get("/redaktion/logga-in")
    token = csrf(page.text)
    answer = client.post("/redaktion/logga-in", data={"epost": address, "csrftoken": token})
    assert answer.status_code == 200, answer.text
    code, _ = code_and_link(wait_for_mail(outbox, address, count=count))
    answer = client.post("/redaktion/logga-in/kod", data={"kod": code, "csrftoken": token})
    assert answer.status_code == 200 and "Logga ut" in answer.text, answer.text
    return token


# --- the running system (embedded mode, `newsroom run`) -----------------------------------


class Site:
    """`newsroom run` in its own folder: its URL, its outbox and its database."""

    def __init__(self, base: str, folder: Path, processes) -> None:
        self.base = base
        self.folder = folder
        self.outbox = folder / "outbox"
        self.database_url = f"sqlite:///{folder / 'newsroom.db'}"
        self.processes = processes

    def newsroom(self, *args: str) -> str:
        from tests.e2e.conftest import BIN

        return self.processes.run(str(BIN / "newsroom"), *args)

    def person(
        self,
        name: str,
        address: str,
        *,
        region: str = "region-skane",
        role: str = "contributor",
        review: bool = False,
    ) -> None:
        """A contributor added with the CLI, given an address to sign in with."""
        from sqlalchemy import create_engine, text

        self.newsroom("contributor", "add", name, "--region", region, "--role", role)
        engine = create_engine(self.database_url)
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE contributors SET email = :e, review_required = :r WHERE name = :n"),
                {"e": address, "r": review, "n": name},
            )
        engine.dispose()

    def sql(self, statement: str, **params) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.database_url)
        with engine.begin() as connection:
            connection.execute(text(statement), params)
        engine.dispose()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    """The whole system in one process, as `make run` starts it, on a port of its own."""
    import os

    from tests.e2e.conftest import BIN, Processes
    from tests.servers import free_port, wait_for_port

    folder = tmp_path_factory.mktemp("redaktionen")
    (folder / "logs").mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSROOM_")}
    env.update(
        NEWSROOM_DATABASE_URL=f"sqlite:///{folder / 'newsroom.db'}",
        NEWSROOM_SITE_DIR=str(folder / "site"),
        NEWSROOM_SMTP_URL=f"file:{folder / 'outbox'}",
        NEWSROOM_BASE_URL=base,
    )
    processes = Processes(folder / "logs", env)
    running = Site(base, folder, processes)
    try:
        running.newsroom("db", "upgrade")
        processes.start("newsroom-run", str(BIN / "newsroom"), "run", "--port", str(port))
        wait_for_port("127.0.0.1", port, timeout=60)
        yield running
    finally:
        processes.stop()
        failed = [p for p in (folder / "logs").glob("*.log")]
        if failed and os.environ.get("EDITOR_TEST_LOGS"):
            print(processes.logs())


def browser_sign_in(page, site: Site, address: str) -> None:
    """Sign in as a person does: the address, then the code from the mail."""
    from playwright.sync_api import expect

    count = len(mails(site.outbox, address)) + 1
    page.goto(f"{site.base}/redaktion/logga-in")
    page.get_by_label("E-postadress").fill(address)
    page.get_by_role("button", name="Skicka kod").click()
    expect(page.get_by_role("heading", name="Skriv koden från mejlet")).to_be_visible()
    code, _ = code_and_link(wait_for_mail(site.outbox, address, count=count))
    page.get_by_label("Kod").fill(code)
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("button", name="Logga ut")).to_be_visible()
