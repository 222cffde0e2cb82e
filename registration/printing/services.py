"""Print-queue operations: issue a badge with its print job, and the job's life after that."""

from __future__ import annotations

import sqlalchemy as sa

from ..audit import Actor, record
from ..codes import hash_code, new_code
from ..errors import LanyardError
from ..extensions import db
from ..models import Registration, utcnow
from ..settings import Settings
from .models import Badge, PrintJob


def badge_payload(registration: Registration, badge: Badge, code: str, settings: Settings) -> dict:
    """What the worker needs to render the badge (the fields of ``printers.BadgeData``)."""
    rtype = settings.registration_types[registration.type_name]
    return {
        "badge_name": registration.badge_name,
        "title": registration.title,
        "organization": registration.organization,
        "band_text": rtype.band_text,
        "band_color": rtype.band_color,
        "code": code,
        "event_name": settings.event.name,
        "serial": f"#{badge.serial:06d}",
    }


def issue_badge(registration: Registration, *, printer_name: str, settings: Settings, actor: Actor,
                reason: str = "check-in") -> PrintJob:
    """Create a badge with a fresh badge code and queue its print job (in the caller's transaction).

    Any earlier valid badge of the registration is voided, so a lost badge stops opening doors.

    :raise LanyardError: ``printer_unknown``.
    """
    if printer_name not in settings.printers:
        raise LanyardError("printer_unknown", f"no printer {printer_name!r} in the configuration")
    now = utcnow()
    db.session.execute(
        sa.update(Badge)
        .where(Badge.registration_id == registration.id, Badge.status == "valid")
        .values(status="void", void_reason=f"replaced: {reason}"[:200], voided_at=now)
    )
    code = new_code("badge")
    # Serials are per event; the unique constraint turns a rare concurrent clash into a retryable error.
    serial = (db.session.execute(
        sa.select(sa.func.max(Badge.serial)).where(Badge.event_id == registration.event_id)
    ).scalar() or 0) + 1
    badge = Badge(event_id=registration.event_id, registration_id=registration.id, serial=serial,
                  code_hash=hash_code(code), status="valid")
    db.session.add(badge)
    db.session.flush()
    job = PrintJob(event_id=registration.event_id, badge=badge, printer_name=printer_name, state="queued",
                   payload=badge_payload(registration, badge, code, settings), next_attempt_at=now)
    db.session.add(job)
    db.session.flush()
    record(actor, "badge.issue", registration, badge_id=badge.id, serial=serial, print_job_id=job.id,
           printer=printer_name, reason=reason)
    return job
