"""Redaktionen's mails, sent by notify over real SMTP: the sign-in code and link, and an
item returned from review; a sign-in mail past its expiry is not sent; `newsroom
contributor review` marks who sends items for review."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from newsroom.cli import main
from services.ingest.contributors import add_contributor
from services.notify import editor_mail
from shared.db import session_scope, utcnow
from shared.models import Contributor

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def smtp(db, smtp_server, monkeypatch):
    from shared.config import get_settings

    monkeypatch.setenv("NEWSROOM_SMTP_URL", smtp_server.url)
    get_settings.cache_clear()
    return smtp_server


def test_the_sign_in_mail_brings_the_code_and_the_link(smtp):
    context = {
        "code": "042917",
        "link": "https://nyheter.example.se/redaktion/logga-in/lank?t=abc",
        "minutes": 15,
        "expires_at": (utcnow() + timedelta(minutes=15)).isoformat(),
    }
    assert editor_mail.send_editor_mail.apply(
        kwargs={"kind": "sign_in", "to": "anna@example.se", "context": context}
    ).get()
    [message] = smtp.to("anna@example.se")
    assert "042917" in message["Subject"] and "List-Unsubscribe" not in message
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    for part in (text, html):
        assert "042917" in part and "15 minuter" in part
        assert "https://nyheter.example.se/redaktion/logga-in/lank?t=abc" in part


def test_an_expired_sign_in_mail_is_not_sent(smtp):
    context = {
        "code": "1",
        "link": "x",
        "minutes": 15,
        "expires_at": (utcnow() - timedelta(seconds=1)).isoformat(),
    }
    assert (
        editor_mail.send_editor_mail.apply(
            kwargs={"kind": "sign_in", "to": "anna@example.se", "context": context}
        ).get()
        is False
    )
    assert smtp.to("anna@example.se") == []


def test_the_returned_item_mail_carries_the_comment(smtp):
    context = {
        "title": "Handskar <i>",
        "comment": "Lägg till datum.\nOch plats.",
        "editor": "Eva Ek",
        "link": "https://n.se/redaktion/nyheter/1",
    }
    editor_mail.send_editor_mail_now(kind="review_returned", to="bo@example.se", context=context)
    [message] = smtp.to("bo@example.se")
    assert message["Subject"] == "Din nyhet har skickats tillbaka: Handskar <i>"
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Handskar &lt;i&gt;" in html and "Lägg till datum." in html and "Eva Ek" in html


def test_newsroom_contributor_review_marks_and_unmarks(db):
    with session_scope() as session:
        add_contributor(session=session, name="Bo Berg", region="region-uppsala")
    runner = CliRunner()
    assert runner.invoke(main, ["contributor", "review", "Bo Berg"]).exit_code == 0

    def marked() -> bool:
        with session_scope() as session:
            return session.scalar(select(Contributor.review_required))

    assert marked()
    assert runner.invoke(main, ["contributor", "review", "Bo Berg", "--off"]).exit_code == 0
    assert not marked()
    assert runner.invoke(main, ["contributor", "review", "Ingen"]).exit_code != 0
