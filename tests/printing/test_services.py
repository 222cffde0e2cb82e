"""Staff decisions on print jobs (retry, cancel, mark printed), claims, leases and the printer read helper."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from registration.audit import Actor
from registration.errors import LanyardError
from registration.extensions import db
from registration.models import AuditEvent, utcnow
from registration.printing.models import JOB_STATES, PrintJob
from registration.printing.services import (
    LEASE_RENEW_SECONDS,
    LEASE_SECONDS,
    acquire_printer_lease,
    cancel_job,
    claim_next_job,
    ensure_printer_state,
    mark_job_printed,
    printer_states,
    release_printer_lease,
    renew_printer_lease,
    retry_job,
)

STAFF = Actor(type="staff", id=None, label="registrar@lanyard.test", role="registrar")


def put_in_state(job_id: int, state: str) -> PrintJob:
    """Force a job into ``state`` as the worker would have left it (payload gone once printed or cancelled)."""
    values = {"state": state, "error_code": "paper_out" if state in ("held", "failed") else ""}
    if state in ("printed", "cancelled"):
        values["payload"] = sa.null()
    if state == "held":
        values["held_since"] = utcnow()
    db.session.execute(sa.update(PrintJob).where(PrintJob.id == job_id).values(**values))
    db.session.commit()
    return db.session.get(PrintJob, job_id)


def audit_actions(job_id: int) -> list[str]:
    return list(db.session.execute(
        sa.select(AuditEvent.action).where(AuditEvent.target_type == "PrintJob", AuditEvent.target_id == job_id)
        .order_by(AuditEvent.id)
    ).scalars())


@pytest.mark.parametrize("state, allowed", [
    ("queued", False), ("sending", False), ("printed", False), ("held", True), ("failed", True),
    ("needs_decision", True), ("cancelled", False),
])
def test_retry_job_only_from_held_failed_or_needs_decision(queue_job, state, allowed):
    queued = queue_job()
    job = put_in_state(queued.id, state)
    if not allowed:
        with pytest.raises(LanyardError) as refused:
            retry_job(job, actor=STAFF)
        assert refused.value.code == "job_not_retryable"
        assert job.state == state
        return
    retry_job(job, actor=STAFF)
    db.session.commit()
    assert (job.state, job.attempts, job.error_code, job.held_since) == ("queued", 0, "", None)
    assert job.payload["code"] == queued.code
    assert audit_actions(job.id) == ["print_job.retry"]


@pytest.mark.parametrize("state, allowed", [
    ("queued", True), ("sending", False), ("printed", False), ("held", True), ("failed", True),
    ("needs_decision", True), ("cancelled", False),
])
def test_cancel_job_drops_the_badge_code(queue_job, state, allowed):
    job = put_in_state(queue_job().id, state)
    if not allowed:
        with pytest.raises(LanyardError) as refused:
            cancel_job(job, actor=STAFF, reason="duplicate")
        assert refused.value.code == "job_not_retryable"
        return
    cancel_job(job, actor=STAFF, reason="attendee left")
    db.session.commit()
    assert (job.state, job.payload) == ("cancelled", None)
    assert db.session.execute(sa.select(PrintJob.payload.is_(None)).where(PrintJob.id == job.id)).scalar()
    assert audit_actions(job.id) == ["print_job.cancel"]


@pytest.mark.parametrize("reason", ["", "   "])
def test_cancel_job_needs_a_reason(queue_job, reason):
    job = put_in_state(queue_job().id, "failed")
    with pytest.raises(LanyardError) as refused:
        cancel_job(job, actor=STAFF, reason=reason)
    assert refused.value.code == "reason_required"


@pytest.mark.parametrize("state", JOB_STATES)
def test_mark_job_printed_only_closes_unconfirmed_jobs(queue_job, state):
    job = put_in_state(queue_job().id, state)
    if state != "needs_decision":
        with pytest.raises(LanyardError) as refused:
            mark_job_printed(job, actor=STAFF)
        assert refused.value.code == "job_not_retryable"
        return
    mark_job_printed(job, actor=STAFF)
    db.session.commit()
    assert (job.state, job.payload) == ("printed", None)
    assert job.printed_at is not None
    assert audit_actions(job.id) == ["print_job.mark_printed"]


def test_retry_job_can_move_the_job_to_another_printer(queue_job, settings):
    job = put_in_state(queue_job("kiosk-2").id, "failed")
    retry_job(job, actor=STAFF, printer_name="desk", settings=settings)
    assert (job.state, job.printer_name) == ("queued", "desk")
    with pytest.raises(LanyardError) as refused:
        retry_job(put_in_state(job.id, "failed"), actor=STAFF, printer_name="nowhere", settings=settings)
    assert refused.value.code == "printer_unknown"


def test_a_claimed_job_cannot_be_claimed_again(queue_job):
    queued = queue_job()
    now = utcnow()
    first = claim_next_job("kiosk-1", worker_id="a", now=now)
    db.session.commit()
    assert first is not None and first.id == queued.id and first.payload["code"] == queued.code
    assert first.job_name == f"job-{queued.id:06d}-000001"
    assert claim_next_job("kiosk-1", worker_id="b", now=now) is None
    assert db.session.get(PrintJob, queued.id).claimed_by == "a"


def test_a_job_is_not_claimed_before_its_next_attempt(queue_job):
    queued = queue_job()
    later = utcnow() + timedelta(seconds=30)
    db.session.execute(sa.update(PrintJob).where(PrintJob.id == queued.id).values(next_attempt_at=later))
    db.session.commit()
    assert claim_next_job("kiosk-1", worker_id="a", now=utcnow()) is None
    assert claim_next_job("kiosk-1", worker_id="a", now=later).id == queued.id


def test_printer_lease_is_exclusive_until_released_or_expired(app, settings):
    ensure_printer_state("kiosk-1")
    ensure_printer_state("kiosk-1")  # a second worker creating the same row is harmless
    now = utcnow()
    seconds = LEASE_SECONDS
    assert acquire_printer_lease("kiosk-1", worker_id="a", now=now, seconds=seconds)
    assert acquire_printer_lease("kiosk-1", worker_id="a", now=now, seconds=seconds)  # renewal
    assert not acquire_printer_lease("kiosk-1", worker_id="b", now=now, seconds=seconds)
    assert acquire_printer_lease("kiosk-1", worker_id="b", now=now + timedelta(seconds=seconds + 1), seconds=seconds)
    release_printer_lease("kiosk-1", worker_id="a")  # not a's any more: changes nothing
    assert not acquire_printer_lease("kiosk-1", worker_id="a", now=now + timedelta(seconds=seconds + 2),
                                     seconds=seconds)
    release_printer_lease("kiosk-1", worker_id="b")
    assert acquire_printer_lease("kiosk-1", worker_id="a", now=now, seconds=seconds)
    db.session.commit()


def test_renewing_a_lease_extends_it_but_never_takes_it_back(app):
    ensure_printer_state("kiosk-1")
    now = utcnow()
    assert acquire_printer_lease("kiosk-1", worker_id="a", now=now, seconds=LEASE_SECONDS)
    assert renew_printer_lease("kiosk-1", worker_id="a", now=now + timedelta(seconds=LEASE_SECONDS - 1))
    lapsed_without_renewal = now + timedelta(seconds=LEASE_SECONDS + 1)
    assert not acquire_printer_lease("kiosk-1", worker_id="b", now=lapsed_without_renewal, seconds=LEASE_SECONDS)
    later = now + timedelta(seconds=2 * LEASE_SECONDS)
    assert acquire_printer_lease("kiosk-1", worker_id="b", now=later, seconds=LEASE_SECONDS)  # a stopped renewing
    assert not renew_printer_lease("kiosk-1", worker_id="a", now=later)
    assert not acquire_printer_lease("kiosk-1", worker_id="a", now=later, seconds=LEASE_SECONDS)
    db.session.commit()


def test_the_lease_is_short_and_renewed_several_times_within_it():
    assert LEASE_SECONDS <= 10  # a killed worker's printer is free again within seconds
    assert LEASE_SECONDS >= 3 * LEASE_RENEW_SECONDS  # a late or failed renewal has two more chances


def test_printer_states_lists_every_configured_printer(queue_job, settings):
    put_in_state(queue_job("kiosk-2").id, "held")
    put_in_state(queue_job("kiosk-2").id, "needs_decision")
    queue_job("desk")
    states = printer_states(settings)
    assert set(states) == set(settings.printers)
    assert (states["kiosk-2"].held, states["kiosk-2"].needs_staff, states["kiosk-2"].attention) == (1, 1, True)
    assert (states["desk"].queued, states["desk"].online, states["desk"].attention) == (1, None, False)
    assert states["kiosk-1"].fallback == "desk" and states["kiosk-2"].fallback is None


def test_hold_and_backoff_defaults():
    from registration.printing.services import DEFAULT_HOLD_SECONDS, RETRY_MAX_SECONDS, hold_seconds, retry_delay

    assert hold_seconds({}) == hold_seconds(None) == DEFAULT_HOLD_SECONDS == 60
    assert hold_seconds({"hold_seconds": 0.0}) == 0
    delays = [retry_delay(n).total_seconds() for n in range(1, 8)]
    assert delays == sorted(delays) and delays[0] == 0.5 and delays[-1] == RETRY_MAX_SECONDS


def test_queue_keys_are_not_handed_to_the_printer_library(settings):
    from registration.printing.services import printer_options_for_backend

    options = printer_options_for_backend(settings.printers["kiosk-1"])
    assert "fallback" not in options and "hold_seconds" not in options and options["backend"] == "network"
