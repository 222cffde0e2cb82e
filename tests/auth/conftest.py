"""Fixtures of the access tests: preview printers ``kiosk-1`` and ``desk``, staff of every role with a password
and an API token, kiosks with their bearer token, a kiosk-enrolled browser, and signed-in staff browsers."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient

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
PASSWORD = "correct horse battery"

_CSRF_INPUT = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*>')
_VALUE = re.compile(r'\bvalue="([^"]+)"')
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@dataclass(frozen=True)
class StaffAccount:
    """A staff user as a test knows them: the row's id, the credentials in clear and the role."""

    id: int
    email: str
    password: str
    token: str
    role: str

    @property
    def bearer(self) -> dict:
        """The Authorization header of this user's API token."""
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class KioskAccount:
    """A kiosk with its bearer token and its (unused) one-time enrolment code."""

    id: int
    name: str
    token: str
    enrol_code: str

    @property
    def bearer(self) -> dict:
        """The Authorization header of the kiosk's token."""
        return {"Authorization": f"Bearer {self.token}"}


def csrf_from_html(html: str) -> str:
    """The CSRF token a page carries (a form's hidden field or the kiosk page's meta tag)."""
    found = _CSRF_INPUT.search(html)
    if found:
        return _VALUE.search(found.group(0)).group(1)
    meta = _CSRF_META.search(html)
    assert meta, "the page carries no CSRF token"
    return meta.group(1)


def fresh_csrf(client) -> str:
    """A CSRF token valid for the client's current session (the sign-in form makes one for anybody)."""
    response = client.get("/login")
    assert response.status_code == 200
    return csrf_from_html(response.get_data(as_text=True))


def sign_in(client, email: str, password: str, *, next: str | None = None, csrf: str | None = None):
    """Post the sign-in form as a browser does (GET the form for its CSRF token, then POST it)."""
    token = csrf or fresh_csrf(client)
    path = "/login" + ("?" + urlencode({"next": next}) if next is not None else "")
    return client.post(path, data={"csrf_token": token, "email": email, "password": password})


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own application context, as in production.

    The ``app`` fixtures keep one application context pushed for the whole test, and Flask reuses a
    pushed context for a request: ``g`` (and the database session) would then be shared by every
    request of every client. Flask-WTF caches the CSRF token in ``g``, so a second browser would be
    handed the first one's token, and ``g.staff`` of one request would still be set in the next.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def isolate(app):
    """Make ``app.test_client()`` give :class:`IsolatedClient` s; returns the app."""
    app.test_client_class = IsolatedClient
    return app


@pytest.fixture
def write_config(write_config):
    """As the shared one, plus ``app_keys``: lines added to the ``[app]`` table (e.g. cookie flags)."""

    def write(*, app_keys: str = "", **options):
        path = write_config(**options)
        if app_keys:
            text = path.read_text(encoding="utf-8").replace("[app]\n", f"[app]\n{app_keys}\n", 1)
            path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def fast_passwords(monkeypatch):
    """Hash new staff passwords with a cheap method, for tests about access rather than about passwords."""
    import registration.staff

    monkeypatch.setattr(registration.staff, "PASSWORD_METHOD", "pbkdf2:sha256:1000")


@pytest.fixture
def app(make_app):
    """The app with preview printers ``kiosk-1`` and ``desk``, an application context pushed."""
    app = isolate(make_app(printers=PRINTERS))
    with app.app_context():
        yield app


@pytest.fixture
def make_staff(app):
    """Factory: a staff user of ``role`` with a password and an API token; returns a :class:`StaffAccount`."""
    from registration.staff import add_staff

    counter = itertools.count(1)

    def make(role: str = "registrar", *, email: str | None = None, password: str = PASSWORD) -> StaffAccount:
        user, token = add_staff(email or f"{role}{next(counter)}@example.org", role=role, actor=Actor.system("test"),
                                password=password, with_token=True)
        db.session.commit()
        return StaffAccount(id=user.id, email=user.email, password=password, token=token, role=role)

    return make


@pytest.fixture
def make_kiosk(app, settings, event):
    """Factory: a kiosk printing on ``kiosk-1``; returns a :class:`KioskAccount` with its bearer token."""
    from kiosk.services import add_kiosk

    counter = itertools.count(1)

    def make(name: str | None = None, *, printer: str = "kiosk-1") -> KioskAccount:
        kiosk, token, enrol_code = add_kiosk(event, name=name or f"kiosk-{next(counter)}", printer_name=printer,
                                             settings=settings, actor=Actor.system("test"), location="Lobby A")
        db.session.commit()
        return KioskAccount(id=kiosk.id, name=kiosk.name, token=token, enrol_code=enrol_code)

    return make


@pytest.fixture
def kiosk(make_kiosk) -> KioskAccount:
    """Kiosk ``kiosk-a`` on printer ``kiosk-1``."""
    return make_kiosk("kiosk-a")


@pytest.fixture
def kiosk_browser(app, make_kiosk):
    """A browser bound to a kiosk by its one-time enrolment URL; ``.csrf_token`` is the kiosk page's token."""
    account = make_kiosk("kiosk-browser")
    client = app.test_client()
    confirmation = client.get(f"/kiosk/enrol/{account.enrol_code}", follow_redirects=True)
    assert confirmation.status_code == 200, confirmation.status
    response = client.post("/kiosk/enrol", data={"csrf_token": csrf_from_html(confirmation.get_data(as_text=True))})
    assert response.status_code == 302 and response.headers["Location"].endswith("/kiosk/"), response.status
    page = client.get("/kiosk/")
    assert page.status_code == 200
    client.csrf_token = csrf_from_html(page.get_data(as_text=True))
    client.kiosk = account
    return client


@pytest.fixture
def signed_in(app, make_staff):
    """Factory: a browser signed in as a new staff user of ``role`` (``.account``, ``.csrf_token`` set)."""

    def make(role: str = "registrar", *, account: StaffAccount | None = None):
        account = account or make_staff(role)
        client = app.test_client()
        response = sign_in(client, account.email, account.password)
        assert response.status_code == 302, response.get_data(as_text=True)
        client.account = account
        client.csrf_token = fresh_csrf(client)  # signing in starts a new session, with a new token
        return client

    return make


@pytest.fixture
def registrar_browser(signed_in):
    """A registrar signed in at the desk."""
    return signed_in("registrar")


@pytest.fixture
def admin_browser(signed_in):
    """An admin signed in at the desk."""
    return signed_in("admin")


@pytest.fixture
def door_browser(signed_in):
    """Door staff signed in in a browser."""
    return signed_in("door")


@pytest.fixture
def objects(app, settings, event, make_registration, make_kiosk, make_staff):
    """One real object of every kind a route takes by id: a checked-in registration with a print job, a not
    cleared one with an open desk case, and a spare staff user; returns ``{argument name: id}``."""
    import uuid

    from registration.checkin.services import check_in
    from registration.desk.models import DeskCase
    from registration.desk.services import check_in_at_desk
    from registration.printing.models import PrintJob

    spare = make_staff("registrar", email="spare@example.org")
    desk = Actor(type="staff", id=spare.id, label=spare.email, role=spare.role)
    person = make_registration()[0].registration
    outcome = check_in_at_desk(event, person, actor=desk, settings=settings, nonce=uuid.uuid4().hex,
                               printer_name="desk")
    assert outcome.result == "checked_in"
    db.session.commit()
    waiting = make_registration(health=None)[0]
    scanner = make_kiosk("objects-kiosk")
    from registration.checkin.models import Kiosk

    needs_desk = check_in(event, code=waiting.code, kiosk=db.session.get(Kiosk, scanner.id), nonce=uuid.uuid4().hex,
                          settings=settings)
    assert needs_desk.result == "needs_desk"
    db.session.commit()
    case = db.session.execute(db.select(DeskCase).filter_by(registration_id=waiting.registration.id)).scalar_one()
    job = db.session.execute(db.select(PrintJob).order_by(PrintJob.id)).scalars().first()
    return {"registration_id": person.id, "job_id": job.id, "case_id": case.id, "user_id": spare.id,
            "waiting_registration_id": waiting.registration.id}
