"""Fixtures of the desk tests: preview printers ``kiosk-1`` and ``desk``, kiosks, staff actors, small factories."""

from __future__ import annotations

import itertools
import textwrap
import uuid

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


def new_nonce() -> str:
    """A fresh client nonce, as a kiosk or the desk page makes one per request."""
    return uuid.uuid4().hex


def count(model, *where) -> int:
    """How many rows of ``model`` match ``where``, as the database has them now."""
    return db.session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar()


@pytest.fixture
def app(make_app):
    """The app with preview printers ``kiosk-1`` and ``desk``, an application context pushed."""
    app = make_app(printers=PRINTERS)
    with app.app_context():
        yield app


def _empty_database() -> None:
    """Delete every row (and restart the ids), so a test starts from a database as fresh as a new one."""
    from tests.conftest import _reset_database

    if db.engine.dialect.name == "postgresql":
        _reset_database()  # TRUNCATE ... RESTART IDENTITY
        return
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
        if conn.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")).first():
            conn.execute(sa.text("DELETE FROM sqlite_sequence"))


@pytest.fixture(scope="session")
def _service_app(tmp_path_factory, database_server):
    """One app for every service test of the desk (configured as :func:`app`'s), built once.

    Building the app compiles its 580 URL rules: about 0.1 s, which over the service tests was half
    of their run time. Service tests need no configuration of their own, so they share this app and
    get an emptied database each (:func:`service_app`).
    """
    from registration.app import create_app
    from tests.conftest import BASE_CONFIG, _reset_database

    root = tmp_path_factory.mktemp("desk-app")
    url = database_server or f"sqlite:///{root / 'lanyard.db'}"
    path = root / "config.toml"
    path.write_text(BASE_CONFIG.format(database_url=url, mail=f'outbox = "{root / "outbox"}"',
                                       printers=textwrap.dedent(PRINTERS)), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("LANYARD_DATABASE_URL", raising=False)
        patch.delenv("LANYARD_SECRET_KEY", raising=False)
        app = create_app(path)
    app.config.update(TESTING=True)
    yield app
    with app.app_context():
        db.session.remove()
        _reset_database()
        db.engine.dispose()


@pytest.fixture
def service_app(_service_app):
    """The shared app of the service tests on an emptied database with the event, an application context pushed.

    A test module uses it by defining ``app`` as this fixture; tests that configure the app or drive
    it over HTTP keep :func:`app`.
    """
    from registration.services import ensure_event

    with _service_app.app_context():
        db.create_all()
        _empty_database()
        ensure_event(_service_app.extensions["lanyard"].event)
        db.session.commit()
        yield _service_app
        db.session.remove()


@pytest.fixture
def make_kiosk(app, settings, event):
    """Factory: add a kiosk; returns ``(kiosk, token, enrol_code)``."""
    from kiosk.services import add_kiosk

    counter = itertools.count(1)

    def make(name: str | None = None, *, printer: str = "kiosk-1", location: str = "Lobby A"):
        kiosk, token, enrol_code = add_kiosk(event, name=name or f"kiosk-{next(counter)}", printer_name=printer,
                                             settings=settings, actor=Actor.system("test"), location=location)
        db.session.commit()
        return kiosk, token, enrol_code

    return make


@pytest.fixture
def kiosk(make_kiosk):
    """One kiosk at Lobby A printing on ``kiosk-1``."""
    return make_kiosk("kiosk-a")[0]


STAFF_PASSWORD = "x" * 12


@pytest.fixture(scope="session")
def staff_password_hash() -> str:
    """A real scrypt hash of :data:`STAFF_PASSWORD`, made once per run (scrypt is slow on purpose)."""
    from werkzeug.security import generate_password_hash

    from registration.staff import PASSWORD_METHOD

    return generate_password_hash(STAFF_PASSWORD, PASSWORD_METHOD)


@pytest.fixture
def reuse_staff_hash(monkeypatch, staff_password_hash):
    """For this test, :data:`STAFF_PASSWORD` is "hashed" to the run's one real hash; other passwords for real.

    Most desk tests need staff only as actors: a fresh scrypt hash per user would cost them about
    0.1 s each (far more on a busy machine) and prove nothing the staff tests do not.
    """
    from registration import staff

    real = staff.generate_password_hash

    def generate(password, method):
        if password == STAFF_PASSWORD and method == staff.PASSWORD_METHOD:
            return staff_password_hash
        return real(password, method)

    monkeypatch.setattr(staff, "generate_password_hash", generate)


@pytest.fixture
def make_staff(app, reuse_staff_hash):
    """Factory: add a staff user with the password :data:`STAFF_PASSWORD`; returns ``(user, Actor)``."""
    from registration.staff import add_staff

    counter = itertools.count(1)

    def make(role: str = "registrar", email: str | None = None):
        user, _token = add_staff(email or f"{role}{next(counter)}@example.org", role=role,
                                 actor=Actor.system("test"), password=STAFF_PASSWORD)
        db.session.commit()
        return user, Actor.for_staff(user)

    return make


@pytest.fixture
def registrar(make_staff) -> Actor:
    """A registrar at the desk."""
    return make_staff("registrar")[1]


@pytest.fixture
def admin(make_staff) -> Actor:
    """An admin."""
    return make_staff("admin")[1]


@pytest.fixture
def kiosk_check_in(event, kiosk, settings):
    """Factory: scan ``code`` at the kiosk and commit, as the kiosk API does; returns the outcome."""
    from registration.checkin.services import check_in

    def scan(code: str, *, at=None, nonce: str | None = None):
        outcome = check_in(event, code=code, kiosk=at or kiosk, nonce=nonce or new_nonce(), settings=settings)
        db.session.commit()
        return outcome

    return scan


@pytest.fixture
def desk_check_in(event, settings, registrar):
    """Factory: check a registration in at the desk (default printer ``desk``) and commit; returns the outcome."""
    from registration.desk.services import check_in_at_desk

    def check(registration, *, actor: Actor | None = None, printer: str | None = None, nonce: str | None = None):
        outcome = check_in_at_desk(event, registration, actor=actor or registrar, settings=settings,
                                   nonce=nonce or new_nonce(), printer_name=printer)
        db.session.commit()
        return outcome

    return check


@pytest.fixture
def checked_in(make_registration, desk_check_in):
    """Factory: register a cleared person and check them in at the desk; returns the Registration."""

    def make(**fields):
        registration = make_registration(**fields)[0].registration
        assert desk_check_in(registration).result == "checked_in"
        return registration

    return make


@pytest.fixture
def mark_printed(app):
    """Factory: mark every unfinished print job of a registration printed (no worker runs in these tests)."""
    from registration.models import utcnow
    from registration.printing.models import Badge, PrintJob

    def mark(registration) -> int:
        jobs = PrintJob.__table__
        badges = sa.select(Badge.id).where(Badge.registration_id == registration.id)
        done = db.session.execute(
            sa.update(jobs).where(jobs.c.badge_id.in_(badges), jobs.c.state.in_(("queued", "sending", "held")))
            .values(state="printed", payload=sa.null(), printed_at=utcnow())).rowcount
        db.session.commit()
        db.session.expire_all()
        return done

    return mark
