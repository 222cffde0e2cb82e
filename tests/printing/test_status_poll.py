"""Idle printers are asked how they are every STATUS_POLL_SECONDS, against the ESC/POS emulator (worker clock moved)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from registration.models import utcnow
from registration.printing.worker import STATUS_POLL_SECONDS

from .conftest import NETWORK_PRINTERS, PREVIEW_PRINTERS


def idle_passes(work, start, *, count: int = len(NETWORK_PRINTERS) + 1):
    """Idle worker passes, a second apart from ``start`` (one printer is asked per idle pass)."""
    for n in range(count):
        work(now=start + timedelta(seconds=n))


def test_every_printer_is_asked_even_one_that_never_had_a_job(work, emulators, printer_state):
    idle_passes(work, utcnow())
    assert all(printer_state(name) is not None and printer_state(name).last_checked_at is not None
               for name in NETWORK_PRINTERS)


def test_a_printer_idle_since_its_last_job_is_asked_again_after_the_interval(work, queue_job, emulators,
                                                                             printer_state):
    queue_job("kiosk-2")
    start = utcnow()
    assert work(now=start) == 1
    assert (printer_state("kiosk-2").online, printer_state("kiosk-2").error_code) == (True, "")
    emulators["kiosk-2"].set_fault("paper_out")
    idle_passes(work, start + timedelta(seconds=1))
    assert printer_state("kiosk-2").error_code == ""  # asked no sooner than the interval
    idle_passes(work, start + timedelta(seconds=STATUS_POLL_SECONDS + 1))
    assert (printer_state("kiosk-2").online, printer_state("kiosk-2").error_code) == (False, "paper_out")
    emulators["kiosk-2"].set_fault(None)
    idle_passes(work, start + timedelta(seconds=2 * STATUS_POLL_SECONDS + 2))
    assert (printer_state("kiosk-2").online, printer_state("kiosk-2").error_code) == (True, "")


def test_a_busy_printer_does_not_keep_the_others_from_being_asked(work, queue_job, emulators, printer_state):
    emulators["kiosk-2"].set_fault("cover_open")
    for n in range(len(PREVIEW_PRINTERS) + len(NETWORK_PRINTERS) + 1):
        queue_job("preview-1")  # a job is due at every pass
        assert work(now=utcnow() + timedelta(seconds=n), passes=1) == 1
    assert (printer_state("kiosk-2").online, printer_state("kiosk-2").error_code) == (False, "cover_open")
