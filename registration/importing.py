"""CSV import from the association database and CSV export of registrations.

Import is two passes: every row is validated first (a dry run stops there and reports
every bad row by line number); the real run then inserts all rows in one transaction,
or none. Inserts are batched Core statements: 50,000 ORM objects would be slow.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from .audit import Actor, record
from .errors import LanyardError
from .extensions import db
from .health import expiry_for
from .models import Event, HealthRecord, Registration, utcnow
from .search import index_rows
from .services import (CleanPerson, HealthInput, Issued, PersonInput, clean_health, clean_person,
                       new_registration_values)
from .settings import Settings
from .text import email_key, neutralise_formula

HEADER = ("first_name", "last_name", "badge_name", "email", "title", "organization",
          "registration_type", "host_email", "health_method", "health_state", "test_taken_at",
          "language")  # optional, like every column not in REQUIRED: the event's first language when absent
REQUIRED = ("first_name", "last_name", "email", "registration_type")
MAX_FIELD = 1000  # the csv module's own limit is 128 KiB; anything near it is not a name
BATCH = 2000


@dataclass(frozen=True)
class RowError:
    """One bad row: its line number in the file and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportRow:
    line: int
    person: CleanPerson
    health: HealthInput | None
    host_key: str | None
    language: str


@dataclass
class ImportReport:
    """What an import found and did."""

    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    full: int = 0
    guests: int = 0
    health_records: int = 0
    codes: list[tuple[int, str, str]] = field(default_factory=list)  # (registration id, code, manage code)

    @property
    def imported(self) -> int:
        """Registrations created."""
        return self.full + self.guests

    def summary(self) -> str:
        """What a real run did, in one sentence (the command line's English, plurals right)."""
        return (f"Imported {count_of(self.imported, 'registration')} ({self.full} full, {count_of(self.guests, 'guest')}) "
                f"and {count_of(self.health_records, 'health record')}.")

    def checked(self) -> str:
        """What a clean dry run found."""
        return f"{count_of(self.rows, 'row')} checked; all good. Nothing was imported (dry run)."

    def refused(self) -> str:
        """Why nothing was imported."""
        bad = len(self.errors)
        return f"{bad} of {count_of(self.rows, 'row')} {'is' if bad == 1 else 'are'} bad; nothing was imported."


def count_of(n: int, noun: str) -> str:
    """``1 guest``, ``2 guests``, ``0 guests``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _parse_time(value: str, tz: ZoneInfo) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def read_rows(stream: io.TextIOBase, event: Event, settings: Settings, *,
              progress: Callable[[int], None] | None = None) -> tuple[list[ImportRow], list[RowError], int]:
    """Validate every row of an import file; returns the good rows, the bad ones and the row count."""
    reader = csv.DictReader(stream)
    header = [name.strip().lstrip("\ufeff") for name in (reader.fieldnames or [])]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        return [], [RowError(1, f"header: missing column {', '.join(missing)}")], 0
    reader.fieldnames = header
    tz = settings.event.tz
    existing = {
        key: (type_name, status)
        for key, type_name, status in db.session.execute(
            sa.select(Registration.email_key, Registration.type_name, Registration.status).where(
                Registration.event_id == event.id, Registration.email_key.is_not(None)
            )
        )
    }
    rows: list[ImportRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    count = 0
    line = 1
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(reader.line_num, f"not valid CSV ({exc})"))
            break
        count += 1
        start_line, line = line + 1, reader.line_num
        if progress is not None:
            progress(1)
        if None in raw:
            errors.append(RowError(start_line, "more fields than the header has columns"))
            continue
        values = {name: (raw.get(name) or "") for name in HEADER}
        try:
            row = _validate(values, start_line, settings, tz)
        except LanyardError as error:
            errors.append(RowError(start_line, error.detail))
            continue
        key = email_key(row.person.email) if row.person.email else None
        if key is not None:
            if key in seen:
                errors.append(RowError(start_line, f"email: duplicate of line {seen[key]}"))
                continue
            if key in existing:
                errors.append(RowError(start_line, "email: already registered for this event"))
                continue
            seen[key] = start_line
        rows.append(row)
    hosts = {email_key(r.person.email): r for r in rows if r.host_key is None}
    good = []
    for row in rows:
        if row.host_key is not None:
            in_file = hosts.get(row.host_key)
            in_db = existing.get(row.host_key)
            if in_file is None and in_db is None:
                errors.append(RowError(row.line, "host_email: no full registrant with this email"))
                continue
            if in_db is not None and (settings.registration_types[in_db[0]].is_guest or in_db[1] != "confirmed"):
                errors.append(RowError(row.line, "host_email: the host is a guest or cancelled"))
                continue
        good.append(row)
    errors.sort(key=lambda e: e.line)
    return good, errors, count


def _validate(values: dict[str, str], line: int, settings: Settings, tz: ZoneInfo) -> ImportRow:
    for name, value in values.items():
        if len(value) > MAX_FIELD:
            raise LanyardError("invalid_field", f"{name}: at most {MAX_FIELD} characters")
    type_name = values["registration_type"].strip().lower()
    rtype = settings.registration_types.get(type_name)
    if rtype is None:
        raise LanyardError("unknown_type", f"registration_type: unknown type {values['registration_type']!r}")
    person = clean_person(
        PersonInput(first_name=values["first_name"], last_name=values["last_name"], badge_name=values["badge_name"],
                    email=values["email"], title=values["title"], organization=values["organization"],
                    type_name=type_name),
        settings,
        email_required=not rtype.is_guest,
    )
    host_raw = values["host_email"].strip()
    if rtype.is_guest and not host_raw:
        raise LanyardError("host_required", "host_email: a guest needs the email of their full registrant")
    if not rtype.is_guest and host_raw:
        raise LanyardError("invalid_field", "host_email: only guests have a host")
    health = None
    method = values["health_method"].strip().lower()
    if method:
        taken = values["test_taken_at"].strip()
        try:
            taken_at = _parse_time(taken, tz) if taken else None
        except ValueError:
            raise LanyardError("invalid_field", "test_taken_at: expected an ISO 8601 time like 2027-09-14T08:30") from None
        health = clean_health(HealthInput(method=method, state=values["health_state"].strip().lower() or "attested",
                                          test_taken_at=taken_at))
    elif values["health_state"].strip() or values["test_taken_at"].strip():
        raise LanyardError("invalid_field", "health_method: required when health_state or test_taken_at is given")
    language = values["language"].strip().lower() or settings.languages[0]
    if language not in settings.languages:
        raise LanyardError("invalid_field", f"language: one of {', '.join(settings.languages)} (or empty), "
                           f"not {values['language']!r}")
    return ImportRow(line=line, person=person, health=health, host_key=email_key(host_raw) if host_raw else None,
                     language=language)


def _insert_people(event: Event, rows: list[ImportRow], *, host_ids: dict[str, int], host_emails: dict[str, str],
                   settings: Settings, report: ImportReport, progress: Callable[[int], None] | None) -> dict[str, int]:
    """Insert one layer of registrations (hosts, then guests) in batches; returns email key → new id."""
    now = utcnow()
    ids: dict[str, int] = {}
    health_rows = []
    table = Registration.__table__
    for start in range(0, len(rows), BATCH):
        batch = rows[start:start + BATCH]
        params, codes = [], []
        for row in batch:
            values, code, manage_code = new_registration_values(
                row.person, contact_email=host_emails[row.host_key] if row.host_key else "", language=row.language,
                source="import")
            values.update(event_id=event.id, host_id=host_ids[row.host_key] if row.host_key else None,
                          code_issued_at=now, created_at=now, updated_at=now)
            params.append(values)
            codes.append((values["code_hash"], code, manage_code))
        # A plain executemany is several times faster than INSERT ... RETURNING row by row;
        # the new ids are read back in one query by the (unique) code hashes.
        db.session.execute(sa.insert(table), params)
        new_ids = dict(db.session.execute(
            sa.select(table.c.code_hash, table.c.id).where(table.c.code_hash.in_([c[0] for c in codes]))
        ).all())
        terms = []
        for row, (code_hash, code, manage_code) in zip(batch, codes):
            new_id = new_ids[code_hash]
            p = row.person
            terms.append((new_id, event.id, dict(first_name=p.first_name, last_name=p.last_name,
                                                 badge_name=p.badge_name, organization=p.organization,
                                                 email=p.email or None)))
            if row.person.email:
                ids[email_key(row.person.email)] = new_id
            report.codes.append((new_id, code, manage_code))
            if row.health is not None:
                health = HealthRecord(method=row.health.method, state=row.health.state,
                                      test_taken_at=row.health.test_taken_at)
                health_rows.append(dict(registration_id=new_id, method=health.method, state=health.state,
                                        test_taken_at=health.test_taken_at, updated_at=now,
                                        expires_at=expiry_for(health, settings.health)))
        index_rows(terms)
        if progress is not None:
            progress(len(batch))
    for start in range(0, len(health_rows), BATCH):
        db.session.execute(sa.insert(HealthRecord.__table__), health_rows[start:start + BATCH])
    report.health_records += len(health_rows)
    return ids


def import_registrations(stream: io.TextIOBase, event: Event, *, settings: Settings, actor: Actor,
                         dry_run: bool = False, progress: Callable[[int], None] | None = None) -> ImportReport:
    """Validate, then (unless ``dry_run``) insert every row; all or nothing.

    :raise LanyardError: ``import_invalid`` when any row is bad; the report is in ``error.extra["report"]``.
    """
    good, errors, count = read_rows(stream, event, settings)
    report = ImportReport(rows=count, errors=errors)
    if errors:
        raise LanyardError("import_invalid", f"{len(errors)} bad rows; nothing was imported", report=report)
    if dry_run:
        return report
    hosts = [r for r in good if r.host_key is None]
    guests = [r for r in good if r.host_key is not None]
    host_ids = _insert_people(event, hosts, host_ids={}, host_emails={}, settings=settings, report=report,
                              progress=progress)
    host_emails = {email_key(r.person.email): r.person.email for r in hosts}
    wanted = {g.host_key for g in guests} - set(host_ids)
    if wanted:
        for key, id_, email in db.session.execute(
            sa.select(Registration.email_key, Registration.id, Registration.email).where(
                Registration.event_id == event.id, Registration.email_key.in_(wanted))
        ):
            host_ids[key], host_emails[key] = id_, email
    _insert_people(event, guests, host_ids=host_ids, host_emails=host_emails, settings=settings, report=report,
                   progress=progress)
    report.full, report.guests = len(hosts), len(guests)
    record(actor, "registration.import", event_id=event.id, rows=count, full=report.full,
           guests=report.guests, health_records=report.health_records)
    db.session.flush()
    return report


def issued_for(report: ImportReport) -> Iterable[Issued]:
    """The imported registrations with their codes, loaded in batches after the commit (for mail)."""
    for start in range(0, len(report.codes), 500):
        chunk = report.codes[start:start + 500]
        loaded = {r.id: r for r in db.session.execute(
            sa.select(Registration).where(Registration.id.in_([c[0] for c in chunk]))
        ).scalars()}
        for id_, code, manage_code in chunk:
            yield Issued(loaded[id_], code, manage_code)


EXPORT_HEADER = ("registration_id", "first_name", "last_name", "badge_name", "email", "title", "organization",
                 "registration_type", "host_email", "status", "checked_in_at", "checked_in_at_kiosk", "badge_serial",
                 "badge_status")


def export_rows(event: Event) -> Iterable[list[str]]:
    """Registrations with their check-in state, as CSV rows (header first), formulas neutralised."""
    from .checkin.models import CheckIn, Kiosk
    from .printing.models import Badge

    host = sa.orm.aliased(Registration)
    latest_badge = (
        sa.select(Badge.registration_id, sa.func.max(Badge.id).label("badge_id"))
        .where(Badge.event_id == event.id).group_by(Badge.registration_id).subquery()
    )
    query = (
        sa.select(Registration, host.email, CheckIn.at, Kiosk.name, Badge.serial, Badge.status)
        .outerjoin(host, Registration.host_id == host.id)
        .outerjoin(CheckIn, CheckIn.registration_id == Registration.id)
        .outerjoin(Kiosk, CheckIn.kiosk_id == Kiosk.id)
        .outerjoin(latest_badge, latest_badge.c.registration_id == Registration.id)
        .outerjoin(Badge, Badge.id == latest_badge.c.badge_id)
        .where(Registration.event_id == event.id)
        .order_by(Registration.id)
        .execution_options(yield_per=1000)
    )
    yield list(EXPORT_HEADER)
    for reg, host_email, at, kiosk, serial, badge_status in db.session.execute(query):
        cells = [str(reg.id), reg.first_name, reg.last_name, reg.badge_name, reg.email, reg.title, reg.organization,
                 reg.type_name, host_email or "", reg.status, at.isoformat() if at else "", kiosk or "",
                 str(serial) if serial is not None else "", badge_status or ""]
        yield [neutralise_formula(cell) for cell in cells]
