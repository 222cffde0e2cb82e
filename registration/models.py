"""Core records: events, registrations, health records, staff users and the audit trail."""

from __future__ import annotations

from datetime import date, datetime, timezone

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db
from .health import METHODS, STATES


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored as UTC and always returned timezone-aware (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def prefix_string(length: int) -> sa.types.TypeEngine:
    """A string column compared byte by byte, so ``>= 'ab' AND < 'ab\U0010ffff'`` is a prefix range on an index.

    SQLite compares bytes already; PostgreSQL needs the ``C`` collation (a linguistic collation
    orders and ranges differently, and its B-tree cannot serve the range).
    """
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


class Event(db.Model):
    """One conference or smaller event; everything else is scoped to an event."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    venue: Mapped[str] = mapped_column(sa.String(200))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    timezone: Mapped[str] = mapped_column(sa.String(64))
    health_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Registration(db.Model):
    """One person at one event: a full registrant or a guest linked to a host."""

    __tablename__ = "registrations"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "email_key", name="uq_registrations_event_email"),
        sa.Index("ix_registrations_event_last_key", "event_id", "last_name_key"),
        sa.Index("ix_registrations_event_first_key", "event_id", "first_name_key"),
        sa.Index("ix_registrations_event_code_prefix", "event_id", "code_prefix"),
        sa.Index("ix_registrations_event_updated", "event_id", "updated_at"),  # the door snapshot's changes
        sa.CheckConstraint("status in ('confirmed', 'cancelled')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id"), index=True)
    type_name: Mapped[str] = mapped_column(sa.String(32))
    first_name: Mapped[str] = mapped_column(sa.String(100))
    last_name: Mapped[str] = mapped_column(sa.String(100))
    badge_name: Mapped[str] = mapped_column(sa.String(100))
    title: Mapped[str] = mapped_column(sa.String(150), default="")
    organization: Mapped[str] = mapped_column(sa.String(150), default="")
    email: Mapped[str] = mapped_column(sa.String(254))
    # Lower-cased, accent-folded copies for case-insensitive uniqueness and search.
    email_key: Mapped[str | None] = mapped_column(sa.String(254))  # None: a guest without own email
    last_name_key: Mapped[str] = mapped_column(sa.String(100))
    first_name_key: Mapped[str] = mapped_column(sa.String(100))
    host_id: Mapped[int | None] = mapped_column(sa.ForeignKey("registrations.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="confirmed")
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The code's first characters (kind prefix + 6 of its 26 random ones, 30 of 130 bits) in clear,
    # so the desk can find a person by the start of the code they read out; never enough to check in.
    code_prefix: Mapped[str] = mapped_column(prefix_string(8), default="")
    code_issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    manage_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    language: Mapped[str] = mapped_column(sa.String(8), default="en")
    source: Mapped[str] = mapped_column(sa.String(16), default="online")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship()
    host: Mapped[Registration | None] = relationship(remote_side=[id], back_populates="guests")
    guests: Mapped[list[Registration]] = relationship(back_populates="host", order_by="Registration.id")
    health: Mapped[HealthRecord | None] = relationship(back_populates="registration", uselist=False)

    @property
    def legal_name(self) -> str:
        """First and last name as registered."""
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_cancelled(self) -> bool:
        """Whether the registration was cancelled."""
        return self.status == "cancelled"


class HealthRecord(db.Model):
    """How a person is cleared: only the verdict, never card images, brands or birth dates."""

    __tablename__ = "health_records"
    __table_args__ = (
        sa.CheckConstraint(f"method in ({', '.join(repr(method) for method in METHODS)})", name="method"),
        sa.CheckConstraint(f"state in ({', '.join(repr(state) for state in STATES)})", name="state"),
        sa.Index("ix_health_records_updated", "updated_at"),  # the door snapshot's changes
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(sa.ForeignKey("registrations.id"), unique=True)
    method: Mapped[str] = mapped_column(sa.String(16))
    state: Mapped[str] = mapped_column(sa.String(16), default="attested")
    test_taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    registration: Mapped[Registration] = relationship(back_populates="health")
    verified_by: Mapped[StaffUser | None] = relationship()


class StaffUser(UserMixin, db.Model):
    """A registrar, door or admin user."""

    __tablename__ = "staff_users"
    __table_args__ = (sa.CheckConstraint("role in ('registrar', 'door', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100), default="")
    role: Mapped[str] = mapped_column(sa.String(16))
    password_hash: Mapped[str] = mapped_column(sa.String(256), default="")
    api_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped when the password changes or the user is disabled: every session signed in before stops.
    session_generation: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login: the session names the user and the generation it was made in
        return f"{self.id}.{self.session_generation}"


class SearchTerm(db.Model):
    """One folded word a registration can be found by at the desk (name, badge name, organisation, email).

    One row per person and word, with the best-ranking field it comes from (a badge name that repeats
    the first name adds nothing). Kept by :func:`registration.search.index_registration`, which every
    service that writes those fields calls (and the importer in bulk). Two indexes serve the search:
    ranked prefix ranges per field kind, and prefix ranges over every kind (to count and filter).
    """

    __tablename__ = "search_terms"
    __table_args__ = (
        sa.Index("ix_search_terms_rank", "event_id", "kind", "term", "registration_id"),
        sa.Index("ix_search_terms_term", "event_id", "term", "registration_id"),
    )

    registration_id: Mapped[int] = mapped_column(sa.ForeignKey("registrations.id", ondelete="CASCADE"),
                                                 primary_key=True)
    term: Mapped[str] = mapped_column(prefix_string(100), primary_key=True)
    kind: Mapped[int] = mapped_column(sa.SmallInteger)  # registration.search.KINDS
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id"))


class RateLimitWindow(db.Model):
    """How often one key (an account, a client address) did something in one time window; shared by workers."""

    __tablename__ = "rate_limit_windows"

    key: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    window: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)  # Unix time // window length
    count: Mapped[int] = mapped_column(default=0)


class AuditEvent(db.Model):
    """Who did what to whom, and when; reads of health data included."""

    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_target", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("events.id"))
    actor_type: Mapped[str] = mapped_column(sa.String(16))  # staff, kiosk, attendee, system
    actor_id: Mapped[int | None]
    actor_label: Mapped[str] = mapped_column(sa.String(254), default="")
    action: Mapped[str] = mapped_column(sa.String(64))
    target_type: Mapped[str] = mapped_column(sa.String(32), default="")
    target_id: Mapped[int | None]
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)
