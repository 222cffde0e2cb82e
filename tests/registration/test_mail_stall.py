"""Mail goes out with no transaction open: while a slow mail server holds a confirmation, kiosks keep checking in.

A real SMTP server (aiosmtpd on loopback) stops at chosen messages, after their RCPT, until the test lets it go.
While it is stopped, a kiosk checks someone in on another database connection: that must answer
``checked_in`` at once, not wait for the mail server (or for SQLite's busy timeout and then fail).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from registration.extensions import db
from registration.mail import deliver_confirmations
from registration.models import Registration
from tests.checkin.conftest import PRINTERS
from tests.kiosk.conftest import make_kiosk, make_kiosk_client  # noqa: F401  (shared fixtures)
from tests.registration.test_register_pages import GUESTS, csrf_token, form_data

#: How long the test waits for a state before it fails (never a sleep: a wait that ends when the state is reached).
WAIT = 60
#: Confirmations are built and sent this many at a time.
BATCH = inspect.signature(deliver_confirmations).parameters["batch"].default


class StallingHandler:
    """An SMTP handler that holds the chosen messages (1-based) after their first RCPT until released."""

    def __init__(self, stall_at: set[int]):
        self.stall_at = stall_at
        self.messages = 0
        self.received: list[bytes] = []
        self.stalled = {n: threading.Event() for n in stall_at}
        self.released = {n: threading.Event() for n in stall_at}

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.messages += 1
        envelope.mail_from = address
        envelope.number = self.messages
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        envelope.rcpt_tos.append(address)
        number = envelope.number
        if number in self.stall_at and not self.stalled[number].is_set():
            self.stalled[number].set()
            await asyncio.to_thread(self.released[number].wait, WAIT)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope.content)
        return "250 OK"

    def wait_until_stalled(self, number: int) -> None:
        """Block until message ``number`` is being held by the server."""
        assert self.stalled[number].wait(WAIT), f"message {number} never reached the mail server"

    def release_all(self) -> None:
        for event in self.released.values():
            event.set()


@pytest.fixture
def stall_at() -> list[int]:
    """The messages the mail server holds, in the order they arrive (tests parametrize it)."""
    return [1]


@pytest.fixture
def smtp_server(stall_at):
    """A stalling SMTP server on loopback; returns ``(port, handler)``."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = StallingHandler(set(stall_at))
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, handler
    handler.release_all()
    controller.stop()


@pytest.fixture
def app(make_app, smtp_server):
    """The app with preview printers, its mail going to the stalling server; an application context pushed."""
    port, _handler = smtp_server
    app = make_app(mail=f'host = "127.0.0.1"\nport = {port}\ntimeout = {WAIT * 2}', printers=PRINTERS)
    with app.app_context():
        yield app


def _attendees(app, count: int) -> list[str]:
    """Register ``count`` cleared people directly; returns their registration codes."""
    from registration.audit import Actor
    from registration.services import HealthInput, PersonInput, current_event, register

    settings = app.extensions["lanyard"]
    codes = []
    event = current_event(settings)
    for n in range(count):
        issued = register(event, PersonInput(first_name="Walk", last_name=f"Kiosk{n}",
                                             email=f"kiosk{n}@example.org", type_name="full"),
                          settings=settings, actor=Actor.system("test"), health=HealthInput("vaccinated", "verified"))
        codes.append(issued[0].code)
    db.session.commit()
    return codes


def _check_in_while_stalled(handler, stall_order, kiosk, codes) -> list[float]:
    """At each stalled message, check one person in from the kiosk; returns each check-in's latency in seconds."""
    latencies = []
    for number, code in zip(stall_order, codes, strict=True):
        handler.wait_until_stalled(number)
        started = time.perf_counter()
        response = kiosk.check_in(code)
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 200, (number, response.get_data(as_text=True))
        assert response.get_json()["result"] == "checked_in"
        handler.released[number].set()
    return latencies


def _report(what: str, latencies: list[float]) -> None:
    print(f"\n{what}: check-in latency while SMTP stalls: " + ", ".join(f"{s * 1000:.0f} ms" for s in latencies))


@pytest.mark.parametrize("stall_at", [[1, 2, 3]])  # the host's confirmation, then each guest's
def test_kiosk_checks_in_while_the_registration_confirmations_wait_for_a_slow_mail_server(
        app, smtp_server, stall_at, make_kiosk_client):
    _port, handler = smtp_server
    codes = _attendees(app, len(stall_at))
    _kiosk, kiosk = make_kiosk_client("kiosk-a")
    registering = {}

    def register_with_guests():
        with app.app_context():  # the thread's own context, as a server thread would have
            client = app.test_client()
            registering["response"] = client.post("/register", data=form_data(csrf_token(client), guests=GUESTS))

    thread = threading.Thread(target=register_with_guests)
    thread.start()
    try:
        latencies = _check_in_while_stalled(handler, stall_at, kiosk, codes)
    finally:
        handler.release_all()
        thread.join(WAIT)
    _report("registration with two guests", latencies)
    response = registering["response"]
    assert response.status_code == 303, response.get_data(as_text=True)  # on to the confirmation page
    assert len(handler.received) == 3
    db.session.rollback()  # a fresh look at what the registration's request committed
    sent = db.session.execute(sa.select(sa.func.count()).select_from(Registration)
                              .where(Registration.confirmation_sent_at.is_not(None))).scalar_one()
    assert sent == 3


# Every batch's first message (built and sent after a commit) and the one after it.
@pytest.mark.parametrize("stall_at", [[1, 2, BATCH + 1, BATCH + 2, 2 * BATCH + 1]])
def test_kiosk_checks_in_while_every_import_batch_waits_for_a_slow_mail_server(
        app, smtp_server, stall_at, make_kiosk_client, tmp_path):
    _port, handler = smtp_server
    rows = 2 * BATCH + 1  # three batches
    codes = _attendees(app, len(stall_at))
    _kiosk, kiosk = make_kiosk_client("kiosk-a")
    header = ("first_name,last_name,badge_name,email,title,organization,registration_type,host_email,"
              "health_method,health_state,test_taken_at")
    csv_path = tmp_path / "import.csv"
    csv_path.write_text("\n".join([header] + [f"Imported,Person{n},,imported{n}@example.org,,,full,,,,"
                                              for n in range(rows)]) + "\n", encoding="utf-8")
    env = dict(os.environ, LANYARD_CONFIG=str(tmp_path / "config.toml"))
    env.pop("LANYARD_DATABASE_URL", None)
    lanyard = Path(sys.executable).with_name("lanyard")
    # Another process, as in production: the CLI has its own connection to the same database.
    process = subprocess.Popen([str(lanyard), "import", str(csv_path), "--send-confirmations"], cwd=tmp_path,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        latencies = _check_in_while_stalled(handler, stall_at, kiosk, codes)
    finally:
        handler.release_all()
        out, err = process.communicate(timeout=WAIT * 2)
    _report(f"import of {rows} rows, batches of {BATCH}", latencies)
    assert process.returncode == 0, out + err
    assert f"Sent {rows} confirmations." in out
    assert len(handler.received) == rows
