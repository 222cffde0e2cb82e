"""The print worker: claims jobs atomically, sends them to their printers and records what happened.

Several workers (threads or processes, on SQLite or PostgreSQL) may run at once. Each pass:

1. hands ``sending`` jobs whose worker died to staff, and moves jobs held past their printer's
   ``hold_seconds`` to the fallback printer or to the desk;
2. for each printer with due jobs, takes the printer's lease (one job at a time per printer, across
   workers), claims the oldest due job with a conditional UPDATE, commits, and only then talks to the
   printer; the outcome is recorded in a second commit.

The lease is short (``LEASE_SECONDS``) and a :class:`LeaseKeeper` thread renews it while the worker talks to
the printer, so a job may take as long as the printer needs while a killed worker frees its printer within
seconds. A worker that cannot renew its lease in time cuts its job short rather than share the printer.

Nothing is resent once bytes may have gone out: such a job waits for a staff decision.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import random
import socket
import threading
import time
from datetime import datetime

import sqlalchemy as sa
from flask import Flask

from ..errors import CODES
from ..extensions import db
from ..models import utcnow
from .models import PrinterState
from .services import (
    LEASE_RENEW_SECONDS,
    LEASE_SECONDS,
    ClaimedJob,
    acquire_printer_lease,
    claim_next_job,
    due_printers,
    ensure_printer_state,
    expire_held_jobs,
    printer_options_for_backend,
    record_failed,
    record_held,
    record_printed,
    record_printer_state,
    record_unconfirmed,
    recover_stale_jobs,
    release_printer_lease,
    renew_printer_lease,
)

log = logging.getLogger(__name__)

#: Errors raised before anything was sent that mean "the printer is not ready": the job waits (held).
HOLD_CODES = {"printer_offline": False, "paper_out": False, "cover_open": False, "status_unknown": None}
#: Jobs one worker sends to one printer before it lets the other printers (and workers) have a turn.
BATCH_PER_PRINTER = 25
#: How often, at most, a status query follows a successful job to learn "paper near end".
STATUS_EVERY_SECONDS = 10.0
#: How often an idle printer that can report its status is asked for it, so kiosks and the desk see a printer
#: go offline or run out of paper before a badge is sent to it.
STATUS_POLL_SECONDS = 30.0


def _commit_outcome(write) -> None:
    """Run ``write`` and commit, retrying a transient database error (deadlock, lock timeout) a few times.

    Losing an outcome would leave the job ``sending`` until the stale sweep hands it to staff, so it is
    worth a retry; the writes are conditional, so running them again is harmless.
    """
    for attempt in range(1, 4):
        try:
            write()
            db.session.commit()
            return
        except sa.exc.OperationalError:
            db.session.rollback()
            if attempt == 3:
                raise
            log.warning("recording a print outcome hit a transient database error; retrying", exc_info=True)
            time.sleep(0.05 * attempt)


class LeaseKeeper:
    """Renews a worker's lease on one printer every LEASE_RENEW_SECONDS, in its own thread and session.

    Used as a context manager around the printer I/O, when no transaction of the worker's is open. When the
    lease cannot be renewed (another worker holds it, or the database did not answer before it would lapse),
    ``on_lost`` is called once: the worker then cuts its job short, so two workers never talk to one printer.
    """

    def __init__(self, app: Flask, *, printer_name: str, worker_id: str, clock, on_lost) -> None:
        self.app = app
        self.printer_name = printer_name
        self.worker_id = worker_id
        self.clock = clock
        self.on_lost = on_lost
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"lease-keeper:{printer_name}")

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        # The lease was taken (or renewed) just before the keeper started: it is good for LEASE_SECONDS from now.
        good_until = time.monotonic() + LEASE_SECONDS
        with self.app.app_context():
            try:
                while not self._stop.wait(LEASE_RENEW_SECONDS):
                    asked = time.monotonic()
                    try:
                        renewed = renew_printer_lease(self.printer_name, worker_id=self.worker_id, now=self.clock())
                        db.session.commit()
                    except Exception:  # noqa: BLE001 - a database hiccup: try again while the lease lasts
                        db.session.rollback()
                        log.warning("print worker %s: renewing the lease of printer %s failed", self.worker_id,
                                    self.printer_name, exc_info=True)
                        if time.monotonic() + LEASE_RENEW_SECONDS < good_until:
                            continue
                        renewed = False
                    if not renewed:
                        self._lose()
                        return
                    good_until = asked + LEASE_SECONDS
            finally:
                db.session.remove()

    def _lose(self) -> None:
        log.error("print worker %s: lost the lease of printer %s mid-job: cutting the job short", self.worker_id,
                  self.printer_name)
        self.on_lost()


def default_worker_id() -> str:
    """host:pid:thread, unique among the workers of an installation."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{threading.get_ident() % 100_000}"


class PrintWorker:
    """One worker's state between passes: its id and its printer objects (one per configured printer)."""

    def __init__(self, app: Flask, *, worker_id: str):
        self.app = app
        self.worker_id = worker_id[:64]
        self._printers: dict[str, object] = {}
        self._states_ensured: set[str] = set()
        self._status_checked: dict[str, datetime] = {}
        self._polled: dict[str, datetime] = {}

    # -- one pass --------------------------------------------------------------------------------------------

    def process_once(self, *, now: datetime | None = None, stop: threading.Event | None = None) -> int:
        """Run one pass over the queue; returns the number of jobs handled (sent, moved or handed to staff).

        ``now`` fixes the clock for the whole pass (tests use it instead of sleeping).
        """
        with self.app.app_context():
            settings = self.app.extensions["lanyard"]
            clock = (lambda: now) if now is not None else utcnow
            try:
                handled = recover_stale_jobs(now=clock())
                handled += expire_held_jobs(settings, now=clock())
                printers = due_printers(now=clock())
                db.session.commit()
            except Exception:
                db.session.rollback()
                raise
            random.shuffle(printers)  # several workers start on different printers
            for name in printers:
                if stop is not None and stop.is_set():
                    break
                if name in settings.printers:
                    handled += self._drain_printer(name, settings, clock, stop)
            if not (stop is not None and stop.is_set()):
                # Every pass, busy or not (waiting for an empty queue left idle printers unasked for as long as
                # any other printer had work), but one printer per pass: an unplugged printer costs its
                # connect timeout, which a badge waits for at most once per pass.
                self._poll_one_printer(settings, clock, busy=set(printers))
            return handled

    def _poll_one_printer(self, settings, clock, *, busy: set[str]) -> None:
        """Ask one idle printer how it is: of those that can answer and have no job due (a job is a contact of
        its own), the one this worker asked least recently, if that was STATUS_POLL_SECONDS ago or never."""
        now = clock()
        due = [name for name, options in settings.printers.items()
               if name not in busy and self._reports_status(name, options)
               and (name not in self._polled or (now - self._polled[name]).total_seconds() >= STATUS_POLL_SECONDS)]
        if due:
            name = min(due, key=lambda n: self._polled.get(n, datetime.min.replace(tzinfo=now.tzinfo)))
            self._poll_status(name, settings.printers[name], clock)

    def _drain_printer(self, name: str, settings, clock, stop) -> int:
        """Send this printer's due jobs, one at a time, while this worker holds the printer's lease."""
        options = settings.printers[name]
        handled = 0
        try:
            if name not in self._states_ensured:
                ensure_printer_state(name)
                db.session.commit()
                self._states_ensured.add(name)
            while True:
                if handled >= BATCH_PER_PRINTER or (stop is not None and stop.is_set()):
                    release_printer_lease(name, worker_id=self.worker_id)
                    db.session.commit()
                    break
                now = clock()
                if not acquire_printer_lease(name, worker_id=self.worker_id, now=now, seconds=LEASE_SECONDS):
                    db.session.rollback()
                    break
                claim = claim_next_job(name, worker_id=self.worker_id, now=now)
                if claim is None:
                    release_printer_lease(name, worker_id=self.worker_id)
                    db.session.commit()
                    break
                db.session.commit()  # the claim is durable before a single byte goes to the printer
                log.info("job %s: sending to printer %s (attempt %s, worker %s)", claim.id, name, claim.attempts,
                         self.worker_id)
                handled += 1
                if not self._send(claim, options, settings, clock):
                    release_printer_lease(name, worker_id=self.worker_id)
                    db.session.commit()
                    break
        except Exception:
            db.session.rollback()
            log.exception("print worker %s: pass over printer %s failed", self.worker_id, name)
        return handled

    def _reports_status(self, name: str, options: dict) -> bool:
        """Whether printer ``name`` can be asked how it is (a preview or file printer cannot: it is never polled,
        so it takes no idle pass from a printer that can)."""
        import printers

        try:
            return self._printer(name, options).supports_status
        except printers.PrinterError:
            return False  # a bad configuration is reported when a job is sent to it

    def _poll_status(self, name: str, options: dict, clock) -> None:
        """Ask an idle printer how it is, now and then, and store the answer (no job is involved)."""
        import printers

        now = clock()
        self._polled[name] = now
        try:
            printer = self._printer(name, options)
        except printers.PrinterError:
            return  # reported when a job is sent to it
        if not printer.supports_status:
            return
        try:
            if name not in self._states_ensured:
                ensure_printer_state(name)
                db.session.commit()
                self._states_ensured.add(name)
            checked = db.session.execute(
                sa.select(PrinterState.last_checked_at).where(PrinterState.name == name)
            ).scalar()
            if checked is not None and (now - checked).total_seconds() < STATUS_POLL_SECONDS:
                db.session.rollback()
                return  # a job or another worker talked to it recently
            if not acquire_printer_lease(name, worker_id=self.worker_id, now=now, seconds=LEASE_SECONDS):
                db.session.rollback()
                return
            db.session.commit()  # the lease is held while we talk to the printer, outside any transaction
            try:
                with self._keep_lease(name, printer, clock):
                    status = printer.status()
                code = ("cover_open" if status.cover_open else "paper_out" if status.paper_out
                        else "" if status.online else "printer_offline")
                online, near_end, message = not code, status.paper_near_end, CODES.get(code, "") if code else ""
            except printers.PrinterError as exc:
                code, online, near_end, message = exc.code, HOLD_CODES.get(exc.code), None, str(exc)
            if code and code not in CODES:
                code = "print_failed"

            def write():
                record_printer_state(name, now=clock(), online=online, error_code=code, message=message,
                                     paper_near_end=near_end)
                release_printer_lease(name, worker_id=self.worker_id)

            _commit_outcome(write)
            log.info("printer %s: status %s", name, code or "ready")
        except Exception:  # noqa: BLE001 - a failed status poll must not stop the worker
            db.session.rollback()
            log.exception("print worker %s: status poll of printer %s failed", self.worker_id, name)

    # -- one job ---------------------------------------------------------------------------------------------

    def _send(self, claim: ClaimedJob, options: dict, settings, clock) -> bool:
        """Render and send one claimed job, then record the outcome (one commit). False = printer not ready."""
        import printers

        try:
            printer = self._printer(claim.printer_name, options)
            fields = {f.name for f in dataclasses.fields(printers.BadgeData)}
            data = printers.BadgeData(**{k: v for k, v in claim.payload.items() if k in fields})
            image = printers.render_badge(data, width=printer.width).image
        except Exception as exc:  # noqa: BLE001 - nothing was sent; a bad config or payload will not heal
            log.error("job %s: cannot prepare for printer %s: %s", claim.id, claim.printer_name, exc)
            return self._record_error(claim, exc, code=getattr(exc, "code", "") or "print_failed", sent=False,
                                      clock=clock, settings=settings, hold=False)

        try:
            with self._keep_lease(claim.printer_name, printer, clock):
                printer.print_badge(image, job_name=claim.job_name)
                paper_near_end = self._paper_near_end(claim.printer_name, printer, clock())
        except printers.PrinterError as exc:
            return self._record_error(claim, exc, code=exc.code, sent=exc.sent, clock=clock, settings=settings)
        except Exception as exc:  # noqa: BLE001 - an unexpected failure mid-job: bytes may have gone out
            log.exception("job %s: unexpected error from printer %s", claim.id, claim.printer_name)
            return self._record_error(claim, exc, code="print_unconfirmed", sent=True, clock=clock, settings=settings)
        now = clock()

        def write():
            if record_printed(claim, worker_id=self.worker_id, now=now):
                log.info("job %s: printed on %s", claim.id, claim.printer_name)
            else:
                log.warning("job %s: printed on %s, but its claim was taken over meanwhile", claim.id,
                            claim.printer_name)
            record_printer_state(claim.printer_name, now=now, online=True, paper_near_end=paper_near_end,
                                 success=True, error_code="", message="")

        _commit_outcome(write)
        return True

    def _record_error(self, claim: ClaimedJob, exc: Exception, *, code: str, sent: bool, clock, settings,
                      hold: bool = True) -> bool:
        """Record a failed send: unconfirmed (bytes went out), held (printer not ready) or failed. Returns False."""
        message = str(exc) or type(exc).__name__
        if code not in CODES:  # e.g. printer_config: the kiosk and desk only know the documented codes
            message, code = f"{code}: {message}", "print_failed"
        now = clock()

        def write():
            if sent:
                record_unconfirmed(claim, worker_id=self.worker_id, now=now, error_code=code, message=message)
                record_printer_state(claim.printer_name, now=now, online=None, error_code="print_unconfirmed",
                                     message=message)
                log.warning("job %s: %s after bytes went out on %s: needs a staff decision", claim.id, code,
                            claim.printer_name)
            elif hold and code in HOLD_CODES:
                state = record_held(claim, worker_id=self.worker_id, now=now, settings=settings, error_code=code,
                                    message=message)
                record_printer_state(claim.printer_name, now=now, online=HOLD_CODES[code], error_code=code,
                                     message=message)
                log.warning("job %s: printer %s not ready (%s): job %s", claim.id, claim.printer_name, code,
                            state or "taken over")
            else:
                record_failed(claim, worker_id=self.worker_id, now=now, error_code=code, message=message)
                record_printer_state(claim.printer_name, now=now, online=None, error_code=code, message=message)
                log.error("job %s: %s on %s: escalated to the desk", claim.id, code, claim.printer_name)

        _commit_outcome(write)
        return False

    @contextlib.contextmanager
    def _keep_lease(self, name: str, printer, clock):
        """Renew this worker's lease on ``name`` while the body talks to the printer; cut the I/O if it is lost."""
        with LeaseKeeper(self.app, printer_name=name, worker_id=self.worker_id, clock=clock,
                         on_lost=printer.abort) as keeper:
            yield keeper

    def _printer(self, name: str, options: dict):
        """This worker's printer object for ``name`` (built once)."""
        import printers

        if name not in self._printers:
            self._printers[name] = printers.make_printer(name, printer_options_for_backend(options))
        return self._printers[name]

    def _paper_near_end(self, name: str, printer, now: datetime) -> bool | None:
        """Paper near end after a good job: from the status the job read, else an occasional status query."""
        status = getattr(printer, "last_status", None)
        if status is not None:
            return bool(status.paper_near_end)
        if not getattr(printer, "supports_status", False):
            return None
        last = self._status_checked.get(name)
        if last is not None and (now - last).total_seconds() < STATUS_EVERY_SECONDS:
            return None
        self._status_checked[name] = now
        try:
            return bool(printer.status().paper_near_end)
        except Exception as exc:  # noqa: BLE001 - the badge printed; a status hiccup changes nothing about it
            log.info("printer %s: no status after a good job (%s)", name, exc)
            return None


def _worker_for(app: Flask, worker_id: str) -> PrintWorker:
    """The app's PrintWorker for ``worker_id`` (kept between passes: it caches the printer objects)."""
    workers = app.extensions.setdefault("lanyard_print_workers", {})
    worker = workers.get(worker_id)
    if worker is None:
        worker = workers.setdefault(worker_id, PrintWorker(app, worker_id=worker_id))
    return worker


def process_once(app: Flask, *, worker_id: str, now: datetime | None = None) -> int:
    """One pass of worker ``worker_id`` over the queue; returns the number of jobs handled."""
    return _worker_for(app, worker_id).process_once(now=now)


def run_worker(app: Flask, *, worker_id: str | None = None, stop: threading.Event | None = None,
               poll_interval: float = 0.2) -> None:
    """Work the queue until ``stop`` is set; the job in flight is finished first (its I/O has timeouts)."""
    worker = _worker_for(app, worker_id or default_worker_id())
    stop = stop or threading.Event()
    log.info("print worker %s started", worker.worker_id)
    while not stop.is_set():
        try:
            handled = worker.process_once(stop=stop)
        except Exception:  # noqa: BLE001 - e.g. the database restarted: keep the worker alive, try again
            log.exception("print worker %s: pass failed", worker.worker_id)
            stop.wait(max(poll_interval, 1.0))
            continue
        if not handled:
            stop.wait(poll_interval)
    log.info("print worker %s stopped", worker.worker_id)


def start_worker_thread(app: Flask, *, stop: threading.Event) -> threading.Thread:
    """Run a worker in a daemon thread (used by ``lanyard demo``) until ``stop`` is set."""
    thread = threading.Thread(target=run_worker, kwargs={"app": app, "stop": stop}, name="lanyard-print-worker",
                              daemon=True)
    thread.start()
    return thread
