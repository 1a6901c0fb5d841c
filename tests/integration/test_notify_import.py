"""Importing the old newsletter tool's CSV: every bad input refused with a Swedish reason, a
dry run that changes nothing, an import that adds only what is new (twice: nothing more), and
the CLI on the same code."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from newsroom.cli import main
from services.notify.admin import importing
from services.notify.privacy import forget_subscriber
from shared.db import session_scope, utcnow
from shared.models import OutboxEvent, Subscriber

# The rules are the database's business only where rows are written: the first two tests
# run on both databases, the rest on SQLite.
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
HEADER = "adress;regioner;ämnen;frekvens;samtyckets källa;samtyckesdatum\n"
GOOD = (
    HEADER
    + "Anna@Example.se;Region Skåne|region-halland;textilier;veckovis;formulär 2019;2019-03-01\n"
    + "bo@example.se;;;direkt;mässa;2020-10-05 14:30\n"
)


def run(data: str | bytes, *, dry_run=False, by_mail=False) -> importing.Report:
    raw = data.encode() if isinstance(data, str) else data
    with session_scope() as session:
        return importing.import_file(
            session=session, data=raw, by_mail=by_mail, dry_run=dry_run, now=utcnow()
        )


def subscribers() -> dict[str, Subscriber]:
    with session_scope() as session:
        return {s.email: s for s in session.scalars(select(Subscriber))}


def test_import_records_consent_source_and_date_and_twice_adds_nothing(db):
    report = run("\ufeff" + GOOD)  # Excel's BOM
    assert report.counts == {"ny": 2, "finns redan": 0, "dubblett": 0, "fel": 0}
    found = subscribers()
    anna = found["anna@example.se"]
    assert anna.status == "confirmed" and anna.frequency == "weekly"
    assert anna.regions == ["region-skane", "region-halland"] and anna.topics == ["textilier"]
    assert anna.consent_source == "formulär 2019"
    assert anna.consent_at == datetime(2019, 3, 1, 11, tzinfo=UTC)  # noon in Stockholm
    assert found["bo@example.se"].consent_at == datetime(2020, 10, 5, 12, 30, tzinfo=UTC)
    assert found["bo@example.se"].regions == [] and found["bo@example.se"].frequency == "immediate"

    again = run(GOOD)
    assert again.counts == {"ny": 0, "finns redan": 2, "dubblett": 0, "fel": 0}
    assert subscribers().keys() == found.keys()


def test_existing_subscribers_are_left_untouched(db):
    with session_scope() as session:
        session.add(
            Subscriber(email="bo@example.se", status="unsubscribed", regions=["region-gotland"])
        )
    report = run(GOOD)
    assert [row.outcome for row in report.rows] == ["ny", "finns redan"]
    bo = subscribers()["bo@example.se"]
    assert (
        bo.status == "unsubscribed"
        and bo.regions == ["region-gotland"]
        and bo.consent_source is None
    )


@SQLITE
def test_dry_run_changes_nothing(db):
    report = run(GOOD, dry_run=True)
    assert report.counts["ny"] == 2 and not report.applied
    assert subscribers() == {}
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 0


@SQLITE
def test_confirmation_mail_instead_records_requests_in_the_outbox(db):
    report = run(GOOD, by_mail=True)
    assert report.counts["ny"] == 2
    assert subscribers() == {}  # pending once notify's worker applies the requests
    with session_scope() as session:
        payloads = session.scalars(select(OutboxEvent.payload)).all()
    assert sorted(p["email"] for p in payloads) == ["anna@example.se", "bo@example.se"]
    assert {p["source"] for p in payloads} == {"import"}
    assert {p["frequency"] for p in payloads} == {"weekly", "immediate"}
    # A second import before the worker ran: the waiting requests count as existing.
    assert run(GOOD, by_mail=True).counts == {"ny": 0, "finns redan": 2, "dubblett": 0, "fel": 0}


@SQLITE
def test_comma_separated_without_header_and_duplicate_rows(db):
    data = (
        "a@example.se,region-skane,,weekly,form,2021-01-01\n"
        "\n"
        'b@example.se,"region-skane,region-halland",,weekly,form,2021-01-01\n'
        "A@example.se,region-skane,,weekly,form,2021-01-01\n"
    )
    report = run(data)
    assert [(r.line, r.outcome) for r in report.rows] == [(1, "ny"), (3, "ny"), (4, "dubblett")]
    assert report.rows[2].reason == "Samma adress som på rad 1; raden hoppas över."
    assert subscribers()["b@example.se"].regions == ["region-skane", "region-halland"]


@SQLITE
def test_a_forgotten_address_is_not_imported_again(db):
    run(GOOD)
    with session_scope() as session:
        forget_subscriber(session=session, email="bo@example.se", now=utcnow())
    report = run(GOOD)
    assert report.rows[1].outcome == "fel"
    assert "tagits bort eller spärrats" in report.rows[1].reason


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("inte-en-adress;;;;k;2021-01-01", "”inte-en-adress” är ingen giltig e-postadress."),
        (";;;;k;2021-01-01", "Adress saknas."),
        ("åsa@example.se;;;;k;2021-01-01", "Adresser med å, ä, ö"),
        ("x@example.se;Region Atlantis;;;k;2021-01-01", "Okänd region: Region Atlantis."),
        ("x@example.se;;kärnkraft;;k;2021-01-01", "Okänt ämne: kärnkraft."),
        ("x@example.se;;;ibland;k;2021-01-01", "Okänd frekvens ”ibland”"),
        ("x@example.se;;;;;2021-01-01", "Samtyckets källa saknas."),
        ("x@example.se;;;;" + "k" * 33 + ";2021-01-01", "för lång (högst 32 tecken)"),
        ("x@example.se;;;;k;", "Samtyckesdatum saknas."),
        ("x@example.se;;;;k;1 mars 2019", "”1 mars 2019” är inget datum"),
        ("x@example.se;;;;k;2999-01-01", "ligger i framtiden"),
        ("x@example.se;;;", "Raden har 4 kolumner men ska ha 6"),
    ],
)
def test_invalid_rows_are_refused_with_a_swedish_reason(row, reason):
    # Checked on its own, without a database: what the import reports for that row.
    [(line, cells)] = importing.read_rows(importing.decode((HEADER + row + "\n").encode()))
    checked = importing.check_row(line, cells, utcnow())
    assert (checked.line, checked.outcome) == (2, importing.INVALID)
    assert reason in checked.reason


@SQLITE
def test_an_invalid_row_is_refused_with_its_line_and_the_rest_imported(db):
    report = run(HEADER + "ok@example.se;;;;k;2021-01-01\n\nx@example.se;;;ibland;k;2021-01-01\n")
    (bad,) = report.invalid
    assert bad.line == 4 and "Okänd frekvens ”ibland”" in bad.reason
    assert set(subscribers()) == {"ok@example.se"}  # the valid row is not lost


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Filen är tom."),
        (HEADER.encode(), "Filen innehåller inga adresser."),
        (
            "a@example.se;;;;källa;2021-01-01\nö@x".encode("latin-1"),
            "inte kodad som UTF-8 (första felet på rad 1)",
        ),
        ("a@example.se;;;;k;2021-01-01".encode("utf-16"), "nolltecken"),
        (b"a@example.se;;;;k;2021-01-01\n" * 200_000, "för stor"),
        (b"a@example.se;;;;k;2021-01-01\n" * (importing.MAX_ROWS + 1), "fler än 50 000 rader"),
    ],
    ids=["empty", "header-only", "latin-1", "utf-16", "too-big", "too-many-rows"],
)
def test_bad_files_are_refused_as_a_whole_in_swedish(data, message):
    # Refused before any row is checked against the database (none is needed here).
    with pytest.raises(importing.ImportFileError) as caught:
        importing.read_rows(importing.decode(data))
    assert message in caught.value.message


@SQLITE
def test_cli_dry_run_then_import(db, tmp_path):
    path = tmp_path / "lista.csv"
    path.write_text(GOOD + "trasig;;;;k;2021-01-01\n", encoding="utf-8")
    runner = CliRunner()
    dry = runner.invoke(main, ["subscriber", "import", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "rad 4: trasig: fel: ”trasig” är ingen giltig e-postadress." in dry.output
    assert "2 skulle importeras" in dry.output
    assert subscribers() == {}
    done = runner.invoke(main, ["subscriber", "import", str(path)])
    assert done.exit_code == 0 and "2 importerades" in done.output
    assert set(subscribers()) == {"anna@example.se", "bo@example.se"}
    bad = tmp_path / "fel.csv"
    bad.write_bytes("ö;".encode("latin-1"))
    refused = runner.invoke(main, ["subscriber", "import", str(bad)])
    assert refused.exit_code == 1 and "inte kodad som UTF-8" in refused.output


@SQLITE
def test_confirmation_mail_goes_out_through_the_outbox_and_the_address_waits(db, tmp_path):
    from services.notify import tasks

    run(GOOD, by_mail=True)
    with session_scope() as session:
        events = session.scalars(select(OutboxEvent.payload).order_by(OutboxEvent.id)).all()
    for event in events:  # what the relay's message makes notify's worker run
        assert tasks.handle_subscription.apply(kwargs={"event": event}).get() is True
    found = subscribers()
    assert {s.status for s in found.values()} == {"pending"}
    assert found["anna@example.se"].consent_source == "import"
    assert found["anna@example.se"].regions == ["region-skane", "region-halland"]
    mails = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(mails) == 2
    message = email.message_from_bytes(mails[0].read_bytes(), policy=email.policy.default)
    assert message["Subject"].startswith("Bekräfta din prenumeration")
