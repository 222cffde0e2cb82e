"""Fixtures for check-in tests: an app with two preview printers, and a kiosk factory."""

from __future__ import annotations

import pytest

from registration.audit import Actor
from registration.extensions import db

PRINTERS = """
[printers.kiosk-1]
backend = "preview"
directory = "badges/kiosk-1"

[printers.kiosk-2]
backend = "preview"
directory = "badges/kiosk-2"
"""


@pytest.fixture
def app(make_app):
    """The app with preview printers ``kiosk-1`` and ``kiosk-2``, an application context pushed."""
    app = make_app(printers=PRINTERS)
    with app.app_context():
        yield app


@pytest.fixture
def make_kiosk(app, settings, event):
    """Factory: add a kiosk; returns ``(kiosk, token, enrol_code)``."""
    from kiosk.services import add_kiosk

    counter = iter(range(1, 10_000))

    def make(name: str | None = None, *, printer: str = "kiosk-1", location: str = "Lobby A", language: str = "en"):
        kiosk, token, enrol_code = add_kiosk(event, name=name or f"kiosk-{next(counter)}", printer_name=printer,
                                             settings=settings, actor=Actor.system("test"), location=location,
                                             language=language)
        db.session.commit()
        return kiosk, token, enrol_code

    return make


@pytest.fixture
def kiosk(make_kiosk):
    """One kiosk at Lobby A printing on ``kiosk-1``."""
    return make_kiosk("kiosk-a")[0]
