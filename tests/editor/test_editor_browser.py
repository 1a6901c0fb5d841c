"""Redaktionen in a real browser: the conflict, review, withdrawal, history and restore,
and every bad input a person can meet (expired code, reused link, a form whose CSRF cookie
is gone, another region's item, a revoked person's session)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.editor.conftest import browser_sign_in, code_and_link, mails, wait_for_mail

pytestmark = pytest.mark.e2e


def write_draft(page, site, title: str, *, region: str = "Region Skåne") -> str:
    page.goto(f"{site.base}/redaktion/nyheter/ny")
    page.get_by_role("textbox", name="Rubrik").fill(title)
    page.get_by_label("Sammanfattning").fill("En kort sammanfattning av nyheten.")
    page.get_by_label("Text", exact=True).fill("Texten om nyheten, med **fetstil**.")
    page.get_by_role("checkbox", name=region).check()
    page.get_by_role("button", name="Spara utkast").click()
    expect(page.get_by_text("Utkastet är sparat.")).to_be_visible()
    return page.url.split("?")[0]


def test_two_people_saving_one_item_see_both_versions(site, new_page):
    site.person("Cecilia Ek", "cecilia@regionskane.se")
    site.person(
        "Eva Redaktör", "eva.redaktor@kansliet.se", region="nationella-kansliet", role="editor"
    )
    cecilia = new_page(javascript=False)
    browser_sign_in(cecilia, site, "cecilia@regionskane.se")
    url = write_draft(cecilia, site, "Möte om livsmedel")
    eva = new_page(javascript=False)
    browser_sign_in(eva, site, "eva.redaktor@kansliet.se")
    eva.goto(url)
    cecilia.goto(url)
    eva.get_by_role("textbox", name="Rubrik").fill("Möte om livsmedel i maj")
    eva.get_by_role("button", name="Spara utkast").click()
    expect(eva.get_by_text("Utkastet är sparat.")).to_be_visible()

    cecilia.get_by_role("textbox", name="Rubrik").fill("Möte om livsmedel och textilier")
    cecilia.get_by_role("button", name="Spara utkast").click()
    conflict = cecilia.get_by_role("alert")
    expect(conflict.get_by_role("heading", name="Någon annan har sparat nyheten")).to_be_visible()
    expect(conflict.get_by_text("Möte om livsmedel i maj")).to_be_visible()
    expect(conflict.get_by_text("Möte om livsmedel och textilier")).to_be_visible()
    expect(cecilia.get_by_role("textbox", name="Rubrik")).to_have_value(
        "Möte om livsmedel och textilier"
    )
    cecilia.get_by_role("button", name="Spara utkast").click()
    expect(cecilia.get_by_text("Utkastet är sparat.")).to_be_visible()
    expect(cecilia.get_by_role("textbox", name="Rubrik")).to_have_value(
        "Möte om livsmedel och textilier"
    )


def test_review_return_publish_withdraw_history_and_restore(site, new_page):
    site.person("Dan Granskad", "dan@regionskane.se", review=True)
    site.person("Frida Redaktör", "frida@kansliet.se", region="nationella-kansliet", role="editor")
    dan = new_page()
    browser_sign_in(dan, site, "dan@regionskane.se")
    dan.goto(f"{site.base}/redaktion/nyheter/ny")
    expect(dan.get_by_role("button", name="Publicera")).to_have_count(0)
    url = write_draft(dan, site, "Granskad nyhet om handskar")
    dan.get_by_role("button", name="Skicka för granskning").click()
    expect(dan.get_by_text("Status: För granskning")).to_be_visible()

    frida = new_page(javascript=False)
    browser_sign_in(frida, site, "frida@kansliet.se")
    frida.get_by_role("link", name="Granskning", exact=True).click()
    frida.get_by_role("link", name="Granskad nyhet om handskar").click()
    frida.get_by_role("link", name="Skicka tillbaka till skribenten").click()
    frida.get_by_role("button", name="Skicka tillbaka").click()
    expect(frida.get_by_role("link", name="Skriv vad skribenten behöver ändra.")).to_be_visible()
    frida.get_by_label("Kommentar till skribenten").fill("Skriv vilka leverantörer det gäller.")
    frida.get_by_role("button", name="Skicka tillbaka").click()
    expect(frida.get_by_text("skickad tillbaka till skribenten")).to_be_visible()
    returned = [
        m
        for m in mails(site.outbox, "dan@regionskane.se")
        if "skickats tillbaka" in str(m["Subject"])
    ]
    assert returned or wait_for_mail(site.outbox, "dan@regionskane.se", count=2)

    dan.goto(url)
    expect(dan.get_by_text("Skriv vilka leverantörer det gäller.")).to_be_visible()
    dan.get_by_label("Text", exact=True).fill("Det gäller leverantörerna A och B.")
    dan.get_by_role("button", name="Skicka för granskning").click()
    expect(dan.get_by_text("Status: För granskning")).to_be_visible()

    frida.goto(url)
    frida.get_by_role("button", name="Publicera").click()
    expect(frida.get_by_text("Nyheten är publicerad.")).to_be_visible()
    frida.get_by_role("textbox", name="Rubrik").fill("Granskad nyhet om handskar – rättad")
    frida.get_by_role("button", name="Uppdatera").click()
    expect(frida.get_by_text("Ändringen är sparad och syns på webbplatsen.")).to_be_visible()

    frida.get_by_role("link", name="Historik").click()
    expect(frida.get_by_role("table")).to_contain_text("Dan Granskad")
    expect(frida.get_by_role("table")).to_contain_text("Frida Redaktör")
    frida.get_by_role("link", name="Version 2", exact=True).click()
    frida.get_by_role("button", name="Återställ version 2").click()
    expect(frida.get_by_text("Den valda versionen är återställd")).to_be_visible()
    expect(frida.get_by_role("textbox", name="Rubrik")).to_have_value("Granskad nyhet om handskar")

    frida.get_by_role("link", name="Återkalla").click()
    expect(frida.get_by_role("heading", name="Vill du återkalla nyheten?")).to_be_visible()
    frida.get_by_role("button", name="Ja, återkalla nyheten").click()
    expect(frida.get_by_text("Status: Återkallad")).to_be_visible()


def test_bad_inputs_get_clear_swedish_pages(site, new_page):
    site.person("Gustav Fel", "gustav@regionskane.se")
    site.person("Hanna Uppsala", "hanna@regionuppsala.se", region="region-uppsala")
    page = new_page(javascript=False)

    # A wrong code, then an expired one.
    page.goto(f"{site.base}/redaktion/logga-in")
    page.get_by_label("E-postadress").fill("gustav@regionskane.se")
    page.get_by_role("button", name="Skicka kod").click()
    code, link = code_and_link(wait_for_mail(site.outbox, "gustav@regionskane.se"))
    page.get_by_label("Kod").fill("12345")
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("link", name="Skriv de sex siffrorna från mejlet.")).to_be_visible()
    expect(page.get_by_label("Kod")).to_have_value("12345")
    site.sql("UPDATE editor_sign_ins SET expires_at = '2000-01-01 00:00:00'")
    page.get_by_label("Kod").fill(code)
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("link", name=re.compile("har gått ut"))).to_be_visible()

    # A link used once is refused the second time.
    browser_sign_in(page, site, "gustav@regionskane.se")
    _, link = code_and_link(wait_for_mail(site.outbox, "gustav@regionskane.se", count=2))
    other = new_page(javascript=False)
    other.goto(link)
    expect(other.get_by_role("heading", name="Länken fungerar inte")).to_be_visible()

    # A form whose CSRF cookie is gone (a new browser session) saves nothing.
    page.goto(f"{site.base}/redaktion/nyheter/ny")
    page.get_by_role("textbox", name="Rubrik").fill("Ska inte sparas")
    cookies = [c for c in page.context.cookies() if c["name"] != "csrftoken"]
    page.context.clear_cookies()
    page.context.add_cookies(cookies)
    page.get_by_role("button", name="Spara utkast").click()
    expect(page.get_by_role("heading", name="Formuläret kunde inte skickas")).to_be_visible()

    # Another region's item.
    hanna = new_page(javascript=False)
    browser_sign_in(hanna, site, "hanna@regionuppsala.se")
    theirs = write_draft(hanna, site, "Uppsalas utkast", region="Region Uppsala")
    page.goto(f"{site.base}/redaktion/")
    page.goto(theirs)
    expect(page.get_by_text("Nyheten finns inte, eller så är den inte din.")).to_be_visible()

    # A revoked person's session ends at once.
    site.newsroom("contributor", "revoke", "Hanna Uppsala")
    hanna.goto(theirs)
    expect(hanna.get_by_role("heading", name="Logga in i Redaktionen")).to_be_visible()
    expect(hanna.get_by_text("Du är utloggad")).to_be_visible()


def tab_to(page, target, *, limit: int = 80) -> None:
    """Press Tab until `target` has the focus, as a keyboard user moves through a page."""
    for _ in range(limit):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{target} cannot be reached with Tab")


def test_keyboard_only_sign_in_write_with_the_toolbar_and_save(site, new_page):
    site.person("Klara Tangent", "klara@regionskane.se")
    page = new_page(width=375)
    page.goto(f"{site.base}/redaktion/logga-in")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Hoppa till innehållet")).to_be_focused()
    tab_to(page, page.get_by_label("E-postadress"))
    page.keyboard.type("klara@regionskane.se")
    page.keyboard.press("Enter")
    code, _ = code_and_link(wait_for_mail(site.outbox, "klara@regionskane.se"))
    tab_to(page, page.get_by_label("Kod"))
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Logga ut")).to_be_visible()

    tab_to(page, page.get_by_role("link", name="Ny nyhet").first)
    page.keyboard.press("Enter")
    tab_to(page, page.get_by_role("textbox", name="Rubrik"))
    page.keyboard.type("Skriven med tangentbordet")
    tab_to(page, page.get_by_label("Sammanfattning"))
    page.keyboard.type("Allt gick att nå med tabbtangenten.")
    tab_to(page, page.get_by_role("button", name="Kursiv"))
    page.keyboard.press("Enter")
    text = page.get_by_label("Text", exact=True)
    expect(text).to_be_focused()
    expect(text).to_have_value("_text_")
    page.keyboard.type("tangenter")
    expect(text).to_have_value("_tangenter_")
    tab_to(page, page.get_by_role("checkbox", name="Handskar"))
    page.keyboard.press("Space")
    tab_to(page, page.get_by_role("button", name="Spara utkast"))
    page.keyboard.press("Enter")
    expect(page.get_by_text("Utkastet är sparat.")).to_be_visible()
    expect(page.get_by_role("checkbox", name="Handskar")).to_be_checked()


def test_autosave_keeps_a_draft_while_the_person_writes(site, new_page):
    site.person("Lisa Autospar", "lisa@regionskane.se")
    page = new_page()
    browser_sign_in(page, site, "lisa@regionskane.se")
    page.goto(f"{site.base}/redaktion/nyheter/ny")
    page.get_by_role("textbox", name="Rubrik").fill("Sparas av sig själv")
    expect(page.get_by_text(re.compile("Sparas automatiskt när"))).to_be_visible(timeout=15_000)
    page.get_by_label("Sammanfattning").fill("Utan att någon trycker på en knapp.")
    page.get_by_label("Text", exact=True).fill("Texten skrivs och sparas.")
    expect(page.get_by_text(re.compile("Utkastet sparades automatiskt"))).to_be_visible(
        timeout=15_000
    )
    assert re.search(r"/redaktion/nyheter/[0-9a-f-]{36}$", page.url)
    with page.expect_response(lambda r: "autospara" in r.url, timeout=15_000) as saved:
        page.get_by_label("Text", exact=True).fill("Texten skrivs, sparas och ändras.")
    assert saved.value.json()["version"] == 2
    # The page took the new version: saving now is no conflict with its own autosave.
    page.get_by_role("button", name="Spara utkast").click()
    expect(page.get_by_text("Utkastet är sparat.")).to_be_visible()
    expect(page.get_by_label("Text", exact=True)).to_have_value("Texten skrivs, sparas och ändras.")
    page.get_by_role("link", name="Mina nyheter").click()
    expect(page.get_by_role("link", name="Sparas av sig själv")).to_have_count(1)
