"""The desk's operations: health verification, desk check-in, reprints, upgrades, cancellations, undo, resend,
walk-ups; each refusal by its code, each rule that must hold under concurrency by a race."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from registration.audit import Actor
from registration.checkin.models import CheckIn, CheckInRequest, Kiosk
from registration.checkin.services import check_in
from registration.desk.cases import open_desk_case
from registration.desk.models import DeskCase
from registration.desk.services import (REPRINT_REASONS, HealthVerification, cancel_at_desk, check_in_at_desk,
                                        register_walk_up, registration_by_scan, reprint_badge,
                                        resend_confirmation, undo_check_in, update_registration, upgrade_registration,
                                        verify_and_print, verify_health)
from registration.errors import LanyardError
from registration.extensions import db
from registration.health import assess_clearance
from registration.models import AuditEvent, Registration, utcnow
from registration.printing.models import Badge, PrintJob
from registration.services import EventRef, PersonInput, cancel_registration

from .conftest import count, new_nonce


@pytest.fixture
def app(service_app):
    """The desk service tests' shared app, on a fresh database (see ``service_app``)."""
    return service_app

RACE_ROUNDS = 15


def badges_of(registration) -> list[Badge]:
    """The person's badges, oldest first, as the database has them now."""
    db.session.expire_all()
    return list(db.session.execute(sa.select(Badge).filter_by(registration_id=registration.id)
                                   .order_by(Badge.id)).scalars())


def jobs_of(registration) -> list[PrintJob]:
    """The person's print jobs, oldest first."""
    db.session.expire_all()
    return list(db.session.execute(sa.select(PrintJob).join(Badge, Badge.id == PrintJob.badge_id)
                                   .where(Badge.registration_id == registration.id).order_by(PrintJob.id)).scalars())


def cases_of(registration) -> list[DeskCase]:
    """The person's desk cases, oldest first."""
    db.session.expire_all()
    return list(db.session.execute(sa.select(DeskCase).filter_by(registration_id=registration.id)
                                   .order_by(DeskCase.id)).scalars())


def audit(action: str, registration) -> list[AuditEvent]:
    """The audit events of ``action`` about the person, oldest first."""
    return list(db.session.execute(sa.select(AuditEvent).filter_by(action=action, target_type="Registration",
                                                                   target_id=registration.id)
                                   .order_by(AuditEvent.id)).scalars())


def refused(code: str, call, *args, **kwargs) -> LanyardError:
    """Call and expect a refusal with ``code``; the transaction is rolled back, as a route would."""
    with pytest.raises(LanyardError) as caught:
        call(*args, **kwargs)
    db.session.rollback()
    assert caught.value.code == code, caught.value
    return caught.value


# --- verify_health ------------------------------------------------------------------------------------------


def _hours_ago(hours: float):
    return utcnow() - timedelta(hours=hours)


NOT_CLEARED = [
    # (make_registration health fields, the exact reason)
    ({"health": "vaccinated", "health_state": "attested"}, "health_unverified"),
    ({"health": None}, "health_missing"),
    ({"health": "vaccinated", "health_state": "rejected"}, "health_rejected"),
    ({"health": "negative_test", "health_state": "verified", "test_taken_at": _hours_ago(100)}, "health_expired"),
    ({"health": "exempt", "health_state": "attested"}, "health_unverified"),
]


@pytest.mark.parametrize(("health", "reason"), NOT_CLEARED, ids=[r for _h, r in NOT_CLEARED])
def test_a_verified_vaccination_clears_and_resolves_the_open_health_case(settings, make_registration, kiosk_check_in,
                                                                         registrar, health, reason):
    issued = make_registration(**health)[0]
    outcome = kiosk_check_in(issued.code)
    assert (outcome.result, outcome.reason) == ("needs_desk", "health_not_cleared")
    [case] = cases_of(issued.registration)
    assert (case.id, case.reason, case.state) == (outcome.response["desk_case"]["id"], reason, "open")

    clearance = verify_health(issued.registration, HealthVerification("vaccinated"), actor=registrar,
                              settings=settings)
    db.session.commit()

    assert (clearance.cleared, clearance.reason) == (True, None)
    [case] = cases_of(issued.registration)
    assert (case.state, case.resolved_by_id) == ("resolved", registrar.id)
    assert case.resolution and case.resolved_at is not None
    health_record = db.session.get(Registration, issued.registration.id).health
    assert (health_record.method, health_record.state, health_record.verified_by_id) == (
        "vaccinated", "verified", registrar.id)
    assert health_record.verified_at is not None
    assert kiosk_check_in(issued.code).result == "checked_in"


def test_a_verification_leaves_other_cases_of_the_person_open(settings, make_registration, registrar, event):
    person = make_registration(health="vaccinated", health_state="attested")[0].registration
    health_case = open_desk_case(event_id=event.id, reason="health_unverified", actor=registrar,
                                 registration_id=person.id)
    print_case = open_desk_case(event_id=event.id, reason="print_failed", actor=registrar, registration_id=person.id)
    db.session.commit()
    verify_health(person, HealthVerification("vaccinated"), actor=registrar, settings=settings)
    db.session.commit()
    states = {case.id: case.state for case in cases_of(person)}
    assert states == {health_case: "resolved", print_case: "open"}


def test_a_negative_test_needs_the_time_it_was_taken(settings, make_registration, registrar):
    person = make_registration(health="negative_test", health_state="attested",
                               test_taken_at=_hours_ago(2))[0].registration
    error = refused("invalid_field", verify_health, person, HealthVerification("negative_test"), actor=registrar,
                    settings=settings)
    assert error.extra["field"] == "test_taken_at"
    assert db.session.get(Registration, person.id).health.state == "attested"


def test_a_test_time_without_a_time_zone_is_refused(settings, make_registration, registrar):
    person = make_registration(health=None)[0].registration
    naive = utcnow().replace(tzinfo=None) - timedelta(hours=1)
    refused("invalid_field", verify_health, person, HealthVerification("negative_test", test_taken_at=naive),
            actor=registrar, settings=settings)


def test_a_negative_test_clears_until_negative_test_valid_hours_after_it_was_taken(settings, make_registration,
                                                                                   registrar):
    person = make_registration(health=None)[0].registration
    taken = _hours_ago(1)
    clearance = verify_health(person, HealthVerification("negative_test", test_taken_at=taken), actor=registrar,
                              settings=settings)
    db.session.commit()
    hours = settings.health.negative_test_valid_hours
    assert hours == 72
    assert clearance.cleared and clearance.expires_at == taken + timedelta(hours=hours)
    health_record = db.session.get(Registration, person.id).health
    assert health_record.expires_at == taken + timedelta(hours=hours)
    almost = taken + timedelta(hours=hours) - timedelta(seconds=1)
    assert assess_clearance(health_record, settings.health, almost).cleared
    later = assess_clearance(health_record, settings.health, taken + timedelta(hours=hours))
    assert (later.cleared, later.reason) == (False, "health_expired")


def test_a_negative_test_taken_80_hours_ago_is_recorded_but_does_not_clear(settings, make_registration, registrar,
                                                                           kiosk_check_in):
    issued = make_registration(health="negative_test", health_state="attested", test_taken_at=_hours_ago(80))[0]
    kiosk_check_in(issued.code)
    taken = _hours_ago(80)
    clearance = verify_health(issued.registration, HealthVerification("negative_test", test_taken_at=taken),
                              actor=registrar, settings=settings)
    db.session.commit()
    assert (clearance.cleared, clearance.reason) == (False, "health_expired")
    health_record = db.session.get(Registration, issued.registration.id).health
    assert (health_record.state, health_record.test_taken_at) == ("verified", taken)
    assert [case.state for case in cases_of(issued.registration)] == ["open"]
    [event_] = audit("health.verify", issued.registration)
    assert event_.details["after"]["cleared"] is False


@pytest.mark.parametrize("result", [None, "", "maybe", "NEGATIVE", "inconclusive", 1])
def test_an_on_site_test_needs_its_result(settings, make_registration, registrar, result):
    person = make_registration(health=None)[0].registration
    error = refused("invalid_field", verify_health, person,
                    HealthVerification("onsite_test", test_taken_at=_hours_ago(0.2), result=result),
                    actor=registrar, settings=settings)
    assert error.extra["field"] == "result"
    assert db.session.get(Registration, person.id).health is None


def test_a_negative_on_site_test_clears_for_the_on_site_test_hours(settings, make_registration, registrar):
    person = make_registration(health=None)[0].registration
    taken = _hours_ago(0.5)
    clearance = verify_health(person, HealthVerification("onsite_test", test_taken_at=taken, result="negative"),
                              actor=registrar, settings=settings)
    db.session.commit()
    assert clearance.cleared
    assert clearance.expires_at == taken + timedelta(hours=settings.health.onsite_test_valid_hours)


def test_a_positive_on_site_test_is_a_rejection_and_does_not_clear(settings, make_registration, registrar,
                                                                   kiosk_check_in):
    issued = make_registration(health=None)[0]
    kiosk_check_in(issued.code)
    clearance = verify_health(issued.registration,
                              HealthVerification("onsite_test", test_taken_at=_hours_ago(0.2), result="positive"),
                              actor=registrar, settings=settings)
    db.session.commit()
    assert (clearance.cleared, clearance.reason) == (False, "health_rejected")
    assert db.session.get(Registration, issued.registration.id).health.state == "rejected"
    [event_] = audit("health.reject", issued.registration)
    assert event_.details["after"]["state"] == "rejected" and event_.details["reason"]
    assert audit("health.verify", issued.registration) == []
    assert [case.state for case in cases_of(issued.registration)] == ["open"]
    assert kiosk_check_in(issued.code).result == "needs_desk"


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_rejection_needs_a_reason(settings, make_registration, registrar, reason):
    person = make_registration(health="vaccinated", health_state="attested")[0].registration
    refused("reason_required", verify_health, person, HealthVerification("vaccinated", state="rejected", reason=reason),
            actor=registrar, settings=settings)
    assert db.session.get(Registration, person.id).health.state == "attested"


def test_a_rejection_with_a_reason_is_recorded_and_does_not_clear(settings, make_registration, registrar):
    person = make_registration(health="vaccinated", health_state="attested")[0].registration
    clearance = verify_health(person, HealthVerification("vaccinated", state="rejected", reason="card unreadable"),
                              actor=registrar, settings=settings)
    db.session.commit()
    assert (clearance.cleared, clearance.reason) == (False, "health_rejected")
    [event_] = audit("health.reject", person)
    assert event_.details["reason"] == "card unreadable"
    assert event_.details["before"] == {"method": "vaccinated", "state": "attested"}


@pytest.mark.parametrize("ahead", [timedelta(hours=1), timedelta(days=400), timedelta(minutes=6)])
def test_a_test_taken_in_the_future_is_refused(settings, make_registration, registrar, ahead):
    person = make_registration(health=None)[0].registration
    error = refused("invalid_field", verify_health, person,
                    HealthVerification("negative_test", test_taken_at=utcnow() + ahead), actor=registrar,
                    settings=settings)
    assert error.extra["field"] == "test_taken_at"
    assert db.session.get(Registration, person.id).health is None


def test_a_test_a_few_seconds_ahead_of_the_server_clock_is_accepted(settings, make_registration, registrar):
    person = make_registration(health=None)[0].registration
    ahead = utcnow() + timedelta(seconds=30)
    clearance = verify_health(person, HealthVerification("negative_test", test_taken_at=ahead), actor=registrar,
                              settings=settings)
    assert clearance.cleared


BAD_VERIFICATIONS = [
    ("unknown method", HealthVerification("magic"), "invalid_field"),
    ("empty method", HealthVerification(""), "invalid_field"),
    ("method in capitals", HealthVerification("VACCINATED"), "invalid_field"),
    ("no method", HealthVerification(None), "invalid_field"),
    ("attested is not a verdict", HealthVerification("vaccinated", state="attested"), "invalid_field"),
    ("unknown verdict", HealthVerification("vaccinated", state="ok"), "invalid_field"),
    ("test time for a vaccination", HealthVerification("vaccinated", test_taken_at=utcnow()), "invalid_field"),
    ("result for a vaccination", HealthVerification("vaccinated", result="negative"), "invalid_field"),
    ("result for a negative test", HealthVerification("negative_test", test_taken_at=utcnow(), result="negative"),
     "invalid_field"),
    ("huge reason", HealthVerification("vaccinated", state="rejected", reason="x" * 10_000), "invalid_field"),
    ("control characters in the reason", HealthVerification("vaccinated", state="rejected", reason="no\x00\x1b"),
     "invalid_field"),
    ("bidi override in the reason", HealthVerification("vaccinated", state="rejected", reason="\u202efake"),
     "invalid_field"),
    ("reason not text", HealthVerification("vaccinated", state="rejected", reason=["x"]), "invalid_field"),
]


@pytest.mark.parametrize(("verification", "code"), [(v, c) for _n, v, c in BAD_VERIFICATIONS],
                         ids=[n for n, _v, _c in BAD_VERIFICATIONS])
def test_bad_verifications_are_refused_and_write_nothing(settings, make_registration, registrar, verification, code):
    person = make_registration(health="vaccinated", health_state="attested")[0].registration
    refused(code, verify_health, person, verification, actor=registrar, settings=settings)
    assert db.session.get(Registration, person.id).health.state == "attested"
    assert count(AuditEvent, AuditEvent.action.in_(("health.verify", "health.reject"))) == 0


def test_the_health_of_a_cancelled_registration_cannot_be_verified(settings, make_registration, registrar):
    person = make_registration(health="vaccinated", health_state="attested")[0].registration
    cancel_registration(person, actor=registrar, reason="asked to")
    db.session.commit()
    refused("registration_cancelled", verify_health, person, HealthVerification("vaccinated"), actor=registrar,
            settings=settings)
    assert db.session.get(Registration, person.id).health.state == "attested"


def test_verification_is_audited_with_before_and_after(settings, make_registration, registrar):
    person = make_registration(health="vaccinated", health_state="attested")[0].registration
    fresh = make_registration(health=None)[0].registration
    verify_health(person, HealthVerification("vaccinated"), actor=registrar, settings=settings)
    verify_health(fresh, HealthVerification("exempt"), actor=registrar, settings=settings)
    db.session.commit()
    [event_] = audit("health.verify", person)
    assert (event_.actor_type, event_.actor_id) == ("staff", registrar.id)
    assert event_.details["before"] == {"method": "vaccinated", "state": "attested"}
    assert event_.details["after"] == {"method": "vaccinated", "state": "verified", "cleared": True,
                                       "expires_at": None}
    [first] = audit("health.verify", fresh)
    assert first.details["before"] is None
    assert first.details["after"]["method"] == "exempt" and first.details["after"]["cleared"] is True


# --- check_in_at_desk ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("printer", "expected"), [(None, "desk"), ("", "desk"), ("desk", "desk"),
                                                   ("kiosk-1", "kiosk-1")])
def test_a_cleared_person_is_checked_in_at_the_desk_with_a_badge_on_the_chosen_printer(
        event, settings, make_registration, registrar, printer, expected):
    person = make_registration()[0].registration
    outcome = check_in_at_desk(event, person, actor=registrar, settings=settings, nonce=new_nonce(),
                               printer_name=printer)
    db.session.commit()
    assert (outcome.result, outcome.reason, outcome.replayed) == ("checked_in", None, False)
    assert outcome.response["print_job"]["printer"] == expected
    assert outcome.response["checked_in"]["kiosk"] == "desk"
    checkin = db.session.execute(sa.select(CheckIn).filter_by(registration_id=person.id)).scalar_one()
    assert (checkin.staff_id, checkin.kiosk_id) == (registrar.id, None)
    [badge] = badges_of(person)
    assert badge.status == "valid" and checkin.badge_id == badge.id
    [job] = jobs_of(person)
    assert (job.id, job.state, job.printer_name, job.badge_id) == (
        outcome.response["print_job"]["id"], "queued", expected, badge.id)
    assert job.payload["serial"] == f"#{badge.serial:06d}"


@pytest.mark.parametrize("printer", ["nope", "DESK", "desk ", "kiosk-2", 5, ["desk"]], ids=repr)
def test_an_unknown_printer_is_refused_before_anything_is_written(event, settings, make_registration, registrar,
                                                                  printer):
    person = make_registration()[0].registration
    refused("printer_unknown", check_in_at_desk, event, person, actor=registrar, settings=settings,
            nonce=new_nonce(), printer_name=printer)
    assert count(CheckIn) == 0 and count(Badge) == 0 and count(CheckInRequest) == 0


@pytest.mark.parametrize(("health", "reason"), NOT_CLEARED, ids=[r for _h, r in NOT_CLEARED])
def test_a_person_not_cleared_gets_the_exact_reason_at_the_desk_and_no_case(event, settings, make_registration,
                                                                            registrar, health, reason):
    person = make_registration(**health)[0].registration
    outcome = check_in_at_desk(event, person, actor=registrar, settings=settings, nonce=new_nonce())
    db.session.commit()
    assert (outcome.result, outcome.reason) == ("needs_desk", reason)
    assert outcome.response["desk_case"] is None and outcome.response["print_job"] is None
    assert count(DeskCase) == 0 and count(CheckIn) == 0 and count(Badge) == 0


def test_a_cancelled_person_is_not_checked_in_at_the_desk(event, settings, make_registration, registrar):
    person = make_registration()[0].registration
    cancel_registration(person, actor=registrar, reason="asked to")
    db.session.commit()
    outcome = check_in_at_desk(event, person, actor=registrar, settings=settings, nonce=new_nonce())
    assert (outcome.result, outcome.reason) == ("needs_desk", "registration_cancelled")
    assert count(DeskCase) == 0 and count(CheckIn) == 0


def test_the_same_nonce_twice_replays_the_first_answer_and_checks_in_once(event, settings, make_registration,
                                                                          registrar):
    person = make_registration()[0].registration
    nonce = new_nonce()
    first = check_in_at_desk(event, person, actor=registrar, settings=settings, nonce=nonce)
    db.session.commit()
    second = check_in_at_desk(event, person, actor=registrar, settings=settings, nonce=nonce)
    db.session.commit()
    assert (first.replayed, second.replayed) == (False, True)
    assert second.response == first.response and second.result == "checked_in"
    assert count(CheckIn) == 1 and count(Badge) == 1 and count(PrintJob) == 1
    assert count(CheckInRequest, CheckInRequest.nonce == nonce) == 1


def test_one_nonce_for_two_people_at_the_desk_checks_in_only_the_first(event, settings, make_registration,
                                                                        registrar):
    first, second = (make_registration()[0].registration for _ in range(2))
    nonce = new_nonce()
    assert check_in_at_desk(event, first, actor=registrar, settings=settings, nonce=nonce).result == "checked_in"
    db.session.commit()
    refused("nonce_reused", check_in_at_desk, event, second, actor=registrar, settings=settings, nonce=nonce)
    assert count(CheckIn) == 1 and count(Badge) == 1


def test_a_second_desk_check_in_says_already_checked_in_and_prints_nothing(make_registration, desk_check_in):
    person = make_registration()[0].registration
    assert desk_check_in(person).result == "checked_in"
    again = desk_check_in(person)
    assert (again.result, again.reason) == ("already_checked_in", "already_checked_in")
    assert count(Badge) == 1 and count(PrintJob) == 1


@pytest.mark.parametrize("nonce", [None, "", "short", "x" * 65, "has space1", "ünïcode-nonce", 12345678],
                         ids=repr)
def test_a_bad_nonce_is_refused(event, settings, make_registration, registrar, nonce):
    person = make_registration()[0].registration
    refused("nonce_invalid", check_in_at_desk, event, person, actor=registrar, settings=settings, nonce=nonce)
    assert count(CheckIn) == 0


def test_a_kiosk_and_the_desk_checking_one_person_in_at_once_make_one_check_in(app, event, settings, kiosk,
                                                                               registrar, make_registration):
    ref = EventRef(id=event.id, slug=event.slug)
    kiosk_id = kiosk.id
    for _round in range(RACE_ROUNDS):
        issued = make_registration()[0]
        registration_id = issued.registration.id
        barrier = threading.Barrier(2)
        results: dict[str, str] = {}
        errors: list[BaseException] = []

        def at_kiosk():
            try:
                with app.app_context():
                    here = db.session.get(Kiosk, kiosk_id)
                    barrier.wait()
                    results["kiosk"] = check_in(ref, code=issued.code, kiosk=here, nonce=new_nonce(),
                                                settings=settings).result
                    db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)

        def at_desk():
            try:
                with app.app_context():
                    person = db.session.get(Registration, registration_id)
                    barrier.wait()
                    results["desk"] = check_in_at_desk(ref, person, actor=registrar, settings=settings,
                                                       nonce=new_nonce()).result
                    db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)

        threads = [threading.Thread(target=at_kiosk), threading.Thread(target=at_desk)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sorted(results.values()) == ["already_checked_in", "checked_in"]
        db.session.expire_all()
        assert count(CheckIn, CheckIn.registration_id == registration_id) == 1
        assert count(Badge, Badge.registration_id == registration_id) == 1
        assert count(Badge, Badge.registration_id == registration_id, Badge.status == "valid") == 1
        assert count(PrintJob, PrintJob.badge_id.in_(
            sa.select(Badge.id).where(Badge.registration_id == registration_id))) == 1


# --- verify_and_print ---------------------------------------------------------------------------------------


def test_verify_and_print_clears_checks_in_prints_at_the_desk_and_resolves_the_case(
        event, settings, make_registration, registrar, kiosk_check_in):
    issued = make_registration(health="vaccinated", health_state="attested")[0]
    assert kiosk_check_in(issued.code).result == "needs_desk"
    clearance, outcome = verify_and_print(event, issued.registration, HealthVerification("vaccinated"),
                                          actor=registrar, settings=settings, nonce=new_nonce())
    db.session.commit()
    assert clearance.cleared
    assert outcome.result == "checked_in"
    [job] = jobs_of(issued.registration)
    assert (job.printer_name, job.state) == ("desk", "queued")
    assert db.session.execute(sa.select(CheckIn.staff_id).filter_by(
        registration_id=issued.registration.id)).scalar_one() == registrar.id
    assert [case.state for case in cases_of(issued.registration)] == ["resolved"]


def test_verify_and_print_prints_nothing_when_the_verdict_does_not_clear(event, settings, make_registration,
                                                                         registrar):
    person = make_registration(health="vaccinated", health_state="attested")[0].registration
    clearance, outcome = verify_and_print(event, person, HealthVerification("vaccinated", state="rejected",
                                                                            reason="expired card"),
                                          actor=registrar, settings=settings, nonce=new_nonce())
    db.session.commit()
    assert (clearance.cleared, outcome) == (False, None)
    assert count(CheckIn) == 0 and count(Badge) == 0


def test_verify_and_print_refuses_an_unknown_printer_before_recording_the_verdict(event, settings,
                                                                                  make_registration, registrar):
    person = make_registration(health="vaccinated", health_state="attested")[0].registration
    refused("printer_unknown", verify_and_print, event, person, HealthVerification("vaccinated"), actor=registrar,
            settings=settings, nonce=new_nonce(), printer_name="nope")
    assert db.session.get(Registration, person.id).health.state == "attested"
    assert count(AuditEvent, AuditEvent.action == "health.verify") == 0


# --- reprint_badge ------------------------------------------------------------------------------------------


def test_a_reprint_voids_the_previous_badge_and_issues_a_new_code_and_serial(event, settings, checked_in,
                                                                             mark_printed, registrar):
    person = checked_in()
    [old_job] = jobs_of(person)
    old_code = old_job.payload["code"]
    mark_printed(person)
    reprint = reprint_badge(person, reason="lost", actor=registrar, settings=settings, nonce=new_nonce())
    db.session.commit()
    old, new = badges_of(person)
    assert (old.status, new.status) == ("void", "valid")
    assert old.voided_at is not None and old.void_reason
    assert new.code_prefix != old.code_prefix and new.code_hash != old.code_hash
    assert (reprint.serial, reprint.replaced_serial) == (new.serial, old.serial) and new.serial != old.serial
    assert new.reason == "lost" and new.issued_by == registrar.label
    assert db.session.execute(sa.select(CheckIn.badge_id).filter_by(registration_id=person.id)).scalar_one() == new.id
    assert reprint.print_job["state"] == "queued" and reprint.print_job["printer"] == "desk"
    assert jobs_of(person)[-1].payload["code"] != old_code
    assert registration_by_scan(event, old_code).note == "void"
    [event_] = audit("badge.reprint", person)
    assert event_.details["before"] == {"serial": old.serial} and event_.details["after"] == {"serial": new.serial}


def test_a_reprint_prints_on_the_chosen_printer(settings, checked_in, mark_printed, registrar):
    person = checked_in()
    mark_printed(person)
    reprint = reprint_badge(person, reason="damaged", actor=registrar, settings=settings, nonce=new_nonce(),
                            printer_name="kiosk-1")
    db.session.commit()
    assert reprint.print_job["printer"] == "kiosk-1" and jobs_of(person)[-1].printer_name == "kiosk-1"


@pytest.mark.parametrize("state", ["queued", "sending", "held"])
def test_a_reprint_is_refused_while_the_current_badge_is_on_its_way(settings, checked_in, registrar, state):
    person = checked_in()
    [job] = jobs_of(person)
    db.session.execute(sa.update(PrintJob.__table__).where(PrintJob.__table__.c.id == job.id).values(state=state))
    db.session.commit()
    error = refused("badge_in_queue", reprint_badge, person, reason="lost", actor=registrar, settings=settings,
                    nonce=new_nonce())
    assert error.extra["print_job_id"] == job.id
    assert [b.status for b in badges_of(person)] == ["valid"]
    assert count(PrintJob) == 1


@pytest.mark.parametrize("state", ["failed", "needs_decision"])
def test_a_reprint_replaces_a_badge_that_failed_to_print_and_withdraws_its_job(settings, checked_in, registrar,
                                                                               state):
    person = checked_in()
    [job] = jobs_of(person)
    db.session.execute(sa.update(PrintJob.__table__).where(PrintJob.__table__.c.id == job.id).values(state=state))
    db.session.commit()
    reprint_badge(person, reason="misprint", actor=registrar, settings=settings, nonce=new_nonce())
    db.session.commit()
    old_job, new_job = jobs_of(person)
    assert (old_job.state, old_job.payload) == ("cancelled", None)
    assert new_job.state == "queued"
    assert [b.status for b in badges_of(person)] == ["void", "valid"]


def test_a_reprint_resolves_the_persons_open_print_cases(event, settings, checked_in, mark_printed, registrar):
    person = checked_in()
    mark_printed(person)
    open_desk_case(event_id=event.id, reason="print_failed", actor=Actor.system("print-worker"),
                   registration_id=person.id)
    health_case = open_desk_case(event_id=event.id, reason="health_expired", actor=registrar,
                                 registration_id=person.id)
    db.session.commit()
    reprint_badge(person, reason="misprint", actor=registrar, settings=settings, nonce=new_nonce())
    db.session.commit()
    assert {case.reason: case.state for case in cases_of(person)} == {"print_failed": "resolved",
                                                                     "health_expired": "open"}
    assert health_case in [case.id for case in cases_of(person)]


def test_a_reprint_for_someone_not_checked_in_is_refused(settings, make_registration, registrar):
    person = make_registration()[0].registration
    refused("not_checked_in", reprint_badge, person, reason="lost", actor=registrar, settings=settings,
            nonce=new_nonce())
    assert count(Badge) == 0


@pytest.mark.parametrize("reason", [None, "", "stolen", "LOST", " lost", "lost\x00", "x" * 10_000, ["lost"], 1],
                         ids=repr)
def test_a_reprint_needs_a_reason_from_the_list(settings, checked_in, mark_printed, registrar, reason):
    person = checked_in()
    mark_printed(person)
    error = refused("invalid_field", reprint_badge, person, reason=reason, actor=registrar, settings=settings,
                    nonce=new_nonce())
    assert error.extra["field"] == "reason"
    assert [b.status for b in badges_of(person)] == ["valid"]


@pytest.mark.parametrize("reason", REPRINT_REASONS)
def test_every_listed_reason_is_accepted(settings, checked_in, mark_printed, registrar, reason):
    person = checked_in()
    mark_printed(person)
    reprint_badge(person, reason=reason, actor=registrar, settings=settings, nonce=new_nonce())
    db.session.commit()
    assert badges_of(person)[-1].reason == reason


def test_a_reprint_of_a_cancelled_registration_is_refused(settings, checked_in, mark_printed, registrar):
    person = checked_in()
    mark_printed(person)
    cancel_registration(person, actor=registrar, reason="asked to")
    db.session.commit()
    refused("registration_cancelled", reprint_badge, person, reason="lost", actor=registrar, settings=settings,
            nonce=new_nonce())
    assert count(Badge, Badge.status == "valid") == 0 and count(Badge) == 1


def test_a_reprint_to_an_unknown_printer_is_refused(settings, checked_in, mark_printed, registrar):
    person = checked_in()
    mark_printed(person)
    refused("printer_unknown", reprint_badge, person, reason="lost", actor=registrar, settings=settings,
            nonce=new_nonce(), printer_name="basement")
    assert [b.status for b in badges_of(person)] == ["valid"]


def test_a_reprint_retried_with_the_same_nonce_issues_one_badge(settings, checked_in, mark_printed, registrar):
    person = checked_in()
    mark_printed(person)
    nonce = new_nonce()
    first = reprint_badge(person, reason="lost", actor=registrar, settings=settings, nonce=nonce)
    db.session.commit()
    mark_printed(person)  # even once the new badge printed, the retry must not print a third
    second = reprint_badge(person, reason="lost", actor=registrar, settings=settings, nonce=nonce)
    db.session.commit()
    assert second.as_dict() == first.as_dict()
    assert count(Badge) == 2 and count(Badge, Badge.status == "valid") == 1
    assert count(AuditEvent, AuditEvent.action == "badge.reprint") == 1


def test_a_desk_check_in_nonce_reused_for_a_reprint_is_refused(event, settings, make_registration, mark_printed,
                                                               registrar):
    # One nonce store serves the desk check-in and the reprint: a nonce one of them stored must not replay
    # its answer as the other's (that crashed: the check-in's answer is no Reprint).
    person = make_registration()[0].registration
    nonce = new_nonce()
    check_in_at_desk(event, person, actor=registrar, settings=settings, nonce=nonce)
    db.session.commit()
    mark_printed(person)
    refused("nonce_reused", reprint_badge, person, reason="lost", actor=registrar, settings=settings, nonce=nonce)
    assert count(Badge) == 1 and count(Badge, Badge.status == "valid") == 1


def test_a_reprint_nonce_reused_for_a_desk_check_in_is_refused(event, settings, checked_in, make_registration,
                                                               mark_printed, registrar):
    person = checked_in()
    mark_printed(person)
    nonce = new_nonce()
    reprint_badge(person, reason="lost", actor=registrar, settings=settings, nonce=nonce)
    db.session.commit()
    other = make_registration()[0].registration
    refused("nonce_reused", check_in_at_desk, event, other, actor=registrar, settings=settings, nonce=nonce)
    assert count(CheckIn, CheckIn.registration_id == other.id) == 0
    assert count(Badge, Badge.registration_id == person.id, Badge.status == "valid") == 1


def test_a_reprint_nonce_reused_with_another_reason_is_refused(settings, checked_in, mark_printed, registrar):
    person = checked_in()
    mark_printed(person)
    nonce = new_nonce()
    reprint_badge(person, reason="lost", actor=registrar, settings=settings, nonce=nonce)
    db.session.commit()
    mark_printed(person)
    refused("nonce_reused", reprint_badge, person, reason="damaged", actor=registrar, settings=settings, nonce=nonce)
    assert count(Badge) == 2


def test_a_reprint_nonce_of_one_staff_user_is_not_anothers(settings, checked_in, mark_printed, registrar, make_staff):
    person = checked_in()
    mark_printed(person)
    nonce = new_nonce()
    reprint_badge(person, reason="lost", actor=registrar, settings=settings, nonce=nonce)
    db.session.commit()
    mark_printed(person)
    colleague = make_staff("registrar")[1]
    reprint = reprint_badge(person, reason="lost", actor=colleague, settings=settings, nonce=nonce)
    db.session.commit()
    assert reprint.replaced_serial == badges_of(person)[1].serial and count(Badge) == 3


def test_concurrent_reprints_issue_exactly_one_badge(app, settings, checked_in, mark_printed, registrar):
    for _round in range(RACE_ROUNDS):
        person = checked_in()
        mark_printed(person)
        registration_id = person.id
        barrier = threading.Barrier(2)
        outcomes: list[str] = []
        errors: list[BaseException] = []

        def reprint():
            try:
                with app.app_context():
                    here = db.session.get(Registration, registration_id)
                    barrier.wait()
                    try:
                        reprint_badge(here, reason="lost", actor=registrar, settings=settings, nonce=new_nonce())
                        db.session.commit()
                        outcomes.append("reprinted")
                    except LanyardError as error:
                        db.session.rollback()
                        outcomes.append(error.code)
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)

        threads = [threading.Thread(target=reprint) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sorted(outcomes) == ["badge_in_queue", "reprinted"]
        badges = badges_of(person)
        assert len(badges) == 2
        valid = [b for b in badges if b.status == "valid"]
        assert len(valid) == 1 and valid[0].id == badges[-1].id
        assert db.session.execute(sa.select(CheckIn.badge_id).filter_by(
            registration_id=registration_id)).scalar_one() == valid[0].id
        assert count(PrintJob, PrintJob.state == "queued", PrintJob.badge_id == valid[0].id) == 1


# --- update_registration ------------------------------------------------------------------------------------


def test_a_correction_changes_the_fields_and_is_audited(make_registration, registrar):
    person = make_registration(badge_name="Bob", title="Clerk", organization="Yolo County")[0].registration
    changed = update_registration(person, {"badge_name": "Robert", "title": "Clerk", "organization": "Placer County"},
                                  actor=registrar)
    db.session.commit()
    assert changed == {"badge_name": ["Bob", "Robert"], "organization": ["Yolo County", "Placer County"]}
    [event_] = audit("registration.update", person)
    assert event_.details["before"] == {"badge_name": "Bob", "organization": "Yolo County"}
    assert event_.details["after"] == {"badge_name": "Robert", "organization": "Placer County"}


@pytest.mark.parametrize(("typed", "stored"), [
    (" Placer County ", "Placer County"),
    ("Placer  County", "Placer County"),
    ("Zoë  Müller", "Zoë Müller"),
    ("Ze\u0301 Lima", "Zé Lima"),
], ids=["trimmed", "ascii double space", "accented double space", "decomposed accent"])
def test_a_corrected_text_is_trimmed_normalised_and_single_spaced(make_registration, registrar, typed, stored):
    person = make_registration()[0].registration
    update_registration(person, {"badge_name": typed}, actor=registrar)
    db.session.commit()
    assert db.session.get(Registration, person.id).badge_name == stored


def test_a_correction_that_changes_nothing_is_not_audited(make_registration, registrar):
    person = make_registration(badge_name="Bob")[0].registration
    assert update_registration(person, {"badge_name": "Bob"}, actor=registrar) == {}
    assert audit("registration.update", person) == []


@pytest.mark.parametrize("changes", [
    {"first_name": "Eve"}, {"last_name": "Evil"}, {"email": "eve@example.org"}, {"status": "confirmed"},
    {"badge_name": ""}, {"badge_name": "   "}, {"badge_name": None}, {"badge_name": "x" * 101},
    {"organization": "x" * 151}, {"badge_name": "Bob\x00"}, {"badge_name": "Bob\x1b[31m"},
    {"badge_name": "\u202eboB"}, {"title": "Chief 😀"}, {"badge_name": ["Bob"]}, {"badge_name": 5},
    {"badge_name": "=HYPERLINK(\"http://evil\")"}, {"title": "+1+2"}, {"organization": "@SUM(A1)"},
    {"badge_name": "\t=1+1"},
], ids=repr)
def test_bad_corrections_are_refused_and_change_nothing(event, make_registration, registrar, changes):
    from registration.search import search

    person = make_registration(first_name="Robert", last_name="Quill", badge_name="Bob")[0].registration
    refused("invalid_field", update_registration, person, changes, actor=registrar)
    person = db.session.get(Registration, person.id)
    assert (person.first_name, person.badge_name) == ("Robert", "Bob")
    assert search(event.id, "bob") == [person.id]


def test_a_cancelled_registration_is_not_corrected(make_registration, registrar):
    person = make_registration(badge_name="Bob")[0].registration
    cancel_registration(person, actor=registrar, reason="asked to")
    db.session.commit()
    refused("registration_cancelled", update_registration, person, {"badge_name": "Robert"}, actor=registrar)


# --- cancel_at_desk -----------------------------------------------------------------------------------------


def test_cancelling_at_the_desk_voids_every_badge_withdraws_jobs_and_closes_cases(event, settings, checked_in,
                                                                                  mark_printed, registrar):
    person = checked_in()
    mark_printed(person)
    reprint_badge(person, reason="lost", actor=registrar, settings=settings, nonce=new_nonce())
    open_desk_case(event_id=event.id, reason="print_failed", actor=Actor.system("print-worker"),
                   registration_id=person.id)
    open_desk_case(event_id=event.id, reason="health_expired", actor=registrar, registration_id=person.id)
    db.session.commit()

    cancel_at_desk(person, actor=registrar, reason="duplicate registration")
    db.session.commit()

    assert db.session.get(Registration, person.id).status == "cancelled"
    assert [b.status for b in badges_of(person)] == ["void", "void"]
    printed, queued = jobs_of(person)
    assert printed.state == "printed"
    assert (queued.state, queued.payload) == ("cancelled", None)
    assert [case.state for case in cases_of(person)] == ["resolved", "resolved"]
    [event_] = audit("registration.cancel", person)
    assert event_.details["reason"] == "duplicate registration"


@pytest.mark.parametrize(("reason", "code"), [("", "reason_required"), ("   ", "reason_required"),
                                              (None, "reason_required"), ("x" * 10_000, "invalid_field"),
                                              ("why\x00", "invalid_field"), (["x"], "invalid_field")],
                         ids=repr)
def test_cancelling_at_the_desk_needs_a_reason(checked_in, registrar, reason, code):
    person = checked_in()
    with pytest.raises(LanyardError) as caught:
        cancel_at_desk(person, actor=registrar, reason=reason)
    assert caught.value.code == code
    # Looked at before the rollback: the refusal came before any job was withdrawn or badge voided.
    assert count(PrintJob, PrintJob.state == "queued") == 1 and count(Badge, Badge.status == "valid") == 1
    db.session.rollback()
    assert db.session.get(Registration, person.id).status == "confirmed"


def test_cancelling_twice_changes_nothing_the_second_time(checked_in, registrar):
    person = checked_in()
    cancel_at_desk(person, actor=registrar, reason="asked to")
    db.session.commit()
    cancel_at_desk(person, actor=registrar, reason="again")
    db.session.commit()
    assert len(audit("registration.cancel", person)) == 1


# --- upgrade_registration -----------------------------------------------------------------------------------


def test_upgrading_a_checked_in_guest_voids_the_guest_badge_and_queues_a_full_one(event, settings,
                                                                                  make_registration, desk_check_in,
                                                                                  mark_printed, registrar):
    host, guest_issued = make_registration(guests=[{"first_name": "Gia", "last_name": "Romano"}])
    guest = guest_issued.registration
    assert desk_check_in(guest).result == "checked_in"
    assert jobs_of(guest)[0].payload["band_text"] == settings.registration_types["guest"].band_text
    mark_printed(guest)

    reprint = upgrade_registration(event, guest, actor=registrar, settings=settings)
    db.session.commit()

    upgraded = db.session.get(Registration, guest.id)
    assert (upgraded.type_name, upgraded.host_id) == ("full", None)
    assert upgraded.id not in [g.id for g in db.session.get(Registration, host.registration.id).guests]
    old, new = badges_of(guest)
    assert (old.status, new.status) == ("void", "valid") and reprint.serial == new.serial
    new_job = jobs_of(guest)[-1]
    assert new_job.state == "queued"
    assert new_job.payload["band_text"] == settings.registration_types["full"].band_text
    [event_] = audit("registration.upgrade", guest)
    assert event_.details["before"] == {"type": "guest", "host_id": host.registration.id}


def test_upgrading_a_guest_not_checked_in_prints_nothing(event, settings, make_registration, registrar):
    guest = make_registration(guests=[{}])[1].registration
    assert upgrade_registration(event, guest, actor=registrar, settings=settings) is None
    db.session.commit()
    assert (db.session.get(Registration, guest.id).type_name, count(Badge)) == ("full", 0)


def test_upgrading_a_guest_whose_badge_is_still_queued_is_refused(event, settings, make_registration,
                                                                  desk_check_in, registrar):
    guest = make_registration(guests=[{}])[1].registration
    desk_check_in(guest)
    refused("badge_in_queue", upgrade_registration, event, guest, actor=registrar, settings=settings)
    assert db.session.get(Registration, guest.id).type_name == "guest"


def test_a_full_registrant_cannot_be_upgraded(event, settings, make_registration, registrar):
    person = make_registration()[0].registration
    refused("not_guest", upgrade_registration, event, person, actor=registrar, settings=settings)


@pytest.mark.parametrize("type_name", ["guest", "vip", "FULL"])
def test_a_guest_is_upgraded_only_to_a_full_pass(event, settings, make_registration, registrar, type_name):
    guest = make_registration(guests=[{}])[1].registration
    refused("unknown_type", upgrade_registration, event, guest, actor=registrar, settings=settings,
            type_name=type_name)
    assert db.session.get(Registration, guest.id).type_name == "guest"


def test_a_cancelled_guest_cannot_be_upgraded(event, settings, make_registration, registrar):
    guest = make_registration(guests=[{}])[1].registration
    cancel_registration(guest, actor=registrar, reason="asked to")
    db.session.commit()
    refused("registration_cancelled", upgrade_registration, event, guest, actor=registrar, settings=settings)


def test_an_upgraded_guest_may_get_an_email_of_their_own_but_not_a_taken_one(event, settings, make_registration,
                                                                            registrar):
    host, guest_issued = make_registration(guests=[{}])
    guest = guest_issued.registration
    refused("duplicate_email", upgrade_registration, event, guest, actor=registrar, settings=settings,
            email=host.registration.email)
    guest = db.session.get(Registration, guest.id)
    upgrade_registration(event, guest, actor=registrar, settings=settings, email="gia.romano@example.org")
    db.session.commit()
    assert db.session.get(Registration, guest.id).email == "gia.romano@example.org"


# --- undo_check_in ------------------------------------------------------------------------------------------


def test_undoing_a_check_in_removes_it_voids_badges_and_lets_the_person_check_in_again(
        make_registration, kiosk_check_in, admin):
    issued = make_registration()[0]
    person = issued.registration
    assert kiosk_check_in(issued.code).result == "checked_in"
    undo_check_in(person, actor=admin, reason="wrong person took the badge")
    db.session.commit()
    assert count(CheckIn) == 0
    assert [b.status for b in badges_of(person)] == ["void"]
    assert [(j.state, j.payload) for j in jobs_of(person)] == [("cancelled", None)]
    [event_] = audit("checkin.undo", person)
    assert event_.details["reason"] == "wrong person took the badge" and event_.details["after"] is None

    again = kiosk_check_in(issued.code)
    assert again.result == "checked_in"
    assert [b.status for b in badges_of(person)] == ["void", "valid"]
    assert count(CheckIn) == 1


def test_undoing_a_check_in_that_did_not_happen_is_refused(make_registration, admin):
    person = make_registration()[0].registration
    refused("not_checked_in", undo_check_in, person, actor=admin, reason="oops")


@pytest.mark.parametrize("reason", ["", "  ", None])
def test_undoing_a_check_in_needs_a_reason(checked_in, admin, reason):
    person = checked_in()
    refused("reason_required", undo_check_in, person, actor=admin, reason=reason)
    assert count(CheckIn) == 1 and [b.status for b in badges_of(person)] == ["valid"]


# --- resend_confirmation ------------------------------------------------------------------------------------


def test_resending_the_confirmation_supersedes_the_old_code(make_registration, kiosk_check_in, registrar, event):
    issued = make_registration()[0]
    fresh = resend_confirmation(issued.registration, actor=registrar)
    db.session.commit()
    assert fresh.code != issued.code and fresh.manage_code != issued.manage_code
    old = kiosk_check_in(issued.code)
    assert (old.result, old.reason) == ("invalid", "code_superseded")
    assert registration_by_scan(event, issued.code).note == "superseded"
    assert kiosk_check_in(fresh.code).result == "checked_in"
    assert len(audit("registration.resend_confirmation", issued.registration)) == 1


def test_resending_twice_supersedes_both_older_codes(make_registration, kiosk_check_in, registrar):
    issued = make_registration()[0]
    second = resend_confirmation(issued.registration, actor=registrar)
    third = resend_confirmation(issued.registration, actor=registrar)
    db.session.commit()
    assert kiosk_check_in(issued.code).reason == "code_superseded"
    assert kiosk_check_in(second.code).reason == "code_superseded"
    assert kiosk_check_in(third.code).result == "checked_in"


def test_the_confirmation_of_a_cancelled_registration_is_not_resent(make_registration, registrar):
    person = make_registration()[0].registration
    cancel_registration(person, actor=registrar, reason="asked to")
    db.session.commit()
    refused("registration_cancelled", resend_confirmation, person, actor=registrar)


# --- register_walk_up ---------------------------------------------------------------------------------------


def _walk_up(type_name="full", **fields) -> PersonInput:
    return PersonInput(**{"first_name": "Wanda", "last_name": "Walker", "email": "wanda@example.org",
                          "type_name": type_name, **fields})


def test_a_full_walk_up_with_verified_health_is_checked_in_and_printed(event, settings, registrar):
    walk_up = register_walk_up(event, _walk_up(organization="City of Davis"), actor=registrar, settings=settings,
                               health=HealthVerification("vaccinated"), print_badge=True, nonce=new_nonce())
    db.session.commit()
    person = db.session.get(Registration, walk_up.issued.registration.id)
    assert (person.source, person.type_name, person.status) == ("desk", "full", "confirmed")
    assert walk_up.clearance.cleared
    assert walk_up.checkin.result == "checked_in"
    [job] = jobs_of(person)
    assert (job.printer_name, job.state, job.id) == ("desk", "queued", walk_up.checkin.response["print_job"]["id"])
    assert count(CheckIn, CheckIn.registration_id == person.id) == 1
    assert person.health.verified_by_id == registrar.id


def test_a_walk_up_without_printing_is_only_registered(event, settings, registrar):
    walk_up = register_walk_up(event, _walk_up(), actor=registrar, settings=settings)
    db.session.commit()
    assert (walk_up.checkin, walk_up.clearance) == (None, None)
    assert count(Registration) == 1 and count(CheckIn) == 0


NOT_CLEARING_WALK_UP_HEALTH = [
    ("no health", None, "health_missing", "method"),
    ("positive on-site test", HealthVerification("onsite_test", test_taken_at=utcnow() - timedelta(hours=1),
                                                 result="positive"), "health_rejected", "method"),
    ("negative test too old", HealthVerification("negative_test", test_taken_at=utcnow() - timedelta(hours=80)),
     "health_expired", "test_taken_at"),
]


@pytest.mark.parametrize(("health", "code", "field"), [(h, c, f) for _n, h, c, f in NOT_CLEARING_WALK_UP_HEALTH],
                         ids=[n for n, _h, _c, _f in NOT_CLEARING_WALK_UP_HEALTH])
def test_a_walk_up_to_print_who_would_not_be_cleared_is_refused_before_anyone_is_registered(
        event, settings, registrar, health, code, field):
    with pytest.raises(LanyardError) as caught:
        register_walk_up(event, _walk_up(), actor=registrar, settings=settings, health=health, print_badge=True,
                         nonce=new_nonce())
    assert (caught.value.code, caught.value.extra["field"]) == (code, field)
    assert count(Registration) == 0 and count(Badge) == 0  # before the rollback: nothing was written
    db.session.rollback()


def test_a_walk_up_not_cleared_may_still_be_registered_without_printing(event, settings, registrar):
    register_walk_up(event, _walk_up(), actor=registrar, settings=settings, print_badge=False)
    db.session.commit()
    assert count(Registration) == 1 and count(Badge) == 0


def test_a_guest_walk_up_comes_with_a_host(event, settings, make_registration, registrar):
    host = make_registration()[0].registration
    walk_up = register_walk_up(event, _walk_up("guest", email=""), actor=registrar, settings=settings, host=host,
                               health=HealthVerification("vaccinated"), print_badge=True, nonce=new_nonce())
    db.session.commit()
    guest = db.session.get(Registration, walk_up.issued.registration.id)
    assert (guest.type_name, guest.host_id) == ("guest", host.id)
    assert walk_up.checkin.result == "checked_in"


def test_a_walk_up_whose_full_name_does_not_fit_the_badge_must_give_a_badge_name(event, settings, registrar):
    long_name = _walk_up(first_name="N" * 60, last_name="M" * 60)
    error = refused("invalid_field", register_walk_up, event, long_name, actor=registrar, settings=settings)
    assert error.extra["field"] == "badge_name" and "enter the name to print on the badge" in error.detail
    assert count(Registration) == 0
    walk_up = register_walk_up(event, replace(long_name, badge_name="Nina M."), actor=registrar, settings=settings)
    assert walk_up.issued.registration.badge_name == "Nina M."


def test_a_guest_walk_up_needs_a_host(event, settings, registrar):
    refused("host_required", register_walk_up, event, _walk_up("guest"), actor=registrar, settings=settings)
    assert count(Registration) == 0


def _guest_host(make_registration, registrar):
    return make_registration(guests=[{}])[1].registration


def _cancelled_host(make_registration, registrar):
    host = make_registration()[0].registration
    cancel_registration(host, actor=registrar, reason="asked to")
    db.session.commit()
    return host


@pytest.mark.parametrize("make_host", [_guest_host, _cancelled_host], ids=["a guest", "cancelled"])
def test_a_guest_walk_up_needs_a_confirmed_full_host(event, settings, make_registration, registrar, make_host):
    host = make_host(make_registration, registrar)
    before = count(Registration)
    refused("host_invalid", register_walk_up, event, _walk_up("guest"), actor=registrar, settings=settings,
            host=db.session.get(Registration, host.id))
    assert count(Registration) == before


BAD_WALK_UP_HEALTH = [
    ("negative test without its time", HealthVerification("negative_test"), "invalid_field"),
    ("test in the future", HealthVerification("negative_test", test_taken_at=utcnow() + timedelta(days=1)),
     "invalid_field"),
    ("on-site test without a result", HealthVerification("onsite_test", test_taken_at=utcnow()), "invalid_field"),
    ("unknown method", HealthVerification("magic"), "invalid_field"),
    ("rejection without a reason", HealthVerification("vaccinated", state="rejected"), "reason_required"),
]


@pytest.mark.parametrize(("health", "code"), [(h, c) for _n, h, c in BAD_WALK_UP_HEALTH],
                         ids=[n for n, _h, _c in BAD_WALK_UP_HEALTH])
def test_bad_health_input_is_refused_before_anyone_is_registered(event, settings, registrar, health, code):
    with pytest.raises(LanyardError) as caught:
        register_walk_up(event, _walk_up(), actor=registrar, settings=settings, health=health, print_badge=True,
                         nonce=new_nonce())
    assert caught.value.code == code
    # Counted before the rollback: the refusal came before anything was written, not undone after.
    assert count(Registration) == 0 and count(AuditEvent, AuditEvent.action == "registration.create") == 0
    db.session.rollback()


@pytest.mark.parametrize(("options", "code"), [
    ({"nonce": None}, "nonce_invalid"),
    ({"nonce": "bad nonce!"}, "nonce_invalid"),
    ({"nonce": new_nonce(), "printer_name": "basement"}, "printer_unknown"),
], ids=["no nonce", "bad nonce", "unknown printer"])
def test_a_walk_up_that_cannot_print_is_refused_before_anyone_is_registered(event, settings, registrar, options,
                                                                            code):
    with pytest.raises(LanyardError) as caught:
        register_walk_up(event, _walk_up(), actor=registrar, settings=settings,
                         health=HealthVerification("vaccinated"), print_badge=True, **options)
    assert caught.value.code == code
    assert count(Registration) == 0  # before the rollback: nothing was written
    db.session.rollback()


def test_a_walk_up_of_an_unknown_type_is_refused(event, settings, registrar):
    refused("unknown_type", register_walk_up, event, _walk_up("vip"), actor=registrar, settings=settings)
    assert count(Registration) == 0


def test_a_walk_up_with_a_registered_email_is_refused(event, settings, make_registration, registrar):
    make_registration(email="wanda@example.org")
    refused("duplicate_email", register_walk_up, event, _walk_up(email="WANDA@example.org"), actor=registrar,
            settings=settings)
    assert count(Registration) == 1


def test_a_walk_up_is_found_by_the_desk_search_at_once(event, settings, registrar):
    from registration.search import search

    walk_up = register_walk_up(event, _walk_up(last_name="Xiong"), actor=registrar, settings=settings)
    db.session.commit()
    assert search(event.id, "xiong") == [walk_up.issued.registration.id]


@pytest.mark.parametrize(("state", "held", "waits"), [
    ("queued", False, False), ("sending", False, False), ("held", True, True), ("sending", True, True),
    ("failed", False, True), ("needs_decision", False, True), ("printed", False, False), ("cancelled", False, False),
])
def test_a_held_job_stays_in_front_of_staff_while_the_worker_tries_it_again(checked_in, settings, state, held, waits):
    from registration.desk.services import floor, load_card

    registration = checked_in()
    jobs = PrintJob.__table__
    badges = sa.select(Badge.id).where(Badge.registration_id == registration.id)
    db.session.execute(sa.update(jobs).where(jobs.c.badge_id.in_(badges))
                       .values(state=state, held_since=utcnow() if held else None))
    db.session.commit()
    db.session.expire_all()
    assert bool(load_card(registration, settings=settings).problem_jobs) is waits
    assert bool(floor(settings)[2]) is waits
