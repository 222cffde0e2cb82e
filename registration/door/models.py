"""Door scans, each area's live occupancy, and who is inside an area without re-entry."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models import UTCDateTime, utcnow


class AccessScan(db.Model):
    """One door scan, admitted or denied, online or uploaded from a door's offline queue; also the nonce's memory.

    A retry with the same nonce gets ``response`` back (the unique nonce per staff user makes a concurrent
    twin fail its insert); ``request_digest`` is what was asked, so a nonce reused for another scan is refused.
    """

    __tablename__ = "access_scans"
    __table_args__ = (
        sa.UniqueConstraint("staff_id", "nonce", name="uq_access_scans_staff_nonce"),
        # "Did this person enter this area a moment ago at another door?" (double entry, offline uploads)
        sa.Index("ix_access_scans_presence", "event_id", "registration_id", "area", "scanned_at"),
        sa.Index("ix_access_scans_conflicts", "event_id", "conflict", "id"),
        sa.CheckConstraint("result in ('admit', 'deny')", name="result"),
        sa.CheckConstraint("direction in ('in', 'out')", name="direction"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id"))
    area: Mapped[str] = mapped_column(sa.String(32))
    door: Mapped[str] = mapped_column(sa.String(60))
    badge_id: Mapped[int | None] = mapped_column(sa.ForeignKey("badges.id"))
    registration_id: Mapped[int | None] = mapped_column(sa.ForeignKey("registrations.id"))
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_users.id"))
    direction: Mapped[str] = mapped_column(sa.String(3), default="in")
    result: Mapped[str] = mapped_column(sa.String(8))  # the server's decision: admit, deny
    reason: Mapped[str | None] = mapped_column(sa.String(32))
    offline: Mapped[bool] = mapped_column(default=False)
    offline_result: Mapped[str | None] = mapped_column(sa.String(8))  # what the door decided on its own
    conflict: Mapped[str | None] = mapped_column(sa.String(32))
    # Whether the scan moved the area's occupancy: an admitted scan, or one a door admitted offline.
    counted: Mapped[bool] = mapped_column(default=False)
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    nonce: Mapped[str] = mapped_column(sa.String(64))
    request_digest: Mapped[str] = mapped_column(sa.String(64))
    response: Mapped[dict] = mapped_column(sa.JSON)


class AreaOccupancy(db.Model):
    """How many people are in an area now (admitted in − out): the row the capacity decision updates atomically."""

    __tablename__ = "area_occupancy"
    __table_args__ = (sa.CheckConstraint("occupancy >= 0", name="not_negative"),)

    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id"), primary_key=True)
    area: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    occupancy: Mapped[int] = mapped_column(default=0)


class AreaPresence(db.Model):
    """A person inside an area without re-entry: inserted on the way in, deleted on the way out."""

    __tablename__ = "area_presence"

    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id"), primary_key=True)
    area: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    registration_id: Mapped[int] = mapped_column(sa.ForeignKey("registrations.id"), primary_key=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
