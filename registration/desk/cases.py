"""Desk case primitives: open a case, close the cases whose cause is fixed.

Below every workflow that uses them: the kiosk check-in (``checkin``) and the print queue
(``printing``) open cases here, and the desk's own operations (``desk.services``, which use
``checkin``) resolve them here, so no area imports another in a circle.
"""

from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..audit import Actor, record_target
from ..errors import CODES
from ..extensions import db
from ..models import utcnow
from .models import DeskCase

_cases = DeskCase.__table__
#: Reasons a health verification fixes.
HEALTH_REASONS = ("health_missing", "health_unverified", "health_expired", "health_rejected", "health_purged")
#: Reasons a print job's outcome fixes.
PRINT_REASONS = ("print_failed", "print_unconfirmed")
#: What the desk writes when an operation closes cases by itself: a closed list, so that a page can say it in the
#: reader's language (:func:`read_resolution`); the stored text stays plain English for the API and the audit log.
AUTOMATIC_RESOLUTIONS = {
    "health_verified": "health {method} verified",
    "badge_reissued": "new badge #{serial} issued ({reason})",
    "badge_replaced": "replaced by a new badge ({reason})",
    "registration_cancelled": "registration cancelled",
    "registration_cancelled_because": "registration cancelled: {reason}",
    "checkin_undone": "check-in undone",
    "job_sent_again": "print job sent again",
    "job_rerouted": "print job sent again to {printer}",
    "job_cancelled": "print job cancelled: {reason}",
    "seen_printed": "staff saw the badge print",
    "printed": "printed",
}
_RESOLUTION_PATTERNS = {
    code: re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.*)", re.escape(template)), re.DOTALL)
    for code, template in AUTOMATIC_RESOLUTIONS.items()
}


def automatic_resolution(code: str, **params: object) -> str:
    """The resolution text of an automatic close, from :data:`AUTOMATIC_RESOLUTIONS`."""
    return AUTOMATIC_RESOLUTIONS[code].format(**params)


def read_resolution(text: str) -> tuple[str, dict[str, str]] | None:
    """``(code, params)`` of a text :func:`automatic_resolution` wrote; ``None`` for what staff typed."""
    for code, pattern in _RESOLUTION_PATTERNS.items():
        found = pattern.fullmatch(text or "")
        if found:
            return code, found.groupdict()
    return None


def open_desk_case(*, event_id: int, reason: str, actor: Actor, registration_id: int | None = None,
                   kiosk_id: int | None = None, print_job_id: int | None = None, details: str = "") -> int:
    """Queue a problem for the desk; returns the case id (the open one already there for this person and reason).

    One open case per person and reason is a unique index, so concurrent kiosks cannot open two.
    """
    if reason not in CODES:
        raise ValueError(f"unknown desk case reason {reason!r}")
    now = utcnow()
    values = {"event_id": event_id, "reason": reason, "registration_id": registration_id, "kiosk_id": kiosk_id,
              "print_job_id": print_job_id, "details": details[:500], "state": "open", "created_at": now,
              "resolution": ""}
    conn = db.session.connection()
    if registration_id is not None:
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(_cases)
        case_id = conn.execute(
            insert.values(**values).on_conflict_do_nothing(
                index_elements=["registration_id", "reason"], index_where=sa.text("state = 'open'"))
            .returning(_cases.c.id)
        ).scalar_one_or_none()
        if case_id is None:  # already open: point it at the newest job, if this one is about a job
            case_id = conn.execute(
                sa.select(_cases.c.id).where(_cases.c.registration_id == registration_id,
                                             _cases.c.reason == reason, _cases.c.state == "open")
            ).scalar_one()
            if print_job_id is not None:
                conn.execute(sa.update(_cases).where(_cases.c.id == case_id)
                             .values(print_job_id=print_job_id, details=details[:500]))
            return case_id
    else:
        case_id = conn.execute(sa.insert(_cases).values(**values).returning(_cases.c.id)).scalar_one()
    record_target(actor, "desk_case.open", "DeskCase", case_id, event_id=event_id, reason=reason,
                  registration_id=registration_id, print_job_id=print_job_id)
    return case_id


def resolve_cases(*, actor: Actor, resolution: str, registration_id: int | None = None,
                  reasons: tuple[str, ...] | None = None, print_job_id: int | None = None,
                  now: datetime | None = None) -> list[int]:
    """Close the open cases of a person (optionally only some reasons) or of a print job; returns their ids."""
    if registration_id is None and print_job_id is None:
        raise ValueError("name a registration or a print job")
    where = [_cases.c.state == "open"]
    if registration_id is not None:
        where.append(_cases.c.registration_id == registration_id)
    if print_job_id is not None:
        where.append(_cases.c.print_job_id == print_job_id)
    if reasons is not None:
        where.append(_cases.c.reason.in_(reasons))
    conn = db.session.connection()
    rows = conn.execute(sa.select(_cases.c.id, _cases.c.event_id, _cases.c.reason).where(*where)).all()
    if not rows:
        return []
    now = now or utcnow()
    conn.execute(
        sa.update(_cases).where(_cases.c.id.in_([r.id for r in rows]), _cases.c.state == "open")
        .values(state="resolved", resolved_at=now, resolution=resolution[:500],
                resolved_by_id=actor.id if actor.type == "staff" else None)
    )
    closed = {r.id for r in rows}
    for obj in list(db.session.identity_map.values()):  # a case loaded in this session sees its new state
        if isinstance(obj, DeskCase) and obj.id in closed:
            db.session.expire(obj)
    for row in rows:
        record_target(actor, "desk_case.resolve", "DeskCase", row.id, event_id=row.event_id, reason=row.reason,
                      resolution=resolution[:200], automatic=True)
    return [r.id for r in rows]
