"""Check-in operations and the desk case queue."""

from __future__ import annotations

from ..audit import Actor, record
from ..errors import CODES
from ..extensions import db
from .models import DeskCase


def open_desk_case(*, event_id: int, reason: str, actor: Actor, registration_id: int | None = None,
                   kiosk_id: int | None = None, print_job_id: int | None = None, details: str = "") -> DeskCase:
    """Queue a problem for the help desk, with its reason code from :data:`registration.errors.CODES`."""
    if reason not in CODES:
        raise ValueError(f"unknown desk case reason {reason!r}")
    case = DeskCase(event_id=event_id, reason=reason, registration_id=registration_id, kiosk_id=kiosk_id,
                    print_job_id=print_job_id, details=details[:500], state="open")
    db.session.add(case)
    db.session.flush()
    record(actor, "desk_case.open", case, event_id=event_id, reason=reason, registration_id=registration_id)
    return case
