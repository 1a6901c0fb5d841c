"""The whole journey in a real browser against `newsroom run`: sign in with the code from
the mail, write an item with an image and a PDF, preview it (the site's page and the
subscribers' mail in frames, the buttons saying whom they mail, axe-core at 0 violations),
schedule it, and see it on the site, in the feeds and in a subscriber's mail at its time;
with JavaScript and without."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import feedparser
import httpx
import pytest
from playwright.sync_api import expect

from tests.browser import PHONE, axe
from tests.e2e.conftest import eventually, link_in, path_of
from tests.editor.conftest import browser_sign_in, mails
from tests.editor.test_editor_media import PHOTO, REPORT

pytestmark = pytest.mark.e2e
STOCKHOLM = ZoneInfo("Europe/Stockholm")
ALT = "Deltagare vid workshopen sorterar textilprover"
DOCUMENT = "Program för workshopen"


def next_minute() -> datetime:
    """A local time on a whole minute, at least 20 s away (the form takes minutes)."""
    moment = datetime.now(STOCKHOLM).replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (moment - datetime.now(STOCKHOLM)).total_seconds() < 20:
        moment += timedelta(minutes=1)
    return moment


def subscribe(site, address: str) -> None:
    answer = httpx.post(
        f"{site.base}/api/v1/subscriptions",
        json={
            "email": address,
            "regions": ["region-skane"],
            "topics": [],
            "frequency": "immediate",
        },
        timeout=10,
    )
    assert answer.status_code == 202
    [confirmation] = eventually(lambda: mails(site.outbox, address), what="confirmation")
    # The link's page has a button; its POST confirms.
    confirmed = httpx.post(f"{site.base}{path_of(link_in(confirmation, 'bekrafta'))}", timeout=10)
    assert confirmed.status_code == 200


def get(site, path: str) -> str:
    answer = httpx.get(f"{site.base}{path}", timeout=10)
    answer.raise_for_status()
    return answer.text


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_sign_in_write_preview_schedule_and_see_it_published(site, new_page, javascript):
    started = time.monotonic()
    who = "js" if javascript else "nojs"
    address = f"anna.{who}@regionskane.se"
    reader = f"lasare.{who}@example.se"
    site.person(f"Anna Ström {who}", address)
    subscribe(site, reader)
    title = f"Workshop om hållbara textilier ({'med' if javascript else 'utan'} JavaScript)"

    page = new_page(javascript=javascript, width=PHONE)
    browser_sign_in(page, site, address)
    expect(page.get_by_role("heading", name="Mina nyheter")).to_be_visible()
    page.get_by_role("link", name="Ny nyhet").first.click()
    expect(page.get_by_role("heading", name="Ny nyhet")).to_be_visible()
    expect(page.get_by_text(f"Skribent: Anna Ström {who}")).to_be_visible()
    write(page, title, javascript=javascript)
    page.get_by_role("button", name="Spara utkast").click()
    expect(page.get_by_text("Utkastet är sparat.")).to_be_visible()
    attach_image_and_document(page)
    preview(page, title, javascript=javascript)
    assert not mails(site.outbox, reader)[1:]  # the confirmation only: a preview mails no one

    when = next_minute()
    page.get_by_label("Datum").fill(f"{when:%Y-%m-%d}")
    page.get_by_label("Tid", exact=True).fill(f"{when:%H:%M}")
    expect(page.get_by_text("Nyheten syns på webbplatsen vid datum och tid ovan")).to_be_visible()
    page.get_by_role("button", name="Schemalägg").click()

    expect(page.get_by_text("Nyheten är schemalagd.")).to_be_visible()
    expect(page.get_by_text("Status: Schemalagd")).to_be_visible()
    assert title not in get(site, "/aktuellt/")  # not before its time

    feeds_and_page = eventually(
        lambda: title in get(site, "/aktuellt/") and title in get(site, "/rss.xml"),
        timeout=150,
        what="the item on the site at its time",
    )
    assert feeds_and_page
    published = datetime.now(STOCKHOLM)
    assert published >= when - timedelta(seconds=1)
    for feed in ("/rss.xml", "/atom.xml"):
        parsed = feedparser.parse(get(site, feed))
        [entry] = [e for e in parsed.entries if e.title == title]
    page.reload()
    expect(page.get_by_text("Status: Publicerad")).to_be_visible()
    page.get_by_role("link", name="Visa på webbplatsen").click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    expect(page.locator("strong", has_text="riskanalys")).to_be_visible()
    assert path_of(entry.link) == path_of(page.url)
    image = page.get_by_role("img", name=ALT)
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")  # the file is served
    report = httpx.get(
        urljoin(page.url, page.get_by_role("link", name=DOCUMENT).get_attribute("href"))
    )
    assert report.headers["content-type"] == "application/pdf"
    assert report.content == REPORT

    def newsletter():
        return [m for m in mails(site.outbox, reader) if title in str(m["Subject"])]

    [mail] = eventually(newsletter, timeout=60, what="the newsletter")
    assert path_of(page.url) in mail.get_body(preferencelist=("plain",)).get_content()
    print(
        f"journey ({who}): {time.monotonic() - started:.1f} s, "
        f"of which {(published - when).total_seconds():.1f} s after the scheduled time"
    )


def write(page, title: str, *, javascript: bool) -> None:
    page.get_by_label("Rubrik").fill(title)
    page.get_by_label("Sammanfattning").fill("Region Skåne bjuder in till en workshop.")
    text = page.get_by_label("Text", exact=True)
    if javascript:
        expect(page.get_by_text("Du har 560 tecken kvar av 600.")).to_be_visible()
        text.fill("riskanalys")
        text.select_text()
        page.get_by_role("toolbar", name="Formatering av texten").get_by_role(
            "button", name="Fet"
        ).click()
        expect(text).to_have_value("**riskanalys**")
        text.press("End")
        text.press_sequentially(" och uppföljning av leverantörer.")
    else:
        expect(page.get_by_role("toolbar")).to_have_count(0)
        text.fill("**riskanalys** och uppföljning av leverantörer.")
    expect(page.get_by_role("checkbox", name="Region Skåne")).to_be_checked()
    page.get_by_role("checkbox", name="Textilier").check()
    expect(page.get_by_role("checkbox", name="Skicka till prenumeranter")).to_be_checked()


def attach_image_and_document(page) -> None:
    """A phone's photo with its alt text, then a PDF with its title: each its own form."""
    page.get_by_label("Bild", exact=True).set_input_files(
        files=[{"name": "IMG_2041.jpg", "mimeType": "image/jpeg", "buffer": PHOTO}]
    )
    page.get_by_role("textbox", name="Alternativtext").fill(ALT)
    page.get_by_role("button", name="Ladda upp bild").click()
    expect(page.get_by_text("Ändringen av bild eller dokument är sparad")).to_be_visible()
    expect(page.get_by_text(f"Bild: ”{ALT}”")).to_be_visible()
    page.get_by_label("Dokument", exact=True).set_input_files(
        files=[{"name": "program.pdf", "mimeType": "application/pdf", "buffer": REPORT}]
    )
    page.get_by_label("Dokumentets titel").fill(DOCUMENT)
    page.get_by_role("button", name="Ladda upp dokument").click()
    expect(page.get_by_text("Ändringen av bild eller dokument är sparad")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text=DOCUMENT)).to_be_visible()


def preview(page, title: str, *, javascript: bool) -> None:
    """Förhandsgranska: the site's page and the mail in frames, by the real templates, and the
    publish button saying whom it mails (following the box at once with JavaScript)."""
    publish = page.get_by_role("button", name="Publicera")
    expect(publish).to_have_accessible_name(re.compile(r"^Publicera – skickas till [1-9]\d* pren"))
    if javascript:
        page.get_by_role("checkbox", name="Skicka till prenumeranter").uncheck()
        expect(publish).to_have_accessible_name("Publicera – inget mejl")
        page.get_by_role("checkbox", name="Skicka till prenumeranter").check()

    page.get_by_role("button", name="Förhandsgranska").click()
    expect(page.get_by_role("heading", name="Förhandsgranskning", exact=True)).to_be_visible()
    site_frame = page.frame_locator('iframe[title="Förhandsgranskning: sidan på webbplatsen"]')
    expect(site_frame.get_by_role("heading", name=title, level=1)).to_be_visible()
    expect(site_frame.get_by_role("navigation", name="Huvudmeny")).to_be_visible()
    expect(site_frame.locator("strong", has_text="riskanalys")).to_be_visible()
    expect(site_frame.get_by_role("img", name=ALT)).to_be_visible()
    expect(site_frame.get_by_role("link", name=DOCUMENT)).to_be_visible()
    mail_frame = page.frame_locator(
        'iframe[title="Förhandsgranskning: mejlet till prenumeranterna"]'
    )
    expect(mail_frame.get_by_role("link", name="Läs på webben")).to_be_visible()
    page.get_by_text("Mejlets textversion").click()
    expect(page.locator("pre.preview-text")).to_contain_text("Läs på webben: http")
    expect(page.get_by_label("Rubrik")).to_have_value(title)  # the form is kept as typed
    axe(page, label="preview")
    if javascript:  # each preview, as a page of its own, passes too (the same either way)
        frames = page.locator("iframe.preview-frame")
        for url in [frames.nth(i).get_attribute("src") for i in range(frames.count())]:
            alone = page.context.new_page()
            alone.goto(urljoin(page.url, url))
            axe(alone, label=url)
            alone.close()
