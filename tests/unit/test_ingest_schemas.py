"""Field rules, slugs, months, tokens and cursors of the ingest service, without I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.ingest.auth import TOKEN_PREFIX, hash_token
from services.ingest.schemas import ItemIn
from services.ingest.slugs import make_slug, month_of

VALID = {
    "title": "Året i korthet – Verksamhetsrapport 2020",
    "summary": "Regionernas arbete under 2020.",
    "body": "Text med **fetstil**.\n\nOch ett andra stycke.",
    "published_at": "2021-03-25T09:00:00+01:00",
    "regions": ["nationella-kansliet"],
    "topics": ["verksamhetsrapport"],
}


def errors_of(**changes) -> dict[str, str]:
    data = {**VALID, **changes}
    data = {key: value for key, value in data.items() if value is not ...}
    with pytest.raises(ValidationError) as caught:
        ItemIn.model_validate(data)
    return {".".join(map(str, error["loc"])): error["msg"] for error in caught.value.errors()}


def test_a_valid_item_passes_and_defaults_are_filled_in():
    item = ItemIn.model_validate(VALID)
    assert item.status == "published"
    assert item.attachments == [] and item.image is None and item.slug is None
    assert item.published_at == datetime(2021, 3, 25, 8, 0, tzinfo=UTC)


def test_published_at_may_be_left_out():
    item = ItemIn.model_validate({**VALID, "published_at": None})
    assert item.published_at is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"summary": ""}, "summary"),
        ({"summary": "x" * 601}, "summary"),
        ({"body": ""}, "body"),
        ({"body": "å" * 50_001}, "body"),  # 100 002 bytes in UTF-8
        ({"published_at": "2021-03-25T09:00:00"}, "published_at"),
        ({"published_at": "i morgon"}, "published_at"),
        ({"published_at": "0001-01-01T00:00:00+01:00"}, "published_at"),
        ({"regions": []}, "regions"),
        ({"regions": ...}, "regions"),
        ({"regions": ["region-skane", "region-skane"]}, "regions"),
        ({"regions": ["../etc"]}, "regions.0"),
        ({"regions": ["region-skane"] * 31}, "regions"),
        ({"topics": ["finns-inte"]}, "topics"),
        ({"slug": "../../etc/passwd"}, "slug"),
        ({"slug": "Stora Bokstäver"}, "slug"),
        ({"status": "withdrawn"}, "status"),
        ({"title": "Rad ett\nrad två"}, "title"),
        ({"title": "Nul\x00byte"}, "title"),
        ({"body": "Escape \x1b[31m"}, "body"),
        ({"summary": "Surrogat \ud800"}, "summary"),
        ({"attachments": [{"title": "PDF", "url": "javascript:alert(1)"}]}, "attachments.0.url"),
        ({"attachments": [{"title": "PDF", "url": "data:text/html,x"}]}, "attachments.0.url"),
        (
            {"attachments": [{"title": "PDF", "url": "ftp://example.org/a.pdf"}]},
            "attachments.0.url",
        ),
        ({"attachments": [{"title": "PDF", "url": "https://"}]}, "attachments.0.url"),
        ({"image": {"url": "https://example.org/a.jpg"}}, "image.alt"),
        ({"image": {"url": "https://example.org/a.jpg", "alt": ""}}, "image.alt"),
        ({"author": {"name": "Anna", "email": "inte-en-adress"}}, "author.email"),
        ({"author": {"name": "Anna", "role": "admin"}}, "author.role"),
        ({"contributor_id": 1}, "contributor_id"),
        ({"version": 7}, "version"),
    ],
)
def test_each_rule_names_its_field(changes, field):
    assert field in errors_of(**changes)


@pytest.mark.parametrize(
    ("email", "valid"),
    [
        ("asa.oberg@regionskane.se", True),
        ("a+nyheter@example.org", True),
        ("inte-en-adress", False),
        ("a..b@example.se", False),
        ("a@localhost", False),
        ("åsa@example.se", False),
        ("a@example.se\n", False),
        ("a@-x.se", False),
    ],
)
def test_author_email_syntax(email, valid):
    data = {**VALID, "author": {"name": "Åsa", "email": email}}
    if valid:
        assert ItemIn.model_validate(data).author.email == email
    else:
        assert "author.email" in errors_of(author=data["author"])


def test_unknown_slugs_are_named():
    errors = errors_of(regions=["region-skane", "region-atlantis"], topics=["miljo", "rymden"])
    assert "region-atlantis" in errors["regions"]
    assert "rymden" in errors["topics"]
    assert "region-skane" not in errors["regions"]


def test_body_keeps_line_breaks_and_tabs():
    item = ItemIn.model_validate({**VALID, "body": "a\r\n\tb\n"})
    assert item.body == "a\r\n\tb\n"


def test_body_of_exactly_100_kb_is_accepted():
    assert len(ItemIn.model_validate({**VALID, "body": "x" * 100_000}).body) == 100_000


def test_full_item_with_optional_parts():
    item = ItemIn.model_validate(
        {
            **VALID,
            "slug": "egen-adress",
            "author": {"name": "Åsa Öberg", "email": "asa@example.se"},
            "attachments": [{"title": "Rapport", "url": "https://example.se/rapport.pdf"}],
            "image": {"url": "http://example.se/bild.jpg", "alt": "Två personer vid ett bord"},
            "status": "draft",
        }
    )
    assert item.author.email == "asa@example.se"
    assert item.attachments[0].url == "https://example.se/rapport.pdf"


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Året i korthet – Verksamhetsrapport 2020", "aret-i-korthet-verksamhetsrapport-2020"),
        ("Mänskliga rättighetsdagarna i Uppsala", "manskliga-rattighetsdagarna-i-uppsala"),
        (
            "Workshop i Region Halland - Hållbar Upphandling",
            "workshop-i-region-halland-hallbar-upphandling",
        ),
        ("../../etc/passwd", "etc-passwd"),
        ("<script>alert(1)</script>", "script-alert-1-script"),
        ("!!!", "nyhet"),
    ],
)
def test_slugs_from_titles(title, slug):
    assert make_slug(title) == slug


def test_long_titles_give_slugs_cut_at_a_word():
    slug = make_slug("Upphandling " * 30)
    assert len(slug) <= 80 and not slug.endswith("-")


@pytest.mark.parametrize(
    ("moment", "month"),
    [
        (datetime(2021, 3, 31, 22, 30, tzinfo=UTC), "2021-04"),  # 00:30 local, summer time
        (datetime(2021, 3, 31, 21, 59, tzinfo=UTC), "2021-03"),
        (datetime(2020, 12, 31, 23, 0, tzinfo=UTC), "2021-01"),  # midnight local, winter time
    ],
)
def test_month_is_taken_in_swedish_time(moment, month):
    assert month_of(moment) == month


def test_tokens_are_hashed_with_sha256():
    digest = hash_token(TOKEN_PREFIX + "abc")
    assert len(digest) == 64 and digest == hash_token("nr_abc") != hash_token("nr_abd")


def test_cursor_round_trip_and_tampering():
    from services.ingest.reading import decode_cursor, encode_cursor
    from shared.models import Item
    from shared.problems import Problem

    item = Item(id=uuid.uuid4(), published_at=datetime(2021, 4, 29, 7, tzinfo=UTC))
    assert decode_cursor(encode_cursor(item)) == (item.published_at, item.id)
    for bad in ("x", "eyJhIjoxfQ", encode_cursor(item)[:-3]):
        with pytest.raises(Problem) as caught:
            decode_cursor(bad)
        assert caught.value.status == 400


def test_rate_limiter_allows_a_burst_then_says_how_long_to_wait():
    from shared.ratelimit import RateLimiter

    limiter = RateLimiter(rate=0.5, burst=3)
    assert [limiter.wait_time("a") for _ in range(3)] == [0, 0, 0]
    wait = limiter.wait_time("a")
    assert 0 < wait <= 2
    assert limiter.wait_time("b") == 0  # each token has its own bucket


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        ('"abc-v2"', True),
        ('"x", "abc-v2"', True),
        ("*", True),
        ('"abc-v1"', False),
        ('W/"abc-v2"', False),
        ("abc-v2", False),
    ],
)
def test_if_match_uses_strong_comparison(header, matches):
    from services.ingest.checks import etag_matches as _etag_matches

    assert _etag_matches(header, '"abc-v2"') is matches


# Characters at the edges of every text rule: the published pattern and the validator must
# agree on each string made of them, or clients (and schemathesis) are told a wrong rule.
EDGE_CHARACTERS = (
    "a Å\t\n\r\x0b\x00\x1f\x7f\x85\x9f\xa0\xad\u115f\u1680\u180e\u2000\u200a\u200b\u200d"
    "\u200f\u2028\u2029\u202a\u202e\u202f\u205f\u2060\u2064\u2066\u2069\u2800\u3000\u3164"
    "\ud7ff\ue000\ufdd0\ufeff\uffa0\ufffd\ufffe\uffff\U0001f600"
)


@settings(max_examples=600, deadline=None)
@given(value=st.text(alphabet=EDGE_CHARACTERS, min_size=1, max_size=6))
def test_published_patterns_agree_with_the_validators(value):
    import re

    from services.ingest import text

    for pattern, validator in (
        (text.SINGLE_LINE_PATTERN, text.single_line),
        (text.MULTI_LINE_PATTERN, text.multi_line),
        (text.MARKDOWN_PATTERN, text.markdown),
    ):
        try:
            validator(value)
            accepted = True
        except ValueError:
            accepted = False
        # As ECMA-262 reads it: "$" is the end of the text, never before a final line break.
        assert bool(re.search(pattern.removesuffix("$") + r"\Z", value)) == accepted, value
