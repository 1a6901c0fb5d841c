"""Mail building and newsletter rendering, parsed back with the `email` package (no I/O)."""

from __future__ import annotations

import email
import email.policy
import re
import uuid
from datetime import UTC, datetime

import pytest

from services.notify import delivery, mail, rendering
from services.notify.keys import DigestKey
from shared.config import get_settings
from shared.models import Item, Subscriber


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def an_item(**changes) -> Item:
    values = dict(
        id=uuid.uuid4(),
        slug="uppfoljning-av-handskar",
        month="2021-04",
        title="Uppföljning av handskar – så gick det för Region Skåne",
        summary="Regionerna följde upp leverantörernas arbete.",
        body_md="Åtta fabriker besöktes.",
        body_html="<p>Åtta fabriker besöktes.</p>",
        published_at=datetime(2021, 4, 29, 7, 0, tzinfo=UTC),
        regions=["region-skane"],
        topics=["handskar"],
        status="published",
    )
    values.update(changes)
    return Item(**values)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the templates rendered during the test, in order."""
    names: list[str] = []
    original = rendering.render

    def counting(name, **context):
        names.append(name)
        return original(name, **context)

    monkeypatch.setattr(rendering, "render", counting)
    return names


def a_subscriber(**changes) -> Subscriber:
    values = dict(
        id=7,
        email="marta.ek@example.se",
        link_id="c3ViM2NyaWJlcjc",
        regions=[],
        topics=[],
        frequency="immediate",
        status="confirmed",
        suppressed_at=None,
    )
    values.update(changes)
    return Subscriber(**values)


def test_message_has_text_and_html_parts_and_encoded_swedish_headers():
    message = mail.build_message(
        to="marta.ek@example.se",
        subject="Åtta fabriker i Malaysia – uppföljning",
        text="Hej Märta!",
        html="<p>Hej Märta!</p>",
        unsubscribe_url="https://example.se/prenumeration/avregistrera?token=abc",
    )
    data = mail.message_bytes(message)
    data.decode("ascii")  # every byte on the wire is 7-bit: encoded words and quoted-printable
    assert b"\r\n" in data
    parsed = parse(data)
    assert parsed["Subject"] == "Åtta fabriker i Malaysia – uppföljning"
    assert b"=?utf-8?" in data.split(b"\r\n\r\n")[0].lower()
    assert parsed["From"].addresses[0].display_name == "Hållbar upphandling"
    assert parsed["From"].addresses[0].addr_spec == "nyheter@localhost"
    assert parsed["To"] == "marta.ek@example.se"
    assert parsed["Message-ID"].startswith("<") and parsed["Message-ID"].endswith("@localhost>")
    assert parsed["Date"].datetime.tzinfo is not None
    assert parsed["List-Unsubscribe"] == "<https://example.se/prenumeration/avregistrera?token=abc>"
    # …and on the wire too: a plain <URL>, not encoded words a mail client cannot follow.
    head = data.split(b"\r\n\r\n")[0].decode()
    assert (
        "\r\nList-Unsubscribe: <https://example.se/prenumeration/avregistrera?token=abc>\r\n"
        in head
    )
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed.get_body(("plain",)).get_content().strip() == "Hej Märta!"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Hej Märta!</p>"


def test_confirmation_mail_has_no_list_headers():
    message = mail.build_message(to="a@example.se", subject="Bekräfta", text="t", html="<p>t</p>")
    parsed = parse(mail.message_bytes(message))
    assert parsed["List-Unsubscribe"] is None and parsed["List-Unsubscribe-Post"] is None


def test_swedish_date_has_no_trailing_dot():
    assert rendering.swedish_date(datetime(2021, 4, 29, 7, 0, tzinfo=UTC)) == "29 apr 2021"
    assert rendering.swedish_date(datetime(2021, 5, 2, 7, 0, tzinfo=UTC)) == "2 maj 2021"
    # 23:30 UTC on 31 Dec is already New Year's Day in Stockholm.
    assert rendering.swedish_date(datetime(2021, 12, 31, 23, 30, tzinfo=UTC)) == "1 jan 2022"


def test_item_newsletter_links_to_the_item_and_carries_personal_links():
    item = an_item()
    newsletter = delivery.ItemNewsletter(item, now=datetime(2021, 5, 1, tzinfo=UTC))
    message = newsletter.message_for(a_subscriber())
    parsed = parse(mail.message_bytes(message))
    base = get_settings().public_url
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert parsed["Subject"] == item.title
    for part in (text, html):
        assert f"{base}/aktuellt/2021/04/uppfoljning-av-handskar/" in part
        assert "29 apr 2021" in part and "Region Skåne" in part and "Handskar" in part
        assert "/prenumeration/installningar?token=" in part
        assert "/prenumeration/avregistrera?token=" in part
        assert not re.search(r"(manage|unsubscribe)-[0-9a-f]{32}", part)  # all filled in
    assert 'style="' in html and "<style" not in html  # CSS inlined for mail clients
    head = mail.message_bytes(message).split(b"\r\n\r\n")[0].decode()
    assert f"List-Unsubscribe: {parsed['List-Unsubscribe']}\r\n" in head  # one line, as is
    unsubscribe = parsed["List-Unsubscribe"].strip("<>")
    assert unsubscribe in text and unsubscribe.startswith(f"{base}/prenumeration/avregistrera")


def test_common_part_is_rendered_once_per_newsletter(calls: list[str]):
    now = datetime(2021, 5, 1, tzinfo=UTC)
    newsletter = delivery.ItemNewsletter(an_item(), now=now)
    messages = [
        newsletter.message_for(a_subscriber(id=i, email=f"p{i}@example.se", link_id=f"id-{i}"))
        for i in range(1, 6)
    ]
    assert calls == ["mail/item.txt", "mail/item.html"]
    # …yet each recipient gets their own address, Message-ID and links.
    parsed = [parse(m) for m in messages]
    assert [m["To"] for m in parsed] == [f"p{i}@example.se" for i in range(1, 6)]
    assert len({m["List-Unsubscribe"] for m in parsed}) == 5
    assert len({m["Message-ID"] for m in parsed}) == 5
    assert len({m.get_body(("html",)).get_content() for m in parsed}) == 5


def test_prepared_message_equals_what_the_email_package_builds():
    text = "Hej Märta!\n\n" + "Åtta fabriker = två åtgärder. " * 20 + "\n.\nSlut  \n"
    url = "https://example.se/prenumeration/avregistrera?token=" + "Wz" * 60
    html = (
        f'<p><a href="{url}">Avsluta</a>'
        + "Åtta fabriker besöktes i <strong>Malaysia</strong>. " * 30
        + f"{url}{url}</p>"
    )
    text += f"Avsluta: {url}\n"
    now = datetime(2021, 5, 1, tzinfo=UTC)
    prepared = mail.PreparedMessage(
        subject="Åtta fabriker – uppföljning av handskar",
        text=text.replace(url, "@URL@"),
        html=html.replace(url, "@URL@"),
        placeholders=("@URL@",),
        now=now,
    )
    filled = prepared.fill(to="marta.ek@example.se", unsubscribe_url=url, values={"@URL@": url})
    built = mail.message_bytes(
        mail.build_message(
            to="marta.ek@example.se",
            subject="Åtta fabriker – uppföljning av handskar",
            text=text,
            html=html,
            unsubscribe_url=url,
            now=now,
        )
    )
    filled_mail, built_mail = parse(filled), parse(built)
    for name in (
        "From",
        "To",
        "Subject",
        "Date",
        "List-Id",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "MIME-Version",
    ):
        assert filled_mail[name] == built_mail[name], name
    for kind in ("plain", "html"):
        assert (
            filled_mail.get_body((kind,)).get_content()
            == built_mail.get_body((kind,)).get_content()
        )
    assert filled_mail["Message-ID"].endswith("@localhost>")
    filled.decode("ascii")  # 7-bit on the wire…
    assert all(
        len(line) <= 78
        for line in filled.split(b"\r\n")
        if not line.startswith(b"List-Unsubscribe:")
    )  # …and no line too long for any relay
    assert b"\n" not in filled.replace(b"\r\n", b"")  # CRLF only


def test_newsletter_skips_who_no_longer_matches_or_an_invisible_item():
    now = datetime(2021, 5, 1, tzinfo=UTC)
    newsletter = delivery.ItemNewsletter(an_item(), now=now)
    assert newsletter.message_for(a_subscriber(regions=["region-gotland"])) is None
    assert newsletter.message_for(a_subscriber(frequency="weekly")) is None
    assert (
        delivery.ItemNewsletter(an_item(status="draft"), now=now).message_for(a_subscriber())
        is None
    )
    future = an_item(published_at=datetime(2021, 6, 1, tzinfo=UTC))
    assert delivery.ItemNewsletter(future, now=now).message_for(a_subscriber()) is None


def test_digest_lists_only_matching_items_and_is_never_empty():
    items = [
        an_item(title="Skåne", regions=["region-skane"]),
        an_item(title="Gotland", slug="gotland", regions=["region-gotland"]),
    ]
    now = datetime(2021, 5, 3, 5, tzinfo=UTC)
    digest = delivery.DigestNewsletter(items, key=DigestKey("2021-05-03"), now=now)
    weekly = a_subscriber(frequency="weekly", regions=["region-gotland"])
    parsed = parse(mail.message_bytes(digest.message_for(weekly)))
    text = parsed.get_body(("plain",)).get_content()
    assert "vecka 17" in parsed["Subject"] and "Gotland" in text and "Skåne" not in text
    assert (
        digest.message_for(a_subscriber(frequency="weekly", regions=["region-kronoberg"])) is None
    )


def test_later_batches_reuse_the_common_part_until_the_item_changes(
    calls: list[str], monkeypatch: pytest.MonkeyPatch
):
    now = datetime(2021, 5, 1, tzinfo=UTC)
    item = an_item(version=1)
    for _ in range(3):  # three batches, each with a newsletter of its own
        delivery.ItemNewsletter(item, now=now).message_for(a_subscriber())
    assert calls == ["mail/item.txt", "mail/item.html"]
    item.version, item.title = 2, "Rättelse: uppföljning av handskar"
    message = delivery.ItemNewsletter(item, now=now).message_for(a_subscriber())
    assert len(calls) == 4 and parse(message)["Subject"] == item.title
    monkeypatch.setattr(delivery, "PARTS_REUSED_FOR", 0.0)  # a minute later: made afresh
    delivery.ItemNewsletter(item, now=now).message_for(a_subscriber())
    assert len(calls) == 6
