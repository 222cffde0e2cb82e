"""The help desk's operations: find, read the card, correct, verify health, check in, reprint, upgrade,
cancel, undo, resend, walk-ups, and the case queue.

Every function takes the acting staff user as an :class:`~registration.audit.Actor`, flushes and
never commits; the route or API view owns the transaction, and sends mail or lets the print
worker print only after its commit. Refusals are :class:`~registration.errors.LanyardError` codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from ..audit import Actor, record
from ..checkin.models import CheckIn, Kiosk, SupersededCode
from ..checkin.services import (CheckInOutcome, Origin, check_in, check_nonce, print_job_dict, request_digest,
                                stored_answer, store_answer)
from ..codes import parse_code
from ..errors import LanyardError
from ..extensions import db
from ..health import METHODS, TESTS, Clearance, assess_clearance, expiry_for
from ..models import AuditEvent, Event, HealthRecord, Registration, StaffUser, utcnow
from ..printing import services as printing
from ..printing.models import Badge, PrintJob
from ..search import among, index_registration, search
from ..services import (NAME_MAX, ORG_MAX, Issued, PersonInput, cancel_registration, email_taken, register,
                        register_guest, registration_with_code, rotate_codes)
from ..settings import Settings
from ..text import clean_email, clean_name, clean_text, email_key
from .cases import HEALTH_REASONS, PRINT_REASONS, automatic_resolution, resolve_cases
from .models import DeskCase

#: Why a badge is reprinted: the closed list the desk offers (and the API accepts).
REPRINT_REASONS = ("lost", "misprint", "name_change", "damaged")
#: Health verdicts staff can record.
VERDICTS = ("verified", "rejected")
#: Results of an on-site test.
TEST_RESULTS = ("negative", "positive")
#: Print job states in which the badge is still on its way: a reprint then would print it twice.
PENDING_STATES = ("queued", "sending", "held")
#: Print job states a cancellation withdraws (the badge it carries is void).
WITHDRAWN_STATES = ("queued", "held", "failed", "needs_decision")
RESOLUTION_MAX = 500
REASON_MAX = 200


# --- finding people ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchResult:
    """One line of the desk's search results."""

    id: int
    first_name: str
    last_name: str
    badge_name: str
    organization: str
    email: str
    pass_name: str
    pass_label: str
    status: str
    checked_in: bool
    cleared: bool
    guest: bool

    def as_dict(self) -> dict:
        """The staff API's shape of a result."""
        return {"id": self.id, "first_name": self.first_name, "last_name": self.last_name,
                "badge_name": self.badge_name, "organization": self.organization, "email": self.email,
                "pass": self.pass_name, "status": self.status, "checked_in": self.checked_in,
                "cleared": self.cleared}


class _HealthVerdict(NamedTuple):
    """The columns of a health record the clearance policy reads (no ORM object per search result)."""

    method: str
    state: str
    test_taken_at: datetime | None
    expires_at: datetime | None


_registrations = Registration.__table__
_health = HealthRecord.__table__
_checkins = CheckIn.__table__


def search_registrations(event: Event, query: object, *, settings: Settings, limit: int = 50,
                         now: datetime | None = None) -> list[SearchResult]:
    """People matching what was typed (names, badge name, organisation, email, or a code's first characters),
    best first, at most ``limit`` (≤ 50). Accent-, case- and punctuation-blind in every script."""
    ids = search(event.id, query, limit=limit)
    if not ids:
        return []
    now = now or utcnow()
    rows = db.session.execute(
        sa.select(_registrations.c.id, _registrations.c.first_name, _registrations.c.last_name,
                  _registrations.c.badge_name, _registrations.c.organization, _registrations.c.email,
                  _registrations.c.type_name, _registrations.c.status, _checkins.c.id.label("checkin_id"),
                  _health.c.method, _health.c.state, _health.c.test_taken_at, _health.c.expires_at)
        .select_from(_registrations)
        .outerjoin(_health, _health.c.registration_id == _registrations.c.id)
        .outerjoin(_checkins, _checkins.c.registration_id == _registrations.c.id)
        .where(among(_registrations.c.id, ids))
    ).all()
    by_id = {row.id: row for row in rows}
    results = []
    for registration_id in ids:
        row = by_id.get(registration_id)
        if row is None:
            continue
        rtype = settings.registration_types.get(row.type_name)
        health = _HealthVerdict(row.method, row.state, row.test_taken_at, row.expires_at) if row.method else None
        results.append(SearchResult(
            id=row.id, first_name=row.first_name, last_name=row.last_name, badge_name=row.badge_name,
            organization=row.organization, email=row.email, pass_name=row.type_name,
            pass_label=rtype.label if rtype else row.type_name, status=row.status,
            checked_in=row.checkin_id is not None,
            cleared=row.status == "confirmed" and assess_clearance(health, settings.health, now).cleared,
            guest=bool(rtype and rtype.is_guest)))
    return results


@dataclass(frozen=True)
class ScanHit:
    """Whose card a scanned code opens, and what the code was."""

    registration: Registration
    kind: str  # registration, badge
    note: str = ""  # "superseded", "void": the code no longer works, the card says why


def registration_by_scan(event: Event, raw: object) -> ScanHit:
    """The person a scanned or typed registration code or badge code belongs to (old and void codes too).

    :raise LanyardError: ``code_malformed``, ``wrong_code_kind``, ``code_unknown``, ``wrong_event``.
    """
    parsed = parse_code(raw)
    digest = parsed.digest
    note = ""
    if parsed.kind == "registration":
        registration = registration_with_code(parsed)
        if registration is None:
            old = db.session.execute(
                sa.select(SupersededCode.registration_id).where(SupersededCode.code_hash == digest)).scalar()
            registration = db.session.get(Registration, old) if old is not None else None
            note = "superseded"
    elif parsed.kind == "badge":
        badge = db.session.execute(sa.select(Badge).where(Badge.code_hash == digest)).scalar_one_or_none()
        registration = badge.registration if badge is not None else None
        note = "void" if badge is not None and badge.status == "void" else ""
    else:
        raise LanyardError("wrong_code_kind", f"a {parsed.kind} code opens no card")
    if registration is None:
        raise LanyardError("code_unknown")
    if registration.event_id != event.id:
        raise LanyardError("wrong_event")
    return ScanHit(registration=registration, kind=parsed.kind, note=note)


# --- the attendee card ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BadgeLine:
    """One badge of a person, newest first on the card, with its print job."""

    badge: Badge
    job: PrintJob | None

    def as_dict(self) -> dict:
        """The staff API's shape of a badge."""
        job = self.job
        return {"serial": self.badge.serial, "status": self.badge.status, "void_reason": self.badge.void_reason,
                "reason": self.badge.reason, "issued_by": self.badge.issued_by,
                "issued_at": _iso(self.badge.created_at),
                "printer": job.printer_name if job else None, "printed_at": _iso(job.printed_at) if job else None,
                "print_job": print_job_dict(job) if job else None}


@dataclass(frozen=True)
class Card:
    """Everything the desk shows about one person (health details only through :func:`view_health_details`)."""

    registration: Registration
    pass_label: str
    is_guest: bool
    host: Registration | None
    guests: list[Registration]
    clearance: Clearance
    checkin: CheckIn | None
    badges: list[BadgeLine]
    cases: list[DeskCase]
    history: list[AuditEvent]

    @property
    def open_cases(self) -> list[DeskCase]:
        """The cases still waiting for the desk."""
        return [case for case in self.cases if case.is_open]

    @property
    def valid_badge(self) -> BadgeLine | None:
        """The badge that opens doors now, if any."""
        return next((line for line in self.badges if line.badge.status == "valid"), None)

    @property
    def pending_job(self) -> PrintJob | None:
        """A print job still on its way to a printer, if any."""
        return next((line.job for line in self.badges if line.job is not None and line.job.state in PENDING_STATES),
                    None)

    @property
    def problem_jobs(self) -> list[PrintJob]:
        """Print jobs that wait for a staff decision (held, failed, unconfirmed)."""
        return [line.job for line in self.badges
                if line.job is not None and line.job.waits_for_staff]


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if at is not None else None


def load_card(registration: Registration, *, settings: Settings, now: datetime | None = None) -> Card:
    """Everything about a person for the attendee card."""
    now = now or utcnow()
    rtype = settings.registration_types.get(registration.type_name)
    checkin = db.session.execute(sa.select(CheckIn).filter_by(registration_id=registration.id)).scalar_one_or_none()
    badges = db.session.execute(
        sa.select(Badge, PrintJob).outerjoin(PrintJob, PrintJob.badge_id == Badge.id)
        .where(Badge.registration_id == registration.id).order_by(Badge.id.desc(), PrintJob.id.desc())
    ).all()
    seen: set[int] = set()
    lines = []
    for badge, job in badges:  # the newest job of each badge
        if badge.id not in seen:
            seen.add(badge.id)
            lines.append(BadgeLine(badge, job))
    cases = list(db.session.execute(
        sa.select(DeskCase).where(DeskCase.registration_id == registration.id)
        .order_by(DeskCase.state, DeskCase.created_at.desc())).scalars())
    case_ids = [case.id for case in cases]
    history = list(db.session.execute(
        sa.select(AuditEvent).where(sa.or_(
            sa.and_(AuditEvent.target_type == "Registration", AuditEvent.target_id == registration.id),
            sa.and_(AuditEvent.target_type == "DeskCase", AuditEvent.target_id.in_(case_ids or [-1]))))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(100)).scalars())
    clearance = (Clearance(False, "registration_cancelled") if registration.is_cancelled
                 else _clearance(registration, settings, now))
    return Card(registration=registration, pass_label=rtype.label if rtype else registration.type_name,
                is_guest=bool(rtype and rtype.is_guest), host=registration.host, guests=list(registration.guests),
                clearance=clearance, checkin=checkin, badges=lines, cases=cases, history=history)


def _clearance(registration: Registration, settings: Settings, now: datetime) -> Clearance:
    clearance = assess_clearance(registration.health, settings.health, now)
    if not clearance.cleared and registration.health is None and registration.event.health_purged_at is not None:
        return Clearance(False, "health_purged")
    return clearance


def card_dict(card: Card, *, settings: Settings) -> dict:
    """The staff API's shape of the card (the health part is an audited read: the caller records it)."""
    r = card.registration
    health = r.health
    return {
        "id": r.id, "first_name": r.first_name, "last_name": r.last_name, "legal_name": r.legal_name,
        "badge_name": r.badge_name, "title": r.title, "organization": r.organization, "email": r.email,
        "pass": r.type_name, "pass_label": card.pass_label, "status": r.status, "source": r.source,
        "host": {"id": card.host.id, "name": card.host.legal_name} if card.host else None,
        "guests": [{"id": g.id, "name": g.legal_name, "status": g.status} for g in card.guests],
        "health": {"cleared": card.clearance.cleared, "reason": card.clearance.reason,
                   "expires_at": _iso(card.clearance.expires_at),
                   "method": health.method if health else None, "state": health.state if health else None},
        "checked_in": ({"at": _iso(card.checkin.at), "kiosk": card.checkin.kiosk.name if card.checkin.kiosk else None,
                        "staff": card.checkin.staff.email if card.checkin.staff else None}
                       if card.checkin else None),
        "badges": [line.as_dict() for line in card.badges],
        "desk_cases": [case_dict(case) for case in card.cases],
    }


def view_health_details(registration: Registration, *, actor: Actor, channel: str = "desk") -> HealthRecord | None:
    """The person's health record, for staff who asked to see it; the read is audited."""
    record(actor, "health.view", registration, channel=channel)
    return registration.health


# --- corrections ------------------------------------------------------------------------------------------

#: The fields the desk may correct, with their length limits (the legal name is kept as registered).
EDITABLE = {"badge_name": NAME_MAX, "title": ORG_MAX, "organization": ORG_MAX}


def update_registration(registration: Registration, changes: dict[str, object], *, actor: Actor) -> dict:
    """Correct the badge name, title or organisation; returns ``{field: [before, after]}`` of what changed.

    :raise LanyardError: ``invalid_field`` (unknown field, bad text or a formula start as on the form, empty
        badge name), ``registration_cancelled``.
    """
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        field = sorted(unknown)[0]
        raise LanyardError("invalid_field", f"{field}: cannot be changed here", field=field)
    if registration.is_cancelled:
        raise LanyardError("registration_cancelled")
    cleaned = {field: clean_name(value, field=field, max_length=EDITABLE[field], required=field == "badge_name")
               for field, value in changes.items()}
    changed = {field: [getattr(registration, field), value] for field, value in cleaned.items()
               if getattr(registration, field) != value}
    if not changed:
        return {}
    for field, (_before, after) in changed.items():
        setattr(registration, field, after)
    index_registration(registration)
    record(actor, "registration.update", registration, before={f: v[0] for f, v in changed.items()},
           after={f: v[1] for f, v in changed.items()})
    return changed


# --- health -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthVerification:
    """What staff saw: the method, their verdict, the test's time (tests) and an on-site test's result."""

    method: str
    state: str = "verified"
    test_taken_at: datetime | None = None
    result: str | None = None  # on-site tests: negative or positive
    reason: str = ""  # why it was rejected


def clean_verification(value: HealthVerification, *, now: datetime) -> HealthVerification:
    """Check a verification before anything is written.

    :raise LanyardError: ``invalid_field`` naming the field, ``reason_required``.
    """
    if value.method not in METHODS:
        raise LanyardError("invalid_field", f"method: one of {', '.join(METHODS)}", field="method")
    if value.state not in VERDICTS:
        raise LanyardError("invalid_field", "state: verified or rejected", field="state")
    taken = value.test_taken_at
    state, reason = value.state, clean_text(value.reason, field="reason", max_length=REASON_MAX, required=False)
    if value.method in TESTS:
        if taken is None and state == "verified":
            raise LanyardError("invalid_field", "test_taken_at: when was the test taken?", field="test_taken_at")
        if taken is not None and taken.tzinfo is None:
            raise LanyardError("invalid_field", "test_taken_at: needs a time zone", field="test_taken_at")
        if taken is not None and taken > now + timedelta(minutes=5):
            raise LanyardError("invalid_field", "test_taken_at: in the future", field="test_taken_at")
    elif taken is not None:
        raise LanyardError("invalid_field", "test_taken_at: only for tests", field="test_taken_at")
    if value.method == "onsite_test":
        if value.result not in TEST_RESULTS:
            raise LanyardError("invalid_field", "result: negative or positive", field="result")
        if value.result == "positive":
            state, reason = "rejected", reason or "positive on-site test"
    elif value.result is not None:
        raise LanyardError("invalid_field", "result: only for on-site tests", field="result")
    if state == "rejected" and not reason:
        raise LanyardError("reason_required", "Say why the proof is rejected.", field="reason")
    return HealthVerification(method=value.method, state=state, test_taken_at=taken, result=value.result,
                              reason=reason)


def verify_health(registration: Registration, verification: HealthVerification, *, actor: Actor,
                  settings: Settings, now: datetime | None = None) -> Clearance:
    """Record what staff saw of a person's health proof; returns the new verdict.

    The expiry follows the ``[health]`` policy; once the person is cleared, their open health desk
    cases close by themselves.

    :raise LanyardError: ``invalid_field``, ``reason_required``, ``registration_cancelled``.
    """
    now = now or utcnow()
    if registration.is_cancelled:
        raise LanyardError("registration_cancelled")
    value = clean_verification(verification, now=now)
    health = registration.health
    before = {"method": health.method, "state": health.state} if health else None
    if health is None:
        health = HealthRecord(registration=registration, method=value.method)
        db.session.add(health)
    health.method, health.state, health.test_taken_at = value.method, value.state, value.test_taken_at
    health.expires_at = expiry_for(health, settings.health)
    health.verified_by_id = actor.id if actor.type == "staff" else None
    health.verified_at = now
    db.session.flush()
    clearance = assess_clearance(health, settings.health, now)
    record(actor, "health.verify" if value.state == "verified" else "health.reject", registration, before=before,
           after={"method": value.method, "state": value.state, "cleared": clearance.cleared,
                  "expires_at": _iso(clearance.expires_at)},
           **({"reason": value.reason} if value.reason else {}))
    if clearance.cleared:
        resolve_cases(actor=actor, resolution=automatic_resolution("health_verified", method=value.method), registration_id=registration.id,
                      reasons=HEALTH_REASONS, now=now)
    return clearance


# --- check-in and badges ----------------------------------------------------------------------------------


def _printer(settings: Settings, printer_name: object) -> str:
    name = printer_name or settings.desk.printer
    if not isinstance(name, str) or name not in settings.printers:
        raise LanyardError("printer_unknown", f"no printer {name!r} in the configuration", field="printer")
    return name


def check_in_at_desk(event: Event, registration: Registration, *, actor: Actor, settings: Settings,
                     nonce: str, printer_name: str | None = None, now: datetime | None = None) -> CheckInOutcome:
    """Check a person in from the desk and print their badge on ``printer_name`` (default: the desk printer).

    The same atomic decision as a kiosk's: a concurrent kiosk scan of the same person gives one check-in.
    A not-cleared person gets ``needs_desk`` with the exact reason and no badge.

    :raise LanyardError: ``printer_unknown``, ``nonce_invalid``.
    :raise sqlalchemy.exc.IntegrityError: a concurrent request with the same nonce won; roll back and call again.
    """
    origin = Origin.desk(actor, _printer(settings, printer_name))
    return check_in(event, registration=registration, origin=origin, nonce=nonce, settings=settings, now=now)


def verify_and_print(event: Event, registration: Registration, verification: HealthVerification, *, actor: Actor,
                     settings: Settings, nonce: str, printer_name: str | None = None,
                     now: datetime | None = None) -> tuple[Clearance, CheckInOutcome | None]:
    """For a person at the desk: verify their health proof and, if that clears them, check in and print here.

    :raise LanyardError: as :func:`verify_health` and :func:`check_in_at_desk`.
    """
    printer = _printer(settings, printer_name)  # refuse a bad printer before anything is written
    clearance = verify_health(registration, verification, actor=actor, settings=settings, now=now)
    if not clearance.cleared:
        return clearance, None
    return clearance, check_in_at_desk(event, registration, actor=actor, settings=settings, nonce=nonce,
                                       printer_name=printer, now=now)


@dataclass(frozen=True)
class Reprint:
    """A badge issued at the desk: the new badge's serial and its print job."""

    serial: int
    print_job: dict
    replaced_serial: int | None

    def as_dict(self) -> dict:
        """The staff API's answer."""
        return {"serial": self.serial, "print_job": self.print_job, "replaced_serial": self.replaced_serial}


def _replace_badge(registration: Registration, *, actor: Actor, settings: Settings, printer_name: str,
                   reason: str) -> Reprint:
    """Issue a new badge for a checked-in person and void the current one, atomically.

    The check-in row names the current badge; it is moved to the new one by a conditional UPDATE, so of
    two concurrent reprints exactly one succeeds.

    :raise LanyardError: ``not_checked_in``, ``badge_in_queue``.
    """
    checkin = db.session.execute(sa.select(CheckIn).filter_by(registration_id=registration.id)).scalar_one_or_none()
    if checkin is None:
        raise LanyardError("not_checked_in", "The person has not collected a badge yet: check them in instead.")
    current = checkin.badge_id
    pending = db.session.execute(
        sa.select(PrintJob).join(Badge, Badge.id == PrintJob.badge_id)
        .where(Badge.registration_id == registration.id, PrintJob.state.in_(PENDING_STATES))
        .order_by(PrintJob.id.desc()).limit(1)).scalar_one_or_none()
    if pending is not None:
        raise LanyardError("badge_in_queue", f"badge #{pending.badge_id:06d} is still {pending.state} on printer "
                           f"{pending.printer_name}: wait for it, or cancel or reroute its print job first",
                           print_job_id=pending.id)
    _withdraw_jobs(registration, actor=actor, why=automatic_resolution("badge_replaced", reason=reason))
    issued = printing.queue_badge(registration, printer_name=printer_name, settings=settings, actor=actor,
                                  reason=reason)
    moved = db.session.execute(
        sa.update(CheckIn.__table__)
        .where(CheckIn.__table__.c.registration_id == registration.id,
               CheckIn.__table__.c.badge_id.is_(None) if current is None else CheckIn.__table__.c.badge_id == current)
        .values(badge_id=issued.badge_id)
    ).rowcount
    if moved != 1:  # another reprint moved it first: undo ours (the route rolls back)
        raise LanyardError("badge_in_queue", "another badge for this person was just issued")
    db.session.expire(checkin)
    resolve_cases(actor=actor, resolution=automatic_resolution("badge_reissued", serial=f"{issued.serial:06d}",
                                                                reason=reason),
                  registration_id=registration.id, reasons=PRINT_REASONS)
    return Reprint(serial=issued.serial, replaced_serial=current,
                   print_job=print_job_dict(db.session.get(PrintJob, issued.job_id)))


def reprint_badge(registration: Registration, *, reason: object, actor: Actor, settings: Settings, nonce: object,
                  printer_name: str | None = None) -> Reprint:
    """Print a new badge (new badge code and serial) for a reason from :data:`REPRINT_REASONS`; the previous
    badge is void at once. A retry with the same nonce gets the first answer, never a second badge.

    :raise LanyardError: ``invalid_field`` (reason), ``nonce_invalid``, ``registration_cancelled``,
        ``not_checked_in``, ``badge_in_queue`` (the current badge has not printed yet), ``printer_unknown``.
    """
    nonce = check_nonce(nonce)
    digest = request_digest("reprint", registration.id, reason, printer_name)
    stored = stored_answer(nonce=nonce, digest=digest, staff_id=actor.id)
    if stored is not None:
        return Reprint(**stored)
    if reason not in REPRINT_REASONS:
        raise LanyardError("invalid_field", f"reason: one of {', '.join(REPRINT_REASONS)}", field="reason")
    if registration.is_cancelled:
        raise LanyardError("registration_cancelled")
    printer = _printer(settings, printer_name)
    reprint = _replace_badge(registration, actor=actor, settings=settings, printer_name=printer, reason=reason)
    record(actor, "badge.reprint", registration, reason=reason, printer=printer,
           before={"serial": reprint.replaced_serial}, after={"serial": reprint.serial})
    store_answer(nonce=nonce, digest=digest, response=reprint.as_dict(), now=utcnow(), staff_id=actor.id)
    return reprint


def _withdraw_jobs(registration: Registration, *, actor: Actor, why: str) -> int:
    """Cancel the jobs of a person that have not printed (queued, held, failed, unconfirmed); returns how many."""
    jobs = list(db.session.execute(
        sa.select(PrintJob).join(Badge, Badge.id == PrintJob.badge_id)
        .where(Badge.registration_id == registration.id, PrintJob.state.in_(WITHDRAWN_STATES))).scalars())
    for job in jobs:
        try:
            printing.cancel_job(job, actor=actor, reason=why)
        except LanyardError:  # a worker claimed it meanwhile; its badge is void anyway
            continue
        resolve_cases(actor=actor, resolution=why, print_job_id=job.id, reasons=PRINT_REASONS)
    return len(jobs)


def upgrade_registration(event: Event, registration: Registration, *, actor: Actor, settings: Settings,
                         type_name: str | None = None, email: str = "", printer_name: str | None = None,
                         nonce: object = None) -> Reprint | None:
    """Upgrade a guest to a full pass. If they hold a badge, a new one prints (the guest badge is void).

    A guest without an email of their own may be given one now (the full registrant's contact).

    :raise LanyardError: ``not_guest``, ``unknown_type``, ``invalid_field``, ``duplicate_email``,
        ``registration_cancelled``, ``badge_in_queue``, ``printer_unknown``.
    """
    rtype = settings.registration_types.get(registration.type_name)
    if rtype is None or not rtype.is_guest:
        raise LanyardError("not_guest")
    if registration.is_cancelled:
        raise LanyardError("registration_cancelled")
    type_name = type_name or settings.full_types[0]
    target = settings.registration_types.get(type_name)
    if target is None or target.is_guest:
        raise LanyardError("unknown_type", f"registration_type: {type_name!r} is not a full pass",
                           field="registration_type")
    email = clean_email(email, required=False)
    if email and email_key(email) != registration.email_key:
        if email_taken(event, email):
            raise LanyardError("duplicate_email", "email: already registered for this event", field="email")
        registration.email, registration.email_key = email, email_key(email)
    before = {"type": registration.type_name, "host_id": registration.host_id}
    registration.type_name = type_name
    registration.host = None
    db.session.flush()
    index_registration(registration)
    reprint = None
    checked_in = db.session.execute(sa.select(CheckIn.id).filter_by(registration_id=registration.id)).first()
    if checked_in is not None:
        reprint = _replace_badge(registration, actor=actor, settings=settings,
                                 printer_name=_printer(settings, printer_name), reason="upgrade")
    record(actor, "registration.upgrade", registration, before=before,
           after={"type": type_name, "host_id": None, "serial": reprint.serial if reprint else None})
    return reprint


def cancel_at_desk(registration: Registration, *, actor: Actor, reason: object) -> Registration:
    """Cancel a registration: every badge void, every unprinted job withdrawn, its open cases closed.

    :raise LanyardError: ``reason_required``, ``invalid_field``.
    """
    reason = clean_text(reason, field="reason", max_length=REASON_MAX, required=False)
    if not reason:
        raise LanyardError("reason_required")
    if registration.is_cancelled:
        return registration
    _withdraw_jobs(registration, actor=actor, why=automatic_resolution("registration_cancelled"))
    cancel_registration(registration, actor=actor, reason=reason)
    resolve_cases(actor=actor, resolution=automatic_resolution("registration_cancelled_because", reason=reason), registration_id=registration.id)
    return registration


def undo_check_in(registration: Registration, *, actor: Actor, reason: object) -> None:
    """Take a check-in back (admin): its badges are void and unprinted jobs withdrawn; the person can check in again.

    :raise LanyardError: ``reason_required``, ``not_checked_in``.
    """
    reason = clean_text(reason, field="reason", max_length=REASON_MAX, required=False)
    if not reason:
        raise LanyardError("reason_required")
    checkin = db.session.execute(sa.select(CheckIn).filter_by(registration_id=registration.id)).scalar_one_or_none()
    if checkin is None:
        raise LanyardError("not_checked_in")
    _withdraw_jobs(registration, actor=actor, why=automatic_resolution("checkin_undone"))
    now = utcnow()
    db.session.execute(sa.update(Badge).where(Badge.registration_id == registration.id, Badge.status == "valid")
                       .values(status="void", void_reason="check-in undone", voided_at=now))
    before = {"at": _iso(checkin.at), "kiosk_id": checkin.kiosk_id, "staff_id": checkin.staff_id,
              "badge_id": checkin.badge_id}
    db.session.delete(checkin)
    db.session.flush()
    record(actor, "checkin.undo", registration, reason=reason, before=before, after=None)


def resend_confirmation(registration: Registration, *, actor: Actor) -> Issued:
    """New registration and management codes (the old ones are superseded at once); the caller mails them
    after the commit.

    :raise LanyardError: ``registration_cancelled``.
    """
    issued = rotate_codes(registration, actor=actor)
    record(actor, "registration.resend_confirmation", registration, to=registration.email)
    return issued


# --- print jobs -------------------------------------------------------------------------------------------


def retry_print_job(job: PrintJob, *, actor: Actor, settings: Settings, printer_name: str | None = None) -> PrintJob:
    """Send a held, failed or unconfirmed job back to the queue, optionally to another printer (reroute).

    :raise LanyardError: ``job_not_retryable``, ``printer_unknown``.
    """
    if job.badge.status != "void":
        printing.retry_job(job, actor=actor, printer_name=printer_name, settings=settings)
    else:
        raise LanyardError("job_not_retryable", f"print job {job.id} carries a void badge")
    resolve_cases(actor=actor, resolution=(automatic_resolution("job_rerouted", printer=printer_name) if printer_name else
                                   automatic_resolution("job_sent_again")),
                  print_job_id=job.id, reasons=PRINT_REASONS)
    return job


def cancel_print_job(job: PrintJob, *, actor: Actor, reason: object) -> PrintJob:
    """Withdraw a job that has not printed.

    :raise LanyardError: ``reason_required``, ``job_not_retryable``.
    """
    reason = clean_text(reason, field="reason", max_length=REASON_MAX, required=False)
    printing.cancel_job(job, actor=actor, reason=reason)
    resolve_cases(actor=actor, resolution=automatic_resolution("job_cancelled", reason=reason), print_job_id=job.id, reasons=PRINT_REASONS)
    return job


def mark_print_job_printed(job: PrintJob, *, actor: Actor) -> PrintJob:
    """Staff saw the badge of an unconfirmed job come out.

    :raise LanyardError: ``job_not_retryable``.
    """
    printing.mark_job_printed(job, actor=actor)
    resolve_cases(actor=actor, resolution=automatic_resolution("seen_printed"), print_job_id=job.id, reasons=PRINT_REASONS)
    return job


# --- walk-ups ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WalkUp:
    """A walk-up registration: the person with their fresh codes, the verdict, and the check-in if printed."""

    issued: Issued
    clearance: Clearance | None
    checkin: CheckInOutcome | None


def registration_for_email(event: Event, email: object) -> Registration:
    """The registration of ``email`` at ``event`` (e.g. a guest's host, typed at the desk).

    :raise LanyardError: ``host_invalid`` when nobody registered with it.
    """
    address = clean_email(email, field="host_email")
    found = db.session.execute(sa.select(Registration).where(
        Registration.event_id == event.id, Registration.email_key == email_key(address))).scalar_one_or_none()
    if found is None:
        raise LanyardError("host_invalid", f"nobody registered with {address}", field="host_email")
    return found


def _walk_up_clearance(value: HealthVerification | None, *, settings: Settings, now: datetime) -> Clearance:
    """The verdict the health seen at a walk-up would give, before anyone is registered."""
    if value is None:
        return assess_clearance(None, settings.health, now)
    health = HealthRecord(method=value.method, state=value.state, test_taken_at=value.test_taken_at)
    health.expires_at = expiry_for(health, settings.health)
    return assess_clearance(health, settings.health, now)


def register_walk_up(event: Event, person: PersonInput, *, actor: Actor, settings: Settings,
                     host: Registration | None = None, health: HealthVerification | None = None,
                     print_badge: bool = False, printer_name: str | None = None, nonce: str | None = None,
                     language: str = "en") -> WalkUp:
    """Register someone at the desk, verify their health on the spot, and (if asked and cleared) check them in
    and print. The caller sends the confirmation email after the commit.

    :raise LanyardError: as :func:`registration.services.register`, ``host_required``, ``host_invalid``,
        :func:`clean_verification`'s codes, ``printer_unknown``, ``nonce_invalid``; with ``print_badge``, the
        clearance codes (``health_missing``, ``health_expired``, ``health_rejected``…) when the health seen does
        not clear the person, before anyone is registered.
    """
    now = utcnow()
    rtype = settings.registration_types.get(person.type_name)
    if rtype is None:
        raise LanyardError("unknown_type", f"registration_type: unknown type {person.type_name!r}",
                           field="registration_type")
    value = clean_verification(health, now=now) if health is not None else None  # refuse before registering
    printer = _printer(settings, printer_name) if print_badge else None
    if print_badge:
        # Check in and print needs a person the health seen now clears: refuse here, not after registering them
        # (a registration without its badge, half of what the desk asked for).
        verdict = _walk_up_clearance(value, settings=settings, now=now)
        if not verdict.cleared:
            raise LanyardError(verdict.reason, field="test_taken_at" if verdict.reason == "health_expired"
                               else "method")
        nonce = check_nonce(nonce)
    if rtype.is_guest:
        if host is None:
            raise LanyardError("host_required", "A guest needs the full registrant they come with.", field="host_id")
        issued = register_guest(event, host, person, settings=settings, actor=actor, language=language)
    else:
        issued = register(event, person, settings=settings, actor=actor, language=language, source="desk")[0]
    registration = issued.registration
    clearance = verify_health(registration, health, actor=actor, settings=settings, now=now) if health else None
    checkin = None
    if print_badge:
        checkin = check_in_at_desk(event, registration, actor=actor, settings=settings, nonce=nonce,
                                   printer_name=printer, now=now)
    return WalkUp(issued=issued, clearance=clearance, checkin=checkin)


# --- the case queue ---------------------------------------------------------------------------------------


def list_cases(event: Event, *, state: str = "open", limit: int = 200) -> list[DeskCase]:
    """The desk cases in ``state``: open ones oldest first (who has waited longest), resolved ones newest first."""
    if state not in ("open", "resolved"):
        raise LanyardError("invalid_field", "state: open or resolved", field="state")
    order = DeskCase.created_at.asc() if state == "open" else DeskCase.resolved_at.desc()
    return list(db.session.execute(
        sa.select(DeskCase).where(DeskCase.event_id == event.id, DeskCase.state == state)
        .order_by(order, DeskCase.id).limit(limit)).scalars())


def case_dict(case: DeskCase, *, now: datetime | None = None) -> dict:
    """The staff API's shape of a desk case."""
    now = now or utcnow()
    return {"id": case.id, "reason": case.reason, "state": case.state, "details": case.details,
            "registration_id": case.registration_id,
            "name": case.registration.legal_name if case.registration else None,
            "kiosk": case.kiosk.name if case.kiosk else None, "print_job_id": case.print_job_id,
            "created_at": _iso(case.created_at),
            "waiting_seconds": int((now - case.created_at).total_seconds()) if case.is_open else None,
            "resolved_at": _iso(case.resolved_at), "resolution": case.resolution or None}


def resolve_case(case: DeskCase, *, actor: Actor, resolution: object) -> DeskCase:
    """Close a case, saying how it was solved.

    :raise LanyardError: ``reason_required`` (no resolution), ``invalid_field``, ``case_closed``.
    """
    text = clean_text(resolution, field="resolution", max_length=RESOLUTION_MAX, required=False)
    if not text:
        raise LanyardError("reason_required", "Say how the case was solved.", field="resolution")
    now = utcnow()
    done = db.session.execute(
        sa.update(DeskCase.__table__).where(DeskCase.__table__.c.id == case.id, DeskCase.__table__.c.state == "open")
        .values(state="resolved", resolution=text, resolved_at=now,
                resolved_by_id=actor.id if actor.type == "staff" else None)).rowcount
    db.session.refresh(case)
    if done != 1:
        raise LanyardError("case_closed")
    record(actor, "desk_case.resolve", case, reason=case.reason, resolution=text, registration_id=case.registration_id)
    return case


# --- what the desk sees of the floor ----------------------------------------------------------------------


@dataclass(frozen=True)
class KioskLine:
    """A kiosk as the desk sees it."""

    kiosk: Kiosk
    printer: printing.PrinterSnapshot | None


def floor(settings: Settings) -> tuple[list[KioskLine], list[printing.PrinterSnapshot], list[PrintJob]]:
    """Every kiosk with its printer, every printer, and the print jobs waiting for staff."""
    printers = printing.printer_states(settings)
    kiosks = [KioskLine(k, printers.get(k.printer_name))
              for k in db.session.execute(sa.select(Kiosk).order_by(Kiosk.name)).scalars()]
    problems = list(db.session.execute(
        sa.select(PrintJob).where(PrintJob.waits_for_staff)
        .order_by(PrintJob.id).limit(200)).scalars())
    return kiosks, list(printers.values()), problems


def printer_dict(snapshot: printing.PrinterSnapshot) -> dict:
    """The staff API's shape of a printer's state."""
    state = ("unknown" if snapshot.online is None else "offline" if snapshot.error_code == "printer_offline"
             else snapshot.error_code or ("paper_near_end" if snapshot.paper_near_end else "ready"))
    return {"name": snapshot.name, "backend": snapshot.backend, "state": state, "online": snapshot.online,
            "paper_near_end": snapshot.paper_near_end, "error_code": snapshot.error_code or None,
            "last_error": snapshot.last_error or None, "last_checked_at": _iso(snapshot.last_checked_at),
            "last_success_at": _iso(snapshot.last_success_at), "fallback": snapshot.fallback,
            "queued": snapshot.queued, "held": snapshot.held, "needs_staff": snapshot.needs_staff,
            "attention": snapshot.attention}


def staff_name(user_id: int | None) -> str:
    """A staff user's email, for the card (empty when unknown)."""
    if user_id is None:
        return ""
    return db.session.execute(sa.select(StaffUser.email).where(StaffUser.id == user_id)).scalar() or ""

