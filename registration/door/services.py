"""Door operations: the scan decision (online and uploaded from a door's offline queue), the offline snapshot,
and the conflicts offline decisions leave behind.

The capacity decision is one conditional write (``UPDATE area_occupancy SET occupancy = occupancy + 1 WHERE
occupancy < capacity``), so two doors of one room can never both take its last seat; an area without re-entry
keeps who is inside in ``area_presence`` (a primary key, so two doors cannot both let one badge in). The nonce
is unique per staff user on the scan row itself: a retry gets the stored answer, and a concurrent twin fails
its insert (IntegrityError), the route rolls back and asks again. Services flush and never commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..audit import Actor, record_target
from ..checkin.models import SupersededCode
from ..checkin.services import check_nonce, request_digest
from ..codes import digests_match, parse_code
from ..errors import LanyardError
from ..extensions import db
from ..health import assess_clearance
from ..models import Event, HealthRecord, Registration, StaffUser, utcnow
from ..printing.models import Badge
from ..settings import AreaSettings, Settings
from .models import AccessScan, AreaOccupancy, AreaPresence

if TYPE_CHECKING:
    from ..services import EventRef

RESULTS = ("admit", "deny")
#: The closed list of reasons a scan is denied, in the order they are decided (documented in the README, "Doors").
REASONS = ("code_malformed", "code_unknown", "wrong_code_kind", "wrong_event", "badge_void", "registration_cancelled",
           "area_denied", "area_closed", "area_full", "health_not_cleared", "already_inside")
DIRECTIONS = ("in", "out")
#: What a door decided offline that the server would not have, by the server's reason; plus ``double_entry``.
CONFLICTS = {
    "code_malformed": "admitted_unknown", "code_unknown": "admitted_unknown", "wrong_code_kind": "admitted_unknown",
    "wrong_event": "admitted_unknown", "badge_void": "admitted_void", "registration_cancelled": "admitted_cancelled",
    "area_denied": "admitted_denied", "area_closed": "admitted_closed", "area_full": "admitted_full",
    "health_not_cleared": "admitted_not_cleared", "already_inside": "admitted_inside",
}
DOUBLE_ENTRY = "double_entry"
CONFLICT_CODES = tuple(dict.fromkeys([*CONFLICTS.values(), DOUBLE_ENTRY]))
#: One badge admitted into one area at two doors within this long, one of them offline: a double entry.
DOUBLE_ENTRY_SECONDS = 120
DOOR_NAME_MAX = 60
#: An offline scan may be this far in the future (door clocks drift) and this old (a door offline for a day).
CLOCK_SKEW = timedelta(minutes=5)
OFFLINE_MAX_AGE = timedelta(days=7)
#: A delta snapshot repeats this much before its cursor: a badge written by a transaction that committed just
#: after the previous snapshot was read still reaches the door (repeats are harmless: the door keys by digest).
SNAPSHOT_OVERLAP = timedelta(seconds=30)
_CURSOR = re.compile(r"1\.(\d{1,17})")


@dataclass(frozen=True)
class ScanOutcome:
    """What a scan decided: ``response`` is the API's answer, stored with the nonce."""

    response: dict
    replayed: bool = False  # True: a retry, answered with the first request's stored answer

    @property
    def result(self) -> str:
        """``admit`` or ``deny``."""
        return self.response["result"]

    @property
    def reason(self) -> str | None:
        """The reason of a denial (None when admitted)."""
        return self.response["reason"]

    @property
    def conflict(self) -> str | None:
        """The conflict an offline upload revealed, if any."""
        return self.response["conflict"]


@dataclass(frozen=True)
class _Decision:
    result: str
    reason: str | None
    badge_id: int | None = None
    registration_id: int | None = None
    attendee: dict | None = None
    replaced_by_serial: int | None = None
    reentry_checked: bool = False  # the presence row was written (an admitted "in" where re-entry is off)


_badges = Badge.__table__
_registrations = Registration.__table__
_health = HealthRecord.__table__
_scans = AccessScan.__table__
_occupancy = AreaOccupancy.__table__
_presence = AreaPresence.__table__
# The badge a door scanned, its holder and the holder's health record, in one round trip.
_LOAD_BADGE = (
    sa.select(_badges.c.id, _badges.c.event_id, _badges.c.status, _badges.c.code_hash, _registrations.c.id,
              _registrations.c.status, _registrations.c.type_name, _registrations.c.badge_name,
              _health.c.method, _health.c.state, _health.c.test_taken_at, _health.c.expires_at)
    .select_from(_badges)
    .join(_registrations, _registrations.c.id == _badges.c.registration_id)
    .outerjoin(_health, _health.c.registration_id == _registrations.c.id)
    .where(_badges.c.code_hash == sa.bindparam("digest"))
)
_REGISTRATION_CODE = sa.select(_registrations.c.id).where(_registrations.c.code_hash == sa.bindparam("digest"))
_SUPERSEDED_CODE = sa.select(SupersededCode.__table__.c.id).where(
    SupersededCode.__table__.c.code_hash == sa.bindparam("digest"))
_CURRENT_BADGE = sa.select(sa.func.max(_badges.c.id)).where(
    _badges.c.registration_id == sa.bindparam("registration_id"), _badges.c.status == "valid")
_STORED = sa.select(_scans.c.id, _scans.c.response, _scans.c.request_digest, _scans.c.conflict).where(
    _scans.c.staff_id == sa.bindparam("staff_id"), _scans.c.nonce == sa.bindparam("nonce"))
_OCCUPANCY = sa.select(_occupancy.c.occupancy).where(
    _occupancy.c.event_id == sa.bindparam("event_id"), _occupancy.c.area == sa.bindparam("area"))
# Bound as e_id / a_name: an UPDATE reserves its columns' own names for their new values.
_where_area = sa.and_(_occupancy.c.event_id == sa.bindparam("e_id"), _occupancy.c.area == sa.bindparam("a_name"))
# The capacity decision: the database admits exactly as many as there are seats, whatever runs at once.
_TAKE_SEAT = (sa.update(_occupancy).where(_where_area, _occupancy.c.occupancy < sa.bindparam("capacity"))
              .values(occupancy=_occupancy.c.occupancy + 1).returning(_occupancy.c.occupancy))
_ENTER = sa.update(_occupancy).where(_where_area).values(occupancy=_occupancy.c.occupancy + 1).returning(
    _occupancy.c.occupancy)
_LEAVE = (sa.update(_occupancy).where(_where_area, _occupancy.c.occupancy > 0)
          .values(occupancy=_occupancy.c.occupancy - 1).returning(_occupancy.c.occupancy))
_LEAVE_PRESENCE = sa.delete(_presence).where(
    _presence.c.event_id == sa.bindparam("e_id"), _presence.c.area == sa.bindparam("a_name"),
    _presence.c.registration_id == sa.bindparam("r_id"))
_INSERT_SCAN = sa.insert(_scans).returning(_scans.c.id)
_DOUBLE_ENTRY = sa.select(_scans.c.id).where(
    _scans.c.event_id == sa.bindparam("event_id"), _scans.c.registration_id == sa.bindparam("registration_id"),
    _scans.c.area == sa.bindparam("area"), _scans.c.scanned_at >= sa.bindparam("since"),
    _scans.c.scanned_at <= sa.bindparam("until"), _scans.c.direction == "in", _scans.c.counted.is_(True),
    _scans.c.door != sa.bindparam("door")).limit(1)


def _conn() -> sa.Connection:
    """The session's connection, in its transaction (Core statements skip the ORM's execute path)."""
    return db.session.connection()


@lru_cache(maxsize=4)
def _insert_ignoring(dialect: str, table_name: str):
    """``INSERT ... ON CONFLICT DO NOTHING`` for the occupancy and presence rows."""
    table = {"area_occupancy": _occupancy, "area_presence": _presence}[table_name]
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).on_conflict_do_nothing()
    return statement.returning(table.c.event_id) if table_name == "area_presence" else statement


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if at is not None else None


def _area(settings: Settings, area: object) -> AreaSettings:
    """The configured area.

    :raise LanyardError: ``invalid_field`` (not text), ``unknown_area``.
    """
    if not isinstance(area, str):
        raise LanyardError("invalid_field", "area: expected text", field="area")
    found = settings.areas.get(area) if len(area) <= 32 else None
    if found is None:
        raise LanyardError("unknown_area", f"no area {area[:40]!r}; areas: {', '.join(settings.areas)}")
    return found


def _door_name(door: object) -> str:
    """The door's name, spaces collapsed.

    :raise LanyardError: ``invalid_field`` unless 1–60 printable characters.
    """
    name = " ".join(door.split()) if isinstance(door, str) and len(door) <= 4 * DOOR_NAME_MAX else ""
    if not name or len(name) > DOOR_NAME_MAX or not name.isprintable():
        raise LanyardError("invalid_field", f"door: 1 to {DOOR_NAME_MAX} printable characters", field="door")
    return name


def _offline_fields(scanned_at: datetime | None, offline: object, offline_result: object,
                    now: datetime) -> tuple[bool, str | None]:
    """Check the fields of an offline upload: ``scanned_at`` goes with ``offline: true`` and nothing else does.

    :raise LanyardError: ``invalid_field``.
    """
    if offline not in (True, False):
        raise LanyardError("invalid_field", "offline: true or false", field="offline")
    if offline != (scanned_at is not None):
        raise LanyardError("invalid_field", "scanned_at is sent with offline: true (uploads of offline scans), "
                           "and only then", field="scanned_at")
    if offline_result is not None and (not offline or offline_result not in RESULTS):
        raise LanyardError("invalid_field", 'offline_result: "admit" or "deny", on offline scans only',
                           field="offline_result")
    if scanned_at is not None and not (now - OFFLINE_MAX_AGE <= scanned_at <= now + CLOCK_SKEW):
        raise LanyardError("invalid_field", "scanned_at: not in the future, and at most 7 days ago",
                           field="scanned_at")
    return bool(offline), offline_result


def _stored_scan(staff_id: int, nonce: str, digest: str):
    """The scan first stored under this nonce (its id, answer and conflict), or None.

    :raise LanyardError: ``nonce_reused`` when the nonce was used for a different scan.
    """
    row = _conn().execute(_STORED, {"staff_id": staff_id, "nonce": nonce}).first()
    if row is None:
        return None
    if not digests_match(row.request_digest, digest):
        raise LanyardError("nonce_reused")
    return row


def _note_offline_admission(event_id: int, actor: Actor, stored, *, area: str, door: str) -> None:
    """A scan the server decided, whose answer the door never got (it timed out and decided offline), comes back as
    an upload: had the door admitted a person the server refused, that is a conflict on the stored scan."""
    response = stored.response
    if stored.conflict is not None or response.get("result") != "deny":
        return
    conflict = CONFLICTS[response["reason"]]
    _conn().execute(sa.update(_scans).where(_scans.c.id == stored.id).values(
        conflict=conflict, offline_result="admit"))
    record_target(actor, "door.conflict", "AccessScan", stored.id, event_id=event_id, conflict=conflict, area=area,
                  door=door, reason=response["reason"])


def _occupancy_now(event_id: int, area: str) -> int:
    return _conn().execute(_OCCUPANCY, {"event_id": event_id, "area": area}).scalar() or 0


def _move(statement, event_id: int, area: str, **params) -> int | None:
    """Run an occupancy update; the area's row is created the first time it is needed."""
    conn = _conn()
    values = {"e_id": event_id, "a_name": area, **params}
    moved = conn.execute(statement, values).scalar_one_or_none()
    if moved is None and conn.execute(_OCCUPANCY, {"event_id": event_id, "area": area}).first() is None:
        conn.execute(_insert_ignoring(conn.dialect.name, "area_occupancy"),
                     {"event_id": event_id, "area": area, "occupancy": 0})
        moved = conn.execute(statement, values).scalar_one_or_none()
    return moved


@dataclass(frozen=True)
class _HealthRow:
    """The health columns the clearance policy reads."""

    method: str
    state: str
    test_taken_at: datetime | None
    expires_at: datetime | None


def _decide(event_id: int, code: object, area: AreaSettings, direction: str, at: datetime, *,
            settings: Settings, check_capacity: bool) -> _Decision:
    """The server's decision, in the documented order, before anything is written."""
    try:
        parsed = parse_code(code)  # length-capped before anything looks at it
    except LanyardError:
        return _Decision("deny", "code_malformed")
    digest = parsed.digest
    if parsed.kind != "badge":
        if parsed.kind == "registration":  # the email's code at a door: "collect your badge at a kiosk first"
            known = (_conn().execute(_REGISTRATION_CODE, {"digest": digest}).first() is not None
                     or _conn().execute(_SUPERSEDED_CODE, {"digest": digest}).first() is not None)
            return _Decision("deny", "wrong_code_kind" if known else "code_unknown")
        return _Decision("deny", "wrong_code_kind")
    row = _conn().execute(_LOAD_BADGE, {"digest": digest}).first()
    if row is None or not digests_match(row[3], digest):
        return _Decision("deny", "code_unknown")
    badge_id, badge_event, badge_status, _hash, registration_id, registration_status, type_name, badge_name = row[:8]
    if badge_event != event_id:
        return _Decision("deny", "wrong_event")
    rtype = settings.registration_types.get(type_name)
    attendee = {"badge_name": badge_name, "pass": type_name, "pass_label": rtype.label if rtype else type_name}
    known = {"badge_id": badge_id, "registration_id": registration_id, "attendee": attendee}
    if badge_status != "valid":
        current = _conn().execute(_CURRENT_BADGE, {"registration_id": registration_id}).scalar()
        return _Decision("deny", "badge_void", replaced_by_serial=current, **known)
    if registration_status == "cancelled":
        return _Decision("deny", "registration_cancelled", **known)
    if direction == "out":  # leaving is never refused for the room's rules: only a badge that is no good is
        return _Decision("admit", None, **known)
    if rtype is None or area.name not in rtype.access_areas:
        return _Decision("deny", "area_denied", **known)
    if not area.is_open_at(at):
        return _Decision("deny", "area_closed", **known)
    if check_capacity and area.capacity is not None and _occupancy_now(event_id, area.name) >= area.capacity:
        return _Decision("deny", "area_full", **known)
    health = row[8:]
    if not assess_clearance(_HealthRow(*health) if health[0] is not None else None, settings.health, at).cleared:
        return _Decision("deny", "health_not_cleared", **known)
    return _Decision("admit", None, **known)


def _enter(event_id: int, area: AreaSettings, decision: _Decision, *, enforce: bool) -> tuple[_Decision, int | None]:
    """Let an admitted ``in`` through: the presence row where re-entry is off, then the seat.

    ``enforce`` is False for a scan a door already admitted offline (the person is inside: it is counted
    whatever the server thinks, and the server's own verdict is kept beside it).
    """
    conn = _conn()
    params = {"e_id": event_id, "a_name": area.name, "r_id": decision.registration_id}
    inside = False
    if not area.reentry and decision.registration_id is not None:
        inserted = conn.execute(_insert_ignoring(conn.dialect.name, "area_presence"),
                                {"event_id": event_id, "area": area.name, "registration_id": decision.registration_id,
                                 "since": utcnow()}).first()
        inside = inserted is None
        if inside and enforce:
            return _Decision("deny", "already_inside", decision.badge_id, decision.registration_id,
                             decision.attendee), None
    if enforce and area.capacity is not None:
        occupancy = _move(_TAKE_SEAT, event_id, area.name, capacity=area.capacity)
        if occupancy is None:  # the last seat went to another door a moment ago
            if not area.reentry and not inside:
                conn.execute(_LEAVE_PRESENCE, params)
            return _Decision("deny", "area_full", decision.badge_id, decision.registration_id, decision.attendee), None
    else:
        occupancy = _move(_ENTER, event_id, area.name)
    if inside and not enforce:
        return _Decision("deny", "already_inside", decision.badge_id, decision.registration_id,
                         decision.attendee), occupancy
    return decision, occupancy


def _leave(event_id: int, area: AreaSettings, registration_id: int | None) -> int | None:
    """Count an ``out``: the new occupancy, or None when it was zero already (it never goes below)."""
    if not area.reentry and registration_id is not None:
        _conn().execute(_LEAVE_PRESENCE, {"e_id": event_id, "a_name": area.name, "r_id": registration_id})
    return _move(_LEAVE, event_id, area.name)


def record_scan(event: Event | EventRef, *, actor: Actor, code: object, area: object, nonce: object, door: object,
                direction: object = "in", scanned_at: datetime | None = None, offline: object = False,
                offline_result: object = None, settings: Settings, now: datetime | None = None) -> ScanOutcome:
    """Decide and store one door scan by ``actor`` (a staff user): admit or deny with a reason from :data:`REASONS`.

    An offline upload (``offline=True`` with the time the door scanned it, and what the door decided) is decided
    by the server with its own data at ``scanned_at``; occupancy follows what happened at the door, and a door
    that admitted someone the server would have refused, or one badge let into one area at two doors within
    :data:`DOUBLE_ENTRY_SECONDS`, is stored as a conflict and audited. A retry with the same nonce gets the first
    answer and counts once.

    :raise LanyardError: ``nonce_invalid``, ``nonce_reused``, ``unknown_area``, ``invalid_field`` (door, direction,
        scanned_at, offline, offline_result).
    :raise sqlalchemy.exc.IntegrityError: a concurrent request with the same nonce answered first; roll back and
        call again to get its answer.
    """
    if actor.type != "staff" or actor.id is None:
        raise ValueError("door scans are made by staff users")
    nonce = check_nonce(nonce)
    now = now or utcnow()
    area_settings = _area(settings, area)
    door_name = _door_name(door)
    if direction not in DIRECTIONS:
        raise LanyardError("invalid_field", 'direction: "in" or "out"', field="direction")
    offline, offline_result = _offline_fields(scanned_at, offline, offline_result, now)
    # The scan's identity, not how it travelled: a scan that timed out online is decided offline by the door and
    # uploaded later under the same nonce, and must then be the same scan, counted once.
    digest = request_digest("scan", code, area_settings.name, direction, door_name)
    stored = _stored_scan(actor.id, nonce, digest)
    if stored is not None:
        if offline and offline_result == "admit":
            _note_offline_admission(event.id, actor, stored, area=area_settings.name, door=door_name)
        return ScanOutcome(stored.response, replayed=True)
    at = scanned_at or now
    # Offline, the room's count at that moment is unknown to the server: capacity is the door's call then.
    decision = _decide(event.id, code, area_settings, direction, at, settings=settings, check_capacity=not offline)
    admitted_at_door = offline_result == "admit" if offline_result is not None else decision.result == "admit"
    counted = decision.result == "admit" if not offline else admitted_at_door
    occupancy = None
    if counted and direction == "in":
        decision, occupancy = _enter(event.id, area_settings, decision, enforce=not offline)
    elif counted:
        occupancy = _leave(event.id, area_settings, decision.registration_id)
    counted = occupancy is not None  # what moved the count: an out at zero is admitted but moves nothing
    if occupancy is None:
        occupancy = _occupancy_now(event.id, area_settings.name)
    conflict = None
    if offline and admitted_at_door and decision.result == "deny":
        conflict = CONFLICTS[decision.reason]
    elif offline and counted and direction == "in" and decision.registration_id is not None:
        window = timedelta(seconds=DOUBLE_ENTRY_SECONDS)
        twin = _conn().execute(_DOUBLE_ENTRY, {"event_id": event.id, "registration_id": decision.registration_id,
                                               "area": area_settings.name, "since": at - window, "until": at + window,
                                               "door": door_name}).first()
        conflict = DOUBLE_ENTRY if twin is not None else None
    response = {
        "result": decision.result, "reason": decision.reason, "attendee": decision.attendee,
        "area": {"name": area_settings.name, "label": area_settings.label, "occupancy": occupancy,
                 "capacity": area_settings.capacity},
        "conflict": conflict, "replaced_by_serial": decision.replaced_by_serial,
    }
    scan_id = _conn().execute(_INSERT_SCAN, {
        "event_id": event.id, "area": area_settings.name, "door": door_name, "badge_id": decision.badge_id,
        "registration_id": decision.registration_id, "staff_id": actor.id, "direction": direction,
        "result": decision.result, "reason": decision.reason, "offline": offline, "offline_result": offline_result,
        "conflict": conflict, "counted": counted, "scanned_at": at, "received_at": now, "nonce": nonce,
        "request_digest": digest, "response": response,
    }).scalar_one()
    if conflict is not None:
        record_target(actor, "door.conflict", "AccessScan", scan_id, event_id=event.id, conflict=conflict,
                      area=area_settings.name, door=door_name, reason=decision.reason,
                      registration_id=decision.registration_id, scanned_at=_iso(at))
    return ScanOutcome(response)


# --- the offline snapshot --------------------------------------------------------------------------------------


def encode_cursor(at: datetime) -> str:
    """An opaque cursor for the changes after ``at``."""
    return f"1.{int(at.timestamp() * 1_000_000)}"


def decode_cursor(cursor: object) -> datetime:
    """The time a cursor stands for.

    :raise LanyardError: ``invalid_field`` for anything :func:`encode_cursor` did not make.
    """
    match = _CURSOR.fullmatch(cursor) if isinstance(cursor, str) else None
    if match is None:
        raise LanyardError("invalid_field", "since: a cursor from an earlier snapshot", field="since")
    return datetime.fromtimestamp(int(match.group(1)) / 1_000_000, tz=timezone.utc)


_SNAPSHOT_COLUMNS = (_badges.c.code_hash, _badges.c.status, _registrations.c.status, _registrations.c.badge_name,
                     _registrations.c.type_name, _health.c.method, _health.c.state, _health.c.test_taken_at,
                     _health.c.expires_at)


_ID_CHUNK = 5000


def _snapshot_rows(event_id: int, since: datetime | None):
    """The badges a snapshot lists: every badge of the event, or those created or changed since ``since``."""
    statement = (sa.select(*_SNAPSHOT_COLUMNS).select_from(_badges)
                 .join(_registrations, _registrations.c.id == _badges.c.registration_id)
                 .outerjoin(_health, _health.c.registration_id == _registrations.c.id)
                 .where(_badges.c.event_id == event_id))
    if since is None:
        yield from _conn().execute(statement)
        return
    # The changed ids first (four index-served lookups rather than one OR across three tables), then their rows:
    # in one statement PostgreSQL's planner guessed thousands of changes and hashed all 50,000 badges.
    changed = sa.union(
        sa.select(_badges.c.id).where(_badges.c.event_id == event_id, _badges.c.created_at > since),
        sa.select(_badges.c.id).where(_badges.c.event_id == event_id, _badges.c.voided_at > since),
        sa.select(_badges.c.id).join(_registrations, _registrations.c.id == _badges.c.registration_id)
        .where(_registrations.c.event_id == event_id, _registrations.c.updated_at > since),
        sa.select(_badges.c.id).join(_health, _health.c.registration_id == _badges.c.registration_id)
        .where(_health.c.updated_at > since),
    )
    ids = sorted(_conn().execute(changed).scalars())
    for start in range(0, len(ids), _ID_CHUNK):
        yield from _conn().execute(statement.where(_badges.c.id.in_(ids[start:start + _ID_CHUNK])))


def build_snapshot(event: Event | EventRef, *, area: object, since: object = None, settings: Settings,
                   now: datetime | None = None) -> dict:
    """The door page's offline copy for ``area``: every valid badge (or the changes since a cursor) and void digests.

    Each badge is the SHA-256 of its code (as stored), the holder's badge name and pass, whether the pass opens
    the area, and whether (and until when) the holder is cleared. ``void`` lists badges no door may admit (void,
    or of a cancelled registration): all of them in a full snapshot, those changed since the cursor in a delta.

    :raise LanyardError: ``unknown_area``, ``invalid_field`` (a cursor this did not make).
    """
    area_settings = _area(settings, area)
    now = now or utcnow()
    since_at = decode_cursor(since) - SNAPSHOT_OVERLAP if since is not None else None
    policy = settings.health
    passes = {name: (rtype.label, area_settings.name in rtype.access_areas)
              for name, rtype in settings.registration_types.items()}
    badges, void = [], []
    verdicts: dict[tuple, tuple[str | None, bool]] = {}  # most people share a few health states: decide each once
    for digest, badge_status, registration_status, badge_name, type_name, *health in \
            _snapshot_rows(event.id, since_at):
        if badge_status != "valid" or registration_status != "confirmed":
            void.append(digest)
            continue
        key = tuple(health)
        verdict = verdicts.get(key)
        if verdict is None:
            clearance = assess_clearance(_HealthRow(*health) if health[0] is not None else None, policy, now)
            verdict = verdicts[key] = (_iso(clearance.expires_at) if clearance.cleared else None, clearance.cleared)
        label, admits = passes.get(type_name, (type_name, False))
        badges.append({"digest": digest, "badge_name": badge_name, "pass": type_name, "pass_label": label,
                       "admits": admits, "cleared_until": verdict[0], "cleared": verdict[1]})
    return {
        "area": {"name": area_settings.name, "label": area_settings.label, "label_es": area_settings.label_es,
                 "capacity": area_settings.capacity, "occupancy": _occupancy_now(event.id, area_settings.name),
                 "reentry": area_settings.reentry,
                 "open": [[start.isoformat(), end.isoformat()] for start, end in area_settings.open]},
        "cursor": encode_cursor(now), "full": since is None, "generated_at": _iso(now),
        "offline_unknown": settings.door.offline_unknown, "badges": badges, "void": void,
    }


# --- conflicts -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conflict:
    """One conflict an offline upload revealed, as the desk lists it."""

    scan_id: int
    conflict: str
    area: str
    door: str
    direction: str
    reason: str | None
    scanned_at: datetime
    received_at: datetime
    staff: str
    registration_id: int | None
    badge_name: str | None
    badge_serial: int | None

    def as_dict(self) -> dict:
        """The staff API's shape of a conflict."""
        return {"id": self.scan_id, "conflict": self.conflict, "area": self.area, "door": self.door,
                "direction": self.direction, "reason": self.reason, "scanned_at": _iso(self.scanned_at),
                "received_at": _iso(self.received_at), "staff": self.staff,
                "registration_id": self.registration_id, "badge_name": self.badge_name,
                "badge_serial": self.badge_serial}


def list_conflicts(event: Event | EventRef, *, limit: int = 200) -> list[Conflict]:
    """The event's door conflicts, newest first (at most ``limit``)."""
    staff = StaffUser.__table__
    rows = _conn().execute(
        sa.select(_scans.c.id, _scans.c.conflict, _scans.c.area, _scans.c.door, _scans.c.direction,
                  _scans.c.reason, _scans.c.scanned_at, _scans.c.received_at, staff.c.email,
                  _scans.c.registration_id, _registrations.c.badge_name, _scans.c.badge_id)
        .select_from(_scans)
        .join(staff, staff.c.id == _scans.c.staff_id)
        .outerjoin(_registrations, _registrations.c.id == _scans.c.registration_id)
        .where(_scans.c.event_id == event.id, _scans.c.conflict.is_not(None))
        .order_by(_scans.c.id.desc()).limit(limit))
    return [Conflict(*row) for row in rows]
