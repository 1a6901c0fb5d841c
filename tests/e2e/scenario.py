"""The walking-skeleton journey, the same in both run modes: subscribe, confirm, post an item,
and see it on the item page, in /aktuellt/, in both feeds, in search and in the subscriber's
inbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage

import feedparser
import httpx

from tests.e2e.conftest import eventually, link_in, path_of

SUBSCRIBER = "marta.ek@example.se"
ITEM = {
    "title": "Uppföljning av handskar – så gick det för Region Skåne",
    "summary": "Regionerna följde upp leverantörernas arbete med mänskliga rättigheter.",
    "body": "## Vad vi såg\n\nÅtta fabriker besöktes i **Malaysia**; två åtgärder återstår.",
    "published_at": "2021-04-29T09:00:00+02:00",
    "regions": ["region-skane"],
    "topics": ["handskar", "uppfoljning"],
}


def journey(
    *,
    ingest: str,
    notify: str,
    token: str,
    fetch_site: Callable[[str], str],
    mails_to: Callable[[str], list[EmailMessage]],
    search: str,
) -> None:
    # Subscribe (double opt-in) and confirm through the link in the mail.
    answer = httpx.post(
        f"{notify}/api/v1/subscriptions",
        json={
            "email": SUBSCRIBER,
            "regions": ["region-skane"],
            "topics": [],
            "frequency": "immediate",
        },
        timeout=10,
    )
    assert answer.status_code == 202, answer.text
    [confirmation] = eventually(lambda: mails_to(SUBSCRIBER), what="confirmation mail")
    confirmed = httpx.post(f"{notify}{path_of(link_in(confirmation, 'bekrafta'))}", timeout=10)
    assert confirmed.status_code == 200, confirmed.text

    # Without a token nothing is accepted.
    refused = httpx.post(f"{ingest}/api/v1/items", json=ITEM, timeout=10)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")

    created = httpx.post(
        f"{ingest}/api/v1/items",
        json=ITEM,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    item = created.json()
    assert created.headers["location"].endswith(f"/api/v1/items/{item['id']}")
    path = path_of(item["url"])
    assert path.startswith("/aktuellt/2021/04/uppfoljning-av-handskar")

    page = eventually(lambda: fetch_site(path), what="item page")
    assert ITEM["title"] in page
    assert "29 apr 2021" in page
    assert "Åtta fabriker" in page and "<strong>Malaysia</strong>" in page
    assert 'lang="sv"' in page
    assert ITEM["title"] in eventually(lambda: fetch_site("/aktuellt/"), what="/aktuellt/")

    for feed_path in ("/rss.xml", "/atom.xml"):
        feed = feedparser.parse(
            eventually(
                lambda p=feed_path: ITEM["title"] in fetch_site(p) and fetch_site(p), what=feed_path
            )
        )
        assert not feed.bozo, feed.bozo_exception
        [entry] = [e for e in feed.entries if e.title == ITEM["title"]]
        assert path_of(entry.link) == path
        assert datetime(*entry.published_parsed[:6]).isoformat() == "2021-04-29T07:00:00"

    def newsletter() -> list[EmailMessage]:
        return [m for m in mails_to(SUBSCRIBER) if ITEM["title"] in str(m["Subject"])]

    def found() -> list[dict]:
        answer = httpx.get(f"{search}/api/v1/search", params={"q": "handskar malaysia"}, timeout=10)
        answer.raise_for_status()
        return [hit for hit in answer.json()["items"] if hit["title"] == ITEM["title"]]

    [hit] = eventually(found, what="search hit")
    assert path_of(hit["url"]) == path

    [mail] = eventually(newsletter, what="newsletter")
    assert mail["List-Unsubscribe"].startswith("<http")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert ITEM["title"] in text and ITEM["title"] in html
    assert path in text and path in html
