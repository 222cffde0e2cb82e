"""Kiosks and check-ins (desk cases live in ``registration.desk``, door scans in ``registration.door``)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models import Registration, StaffUser, UTCDateTime, utcnow


class Kiosk(db.Model):
    """An enrolled check-in device with a bearer token, a printer and a location."""

    __tablename__ = "kiosks"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id"))
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    printer_name: Mapped[str] = mapped_column(sa.String(64))
    location: Mapped[str] = mapped_column(sa.String(120), default="")
    language: Mapped[str] = mapped_column(sa.String(8), default="en")
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    enrol_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    enrol_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped on token rotation: a browser cookie or selection token from an older generation stops
    # working. Disabling does not bump it: ``enabled`` is checked on every request, so a disabled
    # kiosk stops at once and comes back on enable without being enrolled again.
    generation: Mapped[int] = mapped_column(default=1)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CheckIn(db.Model):
    """The moment a registration collected its badge: at most one per registration."""

    __tablename__ = "checkins"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id"))
    # unique: the database itself refuses a second check-in for the same registration.
    registration_id: Mapped[int] = mapped_column(sa.ForeignKey("registrations.id"), unique=True)
    kiosk_id: Mapped[int | None] = mapped_column(sa.ForeignKey("kiosks.id"))
    staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    # Indexed: the kiosk API finds "was this print job made by this kiosk?" through it.
    badge_id: Mapped[int | None] = mapped_column(sa.ForeignKey("badges.id"), index=True)
    nonce: Mapped[str] = mapped_column(sa.String(64), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    registration: Mapped[Registration] = relationship()
    kiosk: Mapped[Kiosk | None] = relationship()
    staff: Mapped[StaffUser | None] = relationship()


class CheckInRequest(db.Model):
    """A kiosk's or a staff user's request seen before, keyed by its nonce: a retry gets the first answer back."""

    __tablename__ = "checkin_requests"
    __table_args__ = (
        sa.UniqueConstraint("kiosk_id", "nonce", name="uq_checkin_requests_kiosk_nonce"),
        sa.UniqueConstraint("staff_id", "nonce", name="uq_checkin_requests_staff_nonce"),
        sa.CheckConstraint("(kiosk_id is null) <> (staff_id is null)", name="one_origin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kiosk_id: Mapped[int | None] = mapped_column(sa.ForeignKey("kiosks.id"))
    staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    nonce: Mapped[str] = mapped_column(sa.String(64))
    # What was asked (a hash of the code, selection or person and the action): a retry must ask the same.
    request_digest: Mapped[str] = mapped_column(sa.String(64), default="")
    response: Mapped[dict] = mapped_column(sa.JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KioskLookupWindow(db.Model):
    """How many name lookups a kiosk made in one second: the sliding-window limit, shared by every app worker."""

    __tablename__ = "kiosk_lookup_windows"

    kiosk_id: Mapped[int] = mapped_column(sa.ForeignKey("kiosks.id"), primary_key=True)
    window: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)  # Unix time in whole seconds
    count: Mapped[int] = mapped_column(default=0)


class SupersededCode(db.Model):
    """The hash of a registration code that was replaced, so a scan of it says "superseded", not "unknown"."""

    __tablename__ = "superseded_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    registration_id: Mapped[int] = mapped_column(sa.ForeignKey("registrations.id"), index=True)
    superseded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@sa.event.listens_for(Registration.code_hash, "set", active_history=True)
def _remember_superseded_code(target: Registration, value, oldvalue, _initiator) -> None:
    """Keep the old hash whenever a registration's code is replaced (``rotate_codes``).

    A listener rather than a line in ``rotate_codes`` because that module belongs to another
    area; moving it there as an explicit call would be clearer.
    """
    if not isinstance(oldvalue, str) or oldvalue == value or target.id is None:
        return
    session = sa.orm.object_session(target)
    if session is not None:
        session.add(SupersededCode(code_hash=oldvalue, registration_id=target.id))

