"""Staff users and event-wide administrative operations."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import cache

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from .audit import Actor, record
from .codes import hash_code, new_code
from .errors import LanyardError
from .extensions import db
from .models import Event, HealthRecord, Registration, StaffUser, utcnow
from .settings import Settings
from .text import clean_email, clean_text

#: The closed list of staff roles (what each may do is ``registration.auth.POLICY``).
ROLES = ("registrar", "door", "admin")
PASSWORD_MIN = 12
PASSWORD_MAX = 200
#: Werkzeug's scrypt (N=2^15, r=8, p=1): a memory-hard KDF with a random salt per password.
PASSWORD_METHOD = "scrypt"


def check_password_rules(password: object) -> str:
    """The password, if it is acceptable.

    :raise LanyardError: ``invalid_field`` (fewer than 12 or more than 200 characters, or only spaces).
    """
    if not isinstance(password, str) or len(password) < PASSWORD_MIN or not password.strip():
        raise LanyardError("invalid_field", f"password: at least {PASSWORD_MIN} characters", field="password",
                           problem="password_short")
    if len(password) > PASSWORD_MAX:
        raise LanyardError("invalid_field", f"password: at most {PASSWORD_MAX} characters", field="password",
                           problem="too_long")
    return password


def staff_by_email(email: object) -> StaffUser:
    """The staff user with this email.

    :raise LanyardError: ``not_found``.
    """
    key = email.strip().lower() if isinstance(email, str) and len(email) <= 254 and email.isprintable() else None
    user = db.session.execute(sa.select(StaffUser).filter_by(email=key)).scalar_one_or_none() if key else None
    if user is None:
        raise LanyardError("not_found", f"no staff user {email!r}")
    return user


def list_staff() -> list[StaffUser]:
    """Every staff user, by role then email."""
    return list(db.session.execute(sa.select(StaffUser).order_by(StaffUser.role, StaffUser.email)).scalars())


def add_staff(email: str, *, role: str, actor: Actor, name: str = "", password: str = "",
              with_token: bool = False) -> tuple[StaffUser, str | None]:
    """Create a staff user; returns it and, if asked, its API token in clear (shown once).

    :raise LanyardError: ``invalid_field``, ``role_unknown``, ``staff_exists``.
    """
    email = clean_email(email).lower()
    if role not in ROLES:
        raise LanyardError("role_unknown")
    name = clean_text(name, field="name", max_length=100, required=False)
    check_password_rules(password)
    if db.session.execute(sa.select(StaffUser.id).filter_by(email=email)).first() is not None:
        raise LanyardError("staff_exists")
    token = new_code("staff_token") if with_token else None
    user = StaffUser(email=email, role=role, name=name, password_hash=generate_password_hash(password, PASSWORD_METHOD),
                     api_token_hash=hash_code(token) if token else None, session_generation=1, active=True)
    db.session.add(user)
    db.session.flush()
    record(actor, "staff.add", user, email=email, role=role, token=bool(token))
    return user, token


def set_staff_active(user: StaffUser, active: bool, *, actor: Actor) -> StaffUser:
    """Disable (every session and the API token stop at once) or enable a staff user.

    :raise LanyardError: ``invalid_field`` when an admin would disable themselves.
    """
    if not active and actor.type == "staff" and actor.id == user.id:
        raise LanyardError("invalid_field", "you cannot disable your own account", field="active")
    if user.active == active:
        return user
    user.active = active
    if not active:
        user.session_generation += 1
    db.session.flush()
    record(actor, "staff.enable" if active else "staff.disable", user, email=user.email,
           before={"active": not active}, after={"active": active})
    return user


def set_staff_password(user: StaffUser, password: object, *, actor: Actor) -> StaffUser:
    """Set a new password; every session signed in with the old one ends.

    :raise LanyardError: ``invalid_field``.
    """
    user.password_hash = generate_password_hash(check_password_rules(password), PASSWORD_METHOD)
    user.session_generation += 1
    db.session.flush()
    record(actor, "staff.password", user, email=user.email)
    return user


def new_staff_token(user: StaffUser, *, actor: Actor) -> str:
    """Issue a new API token (returned in clear, shown once); the old one stops at once."""
    token = new_code("staff_token")
    user.api_token_hash = hash_code(token)
    db.session.flush()
    record(actor, "staff.token", user, email=user.email)
    return token


def verify_staff_password(user: StaffUser | None, password: str) -> bool:
    """Whether ``password`` is this active user's; as slow when there is no such user (no timing oracle)."""
    if user is None or not user.active or not user.password_hash:
        check_password_hash(_dummy_hash(), password)
        return False
    return check_password_hash(user.password_hash, password)


@cache
def _dummy_hash() -> str:
    """A hash to check against when the account does not exist, made once (scrypt is slow on purpose)."""
    return generate_password_hash("not a password of anyone", PASSWORD_METHOD)


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
