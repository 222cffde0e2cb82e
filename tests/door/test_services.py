"""The scan decision: every result and reason, in the documented order, with windows, capacity, re-entry and
direction; the nonce; offline uploads and their conflicts; the offline snapshot (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from registration.codes import new_code
from registration.door.models import AccessScan, AreaOccupancy
from registration.door.services import CONFLICT_CODES, REASONS, build_snapshot, decode_cursor, list_conflicts
from registration.errors import CODES, LanyardError
from registration.extensions import db
from registration.models import AuditEvent, Event, HealthRecord, Registration
from registration.printing.models import Badge
from tests.door.conftest import DURING, EVENT_ZONE, count, issue_badge_for, new_nonce


def _set_occupancy(event, area: str, occupancy: int) -> None:
    db.session.merge(AreaOccupancy(event_id=event.id, area=area, occupancy=occupancy))
    db.session.commit()


def _negative_test(registration_id: int, taken: datetime) -> None:
    """Make the person's clearance a verified negative test taken at ``taken`` (valid 72 hours)."""
    record = db.session.execute(sa.select(HealthRecord).filter_by(registration_id=registration_id)).scalar_one()
    record.method, record.state, record.test_taken_at, record.expires_at = "negative_test", "verified", taken, None
    db.session.commit()


def test_every_reason_is_a_documented_code():
    assert set(REASONS) <= set(CODES)
    assert len(REASONS) == 11 and "double_entry" in CONFLICT_CODES


def test_a_full_attendee_is_admitted_and_the_scan_is_stored(make_badge, scan, door_user, event):
    badge = make_badge(badge_name="Ada L.")
    outcome = scan(badge.code, "expo", door="Hall B north")
    assert outcome.response == {
        "result": "admit", "reason": None,
        "attendee": {"badge_name": "Ada L.", "pass": "full", "pass_label": "Full conference"},
        "area": {"name": "expo", "label": "Expo hall", "occupancy": 1, "capacity": None},
        "conflict": None, "replaced_by_serial": None,
    }
    row = db.session.execute(sa.select(AccessScan)).scalar_one()
    assert (row.area, row.door, row.badge_id, row.registration_id, row.staff_id, row.direction, row.result,
            row.reason, row.offline, row.counted) == ("expo", "Hall B north", badge.serial, badge.registration_id,
                                                      door_user[0].id, "in", "admit", None, False, True)
    assert row.scanned_at == row.received_at == DURING


@pytest.mark.parametrize("raw", ["", "hello", "B1" + "U" * 26, "B1" + "0" * 25, "B1" + "0" * 27, "B1" * 40,
                                 "\x00" * 10, "Б1" + "0" * 26, "B1 0000 0000\n\t" + "\u200b" * 3, "' OR 1=1 --"])
def test_anything_that_is_not_a_code_is_code_malformed(scan, raw):
    outcome = scan(raw, "expo")
    assert (outcome.result, outcome.reason, outcome.response["attendee"]) == ("deny", "code_malformed", None)


def test_a_well_formed_badge_code_that_was_never_issued_is_code_unknown(scan):
    assert scan(new_code("badge")).reason == "code_unknown"
    assert scan(new_code("registration")).reason == "code_unknown"  # forged: not "collect your badge"


def test_the_emails_registration_code_at_a_door_is_wrong_code_kind(make_badge, scan):
    badge = make_badge()
    assert scan(badge.registration_code).reason == "wrong_code_kind"
    assert scan(new_code("kiosk")).reason == "wrong_code_kind"
    assert scan(new_code("staff_token")).reason == "wrong_code_kind"


def test_a_typed_badge_code_in_any_case_with_dashes_is_the_badge(make_badge, scan):
    badge = make_badge()
    typed = "-".join(badge.code[i:i + 4] for i in range(0, len(badge.code), 4)).lower()
    assert scan(typed).result == "admit"


def test_a_badge_of_another_event_is_wrong_event(make_badge, scan):
    badge = make_badge()
    other = Event(slug="forum-2027", name="Forum", venue="Hall", starts_on=DURING.date(), ends_on=DURING.date(),
                  timezone="America/Los_Angeles")
    db.session.add(other)
    db.session.flush()
    db.session.execute(sa.update(Badge).where(Badge.id == badge.serial).values(event_id=other.id))
    db.session.commit()
    assert scan(badge.code).reason == "wrong_event"


def test_a_reprinted_badge_is_void_and_names_the_badge_that_replaced_it(make_badge, scan, settings):
    old = make_badge(badge_name="Grace")
    new = issue_badge_for(db.session.get(Registration, old.registration_id), settings, reason="lost")
    outcome = scan(old.code, "expo")
    assert (outcome.result, outcome.reason, outcome.response["replaced_by_serial"]) == ("deny", "badge_void", new.serial)
    assert outcome.response["attendee"]["badge_name"] == "Grace"
    assert scan(new.code, "expo").result == "admit"


def test_a_cancelled_registrations_badge_is_refused(make_badge, scan):
    badge = make_badge()
    db.session.execute(sa.update(Registration).where(Registration.id == badge.registration_id)
                       .values(status="cancelled"))
    db.session.commit()
    assert scan(badge.code).reason == "registration_cancelled"


def test_a_guest_enters_the_expo_and_receptions_only(make_badge, scan):
    guest = make_badge(guest=True)
    assert scan(guest.code, "expo").result == "admit"
    assert scan(guest.code, "receptions").result == "admit"
    for area in ("breakouts", "general_sessions", "caucus"):
        outcome = scan(guest.code, area)
        assert (outcome.result, outcome.reason) == ("deny", "area_denied")
        assert outcome.response["attendee"]["pass_label"] == "Guest — Expo & receptions"


@pytest.mark.parametrize("local, open_", [
    ((2027, 9, 15, 7, 59), False), ((2027, 9, 15, 8, 0), True), ((2027, 9, 15, 11, 59), True),
    ((2027, 9, 15, 12, 0), False), ((2027, 9, 15, 20, 0), False), ((2027, 9, 16, 9, 30), True),
    ((2027, 9, 17, 9, 30), False)])
def test_an_area_admits_only_inside_its_windows_in_the_event_zone(make_badge, scan, local, open_):
    badge = make_badge()
    outcome = scan(badge.code, "caucus", now=datetime(*local, tzinfo=EVENT_ZONE))
    assert (outcome.result, outcome.reason) == (("admit", None) if open_ else ("deny", "area_closed"))


def test_a_full_area_refuses_until_someone_leaves(make_badge, scan, event):
    _set_occupancy(event, "breakouts", 39)
    first, second = make_badge(), make_badge()
    assert scan(first.code, "breakouts").response["area"] == {"name": "breakouts", "label": "Breakout sessions",
                                                               "occupancy": 40, "capacity": 40}
    refused = scan(second.code, "breakouts")
    assert (refused.result, refused.reason, refused.response["area"]["occupancy"]) == ("deny", "area_full", 40)
    assert scan(first.code, "breakouts", direction="out").response["area"]["occupancy"] == 39
    assert scan(second.code, "breakouts").result == "admit"


def test_a_negative_test_that_runs_out_during_the_event_is_health_not_cleared(make_badge, scan):
    badge = make_badge()
    _negative_test(badge.registration_id, datetime(2027, 9, 13, 9, 0, tzinfo=EVENT_ZONE))  # clears until 16th 09:00
    assert scan(badge.code, "expo", now=datetime(2027, 9, 16, 8, 59, tzinfo=EVENT_ZONE)).result == "admit"
    outcome = scan(badge.code, "expo", now=datetime(2027, 9, 16, 9, 0, tzinfo=EVENT_ZONE))
    assert (outcome.result, outcome.reason) == ("deny", "health_not_cleared")
    assert outcome.response["attendee"] is not None


def test_without_reentry_a_second_in_is_already_inside_until_the_person_scans_out(make_badge, scan):
    badge = make_badge()
    assert scan(badge.code, "caucus").result == "admit"
    outcome = scan(badge.code, "caucus", door="Side door")
    assert (outcome.result, outcome.reason, outcome.response["area"]["occupancy"]) == ("deny", "already_inside", 1)
    assert scan(badge.code, "caucus", direction="out").response["area"]["occupancy"] == 0
    assert scan(badge.code, "caucus").result == "admit"


def test_with_reentry_every_in_is_admitted_and_counted(make_badge, scan):
    badge = make_badge()
    assert [scan(badge.code, "expo").response["area"]["occupancy"] for _ in range(3)] == [1, 2, 3]


def test_occupancy_is_in_minus_out_and_never_below_zero(make_badge, scan, event):
    a, b = make_badge(), make_badge()
    scan(a.code, "expo")
    scan(b.code, "expo")
    assert scan(a.code, "expo", direction="out").response["area"]["occupancy"] == 1
    assert scan(b.code, "expo", direction="out").response["area"]["occupancy"] == 0
    outcome = scan(b.code, "expo", direction="out")
    assert (outcome.result, outcome.response["area"]["occupancy"]) == ("admit", 0)


def test_leaving_is_refused_only_for_a_bad_badge(make_badge, scan, settings):
    guest = make_badge(guest=True)
    # The room's rules do not apply on the way out: a guest leaving a breakout, a closed caucus.
    assert scan(guest.code, "breakouts", direction="out").result == "admit"
    assert scan(guest.code, "caucus", direction="out", now=DURING + timedelta(hours=5)).result == "admit"
    issue_badge_for(db.session.get(Registration, guest.registration_id), settings, reason="lost")
    assert scan(guest.code, "expo", direction="out").reason == "badge_void"


@pytest.mark.parametrize("setup, area, expected", [
    ("void_guest", "breakouts", "badge_void"),            # void before area_denied
    ("cancelled_guest", "breakouts", "registration_cancelled"),  # cancelled before area_denied
    ("guest_late", "caucus", "area_denied"),              # area_denied before area_closed
    ("full_and_not_cleared", "breakouts", "area_full"),   # area_full before health_not_cleared
    ("closed_and_not_cleared", "caucus", "area_closed"),  # area_closed before health_not_cleared
    ("inside_and_not_cleared", "caucus", "health_not_cleared"),  # health before already_inside
])
def test_reasons_are_decided_in_the_documented_order(make_badge, scan, settings, event, setup, area, expected):
    guest = "guest" in setup
    badge = make_badge(guest=guest)
    now = DURING
    if setup == "void_guest":
        issue_badge_for(db.session.get(Registration, badge.registration_id), settings, reason="lost")
    if setup == "cancelled_guest":
        db.session.execute(sa.update(Registration).where(Registration.id == badge.registration_id)
                           .values(status="cancelled"))
        db.session.commit()
    if setup == "guest_late":
        now = DURING + timedelta(hours=5)
    if setup == "inside_and_not_cleared":
        assert scan(badge.code, "caucus").result == "admit"
    if "not_cleared" in setup:
        _negative_test(badge.registration_id, DURING - timedelta(hours=80))
    if setup == "full_and_not_cleared":
        _set_occupancy(event, "breakouts", 40)
    if setup == "closed_and_not_cleared":
        now = DURING + timedelta(hours=5)
    assert scan(badge.code, area, now=now).reason == expected


def test_a_retried_nonce_gets_the_first_answer_and_counts_once(make_badge, scan, event):
    badge = make_badge()
    nonce = new_nonce()
    first = scan(badge.code, "expo", nonce=nonce)
    again = scan(badge.code, "expo", nonce=nonce, now=DURING + timedelta(seconds=3))
    assert again.replayed and again.response == first.response
    assert count(AccessScan) == 1
    assert db.session.get(AreaOccupancy, (event.id, "expo")).occupancy == 1


@pytest.mark.parametrize("change", [{"area": "receptions"}, {"direction": "out"}, {"door": "Door 2"},
                                    {"code": "other"}])
def test_a_nonce_reused_for_another_scan_is_refused(make_badge, scan, change):
    badge = make_badge()
    nonce = new_nonce()
    scan(badge.code, "expo", nonce=nonce)
    request = {"code": badge.code, "area": "expo", "direction": "in", "door": "Door 1", **change}
    if request["code"] == "other":
        request["code"] = make_badge().code
    code, area = request.pop("code"), request.pop("area")
    with pytest.raises(LanyardError) as refused:
        scan(code, area, nonce=nonce, **request)
    assert refused.value.code == "nonce_reused"


@pytest.mark.parametrize("options, code", [
    ({"area": "moon"}, "unknown_area"), ({"area": ""}, "unknown_area"), ({"area": "x" * 5000}, "unknown_area"),
    ({"door": ""}, "invalid_field"), ({"door": "   "}, "invalid_field"), ({"door": "d" * 61}, "invalid_field"),
    ({"door": "Door\x001"}, "invalid_field"), ({"direction": "sideways"}, "invalid_field"),
    ({"nonce": "short"}, "nonce_invalid"), ({"offline": True}, "invalid_field"),
    ({"scanned_at": DURING}, "invalid_field"), ({"offline_result": "admit"}, "invalid_field"),
    ({"offline": True, "scanned_at": DURING + timedelta(hours=1)}, "invalid_field"),
    ({"offline": True, "scanned_at": DURING - timedelta(days=8)}, "invalid_field"),
    ({"offline": True, "scanned_at": DURING, "offline_result": "maybe"}, "invalid_field"),
])
def test_bad_scan_requests_are_refused_and_change_nothing(make_badge, scan, options, code):
    badge = make_badge()
    area = options.pop("area", "expo")
    with pytest.raises(LanyardError) as refused:
        scan(badge.code, area, **options)
    assert refused.value.code == code
    db.session.rollback()
    assert count(AccessScan) == 0


# --- offline uploads ------------------------------------------------------------------------------------------


def _offline(scan, code, area="expo", *, at, result="admit", door="Door 1", **options):
    return scan(code, area, offline=True, scanned_at=at, offline_result=result, door=door,
                now=DURING + timedelta(minutes=30), **options)


def test_an_offline_scan_is_stored_with_its_real_time_and_counted(make_badge, scan, event):
    badge = make_badge()
    at = DURING - timedelta(minutes=10)
    outcome = _offline(scan, badge.code, at=at)
    assert (outcome.result, outcome.conflict, outcome.response["area"]["occupancy"]) == ("admit", None, 1)
    row = db.session.execute(sa.select(AccessScan)).scalar_one()
    assert (row.offline, row.offline_result, row.scanned_at, row.received_at) == (
        True, "admit", at, DURING + timedelta(minutes=30))


def test_a_void_badge_admitted_offline_is_a_conflict_counted_and_audited(make_badge, scan, settings, event):
    badge = make_badge()
    issue_badge_for(db.session.get(Registration, badge.registration_id), settings, reason="lost")
    outcome = _offline(scan, badge.code, at=DURING)
    assert (outcome.result, outcome.reason, outcome.conflict) == ("deny", "badge_void", "admitted_void")
    assert outcome.response["area"]["occupancy"] == 1  # the person went in
    audit = db.session.execute(sa.select(AuditEvent).filter_by(action="door.conflict")).scalar_one()
    assert audit.details["conflict"] == "admitted_void" and audit.target_type == "AccessScan"
    [listed] = list_conflicts(event)
    assert (listed.conflict, listed.area, listed.door, listed.reason) == ("admitted_void", "expo", "Door 1",
                                                                          "badge_void")


def test_a_scan_that_timed_out_online_and_is_uploaded_offline_is_the_same_scan(make_badge, scan, event):
    badge = make_badge()
    nonce = new_nonce()
    online = scan(badge.code, "expo", nonce=nonce)  # the server decided; the answer never reached the door
    upload = _offline(scan, badge.code, at=DURING, nonce=nonce)
    assert upload.replayed and upload.response == online.response
    assert count(AccessScan) == 1
    assert db.session.get(AreaOccupancy, (event.id, "expo")).occupancy == 1


def test_a_refused_scan_the_door_admitted_offline_after_a_time_out_is_a_conflict(make_badge, scan, settings, event):
    badge = make_badge()
    issue_badge_for(db.session.get(Registration, badge.registration_id), settings, reason="lost")
    nonce = new_nonce()
    assert scan(badge.code, "expo", nonce=nonce).reason == "badge_void"  # stored; the door timed out, admitted
    _offline(scan, badge.code, at=DURING, nonce=nonce)
    row = db.session.execute(sa.select(AccessScan)).scalar_one()
    assert (row.conflict, row.offline_result) == ("admitted_void", "admit")
    assert [c.conflict for c in list_conflicts(event)] == ["admitted_void"]
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)
                              .filter_by(action="door.conflict")).scalar_one() == 1
    _offline(scan, badge.code, at=DURING, nonce=nonce)  # the queue uploads it again: no second conflict
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)
                              .filter_by(action="door.conflict")).scalar_one() == 1


@pytest.mark.parametrize("setup, area, conflict", [
    ("guest", "breakouts", "admitted_denied"), ("unknown", "expo", "admitted_unknown"),
    ("cancelled", "expo", "admitted_cancelled"), ("expired", "expo", "admitted_not_cleared"),
    ("late", "caucus", "admitted_closed")])
def test_every_offline_admission_the_server_refuses_is_a_conflict(make_badge, scan, setup, area, conflict):
    badge = make_badge(guest=setup == "guest")
    code, at = badge.code, DURING
    if setup == "unknown":
        code = new_code("badge")
    if setup == "cancelled":
        db.session.execute(sa.update(Registration).where(Registration.id == badge.registration_id)
                           .values(status="cancelled"))
        db.session.commit()
    if setup == "expired":
        _negative_test(badge.registration_id, DURING - timedelta(hours=73))
    if setup == "late":
        at = datetime(2027, 9, 15, 7, 0, tzinfo=EVENT_ZONE)
    assert _offline(scan, code, area, at=at).conflict == conflict


def test_a_door_that_denied_offline_counts_nothing_and_conflicts_with_nothing(make_badge, scan, settings):
    badge = make_badge()
    issue_badge_for(db.session.get(Registration, badge.registration_id), settings, reason="lost")
    outcome = _offline(scan, badge.code, at=DURING, result="deny")
    assert (outcome.reason, outcome.conflict, outcome.response["area"]["occupancy"]) == ("badge_void", None, 0)


def test_one_badge_let_in_at_two_doors_within_two_minutes_is_a_double_entry(make_badge, scan):
    badge, other = make_badge(), make_badge()
    assert scan(badge.code, "expo", door="North").result == "admit"
    assert _offline(scan, badge.code, at=DURING + timedelta(seconds=40), door="South").conflict == "double_entry"
    # the same door twice, or two doors far apart in time, is no double entry
    assert _offline(scan, other.code, at=DURING, door="North").conflict is None
    assert _offline(scan, other.code, at=DURING + timedelta(seconds=30), door="North").conflict is None
    assert _offline(scan, other.code, at=DURING + timedelta(minutes=10), door="South").conflict is None


def test_offline_uploads_count_in_order_and_once(make_badge, scan, event):
    badges = [make_badge() for _ in range(3)]
    nonces = [new_nonce() for _ in badges]
    for minute, (badge, nonce) in enumerate(zip(badges, nonces)):
        _offline(scan, badge.code, at=DURING + timedelta(minutes=minute), nonce=nonce)
    _offline(scan, badges[0].code, at=DURING + timedelta(minutes=5), direction="out")
    for minute, (badge, nonce) in enumerate(zip(badges, nonces)):  # the queue uploads again: nothing changes
        assert _offline(scan, badge.code, at=DURING + timedelta(minutes=minute), nonce=nonce).replayed
    assert db.session.get(AreaOccupancy, (event.id, "expo")).occupancy == 2
    assert count(AccessScan) == 4


def test_offline_in_a_full_room_is_counted_as_the_door_decided(make_badge, scan, event):
    _set_occupancy(event, "breakouts", 40)
    badge = make_badge()
    outcome = _offline(scan, badge.code, "breakouts", at=DURING)
    assert (outcome.result, outcome.conflict, outcome.response["area"]["occupancy"]) == ("admit", None, 41)


# --- the offline snapshot --------------------------------------------------------------------------------------


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def test_a_full_snapshot_lists_every_valid_badge_with_its_pass_and_clearance(make_badge, event, settings):
    full, guest, tested = make_badge(badge_name="Ada"), make_badge(guest=True), make_badge()
    taken = DURING - timedelta(hours=10)
    _negative_test(tested.registration_id, taken)
    old = make_badge()
    issue_badge_for(db.session.get(Registration, old.registration_id), settings, reason="lost")
    snap = build_snapshot(event, area="breakouts", settings=settings, now=DURING)
    assert snap["area"] == {"name": "breakouts", "label": "Breakout sessions", "label_es": "Sesiones simultáneas",
                            "capacity": 40, "occupancy": 0, "reentry": True, "open": []}
    assert snap["full"] is True and snap["offline_unknown"] == "deny" and snap["generated_at"] == "2027-09-15T17:00:00Z"
    by_digest = {b["digest"]: b for b in snap["badges"]}
    assert len(by_digest) == 4 and _digest(old.code) not in by_digest and snap["void"] == [_digest(old.code)]
    assert by_digest[_digest(full.code)] == {"digest": _digest(full.code), "badge_name": "Ada", "pass": "full",
                                             "pass_label": "Full conference", "admits": True,
                                             "cleared_until": None, "cleared": True}
    assert by_digest[_digest(guest.code)]["admits"] is False
    expected_until = (taken + timedelta(hours=72)).astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    assert by_digest[_digest(tested.code)]["cleared_until"] == expected_until


def test_a_snapshot_since_a_cursor_lists_only_what_changed(make_badge, event, settings):
    kept, reprinted, cancelled = make_badge(), make_badge(), make_badge()
    first = build_snapshot(event, area="expo", settings=settings, now=DURING)
    # Changes are found by their timestamps; these happen after the cursor's overlap has passed.
    later = DURING + timedelta(minutes=5)
    new = issue_badge_for(db.session.get(Registration, reprinted.registration_id), settings, reason="lost")
    db.session.execute(sa.update(Badge).where(Badge.registration_id == reprinted.registration_id)
                       .values(created_at=later))
    db.session.execute(sa.update(Badge).where(Badge.id == reprinted.serial).values(voided_at=later))
    db.session.execute(sa.update(Registration).where(Registration.id == cancelled.registration_id)
                       .values(status="cancelled", updated_at=later))
    db.session.execute(sa.update(Registration).where(Registration.id != cancelled.registration_id)
                       .values(updated_at=DURING - timedelta(hours=1)))
    db.session.execute(sa.update(HealthRecord).values(updated_at=DURING - timedelta(hours=1)))
    db.session.execute(sa.update(Badge).where(Badge.registration_id != reprinted.registration_id)
                       .values(created_at=DURING - timedelta(hours=1)))
    db.session.commit()
    delta = build_snapshot(event, area="expo", since=first["cursor"], settings=settings, now=later)
    assert delta["full"] is False
    assert [b["digest"] for b in delta["badges"]] == [_digest(new.code)]
    assert sorted(delta["void"]) == sorted([_digest(reprinted.code), _digest(cancelled.code)])
    assert _digest(kept.code) not in {b["digest"] for b in delta["badges"]}
    assert decode_cursor(delta["cursor"]) == later


@pytest.mark.parametrize("cursor", ["", "yesterday", "1.", "2.123", "1.-5", "1." + "9" * 40, "1.12\n"])
def test_a_cursor_the_server_did_not_make_is_refused(event, settings, cursor):
    with pytest.raises(LanyardError) as refused:
        build_snapshot(event, area="expo", since=cursor, settings=settings)
    assert refused.value.code == "invalid_field"


def test_a_snapshot_of_an_unknown_area_is_refused(event, settings):
    with pytest.raises(LanyardError) as refused:
        build_snapshot(event, area="moon", settings=settings)
    assert refused.value.code == "unknown_area"
