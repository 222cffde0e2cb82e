"""Actors and the audit trail: every staff action, and every read of health data, is recorded."""

from __future__ import annotations

from dataclasses import dataclass

from .extensions import db
from .models import AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who performs an operation: passed explicitly to every service."""

    type: str  # staff, kiosk, attendee, system
    id: int | None = None
    label: str = ""
    role: str = ""

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        """The installation itself (CLI, importer, worker)."""
        return cls(type="system", label=label)

    @classmethod
    def for_staff(cls, user) -> Actor:
        """A logged-in staff user."""
        return cls(type="staff", id=user.id, label=user.email, role=user.role)

    @classmethod
    def for_kiosk(cls, kiosk) -> Actor:
        """An enrolled kiosk."""
        return cls(type="kiosk", id=kiosk.id, label=kiosk.name)

    @classmethod
    def for_attendee(cls, registration) -> Actor:
        """An attendee acting on their own registration."""
        return cls(type="attendee", id=registration.id, label=registration.email)


def record(actor: Actor, action: str, target=None, *, event_id: int | None = None, **details) -> AuditEvent:
    """Add an audit event for ``actor`` doing ``action`` to ``target`` (flushed with the unit of work)."""
    entry = AuditEvent(
        event_id=event_id if event_id is not None else getattr(target, "event_id", None),
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label[:254],
        action=action,
        target_type=type(target).__name__ if target is not None else "",
        target_id=getattr(target, "id", None),
        details=details,
    )
    db.session.add(entry)
    return entry
