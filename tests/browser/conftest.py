"""Browser fixtures: Debian's Chromium through Playwright, against the real app on a loopback port.

One browser per session; each test gets a new browser context, its own database, its own ESC/POS
printer emulator on loopback, the app served by werkzeug in a thread and the print worker running.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from registration.audit import Actor
from registration.extensions import db

CHROMIUM = Path("/usr/bin/chromium")
#: As root in a container, without a GPU, and with nothing that calls home (the network is closed).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: Long enough for a slow CI machine; every wait is on something a person would see.
EXPECT_TIMEOUT_MS = 15_000

PRINTERS = """
[printers.kiosk-1]
backend = "network"
host = "127.0.0.1"
port = {port}
connect_timeout = 1
io_timeout = 3
{kiosk_1_extra}

[printers.kiosk-2]
backend = "preview"
directory = "badges/kiosk-2"
location = "the registration desk, Hall A"
location_es = "el mostrador de registro, Sala A"
"""

#: The ``[door]`` pace for tests: the copy refreshes every second, so a test waits little for the next refresh.
TEST_DOOR = "\n[door]\nsnapshot_seconds = 1\noffline_after_ms = 1500\n"

#: The ``[kiosk]`` timings for tests: nothing goes idle by accident; the idle tests set their own.
TEST_TIMINGS = {"idle_seconds": 120, "warning_seconds": 10, "done_seconds": 60, "poll_ms": 150,
                "heartbeat_seconds": 60}


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, once for the whole run."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def emulator():
    """An ESC/POS network printer on loopback (printer ``kiosk-1``)."""
    from printers import PrinterEmulator

    with PrinterEmulator() as emulator:
        yield emulator


@pytest.fixture
def kiosk_1_extra() -> str:
    """More options for printer ``kiosk-1`` (a test parametrizes this to add e.g. a fallback)."""
    return ""


@pytest.fixture
def kiosk_timings() -> dict:
    """Changes to :data:`TEST_TIMINGS` (a test parametrizes this, e.g. to go idle after a second)."""
    return {}


@pytest.fixture
def app(make_app, emulator, kiosk_1_extra, kiosk_timings):
    """The app with printer ``kiosk-1`` on the emulator and ``kiosk-2`` a preview folder; context pushed."""
    timings = "".join(f"{key} = {value}\n" for key, value in {**TEST_TIMINGS, **kiosk_timings}.items())
    app = make_app(printers=PRINTERS.format(port=emulator.port, kiosk_1_extra=kiosk_1_extra),
                   extra=f"\n[kiosk]\n{timings}{TEST_DOOR}")
    with app.app_context():
        yield app


@pytest.fixture
def live_server(app):
    """The app served on a free loopback port, with the print worker running; yields the base URL."""
    from registration.printing.worker import start_worker_thread

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="kiosk-test-server", daemon=True)
    thread.start()
    stop = threading.Event()
    worker = start_worker_thread(app, stop=stop)
    yield f"http://127.0.0.1:{server.server_port}"
    stop.set()
    worker.join(timeout=10)
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@dataclass
class PageProblems:
    """What went wrong inside the page: uncaught errors and console errors (CSP violations among them)."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page) -> None:
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("console", self._console)

    def _console(self, message) -> None:
        # A refused request (403, 404, 503) is logged by Chromium too; the tests check those statuses themselves.
        if message.type == "error" and not message.text.startswith("Failed to load resource: the server responded"):
            self.errors.append(f"console: {message.text}")


@pytest.fixture
def context(browser):
    """A fresh browser context (no cookies, no storage) for one test, as a kiosk screen would be."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US",
                                  timezone_id="America/Los_Angeles")
    yield context
    context.close()


@pytest.fixture
def page_problems():
    """Errors seen in the test's pages; the test fails if there are any (checked at teardown)."""
    problems = PageProblems()
    yield problems
    assert problems.errors == [], problems.errors


@pytest.fixture
def make_kiosk(app, settings, event):
    """Factory: add a kiosk; returns ``(kiosk, enrol_code)``."""
    from kiosk.services import add_kiosk

    def make(name: str = "kiosk-a", *, printer: str = "kiosk-1", location: str = "Lobby A", language: str = "en"):
        kiosk, _token, enrol_code = add_kiosk(event, name=name, printer_name=printer, settings=settings,
                                              actor=Actor.system("test"), location=location, language=language)
        db.session.commit()
        return kiosk, enrol_code

    return make


@pytest.fixture
def open_kiosk(live_server, context, make_kiosk, page_problems):
    """Factory: add a kiosk, enrol a new page to it through its enrolment link; returns ``(page, kiosk)``."""
    from playwright.sync_api import expect

    from .helpers import enrol

    def open_(name: str = "kiosk-a", **options):
        kiosk, enrol_code = make_kiosk(name, **options)
        page = context.new_page()
        page_problems.watch(page)
        enrol(page, live_server, enrol_code)
        expect(page.locator('[data-screen="start"]')).to_be_visible()
        return page, kiosk

    return open_


@pytest.fixture
def fresh():
    """Start a new read transaction, so the test sees what the server and the worker committed."""

    def refresh():
        db.session.rollback()
        db.session.expire_all()

    return refresh


#: Every staff user the desk tests make signs in with this (at least 12 characters, as the rules want).
STAFF_PASSWORD = "desk-password-2027"


@pytest.fixture
def make_staff(app):
    """Factory: add a staff user whose password is ``STAFF_PASSWORD``; returns the StaffUser."""
    from registration.staff import add_staff

    def make(email: str = "registrar@example.org", *, role: str = "registrar", name: str = ""):
        user, _token = add_staff(email, role=role, actor=Actor.system("test"), name=name, password=STAFF_PASSWORD)
        db.session.commit()
        return user

    return make


@pytest.fixture
def desk_context(browser):
    """The desk laptop's own browser context: its sign-in cookie is never a kiosk's (nor the kiosk's its)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US",
                                  timezone_id="America/Los_Angeles")
    yield context
    context.close()


@pytest.fixture
def staff_page(live_server, desk_context, make_staff, page_problems):
    """Factory: add a staff user and sign a new desk page in through /login; returns ``(page, user)``."""
    from playwright.sync_api import expect

    from .helpers import desk_ready, sign_in

    def open_(role: str = "registrar", *, email: str | None = None, name: str = ""):
        user = make_staff(email or f"{role}@example.org", role=role, name=name)
        page = desk_context.new_page()
        page_problems.watch(page)
        page.goto(f"{live_server}/login")
        sign_in(page, user.email, STAFF_PASSWORD)
        expect(page).to_have_url(f"{live_server}/desk/")
        expect(page.get_by_role("heading", name="Find a person")).to_be_visible()
        desk_ready(page)
        return page, user

    return open_
