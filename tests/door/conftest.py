"""Fixtures of the door tests: preview printers, a door user with a token, badges to scan, and a scan factory."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from registration.audit import Actor
from registration.extensions import db

PRINTERS = """
[printers.kiosk-1]
backend = "preview"
directory = "badges/kiosk-1"

[printers.desk]
backend = "preview"
directory = "badges/desk"
"""
EVENT_ZONE = ZoneInfo("America/Los_Angeles")
#: A moment during the event, inside the caucus's first window (08:00–12:00 on the first day).
DURING = datetime(2027, 9, 15, 10, 0, tzinfo=EVENT_ZONE)


def new_nonce() -> str:
    """A fresh client nonce."""
    return uuid.uuid4().hex


def count(model, *where) -> int:
    """How many rows of ``model`` match ``where``."""
    return db.session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar()


@dataclass(frozen=True)
class IssuedBadge:
    """A badge a test can scan: its code in clear, its serial, and its holder's registration id."""

    code: str
    serial: int
    registration_id: int
    registration_code: str


@pytest.fixture
def app(make_app):
    """The app with preview printers ``kiosk-1`` and ``desk``, an application context pushed."""
    app = make_app(printers=PRINTERS)
    with app.app_context():
        yield app


PASSWORD = "door staff password"


@pytest.fixture
def make_door_user(app, monkeypatch):
    """Factory: a staff user (role ``door`` unless told) with :data:`PASSWORD` and an API token (cheaply hashed:
    these tests are about doors, not passwords); returns ``(user, token)``."""
    import registration.staff
    from registration.staff import add_staff

    monkeypatch.setattr(registration.staff, "PASSWORD_METHOD", "pbkdf2:sha256:1000")

    counter = itertools.count(1)

    def make(role: str = "door"):
        user, token = add_staff(f"{role}{next(counter)}-{uuid.uuid4().hex[:6]}@example.org", role=role,
                                actor=Actor.system("test"), password=PASSWORD, with_token=True)
        db.session.commit()
        return user, token

    return make


@pytest.fixture
def door_user(make_door_user):
    """A door staff user and their bearer token."""
    return make_door_user("door")


@pytest.fixture
def door_actor(door_user) -> Actor:
    """The door user as the actor of a scan."""
    return Actor.for_staff(door_user[0])


@pytest.fixture
def bearer(door_user) -> dict:
    """The door user's Authorization header."""
    return {"Authorization": f"Bearer {door_user[1]}"}


def issue_badge_for(registration, settings, *, reason: str = "check-in") -> IssuedBadge:
    """Issue a (new) badge for ``registration`` and return its code, as the printed badge carries it."""
    from registration.printing.models import PrintJob
    from registration.printing.services import queue_badge

    issued = queue_badge(registration, printer_name="desk", settings=settings, actor=Actor.system("test"),
                         reason=reason)
    db.session.commit()
    code = db.session.get(PrintJob, issued.job_id).payload["code"]
    return IssuedBadge(code=code, serial=issued.serial, registration_id=registration.id, registration_code="")


@pytest.fixture
def make_badge(app, settings, make_registration):
    """Factory: register a full attendee (or a guest with ``guest=True``) and issue their badge."""

    def make(*, guest: bool = False, **options) -> IssuedBadge:
        issued = make_registration(guests=[{}] if guest else (), **options)
        person = issued[1] if guest else issued[0]
        badge = issue_badge_for(person.registration, settings)
        return IssuedBadge(badge.code, badge.serial, badge.registration_id, person.code)

    return make


@pytest.fixture
def scan(app, event, settings, door_actor):
    """Factory: scan ``code`` at ``area`` as the door user (``now``: DURING unless told) and commit."""
    from registration.door.services import record_scan

    def do(code, area="expo", *, direction="in", door="Door 1", now=DURING, actor=None, nonce=None, **options):
        outcome = record_scan(event, actor=actor or door_actor, code=code, area=area, nonce=nonce or new_nonce(),
                              door=door, direction=direction, settings=settings, now=now, **options)
        db.session.commit()
        return outcome

    return do
