"""Personer and Sidor in a real browser against `newsroom run`: an admin's whole journey
without JavaScript (invite, the invitation's sign-in, change, token, deactivate, reactivate,
the log) and an editor's page with the toolbar, each page checked by axe-core at 375 and
1280 px and for sideways scrolling."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser import DESKTOP, HEIGHT, PHONE, overflow, readable, run_axe
from tests.editor.conftest import browser_sign_in, wait_for_mail

pytestmark = pytest.mark.e2e


class Widths:
    """axe-core and the screen's width on each page shown, at phone and desktop width."""

    def __init__(self, page) -> None:
        self.page = page
        self.report: list[str] = []

    def __call__(self, what: str) -> None:
        start = self.page.viewport_size
        for width in (PHONE, DESKTOP):
            self.page.set_viewport_size({"width": width, "height": HEIGHT[width]})
            result = run_axe(self.page)
            assert result["passes"] > 5, what  # axe ran on the page
            if result["violations"]:
                self.report.append(readable(f"{what} @{width}px", result["violations"]))
            if overflow(self.page) > 0:
                self.report.append(f"{what} @{width}px: wider than the screen")
        self.page.set_viewport_size(start)

    def assert_clean(self) -> None:
        assert not self.report, "\n".join(self.report)


def api_status(site, token: str) -> int:
    answer = httpx.get(f"{site.base}/api/v1/items", headers={"Authorization": f"Bearer {token}"})
    return answer.status_code


def wait_for(path: Path, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and text in (found := path.read_text(encoding="utf-8")):
            return found
        time.sleep(0.1)
    raise TimeoutError(f"{path} never held {text!r}")


def test_an_admin_runs_people_without_javascript(site, new_page):
    site.person("Ada Admin", "ada@kansliet.se", region="nationella-kansliet", role="admin")
    admin = new_page(width=PHONE, javascript=False)
    check = Widths(admin)
    browser_sign_in(admin, site, "ada@kansliet.se")
    admin.get_by_role("link", name="Personer").click()
    expect(admin.get_by_role("heading", name="Personer", exact=True)).to_be_visible()
    check("people")

    admin.get_by_role("link", name="Bjud in en person").click()
    admin.get_by_role("button", name="Skicka inbjudan").click()
    expect(admin.get_by_role("heading", name="Det finns problem")).to_be_visible()
    check("invite with errors")
    admin.get_by_label("Namn").fill("Bo Inbjuden")
    admin.get_by_label("E-postadress").fill("bo@regionhalland.se")
    admin.get_by_label("Skribent").check()
    admin.get_by_label("Region", exact=True).select_option(label="Region Halland")
    admin.get_by_label("Granskas innan publicering").check()
    admin.get_by_role("button", name="Skicka inbjudan").click()
    expect(admin.get_by_text("Inbjudan är skickad.")).to_be_visible()
    expect(admin.get_by_label("Granskas innan publicering")).to_be_checked()
    check("person")

    # Bo opens the invitation in his own browser: its button signs him in.
    text = wait_for_mail(site.outbox, "bo@regionhalland.se").get_body(("plain",)).get_content()
    link = re.search(r"https?://\S+/redaktion/logga-in/lank\?t=\S+", text).group(0)
    bo = new_page(width=DESKTOP, javascript=False)
    bo.goto(link)
    bo.get_by_role("button", name="Logga in").click()
    expect(bo.get_by_role("button", name="Logga ut")).to_be_visible()
    expect(bo.get_by_text("Bo Inbjuden")).to_be_visible()

    admin.get_by_label("Redaktör").check()
    admin.get_by_role("button", name="Spara ändringar").click()
    expect(admin.get_by_text("Ändringarna är sparade.")).to_be_visible()

    admin.get_by_role("button", name="Skapa ny API-token").click()
    token = admin.get_by_label("API-token").input_value()
    assert token.startswith("nr_") and api_status(site, token) == 200
    check("token")
    admin.get_by_role("link", name="Tillbaka till Bo Inbjuden").click()
    expect(admin.get_by_label("API-token")).to_have_count(0)  # shown once

    admin.get_by_role("button", name="Stäng av Bo Inbjuden").click()
    expect(admin.get_by_text("Personen är avstängd")).to_be_visible()
    bo.reload()
    expect(bo.get_by_label("E-postadress")).to_be_visible()  # his session ended
    deadline = time.monotonic() + 10  # other processes' token caches: 2 s
    while api_status(site, token) != 401 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert api_status(site, token) == 401

    admin.get_by_role("button", name="Återaktivera Bo Inbjuden").click()
    again = admin.get_by_label("API-token").input_value()
    assert again != token and api_status(site, again) == 200

    admin.goto(f"{site.base}/redaktion/personer/")
    admin.get_by_role("link", name="Logg över ändringar").click()
    rows = admin.get_by_role("row")
    expect(rows.nth(1)).to_contain_text("Ada Admin")
    expect(rows.nth(1)).to_contain_text("återaktiverade Bo Inbjuden")
    expect(admin.get_by_role("table")).to_contain_text("bjöd in Bo Inbjuden")
    expect(admin.get_by_role("table")).to_contain_text("roll: Skribent → Redaktör")
    check("audit log")
    check.assert_clean()


def test_an_editor_writes_a_page_that_every_footer_links(site, new_page):
    site.person("Vera Redaktör", "vera@kansliet.se", region="nationella-kansliet", role="editor")
    editor = new_page(width=DESKTOP, javascript=True)
    check = Widths(editor)
    browser_sign_in(editor, site, "vera@kansliet.se")
    editor.get_by_role("link", name="Sidor").click()
    expect(editor.get_by_role("link", name="Tillgänglighetsredogörelse")).to_be_visible()
    check("pages")

    editor.get_by_role("link", name="Ny sida").click()
    editor.get_by_label("Adress").fill("amne")
    editor.get_by_role("textbox", name="Rubrik").fill("Vår styrelse")
    editor.get_by_label("Text", exact=True).fill("Styrelsen **leder** nätverket.")
    editor.get_by_role("button", name="Skapa sidan").click()
    expect(editor.get_by_role("link", name="Adressen /amne/ används redan")).to_be_visible()
    check("page with a bad address")
    editor.get_by_label("Adress").fill("styrelse")
    expect(editor.get_by_role("toolbar")).to_be_visible()  # the item form's Markdown toolbar
    editor.get_by_role("button", name="Förhandsgranska").click()
    preview = editor.get_by_role("region", name="Förhandsgranskning")
    expect(preview.locator("strong")).to_have_text("leder")
    check("page preview")
    editor.get_by_role("button", name="Skapa sidan").click()
    expect(editor.get_by_text("Sidan är skapad.")).to_be_visible()
    check("page")

    wait_for(site.folder / "site" / "index.html", "/styrelse/")
    editor.goto(f"{site.base}/")
    footer = editor.get_by_role("contentinfo")
    footer.get_by_role("link", name="Vår styrelse").click()
    expect(editor.get_by_role("heading", name="Vår styrelse")).to_be_visible()
    expect(editor.get_by_role("contentinfo").get_by_role("link", name="Kontakt")).to_be_visible()
    check.assert_clean()
