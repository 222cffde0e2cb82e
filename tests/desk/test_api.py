"""The staff JSON API, endpoint by endpoint, with a registrar's bearer token: the documented answer shapes, the
refusal codes and their statuses, and bodies that never make it fail (every error in the one error shape)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from registration.audit import Actor
from registration.checkin.models import CheckIn
from registration.extensions import db
from registration.models import AuditEvent, Registration
from registration.printing.models import Badge, PrintJob
from registration.staff import add_staff
from tests.helpers import assert_api_error

from .conftest import STAFF_PASSWORD, count, new_nonce

SEARCH_KEYS = {"id", "first_name", "last_name", "badge_name", "organization", "email", "pass", "status", "checked_in",
               "cleared"}
HEALTH_KEYS = {"cleared", "reason", "expires_at", "method", "state"}
CHECKIN_KEYS = {"result", "reason", "attendee", "print_job", "checked_in", "desk_case", "go_to"}


class StaffApi:
    """A client of the staff API holding a staff user's bearer token (no cookies, so no CSRF)."""

    def __init__(self, client, token: str, user_id: int):
        self.client, self.token, self.user_id = client, token, user_id

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **options):
        return self.client.get(path, headers=self._headers(), **options)

    def post(self, path: str, json=None, **options):
        return self.client.post(path, json=json, headers=self._headers(), **options)

    def patch(self, path: str, json=None, **options):
        return self.client.patch(path, json=json, headers=self._headers(), **options)

    def send(self, method: str, path: str, **options):
        return self.client.open(path, method=method, headers=self._headers(), **options)


@pytest.fixture
def make_api(app, reuse_staff_hash):
    """Factory: a staff API client for a new user of ``role``."""
    from itertools import count as counter

    numbers = counter(1)

    def make(role: str = "registrar") -> StaffApi:
        user, token = add_staff(f"api-{role}{next(numbers)}@example.org", role=role, actor=Actor.system("test"),
                                password=STAFF_PASSWORD, with_token=True)
        db.session.commit()
        return StaffApi(app.test_client(), token, user.id)

    return make


@pytest.fixture
def api(make_api) -> StaffApi:
    """A registrar's API client."""
    return make_api("registrar")


@pytest.fixture
def person(make_registration):
    """Factory: register someone (cleared unless told otherwise); returns the Registration."""

    def make(**fields) -> Registration:
        return make_registration(**fields)[0].registration

    return make


def _reload(registration_id: int) -> Registration:
    db.session.expire_all()
    return db.session.get(Registration, registration_id)


def _an_hour_ago() -> str:
    return (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- search -----------------------------------------------------------------------------------------------


def test_search_answers_exactly_the_documented_keys(api, person):
    grace = person(first_name="Grace", last_name="Hopper", organization="City of Arlington", badge_name="Amazing Grace")
    response = api.get("/api/v1/registrations?q=Hopper")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    results = response.get_json()["results"]
    assert len(results) == 1
    assert set(results[0]) == SEARCH_KEYS
    assert results[0] == {"id": grace.id, "first_name": "Grace", "last_name": "Hopper", "badge_name": "Amazing Grace",
                          "organization": "City of Arlington", "email": grace.email, "pass": "full",
                          "status": "confirmed", "checked_in": False, "cleared": True}


def test_search_says_who_is_checked_in_and_who_is_not_cleared(api, person, checked_in):
    done = checked_in(last_name="Zamora")
    waiting = person(last_name="Zamora", health=None)
    results = {r["id"]: r for r in api.get("/api/v1/registrations?q=Zamora").get_json()["results"]}
    assert (results[done.id]["checked_in"], results[done.id]["cleared"]) == (True, True)
    assert (results[waiting.id]["checked_in"], results[waiting.id]["cleared"]) == (False, False)


def test_search_honours_the_limit(api, person):
    for n in range(3):
        person(last_name=f"Okafor{n}")
    assert len(api.get("/api/v1/registrations?q=Okafor&limit=2").get_json()["results"]) == 2
    assert len(api.get("/api/v1/registrations?q=Okafor&limit=50").get_json()["results"]) == 3


@pytest.mark.parametrize("limit", ["0", "51", "abc", "-1", "", "1.5", " 5", "99999999999999999999", "²", "①"])
def test_a_bad_limit_is_400_invalid_field(api, limit):
    assert_api_error(api.get("/api/v1/registrations", query_string={"q": "a", "limit": limit}), 400, "invalid_field")


@pytest.mark.parametrize("query", ["", " ", "x" * 10_000, "\x00\x01", "'; DROP TABLE registrations; --", "%", "_",
                                   "😀", "\u202e", "R1", "B1"])
def test_any_query_text_is_searched_never_an_error(api, person, query):
    person()
    response = api.get("/api/v1/registrations", query_string={"q": query})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert isinstance(response.get_json()["results"], list)


# --- the attendee card ------------------------------------------------------------------------------------


def test_the_card_has_the_health_verdict_the_badges_and_the_cases(api, checked_in):
    registration = checked_in(badge_name="Ada L.")
    response = api.get(f"/api/v1/registrations/{registration.id}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    card = response.get_json()
    assert (card["id"], card["badge_name"], card["pass"], card["status"]) == (registration.id, "Ada L.", "full",
                                                                              "confirmed")
    assert set(card["health"]) == HEALTH_KEYS
    assert card["health"]["cleared"] is True and card["health"]["method"] == "vaccinated"
    assert card["health"]["state"] == "verified"
    assert card["checked_in"]["staff"] and card["checked_in"]["at"].endswith("Z")
    [badge] = card["badges"]
    assert {"serial", "status", "printer", "printed_at", "print_job", "issued_at"} <= set(badge)
    assert (badge["status"], badge["printer"], badge["printed_at"]) == ("valid", "desk", None)
    assert badge["print_job"]["state"] == "queued"
    assert card["desk_cases"] == []


def test_reading_the_card_is_an_audited_health_read(api, person):
    registration = person()
    before = count(AuditEvent, AuditEvent.action == "health.view")
    assert api.get(f"/api/v1/registrations/{registration.id}").status_code == 200
    db.session.expire_all()
    assert count(AuditEvent, AuditEvent.action == "health.view") == before + 1
    audit = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "health.view")
                               .order_by(AuditEvent.id.desc())).scalars().first()
    assert (audit.actor_type, audit.actor_id) == ("staff", api.user_id)
    assert (audit.target_type, audit.target_id) == ("Registration", registration.id)
    assert audit.details.get("channel") == "api"


def test_the_card_of_someone_a_kiosk_sent_to_the_desk_lists_the_case(api, make_registration, kiosk_check_in):
    issued = make_registration(health=None)[0]
    assert kiosk_check_in(issued.code).result == "needs_desk"
    card = api.get(f"/api/v1/registrations/{issued.registration.id}").get_json()
    assert card["health"] == {"cleared": False, "reason": "health_missing", "expires_at": None, "method": None,
                              "state": None}
    [case] = card["desk_cases"]
    assert (case["state"], case["kiosk"]) == ("open", "kiosk-a")


# --- corrections ------------------------------------------------------------------------------------------


def test_patch_corrects_badge_name_title_and_organisation(api, person):
    registration = person(badge_name="Ada", title="", organization="")
    response = api.patch(f"/api/v1/registrations/{registration.id}",
                         json={"badge_name": "Ada L.", "title": "Council Member", "organization": "City of Davis"})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["changed"] == {"badge_name": ["Ada", "Ada L."], "title": ["", "Council Member"],
                               "organization": ["", "City of Davis"]}
    assert body["registration"]["badge_name"] == "Ada L."
    stored = _reload(registration.id)
    assert (stored.badge_name, stored.title, stored.organization) == ("Ada L.", "Council Member", "City of Davis")


def test_patch_with_nothing_new_changes_nothing(api, person):
    registration = person(badge_name="Ada")
    response = api.patch(f"/api/v1/registrations/{registration.id}", json={"badge_name": "Ada"})
    assert response.status_code == 200
    assert response.get_json()["changed"] == {}


@pytest.mark.parametrize("body", [{"first_name": "Eve"}, {"last_name": "Mallory"}, {"email": "eve@example.org"},
                                  {"status": "cancelled"}, {"registration_type": "guest"}, {"badge_name": ""},
                                  {"badge_name": "Eve", "legal_name": "Eve"}, {"badge_name": 5},
                                  {"badge_name": "x" * 101}, {"title": ["Mayor"]}])
def test_patch_refuses_what_the_desk_may_not_change(api, person, body):
    registration = person(first_name="Ada", badge_name="Ada")
    response = api.patch(f"/api/v1/registrations/{registration.id}", json=body)
    assert_api_error(response, 400, "invalid_field")
    stored = _reload(registration.id)
    assert (stored.first_name, stored.badge_name, stored.status, stored.type_name) == ("Ada", "Ada", "confirmed",
                                                                                       "full")


def test_patch_of_a_cancelled_registration_is_409(api, person):
    registration = person()
    assert api.post(f"/api/v1/registrations/{registration.id}/cancel", json={"reason": "duplicate"}).status_code == 200
    assert_api_error(api.patch(f"/api/v1/registrations/{registration.id}", json={"badge_name": "New"}), 409,
                     "registration_cancelled")


# --- health -----------------------------------------------------------------------------------------------


def test_verifying_a_vaccination_clears_the_person(api, person):
    registration = person(health=None)
    response = api.post(f"/api/v1/registrations/{registration.id}/health", json={"method": "vaccinated",
                                                                                   "state": "verified"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"health": {"cleared": True, "reason": None, "expires_at": None}}
    health = _reload(registration.id).health
    assert (health.method, health.state, health.verified_by_id) == ("vaccinated", "verified", api.user_id)


def test_a_negative_test_clears_until_it_runs_out(api, person, settings):
    registration = person(health=None)
    response = api.post(f"/api/v1/registrations/{registration.id}/health",
                        json={"method": "negative_test", "test_taken_at": _an_hour_ago()})
    assert response.status_code == 200, response.get_data(as_text=True)
    verdict = response.get_json()["health"]
    assert verdict["cleared"] is True
    expires = datetime.fromisoformat(verdict["expires_at"].replace("Z", "+00:00"))
    hours = settings.health.negative_test_valid_hours
    assert abs(expires - (datetime.now(timezone.utc) + timedelta(hours=hours - 1))) < timedelta(minutes=2)


@pytest.mark.parametrize("body", [
    {"method": "negative_test"},
    {"method": "negative_test", "test_taken_at": "2027-09-15T08:00:00"},
    {"method": "negative_test", "test_taken_at": "yesterday"},
    {"method": "negative_test", "test_taken_at": 1726387200},
    {"method": "negative_test", "test_taken_at": "2027-09-15T08:00:00Z" + " " * 40},
    {"method": "negative_test", "test_taken_at": "2999-01-01T00:00:00Z"},
    {"method": "vaccinated", "test_taken_at": "2027-09-15T08:00:00Z"},
    {"method": "onsite_test", "test_taken_at": "2027-09-15T08:00:00Z", "result": "maybe"},
    {"method": "vaccinated", "result": "negative"},
    {"method": "vaccinated", "state": "attested"},
    {"method": "brand_x"},
    {"method": ""},
    {"method": ["vaccinated"]},
    {"method": "vaccinated", "reason": {"x": 1}},
])
def test_bad_health_input_is_400_invalid_field_and_writes_nothing(api, person, body):
    registration = person(health=None)
    response = api.post(f"/api/v1/registrations/{registration.id}/health", json=body)
    assert_api_error(response, 400, "invalid_field")
    assert _reload(registration.id).health is None


def test_a_rejection_needs_a_reason(api, person):
    registration = person(health=None)
    response = api.post(f"/api/v1/registrations/{registration.id}/health",
                        json={"method": "vaccinated", "state": "rejected"})
    assert_api_error(response, 422, "reason_required")
    response = api.post(f"/api/v1/registrations/{registration.id}/health",
                        json={"method": "vaccinated", "state": "rejected", "reason": "card unreadable"})
    assert response.status_code == 200
    assert response.get_json()["health"]["cleared"] is False


def test_verify_and_print_checks_the_person_in(api, person):
    registration = person(health=None)
    response = api.post(f"/api/v1/registrations/{registration.id}/health",
                        json={"method": "vaccinated", "print": {"printer": "desk"}, "nonce": new_nonce()})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["health"]["cleared"] is True
    assert set(body["checkin"]) == CHECKIN_KEYS
    assert body["checkin"]["result"] == "checked_in"
    assert body["checkin"]["print_job"]["printer"] == "desk"
    assert count(CheckIn, CheckIn.registration_id == registration.id) == 1


def test_verify_and_print_at_an_unknown_printer_writes_nothing(api, person):
    registration = person(health=None)
    response = api.post(f"/api/v1/registrations/{registration.id}/health",
                        json={"method": "vaccinated", "print": {"printer": "nowhere"}, "nonce": new_nonce()})
    assert_api_error(response, 422, "printer_unknown")
    assert _reload(registration.id).health is None


def test_verify_and_print_needs_a_nonce(api, person):
    registration = person(health=None)
    response = api.post(f"/api/v1/registrations/{registration.id}/health",
                        json={"method": "vaccinated", "print": {"printer": "desk"}})
    assert_api_error(response, 400, "nonce_invalid")
    assert count(CheckIn, CheckIn.registration_id == registration.id) == 0


# --- check-in ---------------------------------------------------------------------------------------------


def test_checkin_prints_at_the_chosen_printer_once(api, person):
    registration = person()
    nonce = new_nonce()
    first = api.post(f"/api/v1/registrations/{registration.id}/checkin", json={"printer": "kiosk-1", "nonce": nonce})
    assert first.status_code == 200, first.get_data(as_text=True)
    body = first.get_json()
    assert set(body) == CHECKIN_KEYS
    assert (body["result"], body["print_job"]["printer"]) == ("checked_in", "kiosk-1")
    again = api.post(f"/api/v1/registrations/{registration.id}/checkin", json={"printer": "kiosk-1", "nonce": nonce})
    assert again.get_data() == first.get_data()
    later = api.post(f"/api/v1/registrations/{registration.id}/checkin", json={"nonce": new_nonce()})
    assert later.get_json()["result"] == "already_checked_in"
    assert count(PrintJob) == 1


def test_checkin_without_a_printer_uses_the_desk_printer(api, person):
    registration = person()
    body = api.post(f"/api/v1/registrations/{registration.id}/checkin", json={"nonce": new_nonce()}).get_json()
    assert body["print_job"]["printer"] == "desk"


def test_checkin_at_an_unknown_printer_is_422(api, person):
    registration = person()
    response = api.post(f"/api/v1/registrations/{registration.id}/checkin",
                        json={"printer": "nowhere", "nonce": new_nonce()})
    assert_api_error(response, 422, "printer_unknown")
    assert count(CheckIn) == 0


@pytest.mark.parametrize("health, state, reason", [(None, None, "health_missing"),
                                                   ("vaccinated", "attested", "health_unverified")])
def test_checkin_of_someone_not_cleared_says_exactly_why(api, person, health, state, reason):
    registration = person(health=health, health_state=state)
    response = api.post(f"/api/v1/registrations/{registration.id}/checkin", json={"nonce": new_nonce()})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["result"], body["reason"], body["print_job"]) == ("needs_desk", reason, None)
    assert count(CheckIn) == 0


@pytest.mark.parametrize("nonce", [None, "", "short", "x" * 65, "has space!", 12345678])
def test_checkin_needs_a_valid_nonce(api, person, nonce):
    registration = person()
    response = api.post(f"/api/v1/registrations/{registration.id}/checkin", json={"nonce": nonce})
    assert_api_error(response, 400, "invalid_field" if isinstance(nonce, int) else "nonce_invalid")
    assert count(CheckIn) == 0


# --- reprints ---------------------------------------------------------------------------------------------


def test_a_reprint_issues_a_new_badge_and_voids_the_old(api, checked_in, mark_printed):
    registration = checked_in()
    old = db.session.execute(sa.select(Badge).filter_by(registration_id=registration.id)).scalar_one()
    mark_printed(registration)
    nonce = new_nonce()
    response = api.post(f"/api/v1/registrations/{registration.id}/badges",
                        json={"reason": "lost", "printer": "desk", "nonce": nonce})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"serial", "print_job", "replaced_serial"}
    assert body["serial"] != old.serial and body["print_job"]["printer"] == "desk"
    assert body["print_job"]["state"] == "queued"
    again = api.post(f"/api/v1/registrations/{registration.id}/badges",
                     json={"reason": "lost", "printer": "desk", "nonce": nonce})
    assert again.status_code == 201 and again.get_json() == body  # a retry prints nothing more
    badges = api.get(f"/api/v1/registrations/{registration.id}").get_json()["badges"]
    assert [b["status"] for b in badges] == ["valid", "void"]
    assert badges[0]["serial"] == body["serial"]


def test_a_reprint_while_the_badge_is_still_queued_is_409(api, checked_in):
    registration = checked_in()
    response = api.post(f"/api/v1/registrations/{registration.id}/badges",
                        json={"reason": "lost", "printer": "desk", "nonce": new_nonce()})
    assert_api_error(response, 409, "badge_in_queue")
    assert count(Badge, Badge.registration_id == registration.id) == 1


def test_a_reprint_before_check_in_is_409(api, person):
    registration = person()
    response = api.post(f"/api/v1/registrations/{registration.id}/badges",
                        json={"reason": "lost", "printer": "desk", "nonce": new_nonce()})
    assert_api_error(response, 409, "not_checked_in")


@pytest.mark.parametrize("body, code", [({"reason": "bored", "nonce": "abcdefgh12"}, "invalid_field"),
                                        ({"reason": "lost"}, "nonce_invalid"),
                                        ({"reason": "lost", "printer": 5, "nonce": "abcdefgh12"}, "invalid_field")])
def test_a_reprint_with_bad_input_is_400(api, checked_in, mark_printed, body, code):
    registration = checked_in()
    mark_printed(registration)
    assert_api_error(api.post(f"/api/v1/registrations/{registration.id}/badges", json=body), 400, code)
    assert count(Badge, Badge.registration_id == registration.id) == 1


def test_a_reprint_at_an_unknown_printer_is_422(api, checked_in, mark_printed):
    registration = checked_in()
    mark_printed(registration)
    response = api.post(f"/api/v1/registrations/{registration.id}/badges",
                        json={"reason": "lost", "printer": "nowhere", "nonce": new_nonce()})
    assert_api_error(response, 422, "printer_unknown")


# --- walk-ups ---------------------------------------------------------------------------------------------


def _walk_up(**fields) -> dict:
    body = {"first_name": "Walk", "last_name": "Up", "email": "walk.up@example.org", "registration_type": "full"}
    body.update(fields)
    return body


def test_a_walk_up_is_registered_verified_and_printed_in_one_call(api):
    response = api.post("/api/v1/registrations", json=_walk_up(health={"method": "vaccinated"},
                                                                print={"printer": "desk"}, nonce=new_nonce()))
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"id", "status", "health", "checkin"}
    assert body["status"] == "confirmed"
    assert body["health"]["cleared"] is True
    assert body["checkin"]["result"] == "checked_in" and body["checkin"]["print_job"]["printer"] == "desk"
    stored = _reload(body["id"])
    assert (stored.legal_name, stored.source, stored.type_name) == ("Walk Up", "desk", "full")


def test_a_walk_up_without_health_or_printing_is_just_registered(api):
    response = api.post("/api/v1/registrations", json=_walk_up())
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["health"] is None and response.get_json()["checkin"] is None


def test_a_walk_up_guest_comes_with_a_host(api, person):
    host = person(last_name="Host")
    response = api.post("/api/v1/registrations", json=_walk_up(registration_type="guest", email="", host_id=host.id))
    assert response.status_code == 201, response.get_data(as_text=True)
    card = api.get(f"/api/v1/registrations/{response.get_json()['id']}").get_json()
    assert card["pass"] == "guest" and card["host"]["id"] == host.id


def test_a_walk_up_guest_without_a_host_is_refused(api):
    response = api.post("/api/v1/registrations", json=_walk_up(registration_type="guest", email=""))
    assert_api_error(response, 422, "host_required")
    assert count(Registration) == 0


@pytest.mark.parametrize("host_id, status, code", [("1", 400, "invalid_field"), (1.0, 400, "invalid_field"),
                                                   (True, 400, "invalid_field"), (999_999, 422, "host_invalid")])
def test_a_walk_up_guest_with_a_bad_host_is_refused(api, host_id, status, code):
    response = api.post("/api/v1/registrations", json=_walk_up(registration_type="guest", email="", host_id=host_id))
    assert_api_error(response, status, code)


def test_a_walk_up_with_a_taken_email_is_409(api, person):
    taken = person()
    response = api.post("/api/v1/registrations", json=_walk_up(email=taken.email))
    assert_api_error(response, 409, "duplicate_email")
    assert count(Registration) == 1


def test_a_walk_up_with_bad_health_registers_nobody(api):
    response = api.post("/api/v1/registrations", json=_walk_up(health={"method": "negative_test"}))
    assert_api_error(response, 400, "invalid_field")
    assert count(Registration) == 0


def test_a_walk_up_printing_at_an_unknown_printer_registers_nobody(api):
    response = api.post("/api/v1/registrations", json=_walk_up(health={"method": "vaccinated"},
                                                                print={"printer": "nowhere"}, nonce=new_nonce()))
    assert_api_error(response, 422, "printer_unknown")
    assert count(Registration) == 0


# --- the case queue ---------------------------------------------------------------------------------------


@pytest.fixture
def open_case(make_registration, kiosk_check_in):
    """A desk case a kiosk opened for someone without a health record; returns its id."""
    from registration.desk.models import DeskCase

    issued = make_registration(health=None)
    assert kiosk_check_in(issued[0].code).result == "needs_desk"
    return db.session.execute(sa.select(DeskCase.id).filter_by(registration_id=issued[0].registration.id)).scalar_one()


def test_the_case_queue_lists_open_cases(api, open_case):
    response = api.get("/api/v1/desk-cases?state=open")
    assert response.status_code == 200
    [case] = response.get_json()["desk_cases"]
    assert {"id", "reason", "state", "registration_id", "name", "kiosk", "created_at", "waiting_seconds",
            "resolved_at", "resolution"} <= set(case)
    assert (case["id"], case["state"], case["reason"], case["kiosk"]) == (open_case, "open", "health_missing",
                                                                          "kiosk-a")
    assert [c["id"] for c in api.get("/api/v1/desk-cases").get_json()["desk_cases"]] == [open_case]  # the default
    assert api.get("/api/v1/desk-cases?state=resolved").get_json()["desk_cases"] == []


@pytest.mark.parametrize("state", ["closed", "", "OPEN", "x" * 1000])
def test_an_unknown_case_state_is_400(api, state):
    assert_api_error(api.get("/api/v1/desk-cases", query_string={"state": state}), 400, "invalid_field")


def test_resolving_a_case_closes_it_once(api, open_case):
    response = api.post(f"/api/v1/desk-cases/{open_case}/resolve", json={"resolution": "verified at the desk"})
    assert response.status_code == 200, response.get_data(as_text=True)
    case = response.get_json()["desk_case"]
    assert (case["state"], case["resolution"]) == ("resolved", "verified at the desk")
    assert case["resolved_at"].endswith("Z")
    again = api.post(f"/api/v1/desk-cases/{open_case}/resolve", json={"resolution": "again"})
    assert_api_error(again, 409, "case_closed")
    assert [c["id"] for c in api.get("/api/v1/desk-cases?state=resolved").get_json()["desk_cases"]] == [open_case]


@pytest.mark.parametrize("body, status, code", [({}, 422, "reason_required"), ({"resolution": ""}, 422,
                                                                                 "reason_required"),
                                                ({"resolution": 5}, 400, "invalid_field"),
                                                ({"resolution": "x" * 501}, 400, "invalid_field")])
def test_a_resolution_must_say_how(api, open_case, body, status, code):
    assert_api_error(api.post(f"/api/v1/desk-cases/{open_case}/resolve", json=body), status, code)
    assert api.get("/api/v1/desk-cases").get_json()["desk_cases"][0]["state"] == "open"


# --- missing things ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/api/v1/registrations/999999", None),
    ("PATCH", "/api/v1/registrations/999999", {"badge_name": "X"}),
    ("POST", "/api/v1/registrations/999999/health", {"method": "vaccinated"}),
    ("POST", "/api/v1/registrations/999999/checkin", {"nonce": "abcdefgh12"}),
    ("POST", "/api/v1/registrations/999999/badges", {"reason": "lost", "nonce": "abcdefgh12"}),
    ("POST", "/api/v1/registrations/999999/cancel", {"reason": "x"}),
    ("POST", "/api/v1/registrations/999999/upgrade", {}),
    ("POST", "/api/v1/registrations/999999/confirmation", {}),
    ("POST", "/api/v1/desk-cases/999999/resolve", {"resolution": "x"}),
    ("POST", "/api/v1/print-jobs/999999/retry", {}),
    ("POST", "/api/v1/print-jobs/999999/cancel", {"reason": "x"}),
    ("POST", "/api/v1/print-jobs/999999/printed", {}),
    ("GET", "/api/v1/no-such-endpoint", None),
])
def test_a_missing_object_is_404_not_found(api, method, path, body):
    assert_api_error(api.send(method, path, json=body), 404, "not_found")


def test_a_wrong_method_is_405_in_the_error_shape(api):
    assert_api_error(api.send("PUT", "/api/v1/registrations"), 405, "method_not_allowed")


# --- bodies that must never make it fail ------------------------------------------------------------------

#: (method, path template, a good body) for every endpoint that takes a body.
BODY_ENDPOINTS = [
    ("PATCH", "/api/v1/registrations/{id}", {"badge_name": "Ada"}),
    ("POST", "/api/v1/registrations/{id}/health", {"method": "vaccinated"}),
    ("POST", "/api/v1/registrations/{id}/checkin", {"nonce": "abcdefgh12"}),
    ("POST", "/api/v1/registrations/{id}/badges", {"reason": "lost", "nonce": "abcdefgh12"}),
    ("POST", "/api/v1/registrations/{id}/upgrade", {}),
    ("POST", "/api/v1/registrations/{id}/cancel", {"reason": "x"}),
    ("POST", "/api/v1/registrations", _walk_up()),
    ("POST", "/api/v1/desk-cases/{case}/resolve", {"resolution": "x"}),
]
#: Raw bodies that are not a JSON object: always 400 invalid_field.
NOT_AN_OBJECT = ["not json", "{", '{"a": }', "[]", '["badge_name"]', "42", '"text"', "null", "true", "",
                 '{"a": NaN}x', "\xff\xfe", '{"badge_name": "x"}{"badge_name": "y"}']
#: Field values no endpoint may crash on (each endpoint answers success or an error in the one shape).
NASTY_VALUES = [5, 3.14, True, None, [], ["Ada"], {}, {"$ne": None}, "", " ", "x" * 10_000, "\x00", "Ada\x07",
                "Ada\r\nBcc: x", "\u202eAda", "Ada\u200b", "😀", "Ada 😀", "' OR '1'='1", "<script>", "９",
                -1, 2 ** 70, "\ud83d"]


@pytest.fixture
def targets(person, open_case):
    """The ids the body endpoints act on."""
    return {"id": person().id, "case": open_case}


def _problem(response) -> str | None:
    """Why the response is neither a success nor an error in the one shape (None when it is one of them)."""
    if response.status_code >= 500 or not response.is_json:
        return f"{response.status_code}: {response.get_data(as_text=True)[:200]}"
    if response.status_code >= 400:
        try:
            assert_api_error(response, response.status_code, (response.get_json().get("error") or {}).get("code"))
        except (AssertionError, AttributeError) as error:
            return f"not the error shape: {error}"
    return None


@pytest.mark.parametrize("raw", NOT_AN_OBJECT)
def test_a_body_that_is_not_a_json_object_is_400_invalid_field(api, targets, raw):
    for method, template, _good in BODY_ENDPOINTS:
        response = api.send(method, template.format(**targets), data=raw.encode("latin-1", "replace")
                            if raw.startswith("\xff") else raw, content_type="application/json")
        assert_api_error(response, 400, "invalid_field")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_body_that_is_not_json_at_all_is_400_invalid_field(api, targets, content_type):
    response = api.send("PATCH", f"/api/v1/registrations/{targets['id']}", data="badge_name=Eve",
                        content_type=content_type)
    assert_api_error(response, 400, "invalid_field")


def test_a_body_over_the_size_limit_is_413_in_the_error_shape(api, targets):
    body = json.dumps({"badge_name": "x" * (3 * 1024 * 1024)})
    response = api.send("PATCH", f"/api/v1/registrations/{targets['id']}", data=body, content_type="application/json")
    assert_api_error(response, 413, "too_large")


@pytest.mark.parametrize("method, template, good", BODY_ENDPOINTS, ids=[f"{m} {t}" for m, t, _g in BODY_ENDPOINTS])
def test_nasty_field_values_never_fail(api, targets, method, template, good):
    path = template.format(**targets)
    problems = []
    for value in NASTY_VALUES:
        for name in list(good) or ["reason", "printer", "registration_type", "email"]:
            raw = json.dumps({**good, name: value}, ensure_ascii=True)  # "\ud83d" goes as a lone surrogate's escape
            problem = _problem(api.send(method, path, data=raw, content_type="application/json"))
            if problem:
                problems.append(f"{name}={value!r:.30}: {problem}")
    assert problems == []


@pytest.mark.parametrize("field", ["first_name", "last_name", "badge_name", "organization", "title"])
@pytest.mark.parametrize("value, ok", [("x" * 10_000, False), ("Ada\x00", False), ("Ada\x1b[31m", False),
                                       ("Ada 😀", False), ("\u202eadA", False), ("Zoë Ångström-Łukasiewicz", True),
                                       ("محمد", True), ("李小龍", True), ("Nguyễn Thị Minh Khai", True)])
def test_walk_up_names_are_checked_like_every_name(api, field, value, ok):
    response = api.post("/api/v1/registrations", json=_walk_up(**{field: value}))
    if ok:
        assert response.status_code == 201, response.get_data(as_text=True)
        assert getattr(_reload(response.get_json()["id"]), field) == value
    else:
        assert_api_error(response, 400, "invalid_field")
        assert count(Registration) == 0
