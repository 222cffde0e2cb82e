"""Check-in operations: the kiosk check-in, find-me-by-name, and the desk case queue.

The check-in decision is one conditional write (``INSERT ... ON CONFLICT (registration_id) DO
NOTHING``) with the badge's print job in the same transaction. A client nonce makes retries
harmless: the first answer is stored with the nonce (unique per kiosk) and given back to any
retry. Services flush and never commit; the route owns the transaction and, when the database
refuses a write because a concurrent request won a race (:class:`sqlalchemy.exc.IntegrityError`),
rolls back and calls :func:`check_in` again, which then finds the winner's answer.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from ..audit import Actor, record
from ..codes import digests_match, parse_code
from ..errors import LanyardError
from ..extensions import db
from ..health import assess_clearance
from ..models import Event, HealthRecord, Registration, utcnow
from ..printing.models import Badge, PrintJob
from ..printing.services import queue_badge
from ..settings import Settings
from ..text import fold
from ..desk.cases import open_desk_case
from .models import CheckIn, CheckInRequest, Kiosk, KioskLookupWindow, SupersededCode

if TYPE_CHECKING:
    from ..services import EventRef

#: The closed list of check-in results, each with the reasons it can carry (documented in the README's "Kiosk API").
REASONS = {
    "checked_in": (None,),
    "already_checked_in": ("already_checked_in",),
    # A kiosk learns only "not cleared" (the design: kiosks and doors see "cleared" or "see the desk");
    # the desk case keeps the exact health reason for staff.
    "needs_desk": ("registration_cancelled", "health_not_cleared"),
    "invalid": ("code_malformed", "code_unknown", "code_superseded", "wrong_code_kind", "wrong_event",
                "selection_invalid"),
}
#: What staff are told (the staff API and the desk): the exact health reason, never just "not cleared".
STAFF_REASONS = {**REASONS, "needs_desk": ("registration_cancelled", "health_missing", "health_unverified",
                                           "health_expired", "health_rejected", "health_purged")}
_ANY_REASON = {result: set(REASONS[result]) | set(STAFF_REASONS[result]) for result in REASONS}
_NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")
SELECTION_SALT = "kiosk-selection"
SELECTION_MAX_AGE = 120  # seconds: long enough to tap a name, short enough not to linger
SELECTION_MAX_LENGTH = 512
LOOKUP_LIMIT = 10  # name lookups per kiosk in any LOOKUP_WINDOW (a sliding window)
LOOKUP_WINDOW = 60  # seconds
MAX_MATCHES = 3
SECOND_FACTOR_MIN = 3
LAST_NAME_MAX = 100


@dataclass(frozen=True)
class CheckInOutcome:
    """What a check-in decided: ``response`` is the kiosk API's answer, stored with the nonce."""

    result: str
    reason: str | None
    response: dict
    replayed: bool = False  # True: a retry, answered with the first request's stored answer


@dataclass(frozen=True)
class Origin:
    """Where a check-in happens: an enrolled kiosk, or a staff user at the desk printing on a chosen printer."""

    actor: Actor
    printer_name: str
    label: str  # the kiosk's name, or "desk" (shown as "where" on the card and to a second scan)
    location: str = ""
    kiosk_id: int | None = None
    staff_id: int | None = None

    @classmethod
    def kiosk(cls, kiosk: Kiosk) -> Origin:
        """A kiosk, printing on its own printer."""
        return cls(actor=Actor.for_kiosk(kiosk), printer_name=kiosk.printer_name, label=kiosk.name,
                   location=kiosk.location or "", kiosk_id=kiosk.id)

    @classmethod
    def desk(cls, actor: Actor, printer_name: str) -> Origin:
        """A staff user at the desk (``actor`` is theirs), printing on ``printer_name``."""
        if actor.type != "staff":
            raise ValueError("a desk check-in is made by a staff user")
        return cls(actor=actor, printer_name=printer_name, label="desk", location=f"printer {printer_name}",
                   staff_id=actor.id)

    @property
    def is_kiosk(self) -> bool:
        """Whether a kiosk (not staff) checks the person in."""
        return self.kiosk_id is not None


@dataclass(frozen=True)
class Match:
    """One find-me-by-name result: masked, with a short-lived signed token to check in with."""

    selection: str
    masked_name: str
    pass_label: str
    masked_email: str

    def as_dict(self) -> dict:
        """The kiosk API's shape of a match."""
        return {"selection": self.selection, "masked_name": self.masked_name, "pass_label": self.pass_label,
                "masked_email": self.masked_email}


def _insert_for(model):
    """``INSERT`` with ``ON CONFLICT`` support for the session's database (SQLite or PostgreSQL)."""
    name = db.session.get_bind().dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(model)


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _attendee(registration: Registration, settings: Settings) -> dict:
    rtype = settings.registration_types[registration.type_name]
    return {"badge_name": registration.badge_name, "pass": rtype.name, "pass_label": rtype.label,
            "pass_label_es": rtype.label_es or rtype.label, "band_text": rtype.band_text,
            "band_color": rtype.band_color, "guest": rtype.is_guest}


def _answer(result: str, reason: str | None = None, *, attendee: dict | None = None, print_job: dict | None = None,
            checked_in: dict | None = None, desk_case: dict | None = None, go_to: str | None = None) -> dict:
    assert reason in _ANY_REASON[result], (result, reason)
    return {"result": result, "reason": reason, "attendee": attendee, "print_job": print_job,
            "checked_in": checked_in, "desk_case": desk_case, "go_to": go_to}


def print_job_dict(job: PrintJob) -> dict:
    """A print job as the kiosk API shows it."""
    return _job_dict(job.id, job.state, job.printer_name, job.error_code or "")


def _job_dict(job_id: int, state: str, printer_name: str, error_code: str) -> dict:
    return {"id": job_id, "state": state, "printer": printer_name, "error_code": error_code,
            "url": f"/api/v1/print-jobs/{job_id}", "preview_url": f"/api/v1/print-jobs/{job_id}/preview.png"}


# Hot-path statements are built once, on tables rather than entities: building a SELECT, or
# running one through the ORM, costs more than SQLite takes to run it.
_registrations = Registration.__table__
_health = HealthRecord.__table__
_checkins = CheckIn.__table__
_requests = CheckInRequest.__table__
_badges = Badge.__table__
_checkin_kiosk = Kiosk.__table__.alias("checkin_kiosk")
_STORED_ANSWER = sa.select(_requests.c.response, _requests.c.request_digest).where(
    _requests.c.kiosk_id == sa.bindparam("kiosk_id"), _requests.c.nonce == sa.bindparam("nonce"))
_STORED_STAFF_ANSWER = sa.select(_requests.c.response, _requests.c.request_digest).where(
    _requests.c.staff_id == sa.bindparam("staff_id"), _requests.c.nonce == sa.bindparam("nonce"))
# The registration's columns the decision and the badge need, its health record, any check-in
# (and where), and whether it holds a valid badge already, in one round trip.
_LOAD = (
    sa.select(_registrations.c.id, _registrations.c.event_id, _registrations.c.type_name,
              _registrations.c.badge_name, _registrations.c.title, _registrations.c.organization,
              _registrations.c.status, _registrations.c.code_hash,
              sa.exists().where(_badges.c.registration_id == _registrations.c.id, _badges.c.status == "valid")
              .label("has_valid_badge"),
              _health.c.method, _health.c.state, _health.c.test_taken_at, _health.c.expires_at,
              _checkins.c.at, _checkin_kiosk.c.name, _checkin_kiosk.c.location)
    .select_from(_registrations)
    .outerjoin(_health, _health.c.registration_id == _registrations.c.id)
    .outerjoin(_checkins, _checkins.c.registration_id == _registrations.c.id)
    .outerjoin(_checkin_kiosk, _checkin_kiosk.c.id == _checkins.c.kiosk_id)
)
_LOAD_BY_CODE = _LOAD.where(_registrations.c.code_hash == sa.bindparam("digest"))
_LOAD_BY_ID = _LOAD.where(_registrations.c.id == sa.bindparam("registration_id"))
_superseded = SupersededCode.__table__
_SUPERSEDED = sa.select(_superseded.c.registration_id).where(_superseded.c.code_hash == sa.bindparam("digest"))
_SET_BADGE = sa.update(_checkins).where(_checkins.c.id == sa.bindparam("checkin_id")).values(
    badge_id=sa.bindparam("new_badge_id"))
_INSERT_REQUEST = sa.insert(_requests)


@lru_cache(maxsize=2)
def _insert_checkin(dialect: str):
    """``INSERT INTO checkins ... ON CONFLICT (registration_id) DO NOTHING RETURNING id``."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(_checkins).on_conflict_do_nothing(index_elements=["registration_id"]).returning(_checkins.c.id)


def _conn() -> sa.Connection:
    """The session's connection, in its transaction: Core statements run on it skip the ORM's execute path."""
    return db.session.connection()


def check_nonce(nonce: object) -> str:
    """The client's nonce, if it is one.

    :raise LanyardError: ``nonce_invalid`` (missing, not text, or not 8–64 of ``A-Z a-z 0-9 _ -``).
    """
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        raise LanyardError("nonce_invalid", "nonce: 8 to 64 characters of A-Z, a-z, 0-9, _ and -")
    return nonce


def request_digest(*parts: object) -> str:
    """What a request asked, as a hash stored with its nonce: a retry must ask exactly the same."""
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode("utf-8", "surrogatepass")).hexdigest()


def stored_answer(*, nonce: str, digest: str, kiosk_id: int | None = None, staff_id: int | None = None) -> dict | None:
    """The answer first given to this nonce (of this kiosk or staff user), or None when it is new.

    :raise LanyardError: ``nonce_reused`` when the nonce was used for a different request: replaying that
        answer would show one person another's.
    """
    if kiosk_id is not None:
        row = _conn().execute(_STORED_ANSWER, {"kiosk_id": kiosk_id, "nonce": nonce}).first()
    else:
        row = _conn().execute(_STORED_STAFF_ANSWER, {"staff_id": staff_id, "nonce": nonce}).first()
    if row is None:
        return None
    if not digests_match(row.request_digest, digest):
        raise LanyardError("nonce_reused")
    return row.response


def store_answer(*, nonce: str, digest: str, response: dict, now: datetime, kiosk_id: int | None = None,
                 staff_id: int | None = None) -> None:
    """Keep a request's answer with its nonce (a concurrent twin makes this raise IntegrityError)."""
    _conn().execute(_INSERT_REQUEST, {"kiosk_id": kiosk_id, "staff_id": staff_id, "nonce": nonce,
                                      "request_digest": digest, "response": response, "at": now})


class _Person(NamedTuple):
    """The registration's columns a check-in reads (and the badge prints)."""

    id: int
    event_id: int
    type_name: str
    badge_name: str
    title: str
    organization: str
    status: str
    code_hash: str

    @property
    def is_cancelled(self) -> bool:
        """Whether the registration was cancelled."""
        return self.status == "cancelled"


class _Health(NamedTuple):
    """The columns of a health record that the clearance policy reads."""

    method: str
    state: str
    test_taken_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class _Loaded:
    registration: _Person
    health: _Health | None
    checked_in: dict | None  # when and where, if already checked in
    has_valid_badge: bool


def _load(statement, params: dict) -> _Loaded | None:
    """A registration with its health record and any check-in (and where), in one round trip."""
    row = _conn().execute(statement, params).first()
    if row is None:
        return None
    method, state, taken, expires, at, kiosk_name, location = row[9:]
    return _Loaded(_Person(*row[:8]), _Health(method, state, taken, expires) if method is not None else None,
                   {"at": _iso(at), "kiosk": kiosk_name, "location": location or ""} if at is not None else None,
                   bool(row[8]))


def _by_code(event: Event | EventRef, raw: object) -> _Loaded:
    """The registration a scanned code belongs to.

    :raise LanyardError: ``code_malformed``, ``wrong_code_kind``, ``code_unknown``, ``code_superseded``,
        ``wrong_event``.
    """
    parsed = parse_code(raw)  # length-capped before anything else looks at it
    if parsed.kind != "registration":
        raise LanyardError("wrong_code_kind", f"expected a registration code, got a {parsed.kind} code")
    digest = parsed.digest
    loaded = _load(_LOAD_BY_CODE, {"digest": digest})
    if loaded is None:
        old = _conn().execute(_SUPERSEDED, {"digest": digest}).first()
        raise LanyardError("code_superseded" if old is not None else "code_unknown")
    if loaded.registration.event_id != event.id:
        raise LanyardError("wrong_event")
    return loaded


@lru_cache(maxsize=4)
def _selection_serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=SELECTION_SALT)


def selection_token(registration: Registration, *, kiosk: Kiosk, settings: Settings) -> str:
    """A signed token naming ``registration``, good for :data:`SELECTION_MAX_AGE` seconds at ``kiosk`` only."""
    return _selection_serializer(settings.secret_key).dumps([registration.id, kiosk.id, kiosk.generation])


def _selected_id(selection: object, *, kiosk: Kiosk, settings: Settings) -> int:
    """The registration id in a selection token.

    :raise LanyardError: ``selection_invalid`` (forged, expired, another kiosk or an older token generation).
    """
    if not isinstance(selection, str) or not selection or len(selection) > SELECTION_MAX_LENGTH:
        raise LanyardError("selection_invalid")
    try:
        value = _selection_serializer(settings.secret_key).loads(selection, max_age=SELECTION_MAX_AGE)
    except BadSignature:  # SignatureExpired is a BadSignature too
        raise LanyardError("selection_invalid") from None
    if (not isinstance(value, list) or len(value) != 3 or not all(type(v) is int for v in value)
            or value[1:] != [kiosk.id, kiosk.generation]):
        raise LanyardError("selection_invalid")
    return value[0]


def _by_selection(event: Event | EventRef, selection: object, *, kiosk: Kiosk, settings: Settings) -> _Loaded:
    loaded = _load(_LOAD_BY_ID, {"registration_id": _selected_id(selection, kiosk=kiosk, settings=settings)})
    if loaded is None or loaded.registration.event_id != event.id:
        raise LanyardError("selection_invalid")
    return loaded


def _desk_case(event: Event | EventRef, registration: _Person, reason: str, origin: Origin) -> int:
    """The open case for this person and reason, or a new one: repeated scans do not flood the queue."""
    return open_desk_case(event_id=event.id, reason=reason, actor=origin.actor, registration_id=registration.id,
                          kiosk_id=origin.kiosk_id, details=f"at kiosk {origin.label}")


def _decide(event: Event | EventRef, loaded: _Loaded, *, origin: Origin, nonce: str, settings: Settings,
            now: datetime) -> dict:
    registration = loaded.registration
    attendee = _attendee(registration, settings)
    reason = None
    # Cancelled first: a person cancelled after checking in is told so, never "already checked in".
    if registration.is_cancelled:
        reason = "registration_cancelled"
    elif loaded.checked_in is not None:
        return _answer("already_checked_in", "already_checked_in", attendee=attendee, checked_in=loaded.checked_in)
    else:
        clearance = assess_clearance(loaded.health, settings.health, now)
        if not clearance.cleared:
            # Asked only here (rarely), so the hot path can work with the event's id alone.
            purged = loaded.health is None and db.session.execute(
                sa.select(Event.health_purged_at).where(Event.id == event.id)).scalar() is not None
            reason = "health_purged" if purged else clearance.reason
    if reason is not None:
        health = reason.startswith("health_")
        go_to = "health_desk" if health else "registration_desk"
        if not origin.is_kiosk:  # staff are the desk: they get the exact reason and no case is opened
            return _answer("needs_desk", reason, attendee=attendee, go_to=go_to)
        case_id = _desk_case(event, registration, reason, origin)
        return _answer("needs_desk", "health_not_cleared" if health else reason, attendee=attendee,
                       desk_case={"id": case_id}, go_to=go_to)

    # The decision itself: the database lets exactly one request insert the check-in row.
    conn = _conn()
    checkin_id = conn.execute(
        _insert_checkin(conn.dialect.name),
        {"event_id": event.id, "registration_id": registration.id, "kiosk_id": origin.kiosk_id,
         "staff_id": origin.staff_id, "nonce": nonce, "at": now},
    ).scalar_one_or_none()
    if checkin_id is None:  # a concurrent request checked this person in first
        won = _load(_LOAD_BY_ID, {"registration_id": registration.id})
        return _answer("already_checked_in", "already_checked_in", attendee=attendee, checked_in=won.checked_in)
    # The badge serial comes from the badges' id sequence, so concurrent check-ins need no lock here.
    issued = queue_badge(registration, printer_name=origin.printer_name, settings=settings, actor=origin.actor,
                         reason="check-in", void_previous=loaded.has_valid_badge)
    conn.execute(_SET_BADGE, {"checkin_id": checkin_id, "new_badge_id": issued.badge_id})
    return _answer("checked_in", None, attendee=attendee,
                   print_job=_job_dict(issued.job_id, "queued", issued.printer_name, ""),
                   checked_in={"at": _iso(now), "kiosk": origin.label, "location": origin.location})


def check_in(event: Event | EventRef, *, code: object = None, registration: Registration | None = None,
             selection: object = None, kiosk: Kiosk | None = None, origin: Origin | None = None, nonce: object,
             settings: Settings, now: datetime | None = None) -> CheckInOutcome:
    """Check a person in at ``kiosk`` (or at the desk: ``origin``) by scanned ``code``, a find-me ``selection``
    or a ``registration``.

    Prints nothing twice: a person already checked in gets ``already_checked_in``; a retry with the
    same nonce gets the first answer back.

    :raise LanyardError: ``nonce_invalid``; ``nonce_reused`` (the nonce was used for another request);
        ``printer_unknown`` when the printer is not configured.
    :raise sqlalchemy.exc.IntegrityError: a concurrent request with the same nonce answered first; roll
        back and call again to get its answer.
    """
    nonce = check_nonce(nonce)
    if origin is None:
        if kiosk is None:
            raise ValueError("check_in needs a kiosk or an origin")
        origin = Origin.kiosk(kiosk)
    if registration is not None:
        digest = request_digest("checkin", "registration", registration.id)
    elif selection is not None:
        digest = request_digest("checkin", "selection", selection)
    else:
        digest = request_digest("checkin", "code", code)
    stored = stored_answer(nonce=nonce, digest=digest, kiosk_id=origin.kiosk_id, staff_id=origin.staff_id)
    if stored is not None:
        return CheckInOutcome(stored["result"], stored["reason"], stored, replayed=True)
    if origin.printer_name not in settings.printers:
        raise LanyardError("printer_unknown", f"{origin.label}: no printer {origin.printer_name!r} configured")
    now = now or utcnow()
    try:
        if registration is not None:
            loaded = _load(_LOAD_BY_ID, {"registration_id": registration.id})
            if loaded is None or loaded.registration.event_id != event.id:
                raise LanyardError("wrong_event")
        elif selection is not None:
            if kiosk is None:
                raise LanyardError("selection_invalid")
            loaded = _by_selection(event, selection, kiosk=kiosk, settings=settings)
        else:
            loaded = _by_code(event, code)
    except LanyardError as refusal:
        response = _answer("invalid", refusal.code)
    else:
        response = _decide(event, loaded, origin=origin, nonce=nonce, settings=settings, now=now)
    # A plain insert: a concurrent request with the same nonce that got here first makes this fail
    # (IntegrityError), the caller rolls back everything this request did and asks again.
    store_answer(nonce=nonce, digest=digest, response=response, now=now, kiosk_id=origin.kiosk_id,
                 staff_id=origin.staff_id)
    return CheckInOutcome(response["result"], response["reason"], response)


# --- find me by name -------------------------------------------------------------------------


def _count_lookup(kiosk: Kiosk, now: datetime) -> None:
    """Count one lookup and refuse it when the kiosk made more than the limit in the last window.

    A sliding window over one-second buckets: a fixed minute let 20 lookups through in 3 s across
    a minute boundary. The upsert of the current bucket takes the write lock (SQLite) or the row
    lock (PostgreSQL) before the sum is read, so app workers count each other's lookups. A refused
    lookup counts too: hammering the button keeps the kiosk waiting.

    :raise LanyardError: ``rate_limited`` beyond :data:`LOOKUP_LIMIT` in any :data:`LOOKUP_WINDOW` seconds.
    """
    second = int(now.timestamp())
    table = KioskLookupWindow.__table__
    db.session.execute(
        _insert_for(KioskLookupWindow)
        .values(kiosk_id=kiosk.id, window=second, count=1)
        .on_conflict_do_update(index_elements=["kiosk_id", "window"], set_={"count": table.c.count + 1})
    )
    oldest = second - LOOKUP_WINDOW + 1
    db.session.execute(sa.delete(table).where(table.c.kiosk_id == kiosk.id, table.c.window < oldest))
    count = db.session.execute(
        sa.select(sa.func.sum(table.c.count)).where(table.c.kiosk_id == kiosk.id, table.c.window >= oldest)
    ).scalar_one()
    if count > LOOKUP_LIMIT:
        raise LanyardError("rate_limited", f"at most {LOOKUP_LIMIT} name lookups in {LOOKUP_WINDOW} s at one kiosk")


def _mask_name(registration: Registration) -> str:
    return f"{registration.first_name[:1]}. {registration.last_name[:3]}…"


def _mask_email(address: str) -> str:
    local, _, domain = address.rpartition("@")
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = domain, ""
    return f"{local[:2]}***@{host[:1]}***{dot}{tld}"


def _name_key(value: object) -> str | None:
    """The folded last name to search for, or None for anything that cannot be one."""
    if not isinstance(value, str) or len(value) > LAST_NAME_MAX:
        return None
    key = fold(" ".join(value.split()))
    return key if key and key.isprintable() else None


def _factor_key(value: object) -> str | None:
    """The case-folded email prefix (email keys are case-folded, not accent-folded), or None."""
    if not isinstance(value, str) or len(value) > 254:
        return None
    key = value.strip().casefold()
    return key if len(key) >= SECOND_FACTOR_MIN and key.isprintable() else None


def find_for_kiosk(event: Event | EventRef, *, kiosk: Kiosk, last_name: object, second_factor: object, settings: Settings,
                   now: datetime | None = None) -> list[Match]:
    """Find people by last name plus the first characters of their email, at most three, masked.

    Nothing is returned without a valid second factor, and no answer says why: a kiosk is no
    attendee list. Guests without an email of their own use their host's; cancelled registrations
    are never listed. Every lookup, refused ones too, is audited with who was listed.

    :raise LanyardError: ``rate_limited``.
    """
    actor = Actor.for_kiosk(kiosk)
    try:
        _count_lookup(kiosk, now or utcnow())
    except LanyardError as refusal:
        record(actor, "kiosk.lookup", kiosk, result=refusal.code, listed=[])
        raise
    name_key, factor = _name_key(last_name), _factor_key(second_factor)
    people = [] if name_key is None or factor is None else _lookup(event, name_key, factor)
    # Who was shown to whom, never what was typed: the audit trail is no list of searched names.
    record(actor, "kiosk.lookup", kiosk, result="listed" if people else "no_match",
           listed=[person.id for person in people])
    return [Match(selection=selection_token(person, kiosk=kiosk, settings=settings),
                  masked_name=_mask_name(person),
                  pass_label=settings.registration_types[person.type_name].label,
                  masked_email=_mask_email(person.email))
            for person in people]


def _lookup(event: Event | EventRef, name_key: str, factor: str) -> list[Registration]:
    """Confirmed registrations of the event with this folded last name and email prefix, at most three."""
    host = aliased(Registration)
    contact_key = sa.func.coalesce(Registration.email_key, host.email_key)
    return db.session.execute(
        sa.select(Registration)
        .outerjoin(host, host.id == Registration.host_id)
        .where(Registration.event_id == event.id, Registration.status == "confirmed",
               Registration.last_name_key == name_key, sa.func.substr(contact_key, 1, len(factor)) == factor)
        .order_by(Registration.id)
        .limit(MAX_MATCHES)
    ).scalars().all()
