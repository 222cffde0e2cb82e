"""Kiosk devices: add, enrol a browser, disable, enable, rotate the token; and what a kiosk may read.

Services flush and never commit; the CLI command or route that calls them owns the transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from registration.audit import Actor, record
from registration.checkin.models import CheckIn, Kiosk
from registration.checkin.services import print_job_dict
from registration.codes import hash_code, new_code, parse_code
from registration.errors import LanyardError
from registration.extensions import db
from registration.models import Event, utcnow
from registration.printing.models import PrintJob, PrinterState
from registration.settings import Settings
from registration.text import clean_text

ENROLMENT_VALID = timedelta(hours=24)
#: ``last_seen_at`` is written at most this often per kiosk: a write per request would cost more than it tells.
SEEN_RESOLUTION = timedelta(minutes=1)
#: Job states that mean the kiosk's printer needs a person.
FAULT_STATES = ("held", "failed", "needs_decision")
NAME_MAX = 64
LOCATION_MAX = 120


def kiosk_by_name(name: str) -> Kiosk:
    """The kiosk called ``name``.

    :raise LanyardError: ``kiosk_unknown``.
    """
    kiosk = db.session.execute(sa.select(Kiosk).filter_by(name=name)).scalar_one_or_none()
    if kiosk is None:
        raise LanyardError("kiosk_unknown", f"no kiosk named {name!r}")
    return kiosk


def _new_enrolment(kiosk: Kiosk, now: datetime) -> str:
    code = new_code("enrol")
    kiosk.enrol_hash = hash_code(code)
    kiosk.enrol_expires_at = now + ENROLMENT_VALID
    return code


def add_kiosk(event: Event, *, name: str, printer_name: str, settings: Settings, actor: Actor,
              location: str = "", language: str = "en") -> tuple[Kiosk, str, str]:
    """Create a kiosk; returns it with its API token and one-time enrolment code (both only here, in clear).

    :raise LanyardError: ``invalid_field``, ``kiosk_exists``, ``printer_unknown``.
    """
    name = clean_text(name, field="name", max_length=NAME_MAX)
    location = clean_text(location, field="location", max_length=LOCATION_MAX, required=False)
    if printer_name not in settings.printers:
        raise LanyardError("printer_unknown", f"no printer {printer_name!r} in the configuration "
                           f"(configured: {', '.join(sorted(settings.printers)) or 'none'})")
    if language not in settings.languages:
        raise LanyardError("invalid_field", f"language: one of {', '.join(settings.languages)}", field="language")
    if db.session.execute(sa.select(Kiosk.id).filter_by(name=name)).first() is not None:
        raise LanyardError("kiosk_exists", f"a kiosk named {name!r} already exists")
    token = new_code("kiosk")
    kiosk = Kiosk(event_id=event.id, name=name, printer_name=printer_name, location=location, language=language,
                  token_hash=hash_code(token), generation=1, enabled=True)
    enrol_code = _new_enrolment(kiosk, utcnow())
    db.session.add(kiosk)
    db.session.flush()
    record(actor, "kiosk.add", kiosk, printer=printer_name, location=location, language=language)
    return kiosk, token, enrol_code


def _enrolment_digest(enrol_code: object) -> str:
    """The stored hash of a well-formed enrolment code.

    :raise LanyardError: ``enrolment_invalid`` for anything that is not one.
    """
    try:
        parsed = parse_code(enrol_code)
    except LanyardError:
        raise LanyardError("enrolment_invalid") from None
    if parsed.kind != "enrol":
        raise LanyardError("enrolment_invalid")
    return parsed.digest


def pending_enrolment(enrol_code: object, *, now: datetime | None = None) -> Kiosk:
    """The kiosk an unused, unexpired enrolment code would bind a browser to; reads only, spends nothing.

    :raise LanyardError: ``enrolment_invalid`` (malformed, unknown, already used or expired).
    """
    digest = _enrolment_digest(enrol_code)
    kiosk = db.session.execute(
        sa.select(Kiosk).where(Kiosk.enrol_hash == digest, Kiosk.enrol_expires_at > (now or utcnow()))
    ).scalar_one_or_none()
    if kiosk is None:
        raise LanyardError("enrolment_invalid")
    return kiosk


def enrol_kiosk(enrol_code: object, *, now: datetime | None = None) -> Kiosk:
    """Spend a one-time enrolment code: returns the kiosk a browser may now be bound to.

    :raise LanyardError: ``enrolment_invalid`` (malformed, unknown, already used or expired).
    """
    digest = _enrolment_digest(enrol_code)
    # Consume the code with one conditional write, so two browsers racing for it cannot both win.
    kiosk_id = db.session.execute(
        sa.update(Kiosk)
        .where(Kiosk.enrol_hash == digest, Kiosk.enrol_expires_at > (now or utcnow()))
        .values(enrol_hash=None, enrol_expires_at=None)
        .returning(Kiosk.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if kiosk_id is None:
        raise LanyardError("enrolment_invalid")
    kiosk = db.session.get(Kiosk, kiosk_id, populate_existing=True)
    record(Actor.for_kiosk(kiosk), "kiosk.enrol", kiosk, generation=kiosk.generation)
    return kiosk


def disable_kiosk(kiosk: Kiosk, *, actor: Actor) -> Kiosk:
    """Take a kiosk out of service at once (its page says so; its API calls get ``kiosk_disabled``)."""
    if kiosk.enabled:
        kiosk.enabled = False
        db.session.flush()
        record(actor, "kiosk.disable", kiosk)
    return kiosk


def enable_kiosk(kiosk: Kiosk, *, actor: Actor) -> Kiosk:
    """Put a disabled kiosk back in service."""
    if not kiosk.enabled:
        kiosk.enabled = True
        db.session.flush()
        record(actor, "kiosk.enable", kiosk)
    return kiosk


def rotate_kiosk_token(kiosk: Kiosk, *, actor: Actor) -> tuple[str, str]:
    """Issue a new token and enrolment code; the old token, enrolled browsers and selections stop at once."""
    token = new_code("kiosk")
    kiosk.token_hash = hash_code(token)
    kiosk.generation = kiosk.generation + 1
    enrol_code = _new_enrolment(kiosk, utcnow())
    db.session.flush()
    record(actor, "kiosk.rotate", kiosk, generation=kiosk.generation)
    return token, enrol_code


def enrolment_url(settings: Settings, enrol_code: str) -> str:
    """The link that binds a browser to a kiosk."""
    return f"{settings.base_url}/kiosk/enrol/{enrol_code}"


def touch_kiosk(kiosk: Kiosk, *, now: datetime | None = None) -> bool:
    """Note that the kiosk was seen, at most once per :data:`SEEN_RESOLUTION`; True when written."""
    now = now or utcnow()
    if kiosk.last_seen_at is not None and now - kiosk.last_seen_at < SEEN_RESOLUTION:
        return False
    # Conditional, so several workers seeing the same kiosk write once.
    written = db.session.execute(
        sa.update(Kiosk)
        .where(Kiosk.id == kiosk.id,
               sa.or_(Kiosk.last_seen_at.is_(None), Kiosk.last_seen_at < now - SEEN_RESOLUTION))
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    return written == 1


def printer_state(name: str) -> PrinterState | None:
    """The last known state of a printer (None until a worker has looked at it)."""
    return db.session.get(PrinterState, name)


def printer_has_fault(state: PrinterState | None) -> bool:
    """Whether a printer's last known state says a person must look at it."""
    return state is not None and (state.online is False or bool(state.error_code))


def job_for_kiosk(kiosk: Kiosk, job_id: int) -> PrintJob:
    """A print job this kiosk created (through its check-in).

    :raise LanyardError: ``not_found`` for any other job, so a kiosk learns nothing about others.
    """
    job = db.session.execute(
        sa.select(PrintJob)
        .join(CheckIn, CheckIn.badge_id == PrintJob.badge_id)
        .where(PrintJob.id == job_id, CheckIn.kiosk_id == kiosk.id)
    ).scalar_one_or_none()
    if job is None:
        raise LanyardError("not_found", "no such print job at this kiosk")
    return job


def alternative_kiosk(kiosk: Kiosk) -> Kiosk | None:
    """Another enabled kiosk of the event whose printer is not known to be faulty.

    Online printers come first; a printer never heard from yet (a preview or file printer cannot
    report its status before its first badge) is still a better suggestion than none.
    """
    return db.session.execute(
        sa.select(Kiosk)
        .outerjoin(PrinterState, PrinterState.name == Kiosk.printer_name)
        .where(Kiosk.event_id == kiosk.event_id, Kiosk.id != kiosk.id, Kiosk.enabled.is_(True),
               Kiosk.printer_name != kiosk.printer_name,
               sa.or_(PrinterState.name.is_(None),
                      sa.and_(PrinterState.online.is_not(False), PrinterState.error_code == "")))
        .order_by(PrinterState.online.is_(True).desc(), Kiosk.name)
        .limit(1)
    ).scalar_one_or_none()


def print_job_status(kiosk: Kiosk, job: PrintJob) -> dict:
    """The job with whether this kiosk's printer needs attention, and where else to go if so."""
    faulty = job.state in FAULT_STATES or printer_has_fault(printer_state(kiosk.printer_name))
    other = alternative_kiosk(kiosk) if faulty else None
    return {**print_job_dict(job), "attention": faulty,
            "alternative": {"kiosk": other.name, "location": other.location} if other is not None else None}


def kiosk_status(kiosk: Kiosk) -> dict:
    """The kiosk and its printer, for the kiosk page's status line."""
    state = printer_state(kiosk.printer_name)
    return {
        "kiosk": {"name": kiosk.name, "location": kiosk.location, "language": kiosk.language,
                  "enabled": kiosk.enabled},
        "printer": {"name": kiosk.printer_name, "online": state.online if state is not None else None,
                    "paper_near_end": bool(state.paper_near_end) if state is not None else False,
                    "error_code": (state.error_code or "") if state is not None else ""},
    }


def badge_preview_png(job: PrintJob, settings: Settings) -> bytes:
    """The badge of a job drawn for the screen: same layout, but a placeholder instead of the real QR."""
    from printers import BadgeData, badge_png

    badge = job.badge
    registration = badge.registration
    rtype = settings.registration_types[registration.type_name]
    return badge_png(BadgeData(badge_name=registration.badge_name, band_text=rtype.band_text,
                               event_name=settings.event.name, code="", title=registration.title,
                               organization=registration.organization, band_color=rtype.band_color,
                               serial=f"#{badge.serial:06d}"))
