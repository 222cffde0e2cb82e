"""The worker against real printer emulators on loopback: what prints, what waits, what goes to the desk."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from registration.codes import hash_code
from registration.extensions import db
from registration.models import AuditEvent, utcnow
from registration.printing.models import Badge, PrintJob
from registration.printing.services import LEASE_SECONDS, claim_next_job, retry_job
from registration.audit import Actor
from tests.helpers import decode_qr

from .conftest import NETWORK_PRINTERS

STAFF = Actor(type="staff", label="registrar@lanyard.test", role="registrar")


def qr_codes(received) -> list[str]:
    """The badge codes decoded from the raster images an emulator received."""
    return [text for job in received for image in job.images for text in decode_qr(image)]


def later(seconds: float):
    return utcnow() + timedelta(seconds=seconds)


def test_printed_badge_carries_the_issued_code_and_the_code_is_then_forgotten(queue_job, work, load_job, emulators,
                                                                                printer_state, desk_cases):
    queued = queue_job("kiosk-1")
    assert work() == 1
    received = emulators["kiosk-1"].wait_for_jobs(1)
    assert len(received) == 1 and received[0].cut
    assert qr_codes(received) == [queued.code]
    job = load_job(queued.id)
    assert (job.state, job.payload, job.attempts, job.error_code) == ("printed", None, 1, "")
    assert job.printed_at is not None
    assert db.session.get(Badge, job.badge_id).code_hash == hash_code(queued.code)
    state = printer_state("kiosk-1")
    assert (state.online, state.error_code, state.leased_by) == (True, "", "")
    assert state.last_success_at is not None and state.last_checked_at is not None
    assert desk_cases() == []
    assert work() == 0 and len(emulators["kiosk-1"].jobs) == 1  # printed once, never again


def test_preview_printer_writes_one_png_per_job(queue_job, work, load_job, preview_dir):
    queued = queue_job("preview-1")
    assert work() == 1
    files = sorted((preview_dir / "preview-1").glob("*.png"))
    assert [f.name for f in files] == [f"job-{queued.id:06d}-000001.png"]
    assert decode_qr(files[0].read_bytes()) == [queued.code]
    assert load_job(queued.id).state == "printed"


#: fault -> (job state, job error_code, printer online, printer error_code, desk case reason, what got printed)
FAULTS = [
    ("offline", "held", "printer_offline", False, "printer_offline", None, 0),
    ("refuse", "held", "printer_offline", False, "printer_offline", None, 0),
    ("paper_out", "held", "paper_out", False, "paper_out", None, 0),
    ("cover_open", "held", "cover_open", False, "cover_open", None, 0),
    ("silent", "held", "status_unknown", None, "status_unknown", None, 0),
    ("near_end", "printed", "", True, "", None, 1),
]


@pytest.mark.parametrize("fault, state, job_error, online, printer_error, case, printed", FAULTS)
def test_printer_not_ready_holds_the_job_until_it_is(queue_job, work, load_job, emulators, printer_state,
                                                     desk_cases, fault, state, job_error, online, printer_error,
                                                     case, printed):
    emulator = emulators["kiosk-2"]
    queued = queue_job("kiosk-2")
    emulator.set_fault(fault)
    work()
    job = load_job(queued.id)
    assert (job.state, job.error_code) == (state, job_error)
    stored = printer_state("kiosk-2")
    assert (stored.online, stored.error_code) == (online, printer_error)
    assert desk_cases() == []
    assert len([j for j in emulator.jobs if j.images]) == printed
    if fault == "near_end":
        assert stored.paper_near_end is True
        assert job.payload is None
        return
    assert job.payload["code"] == queued.code and job.held_since is not None
    assert job.next_attempt_at > job.held_since
    assert work(now=job.next_attempt_at - timedelta(milliseconds=1)) == 0  # backing off until next_attempt_at
    emulator.set_fault(None)
    assert work(now=later(10)) == 1
    assert qr_codes(emulator.wait_for_jobs(1)) == [queued.code]
    job = load_job(queued.id)
    assert (job.state, job.payload, job.error_code) == ("printed", None, "")
    assert (printer_state("kiosk-2").online, printer_state("kiosk-2").error_code) == (True, "")
    assert work(now=later(20)) == 0 and len([j for j in emulator.jobs if j.images]) == 1


@pytest.mark.parametrize("fault", ["drop_after", "stall"])
def test_outcome_unknown_after_bytes_went_out_waits_for_staff(queue_job, work, load_job, emulators, printer_state,
                                                              desk_cases, fault):
    emulator = emulators["kiosk-2"]
    queued = queue_job("kiosk-2")
    emulator.set_fault(fault, after_bytes=2000)
    work()
    job = load_job(queued.id)
    assert (job.state, job.error_code) == ("needs_decision", "print_unconfirmed")
    assert job.payload["code"] == queued.code  # kept: staff may decide to print it again
    assert desk_cases() == [("print_unconfirmed", queued.id)]
    assert (printer_state("kiosk-2").online, printer_state("kiosk-2").error_code) == (None, "print_unconfirmed")
    received_before = len(emulator.jobs)
    emulator.set_fault(None)
    assert work(now=later(3600)) == 0  # never reprinted by itself, however long it waits
    assert len(emulator.jobs) == received_before
    retry_job(load_job(queued.id), actor=STAFF)  # staff checked: nothing came out
    db.session.commit()
    assert work() == 1
    assert qr_codes([j for j in emulator.wait_for_jobs(received_before + 1)][received_before:]) == [queued.code]
    assert load_job(queued.id).state == "printed"


def test_paper_out_reported_after_the_bytes_went_out_is_never_resent(queue_job, work, load_job, emulators,
                                                                     desk_cases):
    emulator = emulators["kiosk-2"]
    queued, behind = queue_job("kiosk-2"), queue_job("kiosk-2")
    emulator.set_fault("paper_out_after")  # ready before the job; out of paper once the job is in
    work()
    job = load_job(queued.id)
    assert (job.state, job.error_code) == ("needs_decision", "print_unconfirmed")
    assert job.last_error.startswith("paper_out: ")
    assert desk_cases() == [("print_unconfirmed", queued.id)]
    assert qr_codes(emulator.wait_for_jobs(1)) == [queued.code]  # its bytes went out: it may be on the tray
    assert (load_job(behind.id).state, load_job(behind.id).error_code) == ("held", "paper_out")
    emulator.set_fault(None)  # the roll is changed
    work(now=later(10))
    assert load_job(behind.id).state == "printed"  # the job behind it waited for paper, then printed
    work(now=later(3600))
    assert load_job(queued.id).state == "needs_decision"  # still waiting for staff, however long it waits
    assert qr_codes(emulator.jobs) == [queued.code, behind.code]  # the stale badge was not sent a second time


def test_jobs_behind_a_faulty_printer_wait_with_it_and_print_in_order(queue_job, work, load_job, emulators):
    emulator = emulators["kiosk-2"]
    emulator.set_fault("paper_out")
    jobs = [queue_job("kiosk-2") for _ in range(3)]
    work()
    assert [load_job(j.id).state for j in jobs] == ["held"] * 3
    assert len(emulator.jobs) == 0
    emulator.set_fault(None)
    assert work(now=later(10)) == 3
    assert qr_codes(emulator.wait_for_jobs(3)) == [j.code for j in jobs]


def test_held_job_moves_to_the_fallback_printer_after_hold_seconds(queue_job, work, load_job, emulators,
                                                                   desk_cases):
    emulators["kiosk-1"].set_fault("paper_out")
    queued = queue_job("kiosk-1")
    work()
    held_since = load_job(queued.id).held_since
    assert load_job(queued.id).state == "held"
    work(now=held_since + timedelta(seconds=59))  # retried on its own printer, still out of paper
    assert (load_job(queued.id).state, load_job(queued.id).printer_name) == ("held", "kiosk-1")
    assert work(now=held_since + timedelta(seconds=60)) >= 2  # moved, then printed on the fallback
    job = load_job(queued.id)
    assert (job.state, job.printer_name, job.moved_from, job.payload) == ("printed", "desk", "kiosk-1", None)
    assert qr_codes(emulators["desk"].wait_for_jobs(1)) == [queued.code]
    assert [j for j in emulators["kiosk-1"].jobs if j.images] == []
    moved = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "print_job.moved")).scalar_one()
    assert (moved.target_id, moved.details["from_printer"], moved.details["to_printer"]) == (queued.id, "kiosk-1",
                                                                                            "desk")
    assert desk_cases() == []


@pytest.mark.parametrize("hold_seconds", [0])
def test_hold_seconds_zero_moves_at_once(queue_job, work, load_job, emulators):
    emulators["kiosk-1"].set_fault("offline")
    queued = queue_job("kiosk-1")
    work()
    job = load_job(queued.id)
    assert (job.state, job.printer_name) == ("printed", "desk")
    assert qr_codes(emulators["desk"].wait_for_jobs(1)) == [queued.code]


def test_held_job_without_fallback_is_escalated_to_the_desk(queue_job, work, load_job, emulators, desk_cases):
    emulators["kiosk-2"].set_fault("cover_open")
    queued = queue_job("kiosk-2")
    work()
    work(now=later(61))
    job = load_job(queued.id)
    assert (job.state, job.error_code, job.printer_name) == ("failed", "cover_open", "kiosk-2")
    assert job.payload["code"] == queued.code  # the desk can still print it
    assert desk_cases() == [("print_failed", queued.id)]
    assert work(now=later(3600)) == 0 and desk_cases() == [("print_failed", queued.id)]


@pytest.mark.parametrize("hold_seconds", [0])
def test_a_job_moves_once_then_goes_to_the_desk(queue_job, work, load_job, emulators, desk_cases):
    emulators["kiosk-1"].set_fault("paper_out")
    emulators["desk"].set_fault("paper_out")
    queued = queue_job("kiosk-1")
    work()
    work(now=later(1))
    job = load_job(queued.id)
    assert (job.state, job.printer_name, job.moved_from) == ("failed", "desk", "kiosk-1")
    assert desk_cases() == [("print_failed", queued.id)]


def test_stale_sending_job_goes_to_staff_not_back_to_the_printer(queue_job, work, load_job, emulators, settings,
                                                                 desk_cases):
    queued = queue_job("kiosk-1")
    claim = claim_next_job("kiosk-1", worker_id="crashed-worker", now=utcnow())
    db.session.commit()
    assert claim.id == queued.id
    lease = timedelta(seconds=LEASE_SECONDS)
    assert work(now=claim.claimed_at + lease - timedelta(seconds=1)) == 0
    assert load_job(queued.id).state == "sending"
    assert work(now=claim.claimed_at + lease + timedelta(seconds=1)) == 1
    job = load_job(queued.id)
    assert (job.state, job.error_code) == ("needs_decision", "print_unconfirmed")
    assert desk_cases() == [("print_unconfirmed", queued.id)]
    assert emulators["kiosk-1"].jobs == []


def test_a_printer_leased_by_another_worker_is_left_alone(queue_job, work, load_job, emulators, settings):
    from registration.printing.services import acquire_printer_lease, ensure_printer_state

    queued = queue_job("kiosk-1")
    ensure_printer_state("kiosk-1")
    assert acquire_printer_lease("kiosk-1", worker_id="other", now=utcnow(),
                                 seconds=LEASE_SECONDS)
    db.session.commit()
    assert work(worker_id="me") == 0
    assert load_job(queued.id).state == "queued"
    assert work(worker_id="me", now=later(LEASE_SECONDS + 1)) == 1
    assert load_job(queued.id).state == "printed"


def test_job_for_a_printer_no_longer_configured_goes_to_the_desk(queue_job, work, load_job, desk_cases):
    queued = queue_job("kiosk-1")
    db.session.execute(sa.update(PrintJob).where(PrintJob.id == queued.id).values(printer_name="removed"))
    db.session.commit()
    assert work() == 1
    assert (load_job(queued.id).state, load_job(queued.id).error_code) == ("failed", "printer_unknown")
    assert desk_cases() == [("print_failed", queued.id)]


def test_job_for_a_printer_the_library_refuses_goes_to_the_desk(settings, emulators, queue_job, work, load_job,
                                                                desk_cases):
    # Startup refuses such a printer (see test_settings); a worker must still survive one, e.g. a
    # printer table changed in memory or a profile its python-escpos no longer knows.
    settings.printers["broken"] = {"backend": "network", "host": "127.0.0.1", "port": emulators["desk"].port,
                                   "profile": "NoSuchModel"}
    queued = queue_job("broken")
    assert work() == 1
    job = load_job(queued.id)
    assert (job.state, job.error_code) == ("failed", "print_failed")
    assert job.last_error.startswith("printer_config: ")
    assert desk_cases() == [("print_failed", queued.id)]


def test_idle_worker_keeps_the_printer_states_current(work, emulators, printer_state):
    emulators["kiosk-2"].set_fault("paper_out")
    emulators["desk"].set_fault("near_end")
    start = utcnow()
    for n in range(len(NETWORK_PRINTERS) + 1):  # one printer per idle pass
        work(now=start + timedelta(seconds=n))
    assert (printer_state("kiosk-1").online, printer_state("kiosk-1").error_code) == (True, "")
    assert (printer_state("kiosk-2").online, printer_state("kiosk-2").error_code) == (False, "paper_out")
    assert (printer_state("desk").online, printer_state("desk").paper_near_end) == (True, True)
    assert printer_state("preview-1") is None  # a preview printer has no status to ask for
    checked = printer_state("kiosk-1").last_checked_at
    work(now=start + timedelta(seconds=10))
    assert printer_state("kiosk-1").last_checked_at == checked  # not asked again within STATUS_POLL_SECONDS
    assert all(emulator.jobs == [] for emulator in emulators.values())  # status queries are not jobs


def test_worker_thread_prints_until_stopped(app, queue_job, load_job):
    import threading
    import time

    from registration.printing.worker import start_worker_thread

    stop = threading.Event()
    thread = start_worker_thread(app, stop=stop)
    try:
        queued = queue_job("preview-1")
        deadline = time.monotonic() + 60
        while load_job(queued.id).state != "printed" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert load_job(queued.id).state == "printed"
    finally:
        stop.set()
        thread.join(30)
    assert thread.daemon and not thread.is_alive()
