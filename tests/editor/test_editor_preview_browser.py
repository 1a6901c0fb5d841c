"""Förhandsgranska in a real browser against `newsroom run`, with JavaScript and without: the
site's item page and the subscribers' mail in frames, the buttons saying whom they mail (the
count following the regions with JavaScript), axe-core at 0 violations on the editor's page
and on both previews."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser import axe
from tests.editor.conftest import browser_sign_in, mails
from tests.editor.test_editor_journey import subscribe

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_preview_in_frames_and_what_each_button_mails(site, new_page, javascript):
    who = "js" if javascript else "nojs"
    address = f"greta.{who}@regionskane.se"
    site.person(f"Greta Lund {who}", address)
    subscribe(site, f"prenumerant.{who}@example.se")  # Region Skåne, every topic
    title = f"Upphandling av handskar ({who})"

    page = new_page(javascript=javascript)
    browser_sign_in(page, site, address)
    page.goto(f"{site.base}/redaktion/nyheter/ny")
    page.get_by_label("Rubrik").fill(title)
    page.get_by_label("Sammanfattning").fill("Nätverket följer upp leverantörer av handskar.")
    page.get_by_label("Text", exact=True).fill("Tre **fabriker** besöktes.\n\n## Nästa steg")
    page.get_by_role("checkbox", name="Handskar").check()
    publish = page.get_by_role("button", name="Publicera")
    expect(publish).to_have_accessible_name(re.compile(r"^Publicera – skickas till \d+ pren"))
    if javascript:  # the button follows the box at once
        page.get_by_role("checkbox", name="Skicka till prenumeranter").uncheck()
        expect(publish).to_have_accessible_name("Publicera – inget mejl")
        page.get_by_role("checkbox", name="Skicka till prenumeranter").check()

    page.get_by_role("button", name="Förhandsgranska").click()
    expect(page.get_by_role("heading", name="Förhandsgranskning", exact=True)).to_be_visible()
    site_frame = page.frame_locator('iframe[title="Förhandsgranskning: sidan på webbplatsen"]')
    expect(site_frame.get_by_role("heading", name=title, level=1)).to_be_visible()
    expect(site_frame.get_by_role("navigation", name="Huvudmeny")).to_be_visible()
    expect(site_frame.locator("strong", has_text="fabriker")).to_be_visible()
    mail_frame = page.frame_locator(
        'iframe[title="Förhandsgranskning: mejlet till prenumeranterna"]'
    )
    expect(mail_frame.get_by_role("link", name="Läs på webben")).to_be_visible()
    page.get_by_text("Mejlets textversion").click()
    expect(page.locator("pre.preview-text")).to_contain_text("Läs på webben: http")
    # The count is notify's: the subscriber just confirmed is among them.
    expect(publish).to_have_accessible_name(re.compile(r"^Publicera – skickas till [1-9]\d* pren"))
    expect(page.get_by_label("Rubrik")).to_have_value(title)  # the form is kept as typed
    axe(page, label=f"preview ({who})")

    if javascript:  # each preview, as a page of its own, passes too (the same either way)
        frames = page.locator("iframe.preview-frame")
        for url in [frames.nth(i).get_attribute("src") for i in range(frames.count())]:
            page.goto(f"{site.base}{url}")
            axe(page, label=url)
    assert not mails(site.outbox, f"prenumerant.{who}@example.se")[1:]  # the confirmation only
