"""An admin's journey through Redaktionen's subscriber and newsletter pages in a browser, once
without JavaScript on a phone and once with it on a desktop: every page has no axe-core
violation, fits the screen and is valid HTML."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from services.notify import ledger
from services.notify.keys import ItemKey
from shared.db import session_scope, utcnow
from shared.models import Contributor, Delivery, Subscriber
from shared.redaktion import sessions
from tests.browser import DESKTOP, PHONE, asgi_server, assert_fits_screen, assert_valid_html, axe
from tests.editor.conftest import add_person

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

CSV = (
    "adress;regioner;ämnen;frekvens;samtyckets källa;samtyckesdatum\n"
    "ny@example.se;Region Skåne;;veckovis;formulär;2019-03-01\n"
    "anna@example.se;;;;formulär;2019-03-01\n"
    "trasig;;;;formulär;2019-03-01\n"
)


def known_data() -> str:
    """Two subscribers and a newsletter half sent, one failure: its key."""
    key = str(ItemKey(uuid.uuid4()))
    with session_scope() as session:
        people = [
            Subscriber(email="anna@example.se", status="confirmed", regions=["region-skane"]),
            Subscriber(email="bo@example.se", status="pending", frequency="weekly"),
        ]
        session.add_all(people)
        session.flush()
        ledger.claim(
            session=session, newsletter=key, subscriber_ids=[p.id for p in people], now=utcnow()
        )
        session.flush()
        row = session.query(Delivery).filter_by(subscriber_id=people[0].id).one()
        row.status, row.error = "failed", "550 5.1.1 mailbox unavailable"
    return key


@pytest.mark.parametrize(
    ("javascript", "width"), [(False, PHONE), (True, DESKTOP)], ids=["no-js-375px", "js-1280px"]
)
def test_admin_journey(db, new_page, tmp_path: Path, javascript: bool, width: int):
    from newsroom.embedded import create_app

    known_data()
    admin = add_person("Ada Admin", "ada@kansliet.se", role="admin")
    with session_scope() as session:
        token = sessions.start(
            session=session, contributor=session.get(Contributor, admin), now=utcnow()
        )
    csv_path = tmp_path / "lista.csv"
    csv_path.write_text(CSV, encoding="utf-8")
    documents: list[str] = []

    with asgi_server(create_app(with_workers=False)) as base:
        page = new_page(width=width, javascript=javascript, accept_downloads=True)
        page.context.add_cookies(
            [{"name": "redaktion", "value": token, "url": f"{base}/redaktion/"}]
        )

        def check() -> None:
            documents.append(page.content())
            axe(page)
            assert_fits_screen(page)

        response = page.goto(f"{base}/redaktion/")
        page.get_by_role("link", name="Prenumeranter").click()
        expect(page.get_by_role("heading", name="Prenumeranter", level=1)).to_be_visible()
        status = page.get_by_role("table", name="Efter status")
        expect(status.get_by_role("row", name="Aktiv 1")).to_be_visible()
        expect(status.get_by_role("row", name="Väntar på bekräftelse 1")).to_be_visible()
        check()

        page.get_by_label("E-postadress").fill("anna@example.se")
        page.get_by_role("button", name="Sök").click()
        expect(page.get_by_role("heading", name="anna@example.se")).to_be_visible()
        check()
        with page.expect_download() as download:
            page.get_by_role("button", name="Exportera (JSON)").click()
        exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
        assert exported["subscription"]["status"] == "confirmed"

        page.get_by_role("link", name="Importera en lista (CSV)").click()
        check()
        page.get_by_label("CSV-fil").set_input_files(csv_path)
        page.get_by_role("button", name="Granska filen").click()
        expect(page.get_by_role("heading", name="Granska importen")).to_be_visible()
        errors = page.get_by_role("table", name="Rader med fel")
        expect(errors.get_by_role("row", name="4 trasig")).to_be_visible()
        check()
        page.get_by_role("button", name="Importera 1 adresser").click()
        expect(page.get_by_role("heading", name="Importen är klar")).to_be_visible()
        check()

        page.get_by_role("link", name="Nyhetsbrev").click()
        expect(page.get_by_role("heading", name="Nyhetsbrev", level=1)).to_be_visible()
        check()
        page.get_by_role("link", name="Nyhet som inte längre finns").click()
        expect(page.get_by_text("1 mottagare har inte fått sitt mejl än.")).to_be_visible()
        expect(page.get_by_role("cell", name="550 5.1.1 mailbox unavailable")).to_be_visible()
        expect(page.get_by_role("listitem").filter(has_text="bo@example.se")).to_be_visible()
        check()
        page.get_by_role("link", name="Prenumeranter").click()
        page.get_by_label("E-postadress").fill("anna@example.se")
        page.get_by_role("button", name="Sök").click()
        page.get_by_role("button", name="Glöm adressen").click()
        expect(page.get_by_role("heading", name="Glömma anna@example.se?")).to_be_visible()
        check()
        page.get_by_role("button", name="Ja, glöm adressen").click()
        expect(page.get_by_text("anna@example.se är borttagen.")).to_be_visible()

        assert response is not None
    with session_scope() as session:
        assert (
            session.query(Subscriber).filter_by(email="ny@example.se").one().status == "confirmed"
        )
    if javascript:
        assert_valid_html(*documents)
