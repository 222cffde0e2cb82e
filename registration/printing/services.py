"""Print-queue operations: issue a badge with its print job, and the job's life after that."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..audit import Actor, record, record_target
from ..codes import hash_code, new_code
from ..errors import LanyardError
from ..extensions import db
from ..models import Registration, UTCDateTime, utcnow
from ..search import code_prefix
from ..settings import Settings
from ..checkin.models import CheckIn
from ..desk.cases import PRINT_REASONS, automatic_resolution, open_desk_case, resolve_cases
from .models import CLAIMABLE_STATES, Badge, PrinterState, PrintJob

log = logging.getLogger(__name__)


def _payload(registration, serial: int, code: str, settings: Settings) -> dict:
    """What the worker needs to render the badge (the fields of ``printers.BadgeData``)."""
    rtype = settings.registration_types[registration.type_name]
    return {
        "badge_name": registration.badge_name,
        "title": registration.title,
        "organization": registration.organization,
        "band_text": rtype.band_text,
        "band_color": rtype.band_color,
        "code": code,
        "event_name": settings.event.name,
        "serial": f"#{serial:06d}",
    }


@dataclass(frozen=True)
class IssuedBadge:
    """A badge just issued and its queued print job, as plain values (no ORM objects are loaded for it)."""

    badge_id: int
    serial: int
    job_id: int
    printer_name: str


_badges = Badge.__table__
# Built once: the check-in path runs these for every badge.
_INSERT_BADGE = sa.insert(_badges).returning(_badges.c.id)
_INSERT_JOB = sa.insert(PrintJob.__table__).returning(PrintJob.__table__.c.id)


def queue_badge(registration, *, printer_name: str, settings: Settings, actor: Actor, reason: str = "check-in",
                void_previous: bool = True) -> IssuedBadge:
    """Create a badge with a fresh badge code and queue its print job (in the caller's transaction).

    ``registration`` is a :class:`Registration` or any row with its ``id``, ``event_id``, ``type_name``,
    ``badge_name``, ``title`` and ``organization``. Any earlier valid badge of the registration is
    voided, so a lost badge stops opening doors; a caller that knows there is none (a first check-in)
    passes ``void_previous=False`` to skip that statement.

    :raise LanyardError: ``printer_unknown``.
    """
    if printer_name not in settings.printers:
        raise LanyardError("printer_unknown", f"no printer {printer_name!r} in the configuration")
    now = utcnow()
    if void_previous:
        # ORM-enabled, so a Badge already loaded in the session sees its new status.
        db.session.execute(
            sa.update(Badge)
            .where(Badge.registration_id == registration.id, Badge.status == "valid")
            .values(status="void", void_reason=f"replaced: {reason}"[:200], voided_at=now)
        )
    code = new_code("badge")
    event_id = registration.event_id
    # The serial is the badge's id, from the database's sequence: no lock, no clash between check-ins.
    conn = db.session.connection()  # Core statements on the session's connection skip the ORM's execute path
    badge_id = conn.execute(_INSERT_BADGE, {
        "event_id": event_id, "registration_id": registration.id, "code_hash": hash_code(code),
        "code_prefix": code_prefix(code), "status": "valid", "void_reason": "", "voided_at": None, "created_at": now,
        "issued_by": actor.label[:254], "reason": reason[:32],
    }).scalar_one()
    job_id = conn.execute(_INSERT_JOB, {
        "event_id": event_id, "badge_id": badge_id, "printer_name": printer_name, "state": "queued",
        "payload": _payload(registration, badge_id, code, settings), "attempts": 0, "next_attempt_at": now,
        "claimed_by": "", "claimed_at": None, "held_since": None, "moved_from": "", "last_error": "",
        "error_code": "", "created_at": now, "updated_at": now, "printed_at": None,
    }).scalar_one()
    record_target(actor, "badge.issue", "Registration", registration.id, event_id=event_id, badge_id=badge_id,
                  serial=badge_id, print_job_id=job_id, printer=printer_name, reason=reason)
    return IssuedBadge(badge_id=badge_id, serial=badge_id, job_id=job_id, printer_name=printer_name)


def issue_badge(registration: Registration, *, printer_name: str, settings: Settings, actor: Actor,
                reason: str = "check-in") -> PrintJob:
    """Create a badge with a fresh badge code and queue its print job (in the caller's transaction).

    Any earlier valid badge of the registration is voided, so a lost badge stops opening doors.

    :raise LanyardError: ``printer_unknown``.
    """
    issued = queue_badge(registration, printer_name=printer_name, settings=settings, actor=actor, reason=reason)
    return db.session.get(PrintJob, issued.job_id)


# --- the queue ---------------------------------------------------------------------------------------------
#
# Every function below only flushes: the worker loop (or the desk route) commits once per unit of work, and no
# printer I/O ever happens between a claim and its commit. Rules that must hold across several workers are
# conditional UPDATEs whose rowcount says who won, on SQLite and PostgreSQL alike.

#: Printer options that belong to the queue, not to the printer backend.
QUEUE_OPTIONS = ("fallback", "hold_seconds")
#: How long a held job waits for its printer when ``hold_seconds`` is not configured.
DEFAULT_HOLD_SECONDS = 60.0
#: A backstop to hold_seconds (e.g. against a skewed clock): a job tried this often on one printer moves on.
MAX_ATTEMPTS = 100
#: Backoff between attempts of a held job: 0.5 s, 1 s, 2 s, 4 s, then every 5 s (a kiosk user is waiting).
RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 5.0
#: States staff may send back to the queue, and states they may cancel.
RETRYABLE_STATES = ("held", "failed", "needs_decision")
CANCELLABLE_STATES = ("queued", "held", "failed", "needs_decision")

_jobs = PrintJob.__table__
_printer_states = PrinterState.__table__


@dataclass(frozen=True)
class ClaimedJob:
    """A job a worker has claimed (state ``sending``): plain values, usable after the claim's commit."""

    id: int
    event_id: int
    badge_id: int
    printer_name: str
    payload: dict
    attempts: int
    claimed_at: datetime
    held_since: datetime | None
    moved_from: str

    @property
    def job_name(self) -> str:
        """The name the printer backend gives the job (the preview backend's file name)."""
        serial = str(self.payload.get("serial", "")).lstrip("#") or "0"
        return f"job-{self.id:06d}-{serial}"


@dataclass(frozen=True)
class PrinterSnapshot:
    """What the kiosk and the desk show about one configured printer."""

    name: str
    backend: str
    fallback: str | None
    online: bool | None
    paper_near_end: bool
    error_code: str
    last_error: str
    last_checked_at: datetime | None
    last_success_at: datetime | None
    queued: int
    held: int
    needs_staff: int  # failed or needs_decision

    @property
    def attention(self) -> bool:
        """The printer needs a person: it is not ready, or it has jobs waiting on it or on staff."""
        return self.online is False or bool(self.error_code) or self.held > 0 or self.needs_staff > 0


def hold_seconds(options: dict | None) -> float:
    """How long a held job waits for this printer before moving to its fallback or to the desk."""
    return float((options or {}).get("hold_seconds", DEFAULT_HOLD_SECONDS))


#: A printer lease lasts this long unless renewed. The worker renews it every LEASE_RENEW_SECONDS while it talks
#: to the printer, however long a job takes; a worker that stops renewing (killed, frozen) frees its printer
#: within LEASE_SECONDS, and its ``sending`` job is then handed to staff (bytes may have gone out).
LEASE_SECONDS = 8.0
#: How often a worker renews the lease of the printer it is talking to: three chances before the lease lapses.
LEASE_RENEW_SECONDS = 2.0


def retry_delay(attempts: int) -> timedelta:
    """Backoff before the next attempt of a job that waits for its printer."""
    return timedelta(seconds=min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS))


def printer_options_for_backend(options: dict) -> dict:
    """The printer's options without the queue's own keys (what ``printers.make_printer`` is given)."""
    return {key: value for key, value in options.items() if key not in QUEUE_OPTIONS}


def ensure_printer_state(name: str) -> None:
    """Create the printer's state row if it does not exist yet; safe when several workers race."""
    dialect = db.session.get_bind().dialect.name
    values = {"name": name, "online": None, "paper_near_end": False, "last_error": "", "error_code": "",
              "leased_by": ""}
    if dialect in ("sqlite", "postgresql"):
        insert = (sqlite_insert if dialect == "sqlite" else pg_insert)(_printer_states)
        db.session.execute(insert.values(**values).on_conflict_do_nothing(index_elements=["name"]))
        return
    if db.session.get(PrinterState, name) is None:  # other databases: a savepoint absorbs a lost race
        try:
            with db.session.begin_nested():
                db.session.execute(sa.insert(_printer_states).values(**values))
        except sa.exc.IntegrityError:
            pass


def acquire_printer_lease(name: str, *, worker_id: str, now: datetime, seconds: float) -> bool:
    """Take (or renew) the right to send to printer ``name``; False when another worker holds it."""
    result = db.session.execute(
        sa.update(_printer_states)
        .where(_printer_states.c.name == name,
               sa.or_(_printer_states.c.leased_by == "", _printer_states.c.leased_by == worker_id,
                      _printer_states.c.lease_expires_at.is_(None), _printer_states.c.lease_expires_at < now))
        .values(leased_by=worker_id, lease_expires_at=now + timedelta(seconds=seconds))
    )
    return result.rowcount == 1


def renew_printer_lease(name: str, *, worker_id: str, now: datetime, seconds: float = LEASE_SECONDS) -> bool:
    """Extend this worker's lease on printer ``name``; False when it is no longer this worker's (never taken back)."""
    result = db.session.execute(
        sa.update(_printer_states)
        .where(_printer_states.c.name == name, _printer_states.c.leased_by == worker_id)
        .values(lease_expires_at=now + timedelta(seconds=seconds))
    )
    return result.rowcount == 1


def release_printer_lease(name: str, *, worker_id: str) -> None:
    """Give printer ``name`` back to the other workers."""
    db.session.execute(
        sa.update(_printer_states)
        .where(_printer_states.c.name == name, _printer_states.c.leased_by == worker_id)
        .values(leased_by="", lease_expires_at=None)
    )


def due_printers(*, now: datetime) -> list[str]:
    """Names of the printers that have a job waiting to be sent now."""
    return list(db.session.execute(
        sa.select(_jobs.c.printer_name).distinct()
        .where(_jobs.c.state.in_(CLAIMABLE_STATES), _jobs.c.next_attempt_at <= now)
        .order_by(_jobs.c.printer_name)
    ).scalars())


def claim_next_job(printer_name: str, *, worker_id: str, now: datetime) -> ClaimedJob | None:
    """Atomically move the oldest due job of ``printer_name`` to ``sending`` for this worker.

    The UPDATE's own WHERE decides the race: a job another worker claimed first no longer matches, so it
    is never sent twice. The caller must commit before any printer I/O.
    """
    for _ in range(5):  # a lost race (staff cancelled it, another worker's stale lease) just means: try the next
        job_id = db.session.execute(
            sa.select(_jobs.c.id)
            .where(_jobs.c.printer_name == printer_name, _jobs.c.state.in_(CLAIMABLE_STATES),
                   _jobs.c.next_attempt_at <= now)
            .order_by(_jobs.c.id).limit(1)
        ).scalar()
        if job_id is None:
            return None
        row = db.session.execute(
            sa.update(_jobs)
            .where(_jobs.c.id == job_id, _jobs.c.printer_name == printer_name,
                   _jobs.c.state.in_(CLAIMABLE_STATES), _jobs.c.next_attempt_at <= now)
            .values(state="sending", claimed_by=worker_id, claimed_at=now, attempts=_jobs.c.attempts + 1,
                    updated_at=now)
            .returning(_jobs.c.id, _jobs.c.event_id, _jobs.c.badge_id, _jobs.c.payload, _jobs.c.attempts,
                       _jobs.c.held_since, _jobs.c.moved_from)
        ).first()
        if row is not None:
            return ClaimedJob(id=row.id, event_id=row.event_id, badge_id=row.badge_id, printer_name=printer_name,
                              payload=dict(row.payload or {}), attempts=row.attempts, claimed_at=now,
                              held_since=row.held_since, moved_from=row.moved_from)
    return None


def record_printer_state(name: str, *, now: datetime, online: bool | None, error_code: str = "",
                         message: str = "", paper_near_end: bool | None = None, success: bool = False) -> None:
    """Store what the last contact with printer ``name`` showed."""
    values = {"online": online, "error_code": error_code, "last_error": message[:200], "last_checked_at": now}
    if paper_near_end is not None:
        values["paper_near_end"] = paper_near_end
    if success:
        values["last_success_at"] = now
    db.session.execute(sa.update(_printer_states).where(_printer_states.c.name == name).values(**values))


def _mine(claim: ClaimedJob, worker_id: str):
    """WHERE clause: the job is still in flight under this worker's claim."""
    return sa.and_(_jobs.c.id == claim.id, _jobs.c.state == "sending", _jobs.c.claimed_by == worker_id,
                   _jobs.c.claimed_at == claim.claimed_at)


def record_printed(claim: ClaimedJob, *, worker_id: str, now: datetime) -> bool:
    """The printer confirmed the badge: the job is done and its badge code is no longer kept in clear.

    Also accepted when a stale-claim sweep had meanwhile handed the job to staff (``needs_decision``) and no one
    has acted on it yet: the badge did print, so saying so is the truth. False if the job was taken elsewhere.
    """
    result = db.session.execute(
        sa.update(_jobs)
        .where(_jobs.c.id == claim.id, _jobs.c.state.in_(("sending", "needs_decision")),
               _jobs.c.claimed_by == worker_id, _jobs.c.claimed_at == claim.claimed_at)
        .values(state="printed", payload=sa.null(), printed_at=now, error_code="", last_error="",
                held_since=None, updated_at=now)
    )
    if result.rowcount != 1:
        return False
    # A badge that failed before and printed now (a staff retry, a fallback printer) needs the desk no more.
    resolve_cases(actor=Actor.system("print-worker"), resolution=automatic_resolution("printed"), print_job_id=claim.id,
                  reasons=PRINT_REASONS, now=now)
    return True


def record_held(claim: ClaimedJob, *, worker_id: str, now: datetime, settings: Settings, error_code: str,
                message: str) -> str:
    """The printer was not ready and nothing was sent: wait for it (or move on once the hold is over).

    Every other job waiting for the same printer waits with it, so they are retried in order once it is
    ready, and each job leaves for the fallback after its own ``hold_seconds``. Returns the job's new state.
    """
    options = settings.printers.get(claim.printer_name)
    held_since = claim.held_since or now
    if (now - held_since).total_seconds() >= hold_seconds(options) or claim.attempts >= MAX_ATTEMPTS:
        state = _move_or_escalate(claim.id, _mine(claim, worker_id), printer_name=claim.printer_name,
                                  moved_from=claim.moved_from, settings=settings, now=now, error_code=error_code,
                                  message=message)
    else:
        result = db.session.execute(
            sa.update(_jobs).where(_mine(claim, worker_id))
            .values(state="held", error_code=error_code, last_error=message[:200], held_since=held_since,
                    next_attempt_at=now + retry_delay(claim.attempts), updated_at=now)
        )
        state = "held" if result.rowcount == 1 else ""
    retry_at = sa.literal(now + retry_delay(claim.attempts), UTCDateTime())
    db.session.execute(
        sa.update(_jobs)
        .where(_jobs.c.printer_name == claim.printer_name, _jobs.c.state.in_(CLAIMABLE_STATES),
               _jobs.c.id != claim.id)
        .values(state="held", error_code=error_code, last_error=message[:200],
                held_since=sa.func.coalesce(_jobs.c.held_since, now),
                next_attempt_at=sa.case((_jobs.c.next_attempt_at < retry_at, retry_at),
                                        else_=_jobs.c.next_attempt_at),
                updated_at=now)
    )
    return state


def record_unconfirmed(claim: ClaimedJob, *, worker_id: str, now: datetime, error_code: str, message: str) -> bool:
    """Bytes went out but the printer did not confirm the badge: staff decide; it is never reprinted by itself."""
    result = db.session.execute(
        sa.update(_jobs).where(_mine(claim, worker_id))
        .values(state="needs_decision", error_code="print_unconfirmed",
                last_error=f"{error_code}: {message}"[:200], updated_at=now)
    )
    if result.rowcount != 1:
        return False
    _open_case(claim.id, "print_unconfirmed",
               f"printer {claim.printer_name}: {error_code}: {message}. The badge may or may not have printed; "
               "check the printer, then mark it printed, retry it or cancel it.")
    record(Actor.system("print-worker"), "print_job.needs_decision", _job(claim.id),
           printer=claim.printer_name, error_code=error_code)
    return True


def record_failed(claim: ClaimedJob, *, worker_id: str, now: datetime, error_code: str, message: str) -> bool:
    """Nothing was sent and retrying cannot help (bad configuration, unprintable payload): escalate to the desk."""
    return _fail(claim.id, _mine(claim, worker_id), printer_name=claim.printer_name, event_id=claim.event_id,
                 now=now, error_code=error_code, message=message)


def _worker_alive(claimed_by, printer_name, now: datetime):
    """SQL: the worker that claimed a job still holds a live lease on the job's printer (it keeps renewing it)."""
    return sa.exists().where(_printer_states.c.name == printer_name, _printer_states.c.leased_by == claimed_by,
                             _printer_states.c.lease_expires_at >= now)


def recover_stale_jobs(*, now: datetime) -> int:
    """Hand to staff every ``sending`` job whose worker stopped answering: its printer lease lapsed unrenewed.

    A job claimed less than LEASE_SECONDS ago is never taken. Bytes may have gone out before the worker died,
    so the job is never resent by itself.
    """
    lapsed = sa.and_(_jobs.c.state == "sending", _jobs.c.claimed_at < now - timedelta(seconds=LEASE_SECONDS),
                     ~_worker_alive(_jobs.c.claimed_by, _jobs.c.printer_name, now))
    rows = db.session.execute(
        sa.select(_jobs.c.id, _jobs.c.event_id, _jobs.c.printer_name, _jobs.c.claimed_by, _jobs.c.claimed_at)
        .where(lapsed)
    ).all()
    recovered = 0
    for row in rows:
        # The same test again in the UPDATE: a worker that renewed its lease meanwhile keeps its job.
        result = db.session.execute(
            sa.update(_jobs)
            .where(_jobs.c.id == row.id, _jobs.c.claimed_at == row.claimed_at, lapsed)
            .values(state="needs_decision", error_code="print_unconfirmed",
                    last_error=f"worker {row.claimed_by} stopped while sending"[:200], updated_at=now)
        )
        if result.rowcount != 1:
            continue
        recovered += 1
        log.warning("print job %s: worker %s stopped while sending to %s: needs a staff decision", row.id,
                    row.claimed_by, row.printer_name)
        _open_case(row.id, "print_unconfirmed",
                   f"printer {row.printer_name}: the print worker stopped while sending this badge. It may or may "
                   "not have printed; check the printer, then mark it printed, retry it or cancel it.")
        record(Actor.system("print-worker"), "print_job.needs_decision", _job(row.id),
               printer=row.printer_name, error_code="worker_lost", worker=row.claimed_by)
    return recovered


def expire_held_jobs(settings: Settings, *, now: datetime) -> int:
    """Move every job held longer than its printer's ``hold_seconds`` to the fallback, or to the desk.

    Jobs whose printer is no longer configured go to the desk at once.
    """
    moved = 0
    rows = db.session.execute(
        sa.select(_jobs.c.id, _jobs.c.event_id, _jobs.c.state, _jobs.c.printer_name, _jobs.c.held_since,
                  _jobs.c.moved_from, _jobs.c.error_code, _jobs.c.last_error)
        .where(sa.or_(_jobs.c.state == "held",
                      sa.and_(_jobs.c.state == "queued",
                              _jobs.c.printer_name.not_in(list(settings.printers) or [""]))))
        .order_by(_jobs.c.id)
    ).all()
    for row in rows:
        options = settings.printers.get(row.printer_name)
        if options is None:
            where = sa.and_(_jobs.c.id == row.id, _jobs.c.state.in_(CLAIMABLE_STATES),
                            _jobs.c.printer_name == row.printer_name)
            moved += _fail(row.id, where, printer_name=row.printer_name, event_id=row.event_id, now=now,
                           error_code="printer_unknown",
                           message=f"no printer {row.printer_name!r} in the configuration")
        elif row.held_since is not None and (now - row.held_since).total_seconds() >= hold_seconds(options):
            where = sa.and_(_jobs.c.id == row.id, _jobs.c.state == "held", _jobs.c.printer_name == row.printer_name,
                            _jobs.c.held_since == row.held_since)
            moved += bool(_move_or_escalate(row.id, where, printer_name=row.printer_name, moved_from=row.moved_from,
                                            settings=settings, now=now, error_code=row.error_code or "print_failed",
                                            message=row.last_error))
    return moved


def _move_or_escalate(job_id: int, where, *, printer_name: str, moved_from: str, settings: Settings,
                      now: datetime, error_code: str, message: str) -> str:
    """Move a job its printer could not print to the printer's fallback (once), else fail it to the desk."""
    event_id = db.session.execute(sa.select(_jobs.c.event_id).where(_jobs.c.id == job_id)).scalar_one()
    fallback = (settings.printers.get(printer_name) or {}).get("fallback")
    if fallback and fallback in settings.printers and not moved_from:
        result = db.session.execute(
            sa.update(_jobs).where(where)
            .values(state="queued", printer_name=fallback, moved_from=printer_name, held_since=None, attempts=0,
                    next_attempt_at=now, claimed_by="", error_code="",
                    last_error=f"moved from {printer_name}: {error_code}: {message}"[:200], updated_at=now)
        )
        if result.rowcount != 1:
            return ""
        log.info("print job %s moved from printer %s to its fallback %s (%s)", job_id, printer_name, fallback,
                 error_code)
        record(Actor.system("print-worker"), "print_job.moved", _job(job_id), from_printer=printer_name,
               to_printer=fallback, error_code=error_code)
        return "queued"
    if _fail(job_id, where, printer_name=printer_name, event_id=event_id, now=now, error_code=error_code,
             message=message):
        return "failed"
    return ""


def _fail(job_id: int, where, *, printer_name: str, event_id: int, now: datetime, error_code: str,
          message: str) -> bool:
    """Mark a job failed (nothing was sent) and open a ``print_failed`` desk case for it."""
    result = db.session.execute(
        sa.update(_jobs).where(where)
        .values(state="failed", error_code=error_code, last_error=message[:200], claimed_by="", updated_at=now)
    )
    if result.rowcount != 1:
        return False
    log.warning("print job %s failed on printer %s (%s): escalated to the desk", job_id, printer_name, error_code)
    _open_case(job_id, "print_failed", f"printer {printer_name}: {error_code}: {message}. Nothing was printed; "
               "print the badge at the desk.")
    record(Actor.system("print-worker"), "print_job.failed", _job(job_id), printer=printer_name,
           error_code=error_code)
    return True


def _job(job_id: int) -> PrintJob:
    """The job as an ORM object, for the audit trail (the worker keeps none across its commits)."""
    return db.session.get(PrintJob, job_id)


def _open_case(job_id: int, reason: str, details: str) -> None:
    """Open a desk case for a job, naming its registration and the kiosk that checked the person in."""

    row = db.session.execute(
        sa.select(_jobs.c.event_id, Badge.registration_id, CheckIn.kiosk_id)
        .select_from(_jobs.join(Badge.__table__, Badge.id == _jobs.c.badge_id)
                     .outerjoin(CheckIn.__table__, CheckIn.badge_id == Badge.id))
        .where(_jobs.c.id == job_id)
    ).first()
    open_desk_case(event_id=row.event_id, reason=reason, actor=Actor.system("print-worker"),
                   registration_id=row.registration_id, kiosk_id=row.kiosk_id, print_job_id=job_id, details=details)


# --- staff decisions ----------------------------------------------------------------------------------------


def retry_job(job: PrintJob, *, actor: Actor, printer_name: str | None = None,
              settings: Settings | None = None) -> PrintJob:
    """Send a held, failed or unconfirmed job back to the queue (optionally to another printer).

    For an unconfirmed job this is the staff's decision that the badge did not come out.

    :raise LanyardError: ``job_not_retryable`` (printing, printed or cancelled), ``printer_unknown``.
    """
    if printer_name is not None and (settings is None or printer_name not in settings.printers):
        raise LanyardError("printer_unknown", f"no printer {printer_name!r} in the configuration")
    now = utcnow()
    previous = job.state
    values = {"state": "queued", "next_attempt_at": now, "attempts": 0, "held_since": None, "claimed_by": "",
              "error_code": "", "updated_at": now}
    if printer_name is not None:
        values["printer_name"] = printer_name
    result = db.session.execute(
        sa.update(_jobs)
        .where(_jobs.c.id == job.id, _jobs.c.state.in_(RETRYABLE_STATES), _jobs.c.payload.is_not(None))
        .values(**values)
    )
    if result.rowcount != 1:
        db.session.refresh(job)
        raise LanyardError("job_not_retryable", f"print job {job.id} is {job.state}")
    db.session.refresh(job)
    record(actor, "print_job.retry", job, previous_state=previous, printer=job.printer_name)
    return job


def cancel_job(job: PrintJob, *, actor: Actor, reason: str) -> PrintJob:
    """Withdraw a job that has not printed; its badge code is dropped from the queue.

    :raise LanyardError: ``reason_required``, ``job_not_retryable`` (printing, printed or already cancelled).
    """
    reason = (reason or "").strip()
    if not reason:
        raise LanyardError("reason_required")
    now = utcnow()
    previous = job.state
    result = db.session.execute(
        sa.update(_jobs)
        .where(_jobs.c.id == job.id, _jobs.c.state.in_(CANCELLABLE_STATES))
        .values(state="cancelled", payload=sa.null(), claimed_by="", updated_at=now)
    )
    if result.rowcount != 1:
        db.session.refresh(job)
        raise LanyardError("job_not_retryable", f"print job {job.id} is {job.state} and cannot be cancelled")
    db.session.refresh(job)
    record(actor, "print_job.cancel", job, previous_state=previous, reason=reason[:200])
    return job


def mark_job_printed(job: PrintJob, *, actor: Actor) -> PrintJob:
    """Staff saw the badge of an unconfirmed job come out: close it as printed, never reprinting it.

    :raise LanyardError: ``job_not_retryable`` (the job is not awaiting a decision).
    """
    now = utcnow()
    result = db.session.execute(
        sa.update(_jobs)
        .where(_jobs.c.id == job.id, _jobs.c.state == "needs_decision")
        .values(state="printed", payload=sa.null(), printed_at=now, claimed_by="", updated_at=now)
    )
    if result.rowcount != 1:
        db.session.refresh(job)
        raise LanyardError("job_not_retryable", f"print job {job.id} is {job.state}, not awaiting a decision")
    db.session.refresh(job)
    record(actor, "print_job.mark_printed", job)
    return job


# --- reading ------------------------------------------------------------------------------------------------


def printer_states(settings: Settings) -> dict[str, PrinterSnapshot]:
    """Every configured printer's last known state and queue counts, for kiosks and the desk."""
    rows = {s.name: s for s in db.session.execute(sa.select(PrinterState)).scalars()}
    counts: dict[tuple[str, str], int] = {
        (name, state): n for name, state, n in db.session.execute(
            sa.select(_jobs.c.printer_name, _jobs.c.state, sa.func.count())
            .where(_jobs.c.state.in_(("queued", "sending", "held", "failed", "needs_decision")))
            .group_by(_jobs.c.printer_name, _jobs.c.state)
        )
    }
    snapshots = {}
    for name, options in settings.printers.items():
        row = rows.get(name)
        snapshots[name] = PrinterSnapshot(
            name=name, backend=options.get("backend", ""), fallback=options.get("fallback"),
            online=row.online if row else None, paper_near_end=bool(row and row.paper_near_end),
            error_code=row.error_code if row else "", last_error=row.last_error if row else "",
            last_checked_at=row.last_checked_at if row else None,
            last_success_at=row.last_success_at if row else None,
            queued=counts.get((name, "queued"), 0) + counts.get((name, "sending"), 0),
            held=counts.get((name, "held"), 0),
            needs_staff=counts.get((name, "failed"), 0) + counts.get((name, "needs_decision"), 0),
        )
    return snapshots
