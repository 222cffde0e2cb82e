"""Staff users and event-wide administrative operations."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from .audit import Actor, record
from .codes import hash_code, new_code
from .errors import LanyardError
from .extensions import db
from .models import Event, HealthRecord, Registration, StaffUser, utcnow
from .settings import Settings
from .text import clean_email

ROLES = ("registrar", "door", "admin")


def add_staff(email: str, *, role: str, actor: Actor, name: str = "", password: str = "",
              with_token: bool = False) -> tuple[StaffUser, str | None]:
    """Create a staff user; returns it and, if asked, its API token in clear (shown once).

    :raise LanyardError: ``invalid_field``, ``role_unknown``, ``staff_exists``.
    """
    email = clean_email(email).lower()
    if role not in ROLES:
        raise LanyardError("role_unknown")
    if len(password) < 10:
        raise LanyardError("invalid_field", "password: at least 10 characters", field="password")
    if db.session.execute(sa.select(StaffUser.id).filter_by(email=email)).first() is not None:
        raise LanyardError("staff_exists")
    token = new_code("staff_token") if with_token else None
    user = StaffUser(email=email, role=role, name=name[:100], password_hash=generate_password_hash(password),
                     api_token_hash=hash_code(token) if token else None)
    db.session.add(user)
    db.session.flush()
    record(actor, "staff.add", user, role=role)
    return user, token


def purge_health(event: Event, *, settings: Settings, actor: Actor, force: bool = False,
                 now: datetime | None = None) -> int:
    """Delete every health record of ``event``; returns how many.

    :raise LanyardError: ``invalid_field`` when the retention period has not passed and ``force`` is off.
    """
    now = now or utcnow()
    purge_from = datetime.combine(event.ends_on + timedelta(days=settings.health.purge_after_days), time(0),
                                  tzinfo=settings.event.tz)
    if now < purge_from and not force:
        raise LanyardError("invalid_field", f"health data is kept until {purge_from:%Y-%m-%d}; use --force to purge now")
    ids = sa.select(Registration.id).where(Registration.event_id == event.id)
    result = db.session.execute(sa.delete(HealthRecord).where(HealthRecord.registration_id.in_(ids)))
    event.health_purged_at = now
    db.session.flush()
    record(actor, "health.purge", event, event_id=event.id, deleted=result.rowcount)
    return result.rowcount
