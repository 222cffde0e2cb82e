"""Fixtures of the print-queue tests: printer emulators on loopback, preview folders, queued jobs, a worker."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from registration.audit import Actor
from registration.extensions import db

#: Network printers, each served by its own emulator. kiosk-1 falls back to desk; kiosk-2 has no fallback.
NETWORK_PRINTERS = ("kiosk-1", "kiosk-2", "desk")
#: Preview printers (PNG files), for the races: fast and countable.
PREVIEW_PRINTERS = ("preview-1", "preview-2", "preview-3", "preview-4")
#: Short printer timeouts: a fault costs the tests half a second, not the 3 s / 10 s of production.
TIMEOUTS = "connect_timeout = 0.5\nio_timeout = 0.5\n"


@dataclass(frozen=True)
class Queued:
    """A job put in the queue by a test, with the badge code it carries (captured before it prints)."""

    id: int
    code: str
    printer: str
    registration_id: int


@pytest.fixture
def hold_seconds() -> float:
    """Printers' hold_seconds; tests override it with ``@pytest.mark.parametrize("hold_seconds", [0])``."""
    return 60


@pytest.fixture
def emulators():
    """A running emulator per network printer, stopped after the test."""
    from printers import PrinterEmulator

    started = {}
    try:
        for name in NETWORK_PRINTERS:
            started[name] = PrinterEmulator().start()
        yield started
    finally:
        for emulator in started.values():
            emulator.stop()


@pytest.fixture
def preview_dir(tmp_path) -> Path:
    """Where the preview printers write their PNGs (one sub-folder per printer)."""
    return tmp_path / "badges"


def printers_toml(emulators: dict, preview_dir: Path, hold_seconds: float) -> str:
    """The [printers.*] tables for the emulators and preview folders."""
    fallbacks = {"kiosk-1": 'fallback = "desk"\n'}
    text = ""
    for name in NETWORK_PRINTERS:
        text += (f'[printers.{name}]\nbackend = "network"\nhost = "127.0.0.1"\nport = {emulators[name].port}\n'
                 f'{TIMEOUTS}hold_seconds = {hold_seconds}\n{fallbacks.get(name, "")}\n')
    for name in PREVIEW_PRINTERS:
        text += f'[printers.{name}]\nbackend = "preview"\ndirectory = "{preview_dir / name}"\n\n'
    return text


@pytest.fixture
def app(make_app, emulators, preview_dir, hold_seconds):
    """The app with the emulated and preview printers, an application context pushed (overrides the root one)."""
    app = make_app(printers=printers_toml(emulators, preview_dir, hold_seconds))
    with app.app_context():
        yield app


@pytest.fixture
def queue_job(app, settings, make_registration):
    """Factory: register a person and queue their badge on ``printer``; returns a :class:`Queued`."""
    from registration.printing.services import issue_badge

    def queue(printer: str = "kiosk-1", **registration) -> Queued:
        person = make_registration(**registration)[0].registration
        job = issue_badge(person, printer_name=printer, settings=settings, actor=Actor.system("test"))
        db.session.commit()
        return Queued(id=job.id, code=job.payload["code"], printer=printer, registration_id=person.id)

    return queue


@pytest.fixture
def work(app):
    """Factory: run worker passes until nothing more is due; returns the jobs handled.

    ``now`` fixes the worker's clock, so a test moves time forward instead of sleeping.
    """
    from registration.printing.worker import process_once

    def run(*, worker_id: str = "worker-1", now=None, passes: int = 50) -> int:
        db.session.commit()  # never leave the test's own transaction open under a worker
        total = 0
        for _ in range(passes):
            handled = process_once(app, worker_id=worker_id, now=now)
            if not handled:
                break
            total += handled
        db.session.expire_all()
        return total

    return run


@pytest.fixture
def load_job(app):
    """Factory: the job as the database has it now (the worker commits in its own session)."""
    from registration.printing.models import PrintJob

    def load(job_id: int) -> PrintJob:
        db.session.commit()
        db.session.expire_all()
        return db.session.get(PrintJob, job_id)

    return load


@pytest.fixture
def desk_cases(app):
    """Factory: (reason, print_job_id) of every desk case, oldest first."""
    from registration.desk.models import DeskCase

    def cases() -> list[tuple[str, int | None]]:
        db.session.commit()
        return [(c.reason, c.print_job_id) for c in
                db.session.execute(sa.select(DeskCase).order_by(DeskCase.id)).scalars()]

    return cases


@pytest.fixture
def printer_state(app):
    """Factory: the stored PrinterState row of a printer (None if the worker never touched it)."""
    from registration.printing.models import PrinterState

    def state(name: str):
        db.session.commit()
        db.session.expire_all()
        return db.session.get(PrinterState, name)

    return state
