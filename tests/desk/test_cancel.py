"""Cancelling a checked-in registration leaves no badge that opens a door: through the staff API as the desk does
it, the badge is void, a lookup of its code says so, no printer will still print it, and the code no longer checks
anyone in. (The service's own bookkeeping, cases and audit, is in ``test_services.py``.)"""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from registration.audit import Actor
from registration.desk.services import cancel_at_desk, check_in_at_desk, load_card, registration_by_scan
from registration.extensions import db
from registration.models import Registration, utcnow
from registration.printing.models import Badge, PrintJob
from registration.printing.services import claim_next_job
from registration.staff import add_staff
from tests.helpers import assert_api_error

from .conftest import STAFF_PASSWORD, new_nonce


@pytest.fixture
def staff_api(app, reuse_staff_hash):
    """Factory: the Authorization header of a new staff user of ``role`` with an API token."""
    numbers = itertools.count(1)

    def make(role: str = "registrar") -> dict:
        _user, token = add_staff(f"cancel-{role}{next(numbers)}@example.org", role=role, actor=Actor.system("test"),
                                 password=STAFF_PASSWORD, with_token=True)
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def checked_in_at_kiosk(make_registration, kiosk_check_in):
    """Factory: a person checked in at the kiosk; returns ``(registration, registration code, badge code)``.

    The badge code is read from the queued print job, the only place it exists in clear.
    """

    def make():
        issued = make_registration()[0]
        outcome = kiosk_check_in(issued.code)
        assert outcome.result == "checked_in"
        job = db.session.execute(sa.select(PrintJob).join(Badge, Badge.id == PrintJob.badge_id)
                                 .where(Badge.registration_id == issued.registration.id)).scalar_one()
        return issued.registration, issued.code, job.payload["code"]

    return make


def _badges(registration) -> list[Badge]:
    db.session.expire_all()
    return list(db.session.execute(sa.select(Badge).filter_by(registration_id=registration.id)
                                   .order_by(Badge.id)).scalars())


def _jobs(registration) -> list[PrintJob]:
    db.session.expire_all()
    return list(db.session.execute(sa.select(PrintJob).join(Badge, Badge.id == PrintJob.badge_id)
                                   .where(Badge.registration_id == registration.id).order_by(PrintJob.id)).scalars())


def test_the_badge_of_a_person_cancelled_through_the_api_is_void(app, client, event, settings, staff_api,
                                                                 checked_in_at_kiosk):
    person, _code, badge_code = checked_in_at_kiosk()
    assert registration_by_scan(event, badge_code).note == ""

    response = client.post(f"/api/v1/registrations/{person.id}/cancel", json={"reason": "duplicate registration"},
                           headers=staff_api("registrar"))

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"status": "cancelled"}
    [badge] = _badges(person)
    assert (badge.status, badge.void_reason) == ("void", "registration cancelled")
    assert badge.voided_at is not None
    hit = registration_by_scan(event, badge_code)
    assert (hit.registration.id, hit.kind, hit.note) == (person.id, "badge", "void")
    card = load_card(db.session.get(Registration, person.id), settings=settings)
    assert card.valid_badge is None
    assert (card.clearance.cleared, card.clearance.reason) == (False, "registration_cancelled")


def test_the_api_card_of_a_cancelled_person_shows_every_badge_void(app, client, staff_api, checked_in_at_kiosk):
    person, _code, _badge_code = checked_in_at_kiosk()
    headers = staff_api("registrar")
    assert client.post(f"/api/v1/registrations/{person.id}/cancel", json={"reason": "asked to"},
                       headers=headers).status_code == 200
    card = client.get(f"/api/v1/registrations/{person.id}", headers=headers).get_json()
    assert [badge["status"] for badge in card["badges"]] == ["void"]
    assert card["health"]["cleared"] is False


def test_an_unprinted_badge_of_a_cancelled_person_is_never_printed(app, client, staff_api, checked_in_at_kiosk):
    person, _code, _badge_code = checked_in_at_kiosk()
    [job] = _jobs(person)
    assert (job.state, job.printer_name) == ("queued", "kiosk-1")

    assert client.post(f"/api/v1/registrations/{person.id}/cancel", json={"reason": "asked to"},
                       headers=staff_api("registrar")).status_code == 200

    [job] = _jobs(person)
    assert (job.state, job.payload) == ("cancelled", None)
    assert claim_next_job("kiosk-1", worker_id="worker-1", now=utcnow()) is None


@pytest.mark.parametrize("state", ["held", "failed", "needs_decision"])
def test_a_badge_waiting_for_a_staff_decision_is_withdrawn_on_cancel(event, checked_in_at_kiosk, registrar, state):
    person, _code, badge_code = checked_in_at_kiosk()
    db.session.execute(sa.update(PrintJob).values(state=state))
    db.session.commit()

    cancel_at_desk(person, actor=registrar, reason="asked to")
    db.session.commit()

    [job] = _jobs(person)
    assert (job.state, job.payload) == ("cancelled", None)
    assert registration_by_scan(event, badge_code).note == "void"
    assert claim_next_job("kiosk-1", worker_id="worker-1", now=utcnow()) is None


def test_a_printed_badge_of_a_cancelled_person_is_void_and_its_print_record_kept(event, checked_in_at_kiosk,
                                                                                 mark_printed, registrar):
    person, _code, badge_code = checked_in_at_kiosk()
    mark_printed(person)

    cancel_at_desk(person, actor=registrar, reason="refunded")
    db.session.commit()

    assert [badge.status for badge in _badges(person)] == ["void"]
    assert [job.state for job in _jobs(person)] == ["printed"]
    assert registration_by_scan(event, badge_code).note == "void"


def test_the_registration_code_of_a_cancelled_person_checks_nobody_in_again(checked_in_at_kiosk, kiosk_check_in,
                                                                            registrar):
    person, code, _badge_code = checked_in_at_kiosk()
    cancel_at_desk(person, actor=registrar, reason="asked to")
    db.session.commit()

    outcome = kiosk_check_in(code)

    assert (outcome.result, outcome.reason) == ("needs_desk", "registration_cancelled")
    assert [badge.status for badge in _badges(person)] == ["void"]
    assert len(_jobs(person)) == 1


def test_a_cancelled_person_cannot_be_given_a_new_badge(app, client, staff_api, checked_in_at_kiosk, mark_printed):
    person, _code, _badge_code = checked_in_at_kiosk()
    mark_printed(person)
    headers = staff_api("registrar")
    assert client.post(f"/api/v1/registrations/{person.id}/cancel", json={"reason": "asked to"},
                       headers=headers).status_code == 200

    response = client.post(f"/api/v1/registrations/{person.id}/badges",
                           json={"reason": "lost", "nonce": new_nonce()}, headers=headers)

    assert_api_error(response, 409, "registration_cancelled")
    assert [badge.status for badge in _badges(person)] == ["void"]


def test_door_staff_cannot_cancel(app, client, staff_api, checked_in_at_kiosk):
    person, _code, badge_code = checked_in_at_kiosk()
    response = client.post(f"/api/v1/registrations/{person.id}/cancel", json={"reason": "asked to"},
                           headers=staff_api("door"))
    assert_api_error(response, 403, "forbidden")
    assert [badge.status for badge in _badges(person)] == ["valid"]


def test_the_desk_is_told_a_checked_in_person_was_cancelled(event, settings, checked_in_at_kiosk, registrar):
    person, _code, _badge_code = checked_in_at_kiosk()
    cancel_at_desk(person, actor=registrar, reason="asked to")
    db.session.commit()

    outcome = check_in_at_desk(event, person, actor=registrar, settings=settings, nonce=new_nonce())

    assert (outcome.result, outcome.reason) == ("needs_desk", "registration_cancelled")
    assert len(_jobs(person)) == 1
