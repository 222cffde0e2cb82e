"""Desk cases: one open case per person and reason (a database rule), resolving once, the queue's order, and
the print queue closing the cases it opened."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from registration.audit import Actor
from registration.checkin.models import Kiosk
from registration.checkin.services import check_in
from registration.desk.cases import open_desk_case, resolve_cases
from registration.desk.models import DeskCase
from registration.desk.services import case_dict, list_cases, resolve_case
from registration.errors import LanyardError
from registration.extensions import db
from registration.models import AuditEvent, Event, utcnow
from registration.printing import services as printing
from registration.printing.models import PrintJob
from registration.services import EventRef

from .conftest import count, new_nonce


@pytest.fixture
def app(service_app):
    """The desk service tests' shared app, on a fresh database (see ``service_app``)."""
    return service_app

WORKER = Actor.system("print-worker")


@pytest.fixture
def open_case(event, registrar):
    """Factory: open a desk case (committed); returns the DeskCase."""

    def make(reason: str = "health_unverified", *, registration=None, print_job_id=None, details: str = ""):
        case_id = open_desk_case(event_id=event.id, reason=reason, actor=registrar,
                                 registration_id=registration.id if registration is not None else None,
                                 print_job_id=print_job_id, details=details)
        db.session.commit()
        return db.session.get(DeskCase, case_id)

    return make


def test_opening_a_case_twice_for_one_person_and_reason_gives_the_same_case(make_registration, open_case):
    person = make_registration()[0].registration
    first = open_case("health_unverified", registration=person)
    second = open_case("health_unverified", registration=person)
    assert first.id == second.id
    assert count(DeskCase) == 1
    assert count(AuditEvent, AuditEvent.action == "desk_case.open") == 1


def test_repeated_kiosk_scans_of_a_person_not_cleared_keep_one_case(make_registration, kiosk_check_in):
    issued = make_registration(health="vaccinated", health_state="attested")[0]
    ids = {kiosk_check_in(issued.code).response["desk_case"]["id"] for _ in range(3)}
    assert len(ids) == 1 and count(DeskCase) == 1


def test_one_person_may_have_open_cases_for_different_reasons(make_registration, open_case):
    person = make_registration()[0].registration
    assert open_case("health_unverified", registration=person).id != open_case("print_failed",
                                                                                 registration=person).id
    assert count(DeskCase, DeskCase.state == "open") == 2


def test_a_case_opened_again_after_it_was_resolved_is_a_new_case(make_registration, open_case, registrar):
    person = make_registration()[0].registration
    first = open_case("health_unverified", registration=person)
    resolve_case(first, actor=registrar, resolution="verified")
    db.session.commit()
    second = open_case("health_unverified", registration=person)
    assert second.id != first.id and second.state == "open"


def test_cases_without_a_person_are_each_their_own(open_case):
    assert open_case("no_match").id != open_case("no_match").id


def test_opening_an_open_case_again_for_a_newer_print_job_points_it_at_that_job(settings, make_registration,
                                                                               open_case):
    person = make_registration()[0].registration
    older = printing.queue_badge(person, printer_name="desk", settings=settings, actor=WORKER)
    newer = printing.queue_badge(person, printer_name="desk", settings=settings, actor=WORKER)
    first = open_case("print_failed", registration=person, print_job_id=older.job_id, details="first")
    again = open_case("print_failed", registration=person, print_job_id=newer.job_id, details="second")
    db.session.expire_all()
    case = db.session.get(DeskCase, first.id)
    assert again.id == first.id
    assert (case.print_job_id, case.details) == (newer.job_id, "second")


def test_an_unknown_case_reason_is_a_programming_error(event, registrar):
    with pytest.raises(ValueError):
        open_desk_case(event_id=event.id, reason="bored", actor=registrar)


def test_the_database_refuses_a_second_open_case_for_one_person_and_reason(event, make_registration):
    person = make_registration()[0].registration
    db.session.add(DeskCase(event_id=event.id, registration_id=person.id, reason="health_unverified", state="open"))
    db.session.commit()
    db.session.add(DeskCase(event_id=event.id, registration_id=person.id, reason="health_unverified", state="open"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    assert count(DeskCase) == 1


def test_the_database_allows_resolved_cases_beside_the_open_one(event, make_registration):
    person = make_registration()[0].registration
    for _ in range(2):
        db.session.add(DeskCase(event_id=event.id, registration_id=person.id, reason="health_unverified",
                                state="resolved", resolution="done", resolved_at=utcnow()))
    db.session.add(DeskCase(event_id=event.id, registration_id=person.id, reason="health_unverified", state="open"))
    db.session.add(DeskCase(event_id=event.id, registration_id=person.id, reason="print_failed", state="open"))
    db.session.commit()
    assert count(DeskCase) == 4


def test_two_kiosks_scanning_one_person_not_cleared_at_once_open_one_case(app, event, settings, make_kiosk,
                                                                          make_registration):
    ref = EventRef(id=event.id, slug=event.slug)
    kiosk_ids = [make_kiosk(f"race-{n}")[0].id for n in range(2)]
    for _round in range(10):
        issued = make_registration(health="vaccinated", health_state="attested")[0]
        barrier = threading.Barrier(2)
        case_ids: list[int] = []
        errors: list[BaseException] = []

        def scan(kiosk_id: int):
            try:
                with app.app_context():
                    kiosk = db.session.get(Kiosk, kiosk_id)
                    barrier.wait()
                    outcome = check_in(ref, code=issued.code, kiosk=kiosk, nonce=new_nonce(), settings=settings)
                    db.session.commit()
                    case_ids.append(outcome.response["desk_case"]["id"])
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)

        threads = [threading.Thread(target=scan, args=(kiosk_id,)) for kiosk_id in kiosk_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(set(case_ids)) == 1
        assert count(DeskCase, DeskCase.registration_id == issued.registration.id) == 1


# --- resolving ----------------------------------------------------------------------------------------------


def test_resolving_a_case_records_how_who_and_when(make_registration, open_case, registrar):
    case = open_case("health_unverified", registration=make_registration()[0].registration)
    before = utcnow()
    resolve_case(case, actor=registrar, resolution="  Saw the CA digital record  ")
    db.session.commit()
    db.session.expire_all()
    case = db.session.get(DeskCase, case.id)
    assert (case.state, case.resolution, case.resolved_by_id) == ("resolved", "Saw the CA digital record",
                                                                  registrar.id)
    assert before <= case.resolved_at <= utcnow()
    assert not case.is_open
    [event_] = db.session.execute(sa.select(AuditEvent).filter_by(action="desk_case.resolve", target_id=case.id)
                                  ).scalars().all()
    assert event_.details["resolution"] == "Saw the CA digital record" and event_.actor_id == registrar.id


def test_a_resolved_case_cannot_be_resolved_again(make_registration, open_case, registrar, make_staff):
    case = open_case("health_unverified", registration=make_registration()[0].registration)
    resolve_case(case, actor=registrar, resolution="first")
    db.session.commit()
    other = make_staff("registrar")[1]
    with pytest.raises(LanyardError) as caught:
        resolve_case(case, actor=other, resolution="second")
    assert caught.value.code == "case_closed"
    db.session.rollback()
    db.session.expire_all()
    case = db.session.get(DeskCase, case.id)
    assert (case.resolution, case.resolved_by_id) == ("first", registrar.id)


def test_a_case_closed_by_the_system_meanwhile_cannot_be_resolved_by_staff(make_registration, open_case, registrar):
    person = make_registration()[0].registration
    case = open_case("print_failed", registration=person)
    resolve_cases(actor=WORKER, resolution="printed", registration_id=person.id)
    with pytest.raises(LanyardError) as caught:
        resolve_case(case, actor=registrar, resolution="reprinted")
    assert caught.value.code == "case_closed"
    assert case.resolution == "printed"  # the object loaded earlier sees the system's resolution


@pytest.mark.parametrize(("resolution", "code"), [
    ("", "reason_required"), ("   ", "reason_required"), (None, "reason_required"),
    ("x" * 10_000, "invalid_field"), ("done\x00", "invalid_field"), ("\u202edone", "invalid_field"),
    (["done"], "invalid_field"), ("👍", "invalid_field"),
], ids=repr)
def test_resolving_needs_a_clean_resolution(make_registration, open_case, registrar, resolution, code):
    case = open_case("health_unverified", registration=make_registration()[0].registration)
    with pytest.raises(LanyardError) as caught:
        resolve_case(case, actor=registrar, resolution=resolution)
    assert caught.value.code == code
    db.session.rollback()
    assert db.session.get(DeskCase, case.id).state == "open"


# --- the queue ----------------------------------------------------------------------------------------------


def _age(case: DeskCase, minutes: int) -> None:
    db.session.execute(sa.update(DeskCase.__table__).where(DeskCase.__table__.c.id == case.id)
                       .values(created_at=utcnow() - timedelta(minutes=minutes)))
    db.session.commit()


def test_open_cases_are_listed_oldest_first(event, make_registration, open_case):
    people = [make_registration()[0].registration for _ in range(3)]
    newest, oldest, middle = (open_case("health_unverified", registration=p) for p in people)
    _age(newest, 1)
    _age(oldest, 30)
    _age(middle, 10)
    assert [case.id for case in list_cases(event)] == [oldest.id, middle.id, newest.id]
    assert [case.id for case in list_cases(event, limit=2)] == [oldest.id, middle.id]


def test_resolved_cases_are_listed_newest_first_and_apart_from_open_ones(event, make_registration, open_case,
                                                                         registrar):
    first, second, waiting = (open_case("health_unverified", registration=make_registration()[0].registration)
                              for _ in range(3))
    resolve_case(first, actor=registrar, resolution="one")
    db.session.commit()
    resolve_case(second, actor=registrar, resolution="two")
    db.session.commit()
    assert [c.id for c in list_cases(event, state="resolved")] == [second.id, first.id]
    assert [c.id for c in list_cases(event)] == [waiting.id]


def test_the_queue_shows_only_the_events_own_cases(event, open_case, registrar):
    other = Event(slug="forum-2027", name="Forum", venue="Hall", starts_on=event.starts_on, ends_on=event.ends_on,
                  timezone=event.timezone)
    db.session.add(other)
    db.session.flush()
    open_desk_case(event_id=other.id, reason="no_match", actor=registrar)
    mine = open_case("no_match")
    assert [case.id for case in list_cases(event)] == [mine.id]


@pytest.mark.parametrize("state", ["closed", "", None, "OPEN"])
def test_the_queue_refuses_an_unknown_state(event, state):
    with pytest.raises(LanyardError) as caught:
        list_cases(event, state=state)
    assert caught.value.code == "invalid_field"


def test_a_case_as_the_api_shows_it(make_registration, open_case, kiosk, kiosk_check_in):
    issued = make_registration(first_name="Ada", last_name="Okafor", health="vaccinated", health_state="attested")[0]
    case_id = kiosk_check_in(issued.code).response["desk_case"]["id"]
    shown = case_dict(db.session.get(DeskCase, case_id))
    assert shown["reason"] == "health_unverified" and shown["state"] == "open"
    assert (shown["name"], shown["kiosk"], shown["registration_id"]) == ("Ada Okafor", kiosk.name,
                                                                        issued.registration.id)
    assert shown["waiting_seconds"] >= 0 and shown["resolved_at"] is None


# --- the print queue's cases --------------------------------------------------------------------------------


def _claim(printer: str):
    claim = printing.claim_next_job(printer, worker_id="worker-1", now=utcnow() + timedelta(seconds=1))
    db.session.commit()
    assert claim is not None
    return claim


def test_a_print_job_that_failed_then_printed_resolves_its_print_failed_case(make_registration, desk_check_in,
                                                                            registrar):
    person = make_registration()[0].registration
    job_id = desk_check_in(person).response["print_job"]["id"]

    claim = _claim("desk")
    assert printing.record_failed(claim, worker_id="worker-1", now=utcnow(), error_code="print_failed",
                                  message="render error")
    db.session.commit()
    [case] = db.session.execute(sa.select(DeskCase).filter_by(registration_id=person.id)).scalars().all()
    assert (case.reason, case.print_job_id, case.state) == ("print_failed", job_id, "open")

    job = db.session.get(PrintJob, job_id)
    printing.retry_job(job, actor=registrar)  # the queue's own retry: it closes no case by itself
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(DeskCase, case.id).state == "open"

    claim = _claim("desk")
    assert printing.record_printed(claim, worker_id="worker-1", now=utcnow())
    db.session.commit()
    db.session.expire_all()
    case = db.session.get(DeskCase, case.id)
    assert (case.state, case.resolution) == ("resolved", "printed")
    assert db.session.get(PrintJob, job_id).state == "printed"


def test_an_unconfirmed_job_marked_printed_by_staff_resolves_its_case(make_registration, desk_check_in, registrar):
    from registration.desk.services import mark_print_job_printed

    person = make_registration()[0].registration
    job_id = desk_check_in(person).response["print_job"]["id"]
    claim = _claim("desk")
    assert printing.record_unconfirmed(claim, worker_id="worker-1", now=utcnow(), error_code="status_unknown",
                                       message="no answer")
    db.session.commit()
    [case] = db.session.execute(sa.select(DeskCase).filter_by(print_job_id=job_id)).scalars().all()
    assert case.reason == "print_unconfirmed"
    mark_print_job_printed(db.session.get(PrintJob, job_id), actor=registrar)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(DeskCase, case.id).state == "resolved"


def test_a_printed_job_closes_only_its_own_case(make_registration, desk_check_in):
    first = make_registration()[0].registration
    second = make_registration()[0].registration
    desk_check_in(first)
    desk_check_in(second)
    claims = [_claim("desk"), _claim("desk")]
    for claim in claims:
        printing.record_failed(claim, worker_id="worker-1", now=utcnow(), error_code="print_failed", message="x")
    db.session.commit()
    for job in db.session.execute(sa.select(PrintJob)).scalars():
        printing.retry_job(job, actor=WORKER)
    db.session.commit()
    printing.record_printed(_claim("desk"), worker_id="worker-1", now=utcnow())
    db.session.commit()
    db.session.expire_all()
    states = sorted(c.state for c in db.session.execute(sa.select(DeskCase)).scalars())
    assert states == ["open", "resolved"]
