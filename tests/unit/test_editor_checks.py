"""Redaktionen's advice before publishing, its form reading, and the event field it adds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from starlette.datastructures import FormData

from services.ingest.editor import checks
from services.ingest.editor.forms import ItemForm
from shared.events import ItemPlace, ItemUpdated, parse_event

SIMPLE = "Vi köpte in handskar. Det gick bra. Alla var glada. Nu gör vi mer av det här. Bra."
HARD = (
    "Upphandlingsmyndighetens rekommendationer beträffande leverantörsuppföljning "
    "förutsätter systematiska riskbedömningar inom leveranskedjornas samtliga "
    "produktionsled, omfattande underleverantörernas arbetsförhållanden."
)


def test_lix_reads_plain_text_and_bands_it():
    assert checks.lix("Kort.") is None
    easy, hard = checks.lix(SIMPLE), checks.lix(HARD)
    assert easy < 25 and checks.lix_meaning(easy) == "mycket lättläst"
    assert hard > 60 and checks.lix_meaning(hard) == "mycket svår"
    # Markup does not count as words.
    assert checks.lix("**Vi** köpte _in_ [handskar](https://a.se). " + SIMPLE[20:]) == checks.lix(
        "Vi köpte in handskar. " + SIMPLE[20:]
    )


def test_advice_names_each_problem_beside_its_field():
    body = (
        f"{SIMPLE}\n\nSe [planen](ftp://plan.se), [x](javascript:alert(1)) och [y](https://a.se)."
    )
    advice = checks.advise(title="R" * 101, summary=SIMPLE + " ", body=body)
    fields = [(a.field, a.message.split(" ")[0]) for a in advice]
    assert ("rubrik", "Rubriken") in fields and ("sammanfattning", "Sammanfattningen") in fields
    links = [a.message for a in advice if a.field == "text"]
    assert len(links) == 2 and "ftp://plan.se" in links[0] and "javascript:" in links[1]
    assert checks.advise(title="R" * 100, summary="Något annat.", body=SIMPLE) == []
    hard = checks.advise(title="R", summary="S", body=HARD)
    assert [a.field for a in hard] == ["text"] and "LIX" in hard[0].message


@pytest.mark.parametrize(
    ("date", "time", "expected", "field"),
    [
        ("", "", None, None),
        ("2026-03-29", "02:30", datetime(2026, 3, 29, 1, 30, tzinfo=UTC), None),  # DST gap
        ("2026-07-01", "09:00", datetime(2026, 7, 1, 7, 0, tzinfo=UTC), None),
        ("2026-01-15", "", datetime(2026, 1, 14, 23, 0, tzinfo=UTC), None),
        ("", "09:00", None, "datum"),
        ("15/1 2026", "09:00", None, "datum"),
        ("2026-01-15", "nio", None, "tid"),
    ],
)
def test_date_and_time_are_swedish_local_time(date, time, expected, field):
    form = ItemForm.from_form(FormData([("datum", date), ("tid", time)]))
    chosen, errors = form.published_at()
    assert (chosen.astimezone(UTC) if chosen else None) == expected
    assert [e.field for e in errors] == ([field] if field else [])


def test_the_form_keeps_what_was_typed_and_lf_line_ends():
    form = ItemForm.from_form(
        FormData(
            [
                ("rubrik", "  R  "),
                ("text", "a\r\nb"),
                ("regioner", "region-skane"),
                ("regioner", ""),
                ("skicka", "ja"),
                ("version", "99999999999"),
            ]
        )
    )
    assert form.title == "  R  " and form.body == "a\nb" and form.regions == ["region-skane"]
    assert form.notify and not form.notify_again and form.version is None
    data, errors = form.to_input(status="draft", published_at=None, author=None)
    assert data is None
    assert {e.field: e.message for e in errors} == {
        "sammanfattning": "Skriv sammanfattningen.",
    }


def test_an_update_event_carries_the_mail_choice_only_when_made():
    previous = ItemPlace(
        slug="a",
        month="2026-01",
        published_at=datetime(2026, 1, 1, tzinfo=UTC),
        regions=("region-skane",),
        topics=(),
        status="published",
    )
    import uuid

    plain = ItemUpdated(item_id=uuid.uuid4(), item_version=2, previous=previous)
    asked = plain.model_copy(update={"notify": True})
    assert "notify" not in plain.model_dump(mode="json", exclude_none=True)
    assert parse_event(asked.model_dump(mode="json", exclude_none=True)).notify is True
    assert parse_event(plain.model_dump(mode="json", exclude_none=True)).notify is None
