"""The whole journey in a real browser against `newsroom run`: sign in with the code from
the mail, write an item, schedule it, and see it on the site, in the feeds and in a
subscriber's mail at its time; with JavaScript and without."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import feedparser
import httpx
import pytest
from playwright.sync_api import expect

from tests.browser import PHONE
from tests.e2e.conftest import eventually, link_in, path_of
from tests.editor.conftest import browser_sign_in, mails

pytestmark = pytest.mark.e2e
STOCKHOLM = ZoneInfo("Europe/Stockholm")


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
def test_sign_in_write_schedule_and_see_it_published(site, new_page, javascript):
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

    def newsletter():
        return [m for m in mails(site.outbox, reader) if title in str(m["Subject"])]

    [mail] = eventually(newsletter, timeout=60, what="the newsletter")
    assert path_of(page.url) in mail.get_body(preferencelist=("plain",)).get_content()
    print(
        f"journey ({who}): {time.monotonic() - started:.1f} s, "
        f"of which {(published - when).total_seconds():.1f} s after the scheduled time"
    )
