"""Import a list from the network's old newsletter tool (CSV), the same code for Redaktionen's
form and `newsroom subscriber import`: a dry run reports each row, then the import adds the
new addresses. Existing subscribers are left untouched; so is anything already imported, so
the same file imported twice adds nothing the second time."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.notify.preferences import Preferences, SubscriptionRequest, normalise_email
from services.notify.subscriptions import email_hash, request_subscription
from shared import taxonomy
from shared.config import get_settings
from shared.events import SubscriptionRequested
from shared.models import OutboxEvent, Subscriber, SuppressedAddress

# 5 MB is some 50,000 rows of the old tool's export; a bigger file is split by whoever has it.
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
COLUMNS = ("adress", "regioner", "ämnen", "frekvens", "samtyckets källa", "samtyckesdatum")
HEADER_WORDS = {"adress", "address", "e-post", "epost", "e-postadress", "email", "e-mail", "mail"}
FREQUENCIES = {
    "": "immediate",
    "immediate": "immediate",
    "direkt": "immediate",
    "omedelbart": "immediate",
    "weekly": "weekly",
    "veckovis": "weekly",
    "varje vecka": "weekly",
    "vecka": "weekly",
}
SOURCE_MAX = 32  # subscribers.consent_source
CONSENT_TEXT = "Importerad från det tidigare nyhetsbrevsverktyget; samtycke därifrån."
MAIL_SOURCE = "import"

# A row's outcome: imported (or would be), left alone, or refused with its reason.
NEW, EXISTS, DUPLICATE, INVALID = "ny", "finns redan", "dubblett", "fel"


class ImportFileError(ValueError):
    """The file as a whole cannot be read; `message` says why in Swedish."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Row:
    line: int
    email: str
    outcome: str
    reason: str = ""
    regions: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    frequency: str = "immediate"
    consent_source: str = ""
    consent_at: datetime | None = None


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    applied: bool = False
    by_mail: bool = False

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(row.outcome for row in self.rows)
        return {outcome: found.get(outcome, 0) for outcome in (NEW, EXISTS, DUPLICATE, INVALID)}

    @property
    def invalid(self) -> list[Row]:
        return [row for row in self.rows if row.outcome == INVALID]


def decode(data: bytes) -> str:
    """The file's text (UTF-8, with or without a BOM); ImportFileError if it is none."""
    if len(data) > MAX_BYTES:
        raise ImportFileError(
            f"Filen är för stor ({len(data) / 1_048_576:.1f} MB). Högst 5 MB går att importera "
            "på en gång; dela upp listan i flera filer."
        )
    if not data.strip():
        raise ImportFileError("Filen är tom.")
    if b"\x00" in data:
        raise ImportFileError(
            "Filen är ingen textfil i UTF-8 (den innehåller nolltecken, som en UTF-16-fil eller "
            "ett kalkylark). Spara listan som ”CSV UTF-8” och ladda upp den igen."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFileError(
            f"Filen är inte kodad som UTF-8 (första felet på rad {line}). Spara listan som "
            "”CSV UTF-8” och ladda upp den igen."
        ) from exc


def _separator(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    return ";" if first.count(";") > first.count(",") else ","


def read_rows(text: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of each non-empty row, the header row left out."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_separator(text))
    rows: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if not rows and cells[0].strip().lower() in HEADER_WORDS:
                continue
            rows.append((start, [cell.strip() for cell in cells]))
            if len(rows) > MAX_ROWS:
                raise ImportFileError(
                    f"Filen har fler än {MAX_ROWS:,} rader".replace(",", " ")
                    + "; dela upp listan i flera filer."
                )
    except csv.Error as exc:
        raise ImportFileError(
            f"Rad {line} går inte att läsa som CSV (till exempel ett citattecken som aldrig "
            "avslutas)."
        ) from exc
    if not rows:
        raise ImportFileError("Filen innehåller inga adresser.")
    return rows


def _names(kind: dict[str, str]) -> dict[str, str]:
    """Slug or display name, lower-cased -> slug."""
    found = {slug.lower(): slug for slug in kind}
    found.update({name.lower(): slug for slug, name in kind.items()})
    return found


def _choices(cell: str, known: dict[str, str], what: str) -> tuple[tuple[str, ...], str]:
    parts = [p.strip() for p in cell.replace("|", ",").replace(";", ",").split(",")]
    parts = [p for p in parts if p]
    if [p.lower() for p in parts] in ([], ["alla"]):
        return (), ""
    unknown = [p for p in parts if p.lower() not in known]
    if unknown:
        return (), f"{what} {', '.join(unknown[:5])}."
    return tuple(dict.fromkeys(known[p.lower()] for p in parts)), ""


def _consent_date(cell: str, now: datetime) -> tuple[datetime | None, str]:
    if not cell:
        return None, "Samtyckesdatum saknas."
    zone = ZoneInfo(get_settings().timezone)
    try:
        moment = datetime.fromisoformat(cell)
    except ValueError:
        example = "skriv till exempel 2021-04-29"
        return None, f"Samtyckesdatumet ”{cell[:40]}” är inget datum ({example})."
    if len(cell) == 10:
        moment = datetime.combine(moment.date(), time(12), zone)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    if moment > now:
        return None, f"Samtyckesdatumet {cell} ligger i framtiden."
    return moment, ""


def check_row(line: int, cells: list[str], now: datetime) -> Row:
    """One row checked on its own (the address, the choices, the consent)."""
    raw = cells[0] if cells else ""
    if len(cells) != len(COLUMNS):
        reason = (
            f"Raden har {len(cells)} kolumner men ska ha {len(COLUMNS)}: "
            + ", ".join(COLUMNS)
            + "."
        )
        return Row(line, raw, INVALID, reason)
    address, regions_cell, topics_cell, frequency_cell, source, consent_cell = cells
    reasons = []
    email = address
    try:
        email = normalise_email(address)
    except EmailNotValidError:
        local_part = address.rpartition("@")[0]
        if not address:
            reasons.append("Adress saknas.")
        elif local_part and not local_part.isascii():
            reasons.append(
                "Adresser med å, ä, ö eller andra specialtecken före @ kan vi inte skicka till."
            )
        else:
            reasons.append(f"”{address[:80]}” är ingen giltig e-postadress.")
    regions, problem = _choices(regions_cell, _names(taxonomy.regions()), "Okänd region:")
    reasons += [problem] if problem else []
    topics, problem = _choices(topics_cell, _names(taxonomy.topics()), "Okänt ämne:")
    reasons += [problem] if problem else []
    frequency = FREQUENCIES.get(frequency_cell.lower())
    if frequency is None:
        reasons.append(f"Okänd frekvens ”{frequency_cell[:40]}” (skriv direkt eller veckovis).")
    if not source:
        reasons.append("Samtyckets källa saknas.")
    elif len(source) > SOURCE_MAX:
        reasons.append(f"Samtyckets källa är för lång (högst {SOURCE_MAX} tecken).")
    consent_at, problem = _consent_date(consent_cell, now)
    reasons += [problem] if problem else []
    if reasons:
        return Row(line, email, INVALID, " ".join(reasons))
    return Row(line, email, NEW, "", regions, topics, frequency or "immediate", source, consent_at)


def _known(session: Session, emails: list[str]) -> tuple[set[str], set[str], set[str]]:
    """Of `emails`: subscribers, forgotten or suppressed addresses (only their hash is kept),
    and addresses whose subscription request waits in the outbox."""
    subscribers: set[str] = set()
    for start in range(0, len(emails), 1000):
        chunk = emails[start : start + 1000]
        subscribers.update(
            session.scalars(select(Subscriber.email).where(Subscriber.email.in_(chunk)))
        )
    hashes = {email_hash(email): email for email in emails}
    gone: set[str] = set()
    keys = list(hashes)
    for start in range(0, len(keys), 1000):
        found = session.scalars(
            select(SuppressedAddress.email_hash).where(
                SuppressedAddress.email_hash.in_(keys[start : start + 1000])
            )
        )
        gone.update(hashes[digest] for digest in found)
    kind = SubscriptionRequested.model_fields["type"].default
    waiting = {
        payload.get("email")
        for payload in session.scalars(select(OutboxEvent.payload).where(OutboxEvent.type == kind))
    }
    return subscribers, gone, waiting & set(emails)


def check(*, session: Session, data: bytes, now: datetime) -> Report:
    """The dry run: every row's outcome, nothing written. ImportFileError for a bad file."""
    rows = [check_row(line, cells, now) for line, cells in read_rows(decode(data))]
    valid = [row.email for row in rows if row.outcome == NEW]
    subscribers, gone, waiting = _known(session, valid)
    first: dict[str, int] = {}
    report = Report()
    for row in rows:
        if row.outcome != NEW:
            report.rows.append(row)
        elif row.email in first:
            reason = f"Samma adress som på rad {first[row.email]}; raden hoppas över."
            report.rows.append(Row(row.line, row.email, DUPLICATE, reason))
        elif row.email in subscribers or row.email in waiting:
            first[row.email] = row.line
            reason = "Finns redan som prenumerant och lämnas orörd."
            report.rows.append(Row(row.line, row.email, EXISTS, reason))
        elif row.email in gone:
            first[row.email] = row.line
            reason = "Adressen har tagits bort eller spärrats tidigare och importeras inte."
            report.rows.append(Row(row.line, row.email, INVALID, reason))
        else:
            first[row.email] = row.line
            report.rows.append(row)
    return report


def apply(*, session: Session, report: Report, by_mail: bool, now: datetime) -> Report:
    """Add the rows the dry run found new, in the caller's transaction. Trusted consent:
    confirmed subscribers with the old tool's source and date. `by_mail`: a subscription
    request each (the outbox), so notify mails a confirmation and they start as pending.
    A row someone added meanwhile is left alone and reported as existing."""
    done = Report(applied=True, by_mail=by_mail)
    for row in report.rows:
        if row.outcome != NEW:
            done.rows.append(row)
            continue
        if by_mail:
            request = SubscriptionRequest(
                email=row.email,
                preferences=Preferences(row.regions, row.topics, row.frequency),
            )
            request_subscription(session=session, request=request, source=MAIL_SOURCE, now=now)
            done.rows.append(row)
            continue
        subscriber = Subscriber(
            email=row.email,
            regions=list(row.regions),
            topics=list(row.topics),
            frequency=row.frequency,
            status="confirmed",
            created_at=now,
            confirmed_at=row.consent_at,
            consent_at=row.consent_at,
            consent_source=row.consent_source,
            consent_text=CONSENT_TEXT,
        )
        try:
            with session.begin_nested():
                session.add(subscriber)
                session.flush()
        except IntegrityError:  # added since the dry run (a second import, a sign-up)
            reason = "Finns redan som prenumerant och lämnas orörd."
            done.rows.append(Row(row.line, row.email, EXISTS, reason))
            continue
        done.rows.append(row)
    return done


def import_file(
    *, session: Session, data: bytes, by_mail: bool, dry_run: bool, now: datetime
) -> Report:
    """Check a file and, unless `dry_run`, import what is new."""
    report = check(session=session, data=data, now=now)
    if dry_run:
        return report
    return apply(session=session, report=report, by_mail=by_mail, now=now)


__all__ = [
    "DUPLICATE",
    "EXISTS",
    "INVALID",
    "MAX_BYTES",
    "MAX_ROWS",
    "NEW",
    "ImportFileError",
    "Report",
    "Row",
    "apply",
    "check",
    "decode",
    "import_file",
]
