"""Fixtures shared by every test: a real database (SQLite file or PostgreSQL), the app, factories.

``LANYARD_TEST_DB=postgresql`` runs the same tests on PostgreSQL: ``LANYARD_TEST_PG_URL`` names the
server (``make test`` starts a throwaway one and sets it; run by hand, the default is
``postgresql://postgres@127.0.0.1:5432/test``); each run gets its own database, dropped at the end.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import textwrap
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from registration.app import create_app
from registration.audit import Actor
from registration.extensions import db

BACKEND = os.environ.get("LANYARD_TEST_DB", "sqlite")
PG_SERVER_URL = os.environ.get("LANYARD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

BASE_CONFIG = """
[app]
base_url = "http://lanyard.test"
secret_key_file = "secret_key"
max_guests = 4

[database]
url = "{database_url}"

[event]
slug = "annual-2027"
name = "Annual Conference and Expo"
venue = "Convention Center, Sacramento"
starts_on = 2027-09-15
ends_on = 2027-09-17
timezone = "America/Los_Angeles"
areas = ["general_sessions", "breakouts", "caucus", "expo", "receptions"]

[areas.general_sessions]
label = "General sessions"
label_es = "Sesiones generales"

[areas.breakouts]
label = "Breakout sessions"
label_es = "Sesiones simultáneas"
capacity = 40

[areas.caucus]
label = "Caucus meetings"
label_es = "Reuniones de caucus"
open = [["2027-09-15T08:00", "2027-09-15T12:00"], ["2027-09-16T08:00", "2027-09-16T12:00"]]
reentry = false

[areas.expo]
label = "Expo hall"
label_es = "Sala de exposición"

[areas.receptions]
label = "Evening receptions"
label_es = "Recepciones nocturnas"

[registration_types.full]
label = "Full conference"
label_es = "Conferencia completa"
band_text = "FULL CONFERENCE"
band_color = "#1f4e9a"
access_areas = ["general_sessions", "breakouts", "caucus", "expo", "receptions"]

[registration_types.guest]
label = "Guest — Expo & receptions"
label_es = "Invitado — Expo y recepciones"
band_text = "GUEST — EXPO & RECEPTIONS"
band_color = "#c2410c"
access_areas = ["expo", "receptions"]
guest = true

[health]
negative_test_valid_hours = 72

[mail]
sender = "Registration <registration@lanyard.test>"
{mail}

{printers}
"""


def _pg_url(name: str) -> str:
    return PG_SERVER_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def database_server():
    """For PostgreSQL: a database of this run's own, created empty and dropped at the end."""
    if BACKEND != "postgresql":
        yield None
        return
    name = f"lanyard_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_SERVER_URL.replace("postgresql://", "postgresql+psycopg://"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield _pg_url(name)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url(tmp_path, database_server) -> str:
    """A fresh, empty database for one test."""
    if database_server is None:
        return f"sqlite:///{tmp_path / 'lanyard.db'}"
    return database_server


@pytest.fixture
def write_config(tmp_path, database_url):
    """Factory: write a config file for this test and return its path."""

    def write(*, mail: str | None = None, printers: str = "", extra: str = "", database_url_: str | None = None) -> Path:
        outbox = tmp_path / "outbox"
        text = BASE_CONFIG.format(
            database_url=database_url_ or database_url,
            mail=mail if mail is not None else f'outbox = "{outbox}"',
            printers=textwrap.dedent(printers),
        ) + textwrap.dedent(extra)
        path = tmp_path / "config.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def _reset_database() -> None:
    """Empty every table (PostgreSQL keeps one database for the run)."""
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def make_app(write_config, monkeypatch):
    """Factory: an app on a fresh database, with the schema and the event created."""
    monkeypatch.delenv("LANYARD_DATABASE_URL", raising=False)
    monkeypatch.delenv("LANYARD_SECRET_KEY", raising=False)
    apps = []

    def make(**config):
        app = create_app(write_config(**config))
        app.config.update(TESTING=True)
        with app.app_context():
            db.create_all()
            _reset_database()
            from registration.services import ensure_event

            ensure_event(app.extensions["lanyard"].event)
            db.session.commit()
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            _reset_database()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    """The app, with an application context pushed for the test's own database work."""
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    """A test client (CSRF on, as in production)."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner for the `lanyard` commands."""
    return app.test_cli_runner()


@pytest.fixture
def settings(app):
    """The app's validated settings."""
    return app.extensions["lanyard"]


@pytest.fixture
def event(app, settings):
    """The configured event's row."""
    from registration.services import current_event

    return current_event(settings)


@pytest.fixture
def make_registration(app, settings, event):
    """Factory: register a person (and optional guests); returns the list of Issued (host first)."""
    from registration.services import HealthInput, PersonInput, register

    counter = iter(range(1, 1_000_000))

    def make(*, first_name="Ada", last_name=None, email=None, health="vaccinated", health_state="verified",
             test_taken_at=None, guests=(), **fields):
        n = next(counter)
        person = PersonInput(first_name=first_name, last_name=last_name or f"Lovelace{n}",
                             email=email or f"person{n}-{uuid.uuid4().hex[:6]}@example.org", type_name="full",
                             **fields)
        health_input = HealthInput(health, health_state, test_taken_at) if health else None
        guest_inputs = [
            (PersonInput(first_name=g.get("first_name", "Guest"), last_name=g.get("last_name", f"Guest{n}"),
                         email=g.get("email", ""), type_name="guest"),
             HealthInput(g.get("health", "vaccinated"), g.get("health_state", "verified")))
            for g in guests
        ]
        issued = register(event, person, settings=settings, actor=Actor.system("test"), health=health_input,
                          guests=guest_inputs)
        db.session.commit()
        return issued

    return make


@pytest.fixture(autouse=True)
def _only_loopback(monkeypatch):
    """Any connection beyond this machine fails the test: no test may reach a real network."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(address):
        if isinstance(address, tuple):
            host = address[0]
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                if host != "localhost":
                    raise AssertionError(f"test tried to reach {host!r}") from None
                return
            if not ip.is_loopback:
                raise AssertionError(f"test tried to reach {host!r}")

    def connect(self, address):
        check(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        check(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
