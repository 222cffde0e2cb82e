"""Badges, print jobs and the last known state of each printer."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship, synonym

from ..extensions import db
from ..models import Registration, UTCDateTime, prefix_string, utcnow

#: Print job states. held = waiting for the printer (paper out, cover open, offline);
#: needs_decision = bytes went out but the outcome is unknown, so staff decide (never auto-reprinted).
JOB_STATES = ("queued", "sending", "printed", "held", "failed", "needs_decision", "cancelled")
#: States a worker may claim a job from (when its ``next_attempt_at`` has come).
CLAIMABLE_STATES = ("queued", "held")
#: States in which a job waits for staff (see :attr:`PrintJob.waits_for_staff`).
STAFF_STATES = ("held", "failed", "needs_decision")


class Badge(db.Model):
    """A printed credential with its own code and serial; a reprint voids the previous one."""

    __tablename__ = "badges"
    __table_args__ = (
        sa.CheckConstraint("status in ('valid', 'void')", name="status"),
        sa.Index("ix_badges_event_code_prefix", "event_id", "code_prefix"),
        # The door snapshot's changes since a cursor: badges printed or voided lately.
        sa.Index("ix_badges_event_created", "event_id", "created_at"),
        sa.Index("ix_badges_event_voided", "event_id", "voided_at"),
        # AUTOINCREMENT: SQLite never hands out an id again, even the highest one after a delete,
        # so a serial printed once is never printed on another badge.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id"))
    registration_id: Mapped[int] = mapped_column(sa.ForeignKey("registrations.id"), index=True)
    # The printed serial ("#000123") is the badge's own id: unique (so unique per event too) and
    # handed out by the database's sequence without any lock. A max(serial) + 1 per event made
    # every concurrent check-in queue on the event row. Serials are increasing but not dense.
    serial: Mapped[int] = synonym("id")
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The badge code's first 8 characters in clear (30 of its 130 random bits), for the desk's search.
    code_prefix: Mapped[str] = mapped_column(prefix_string(8), default="")
    status: Mapped[str] = mapped_column(sa.String(8), default="valid")
    void_reason: Mapped[str] = mapped_column(sa.String(200), default="")
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Who issued it (for the desk's attendee card): a kiosk or a staff user, as the audit actor's label.
    issued_by: Mapped[str] = mapped_column(sa.String(254), default="")
    reason: Mapped[str] = mapped_column(sa.String(32), default="check-in")

    registration: Mapped[Registration] = relationship()


class PrintJob(db.Model):
    """A badge on its way to a printer; never lost, never printed twice by a retry."""

    __tablename__ = "print_jobs"
    __table_args__ = (
        sa.Index("ix_print_jobs_claim", "state", "printer_name", "next_attempt_at"),
        sa.CheckConstraint(
            f"state in ({', '.join(repr(state) for state in JOB_STATES)})",
            name="state",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id"))
    badge_id: Mapped[int] = mapped_column(sa.ForeignKey("badges.id"), index=True)
    printer_name: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(16), default="queued")
    # What the worker renders. Holds the badge code in clear only until the job is printed
    # or cancelled; afterwards only the badge's hash remains.
    payload: Mapped[dict | None] = mapped_column(sa.JSON)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str] = mapped_column(sa.String(64), default="")
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the job first had to wait for its printer; after the printer's hold_seconds it moves on.
    held_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The printer the job was moved away from (its printer's fallback took it); "" = never moved.
    moved_from: Mapped[str] = mapped_column(sa.String(64), default="")
    last_error: Mapped[str] = mapped_column(sa.String(200), default="")
    error_code: Mapped[str] = mapped_column(sa.String(32), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    printed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    badge: Mapped[Badge] = relationship()

    @hybrid_property
    def waits_for_staff(self) -> bool:
        """Held, failed or unconfirmed; and a held job while a worker tries it again (it is ``sending`` for a
        moment on every retry, and the desk must not lose sight of it then)."""
        return self.state in STAFF_STATES or (self.state == "sending" and self.held_since is not None)

    @waits_for_staff.inplace.expression
    @classmethod
    def _waits_for_staff_expression(cls):
        return sa.or_(cls.state.in_(STAFF_STATES), sa.and_(cls.state == "sending", cls.held_since.is_not(None)))


class PrinterState(db.Model):
    """The last known state of a configured printer, for the desk and the kiosks."""

    __tablename__ = "printer_states"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    # True = answered and ready to print; False = offline, out of paper or cover open; None = unknown.
    online: Mapped[bool | None]
    paper_near_end: Mapped[bool] = mapped_column(default=False)
    last_error: Mapped[str] = mapped_column(sa.String(200), default="")
    error_code: Mapped[str] = mapped_column(sa.String(32), default="")
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # One job at a time per printer across workers: a worker sends only while it holds the lease.
    leased_by: Mapped[str] = mapped_column(sa.String(64), default="")
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
