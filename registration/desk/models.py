"""Desk cases: problems a kiosk or the print queue could not solve, queued for the help desk."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..checkin.models import Kiosk
from ..extensions import db
from ..models import Registration, StaffUser, UTCDateTime, utcnow

#: Case states.
CASE_STATES = ("open", "resolved")


class DeskCase(db.Model):
    """A problem a kiosk or the print queue could not solve, queued for the help desk with its reason."""

    __tablename__ = "desk_cases"
    __table_args__ = (
        sa.Index("ix_desk_cases_open", "event_id", "state", "created_at"),
        # One open case per person and reason, decided by the database: two kiosks scanning the same
        # person at once cannot both open one (the loser's INSERT ... ON CONFLICT finds the winner's).
        sa.Index("uq_desk_cases_open_reason", "registration_id", "reason", unique=True,
                 sqlite_where=sa.text("state = 'open'"), postgresql_where=sa.text("state = 'open'")),
        sa.CheckConstraint("state in ('open', 'resolved')", name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id"))
    # Indexed: the card lists a person's cases; a kiosk looks for an open case before opening another.
    registration_id: Mapped[int | None] = mapped_column(sa.ForeignKey("registrations.id"), index=True)
    kiosk_id: Mapped[int | None] = mapped_column(sa.ForeignKey("kiosks.id"))
    print_job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("print_jobs.id"), index=True)
    reason: Mapped[str] = mapped_column(sa.String(32))  # an error code from registration.errors.CODES
    details: Mapped[str] = mapped_column(sa.String(500), default="")
    state: Mapped[str] = mapped_column(sa.String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str] = mapped_column(sa.String(500), default="")

    registration: Mapped[Registration | None] = relationship()
    kiosk: Mapped[Kiosk | None] = relationship()
    resolved_by: Mapped[StaffUser | None] = relationship()

    @property
    def is_open(self) -> bool:
        """Whether the case still waits for the desk."""
        return self.state == "open"
