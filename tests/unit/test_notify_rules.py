"""Matching, validation, tokens, digest weeks and the beat schedule (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from celery.schedules import crontab

from services.notify import preferences, tasks, tokens
from services.notify.keys import DigestKey, ItemKey, NewsletterKey

ZONE = "Europe/Stockholm"


@pytest.mark.parametrize(
    ("regions", "topics", "expected"),
    [
        ([], [], True),  # nothing chosen: everything
        (["region-skane"], [], True),
        (["region-gotland"], [], False),
        ([], ["handskar"], True),
        ([], ["livsmedel"], False),
        (["region-skane", "region-gotland"], ["livsmedel", "uppfoljning"], True),
        (["region-skane"], ["livsmedel"], False),  # region matches, topic does not
    ],
)
def test_regions_times_topics(regions, topics, expected):
    subscriber = preferences.Preferences(regions=regions, topics=topics)
    item = preferences.Preferences(regions=["region-skane"], topics=["handskar", "uppfoljning"])
    assert preferences.wants(subscriber, item) is expected


def test_request_is_normalised_and_checked_against_the_taxonomy():
    request = preferences.validate_request(
        email="  Marta.Ek@Example.SE ",
        regions=["region-skane", "region-skane"],
        topics=["miljo"],
        frequency="weekly",
    )
    assert request.email == "marta.ek@example.se"
    assert request.preferences == preferences.Preferences(("region-skane",), ("miljo",), "weekly")
    assert preferences.validate_request(email="a@b.se").preferences == preferences.Preferences()
    # An international domain is stored in its ASCII form, which every server accepts…
    assert preferences.validate_request(email="Asa@Exämple.se").email == "asa@xn--exmple-cua.se"
    # …but a non-ASCII local part would need SMTPUTF8 end to end: refused, and told why.
    with pytest.raises(preferences.InvalidSubscription) as caught:
        preferences.validate_request(email="åsa@example.se")
    assert "före @" in caught.value.errors[0]["message"]


def test_invalid_request_names_every_wrong_field_in_swedish():
    with pytest.raises(preferences.InvalidSubscription) as caught:
        preferences.validate_request(
            email="inte en adress", regions=["atlantis"], topics=["fiske"], frequency="daily"
        )
    fields = [e["field"] for e in caught.value.errors]
    assert fields == ["email", "regions", "topics", "frequency"]
    assert caught.value.errors[0]["message"] == "Ange en giltig e-postadress."


def test_tokens_are_refused_for_another_purpose():
    token = tokens.make_token("confirm", link_id="Q2x0X3Jhbmtvcw")
    assert tokens.read_token("confirm", token) == "Q2x0X3Jhbmtvcw"
    for purpose in ("unsubscribe", "manage"):
        with pytest.raises(tokens.InvalidToken):
            tokens.read_token(purpose, token)
    # A changed character inside the signature (the last one may only carry padding bits).
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(tokens.InvalidToken):
        tokens.read_token("confirm", tampered)
    with pytest.raises(tokens.InvalidToken):
        tokens.read_token("confirm", "")


def test_tokens_expire(monkeypatch: pytest.MonkeyPatch):
    token = tokens.make_token("confirm", link_id="Q2x0X3Jhbmtvcw")
    monkeypatch.setattr(tokens, "MAX_AGE", {**tokens.MAX_AGE, "confirm": tokens.timedelta(0)})
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: 2e9)
    with pytest.raises(tokens.InvalidToken):
        tokens.read_token("confirm", token)


def test_a_digest_is_named_for_its_local_day_and_old_week_keys_still_read():
    # Monday 4 Jan 2021 00:30 in Stockholm is still Sunday 3 Jan in UTC.
    key = DigestKey.on(datetime(2021, 1, 3, 23, 30, tzinfo=UTC), timezone=ZONE)
    assert str(key) == "digest:2021-01-04" and NewsletterKey.parse(str(key)) == key
    assert key.week == 53  # the week that just ended, as the subject says
    old = NewsletterKey.parse("digest:2020-W53")
    assert isinstance(old, DigestKey) and old.week == 53 and str(old) == "digest:2020-W53"
    for broken in ("digest:", "digest:2021-13-45", "digest:next week", "nyhetsbrev:1"):
        with pytest.raises(ValueError):
            NewsletterKey.parse(broken)


def test_an_item_mailed_again_is_a_newsletter_of_its_own():
    first = ItemKey(uuid.UUID(int=7))
    again = ItemKey(uuid.UUID(int=7), edition=3)
    assert str(first) == "item:00000000-0000-0000-0000-000000000007"
    assert str(again) == f"{first}:v3" and str(again) != str(first)
    assert NewsletterKey.parse(str(first)) == first and NewsletterKey.parse(str(again)) == again
    with pytest.raises(ValueError):
        NewsletterKey.parse(f"{first}:vtre")


def test_beat_schedule_follows_the_digest_setting(monkeypatch: pytest.MonkeyPatch):
    from shared.config import get_settings

    monkeypatch.setenv("NEWSROOM_DIGEST_SCHEDULE", "30 6 * * 2")
    get_settings.cache_clear()
    entry = tasks.beat_schedule()["notify-weekly-digest"]
    assert entry["task"] == "notify.send_digest"
    assert entry["schedule"] == crontab(minute="30", hour="6", day_of_week="2")
    with pytest.raises(ValueError):
        tasks.parse_cron("0 7 * *")


@pytest.mark.parametrize(
    ("regions", "topics", "frequency", "sentence"),
    [
        (
            ["region-skane"],
            ["textilier"],
            "immediate",
            "Du får nyheter från Region Skåne om Textilier, direkt när de publiceras.",
        ),
        (
            ["region-skane", "region-gotland", "region-kronoberg"],
            ["textilier", "miljo"],
            "weekly",
            "Du får nyheter från Region Skåne, Region Gotland eller Region Kronoberg om "
            "Textilier eller Miljö, samlade i ett mejl i veckan.",
        ),
        (
            ["region-skane"],
            [],
            "immediate",
            "Du får nyheter från Region Skåne om alla ämnen, direkt när de publiceras.",
        ),
        (
            [],
            ["handskar"],
            "weekly",
            "Du får nyheter från alla regioner om Handskar, samlade i ett mejl i veckan.",
        ),
        ([], [], "immediate", "Du får alla nyheter, direkt när de publiceras."),
    ],
)
def test_a_choice_is_told_in_one_sentence(regions, topics, frequency, sentence):
    chosen = preferences.Preferences(tuple(regions), tuple(topics), frequency)
    assert preferences.describe(chosen) == sentence
