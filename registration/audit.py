"""Actors and the audit trail: every staff action, and every read of health data, is recorded."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from .extensions import db
from .models import AuditEvent, utcnow

# A Core insert, built once: an ORM object per audit event cost a unit-of-work flush on every
# kiosk check-in, for a row nothing reads back in the same request.
_INSERT = sa.insert(AuditEvent.__table__)


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


def record(actor: Actor, action: str, target=None, *, event_id: int | None = None, **details) -> None:
    """Add an audit event for ``actor`` doing ``action`` to ``target`` (written now, in the caller's transaction).

    ``target`` is a model object; its class name and id are recorded, and its event unless ``event_id`` is given.
    """
    record_target(actor, action, type(target).__name__ if target is not None else "", getattr(target, "id", None),
                  event_id=event_id if event_id is not None else getattr(target, "event_id", None), **details)


def record_target(actor: Actor, action: str, target_type: str, target_id: int | None, *,
                  event_id: int | None = None, **details) -> None:
    """Add an audit event naming its target by type and id (for callers that hold plain rows, not objects)."""
    db.session.connection().execute(_INSERT, {
        "at": utcnow(), "event_id": event_id, "actor_type": actor.type, "actor_id": actor.id,
        "actor_label": actor.label[:254], "action": action, "target_type": target_type, "target_id": target_id,
        "details": details,
    })
