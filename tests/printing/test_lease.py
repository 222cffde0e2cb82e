"""The printer lease: short, renewed while a job runs, lapsing soon after its worker dies.

Real parts: `lanyard print-worker` processes, killed with SIGKILL mid-job, and the ESC/POS emulator receiving.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from printers import PrinterEmulator
from registration.extensions import db
from registration.models import AuditEvent, utcnow
from registration.printing.services import (LEASE_RENEW_SECONDS, LEASE_SECONDS, acquire_printer_lease,
                                            claim_next_job, ensure_printer_state, renew_printer_lease)
from tests.helpers import decode_qr

LANYARD = str(Path(sys.executable).parent / "lanyard")
#: A safety net so a broken lease fails the test instead of hanging it; no test waits on it otherwise.
DEADLINE_SECONDS = 120
#: The printer these tests use: a long io timeout, so only the lease (not a timeout) can end a job early.
PATIENT = "patient"


@pytest.fixture
def patient():
    """The emulator behind the patient printer."""
    with PrinterEmulator() as emulator:
        yield emulator


@pytest.fixture
def app(make_app, patient):
    """The app with one network printer whose io timeout (60 s) outlasts the lease many times."""
    app = make_app(printers=f'[printers.{PATIENT}]\nbackend = "network"\nhost = "127.0.0.1"\nport = {patient.port}\n'
                            'connect_timeout = 0.5\nio_timeout = 60\n')
    with app.app_context():
        yield app


@pytest.fixture
def start_worker(settings):
    """Factory: a `lanyard print-worker` process; every one still running is killed after the test."""
    processes = []

    def start(worker_id: str) -> subprocess.Popen:
        process = subprocess.Popen([LANYARD, "print-worker", "--worker-id", worker_id, "--poll-interval", "0.05"],
                                   env=dict(os.environ, LANYARD_CONFIG=str(settings.path)),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def wait_for(condition, what: str):
    """Poll ``condition`` (a fresh read of the database each time) until it returns something true."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        db.session.commit()
        db.session.expire_all()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what} after {DEADLINE_SECONDS} s")
        time.sleep(0.02)


def test_a_renewed_lease_keeps_its_job_however_old_the_claim(queue_job, work, load_job, desk_cases):
    queued = queue_job(PATIENT)
    ensure_printer_state(PATIENT)
    start = utcnow()
    assert acquire_printer_lease(PATIENT, worker_id="busy", now=start, seconds=LEASE_SECONDS)
    assert claim_next_job(PATIENT, worker_id="busy", now=start).id == queued.id
    db.session.commit()
    for step in range(1, 16):  # half a minute of a slow job, renewed every LEASE_RENEW_SECONDS
        now = start + timedelta(seconds=step * LEASE_RENEW_SECONDS)
        assert renew_printer_lease(PATIENT, worker_id="busy", now=now)
        db.session.commit()
        assert work(worker_id="other", now=now + timedelta(seconds=LEASE_RENEW_SECONDS - 0.001)) == 0
        assert load_job(queued.id).state == "sending"
    last_renewal = start + timedelta(seconds=15 * LEASE_RENEW_SECONDS)
    assert work(worker_id="other", now=last_renewal + timedelta(seconds=LEASE_SECONDS - 0.001)) == 0
    assert work(worker_id="other", now=last_renewal + timedelta(seconds=LEASE_SECONDS + 0.001)) == 1
    job = load_job(queued.id)
    assert (job.state, job.error_code) == ("needs_decision", "print_unconfirmed")
    assert desk_cases() == [("print_unconfirmed", queued.id)]


def test_a_worker_that_loses_its_lease_mid_job_cuts_the_job_short(app, queue_job, load_job, patient, desk_cases):
    from registration.printing.worker import process_once

    queued = queue_job(PATIENT)
    patient.set_fault("stall", after_bytes=3000)
    started = time.monotonic()
    thread = threading.Thread(target=process_once, args=(app,), kwargs={"worker_id": "loser"})
    thread.start()
    try:
        patient.wait_for_job_bytes(3000)
        # Another worker holds the printer now (as after a frozen worker's lease lapsed): the loser's next
        # renewal fails and it must stop talking to the printer instead of sharing it.
        db.session.execute(sa.text("UPDATE printer_states SET leased_by = 'thief' WHERE name = :name"),
                           {"name": PATIENT})
        db.session.commit()
        thread.join(DEADLINE_SECONDS)
    finally:
        patient.set_fault(None)
    assert not thread.is_alive()
    assert time.monotonic() - started < LEASE_SECONDS  # cut at the next renewal, not after the 60 s io timeout
    job = load_job(queued.id)
    assert (job.state, job.error_code) == ("needs_decision", "print_unconfirmed")  # bytes went out: staff decide
    assert desk_cases() == [("print_unconfirmed", queued.id)]


def test_a_killed_workers_printer_is_taken_over_once_its_lease_lapses(queue_job, load_job, patient, start_worker,
                                                                    printer_state, desk_cases):
    interrupted = queue_job(PATIENT)
    patient.set_fault("stall", after_bytes=3000)  # takes 3000 bytes of the badge, then never answers
    doomed = start_worker("doomed")
    patient.wait_for_job_bytes(3000, timeout=DEADLINE_SECONDS)
    claimed_at = load_job(interrupted.id).claimed_at
    assert (load_job(interrupted.id).state, load_job(interrupted.id).claimed_by) == ("sending", "doomed")
    # The doomed worker renews its lease while the printer holds its job.
    wait_for(lambda: printer_state(PATIENT).lease_expires_at > claimed_at + timedelta(seconds=LEASE_SECONDS),
             "a renewal of the lease")
    doomed.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    doomed.wait(30)
    patient.set_fault(None)  # the printer is fine again; only the dead worker's lease stands in the way

    waiting = queue_job(PATIENT)
    start_worker("successor")
    job = wait_for(lambda: (j := load_job(waiting.id)).claimed_by == "successor" and j, "the successor's claim")
    blocked = time.monotonic() - killed
    wait_for(lambda: load_job(waiting.id).state == "printed", "the next badge to print")
    print(f"\nprinter blocked after its worker was killed: {blocked:.2f} s (lease {LEASE_SECONDS:.0f} s)")
    assert job.claimed_by == "successor"
    assert blocked < 10.0  # "free again within about 10 s"

    # The sweep that hands the interrupted job to staff may run in the successor's next pass: wait for it.
    stale = wait_for(lambda: (j := load_job(interrupted.id)).state != "sending" and j, "the interrupted job's sweep")
    assert (stale.state, stale.error_code) == ("needs_decision", "print_unconfirmed")
    assert "stopped while sending" in stale.last_error
    assert desk_cases() == [("print_unconfirmed", interrupted.id)]
    printed = [text for j in patient.wait_for_jobs(2) for image in j.images for text in decode_qr(image)]
    assert printed == [waiting.code]  # the interrupted badge was never sent again
    assert load_job(interrupted.id).payload["code"] == interrupted.code  # staff can still print it


def test_a_long_job_keeps_its_printer_while_its_worker_lives(queue_job, load_job, patient, start_worker,
                                                            desk_cases):
    slow, behind = queue_job(PATIENT), queue_job(PATIENT)
    patient.set_fault("slow")  # about 4 kB/s: the badge takes longer than a lease
    workers = [start_worker("first"), start_worker("second")]
    wait_for(lambda: load_job(behind.id).state == "printed", "both badges to print")
    job = load_job(slow.id)
    assert job.state == "printed"
    assert (job.printed_at - job.claimed_at).total_seconds() > LEASE_SECONDS + LEASE_RENEW_SECONDS
    assert all(w.poll() is None for w in workers)  # both workers were alive and polling all along
    # Never taken over: not handed to staff, and the badge behind it was sent only after it.
    assert desk_cases() == []
    assert db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "print_job.needs_decision")).first() \
        is None
    printed = [text for j in patient.wait_for_jobs(2) for image in j.images for text in decode_qr(image)]
    assert printed == [slow.code, behind.code]
