"""The kiosk JSON API: one answer shape, one error shape, kiosk-only access, no input makes it fail."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer

from kiosk.services import disable_kiosk, rotate_kiosk_token
from registration.audit import Actor
from registration.checkin.models import CheckIn, Kiosk
from registration.codes import format_for_humans, new_code
from registration.extensions import db
from registration.printing.models import PrintJob, PrinterState
from tests.helpers import assert_api_error

ANSWER_KEYS = {"result", "reason", "attendee", "print_job", "checked_in", "desk_case", "go_to"}


def test_check_in_by_code(api, make_registration):
    code = make_registration(badge_name="Ada L.")[0].code
    response = api.check_in(code)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == ANSWER_KEYS
    assert (body["result"], body["reason"]) == ("checked_in", None)
    assert body["attendee"]["badge_name"] == "Ada L."
    assert body["print_job"]["state"] == "queued" and body["print_job"]["printer"] == "kiosk-1"
    assert body["checked_in"]["kiosk"] == "kiosk-a"


def test_needs_desk_and_invalid_are_answers_not_errors(api, make_registration):
    body = api.check_in(make_registration(health=None)[0].code).get_json()
    assert (body["result"], body["reason"], body["go_to"]) == ("needs_desk", "health_not_cleared", "health_desk")
    assert body["desk_case"]["id"] > 0
    body = api.check_in(new_code("badge")).get_json()
    assert (body["result"], body["reason"]) == ("invalid", "wrong_code_kind")


def test_a_retried_request_gets_the_identical_first_answer(api, make_registration):
    code = make_registration()[0].code
    nonce = uuid.uuid4().hex
    first = api.check_in(code, nonce=nonce)
    again = api.check_in(code, nonce=nonce)
    assert first.get_data() == again.get_data()
    assert first.get_json()["result"] == "checked_in"
    assert db.session.execute(sa.select(sa.func.count(PrintJob.id))).scalar() == 1


NASTY = ["", " ", "x" * 10_000, "R1" + "A" * 200, "\x00\x01\x02", "\u202eR1ABC", "Ωμέγα", "日本語のコード",
         "'; DROP TABLE registrations; --", "R1' OR '1'='1", "<script>alert(1)</script>", "\ud83d\ude00" * 10,
         "R1" + "0" * 25 + "\n", "%00", "../../etc/passwd"]


@pytest.mark.parametrize("code", NASTY)
def test_nasty_codes_are_invalid_never_an_error(api, code):
    response = api.check_in(code)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["result"] == "invalid"
    assert body["reason"] in ("code_malformed", "code_unknown", "wrong_code_kind")


@pytest.mark.parametrize("body", [
    None, "not json", [], ["code"], 42, "null", {"nonce": uuid.uuid4().hex},
    {"code": 123, "nonce": uuid.uuid4().hex}, {"code": ["R1"], "nonce": uuid.uuid4().hex},
    {"code": {"$gt": ""}, "nonce": uuid.uuid4().hex}, {"code": None, "nonce": uuid.uuid4().hex},
    {"code": "R1", "selection": "x", "nonce": uuid.uuid4().hex}, {"selection": 5, "nonce": uuid.uuid4().hex},
])
def test_malformed_bodies_are_400_bad_request(api, body):
    raw = body if isinstance(body, str) else json.dumps(body)
    response = api.client.post("/api/v1/checkins", data=raw, content_type="application/json", headers=api.headers())
    assert_api_error(response, 400, "bad_request")


@pytest.mark.parametrize("nonce", ["", "short", "x" * 65, "has space!", "semi;colon", "é" * 10, "abcdefgh\n",
                                   "' OR 1=1 --", 12345678, None, ["abcdefgh"], {"n": "abcdefgh"}, 1.5e10, True])
def test_bad_nonces_are_400_nonce_invalid(api, make_registration, nonce):
    response = api.post("/api/v1/checkins", json={"code": make_registration()[0].code, "nonce": nonce})
    assert_api_error(response, 400, "nonce_invalid")
    assert db.session.execute(sa.select(sa.func.count(CheckIn.id))).scalar() == 0


def test_missing_nonce_is_nonce_invalid(api):
    assert_api_error(api.post("/api/v1/checkins", json={"code": "R1"}), 400, "nonce_invalid")


def test_a_body_over_the_limit_is_413(api):
    response = api.post("/api/v1/checkins", json={"code": "x" * 3_000_000, "nonce": uuid.uuid4().hex})
    assert_api_error(response, 413, "too_large")


def test_print_job_state_for_the_kiosk_that_made_it(api, make_kiosk_client, make_registration):
    job = api.check_in(make_registration()[0].code).get_json()["print_job"]
    response = api.get(job["url"])
    assert response.status_code == 200
    assert response.get_json() == {"print_job": {**job, "attention": False, "alternative": None}}
    _other, other_api = make_kiosk_client("kiosk-b")
    assert_api_error(other_api.get(job["url"]), 404, "not_found")
    assert_api_error(api.get("/api/v1/print-jobs/999999"), 404, "not_found")


def test_a_printer_fault_asks_for_attention_and_names_a_working_kiosk(api, make_kiosk_client, make_registration):
    make_kiosk_client("kiosk-b", printer="kiosk-2", location="Lobby B")
    make_kiosk_client("kiosk-c", printer="kiosk-2", location="Hall C")[0].enabled = False
    db.session.add_all([PrinterState(name="kiosk-1", online=False, error_code="paper_out"),
                        PrinterState(name="kiosk-2", online=True, error_code="")])
    db.session.commit()
    job = api.check_in(make_registration()[0].code).get_json()["print_job"]
    status = api.get(job["url"]).get_json()["print_job"]
    assert status["attention"] is True
    assert status["alternative"] == {"kiosk": "kiosk-b", "location": "Lobby B"}


def test_a_held_job_asks_for_attention(api, make_registration):
    job = api.check_in(make_registration()[0].code).get_json()["print_job"]
    db.session.get(PrintJob, job["id"]).state = "held"
    db.session.commit()
    status = api.get(job["url"]).get_json()["print_job"]
    assert (status["state"], status["attention"], status["alternative"]) == ("held", True, None)


def test_preview_png_has_no_real_qr(api, make_registration):
    printers = pytest.importorskip("printers")
    if not hasattr(printers, "badge_png"):
        pytest.skip("printers/ (the badge library) has not landed yet")
    from tests.helpers import decode_qr

    job = api.check_in(make_registration()[0].code).get_json()["print_job"]
    response = api.get(job["preview_url"])
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.get_data().startswith(b"\x89PNG")
    assert decode_qr(response.get_data()) == []


def test_lookup_finds_with_second_factor_only(api, make_registration):
    make_registration(first_name="Ada", last_name="Lovelace", email="ada@engines.org")
    response = api.post("/api/v1/kiosk/lookup", json={"last_name": "Lovelace", "second_factor": "ada"})
    assert response.status_code == 200
    [match] = response.get_json()["matches"]
    assert set(match) == {"selection", "masked_name", "pass_label", "masked_email"}
    assert match["masked_email"] == "ad***@e***.org"
    assert api.check_in(selection=match["selection"]).get_json()["result"] == "checked_in"
    for factor in ("", "adx", "ad"):
        response = api.post("/api/v1/kiosk/lookup", json={"last_name": "Lovelace", "second_factor": factor})
        assert response.get_json() == {"matches": []}


@pytest.mark.parametrize("body", [None, [], {"last_name": 5, "second_factor": "abc"},
                                  {"last_name": "x", "second_factor": ["abc"]}])
def test_lookup_with_a_malformed_body_is_400(api, body):
    response = api.client.post("/api/v1/kiosk/lookup", data=json.dumps(body), content_type="application/json",
                               headers=api.headers())
    assert_api_error(response, 400, "bad_request")


@pytest.mark.parametrize("last_name", ["", "x" * 5000, "\x00", "ناصر", "'; DELETE FROM registrations; --", "%_%"])
def test_lookup_with_nasty_names_reveals_nothing(api, make_registration, last_name):
    make_registration(email="ada@engines.org")
    response = api.post("/api/v1/kiosk/lookup", json={"last_name": last_name, "second_factor": "ada"})
    assert response.status_code == 200 and response.get_json() == {"matches": []}


def test_lookup_rate_limit_is_429(api, make_kiosk_client):
    from registration.checkin.services import LOOKUP_LIMIT

    body = {"last_name": "Nobody", "second_factor": "abc"}
    for _ in range(LOOKUP_LIMIT):
        assert api.post("/api/v1/kiosk/lookup", json=body).status_code == 200
    assert_api_error(api.post("/api/v1/kiosk/lookup", json=body), 429, "rate_limited")
    assert make_kiosk_client("kiosk-b")[1].post("/api/v1/kiosk/lookup", json=body).status_code == 200


def test_status(api):
    db.session.add(PrinterState(name="kiosk-1", online=True, paper_near_end=True, error_code=""))
    db.session.commit()
    assert api.get("/api/v1/kiosk/status").get_json() == {
        "kiosk": {"name": "kiosk-a", "location": "Lobby A", "language": "en", "enabled": True},
        "printer": {"name": "kiosk-1", "online": True, "paper_near_end": True, "error_code": ""},
    }


def test_status_before_a_worker_looked_at_the_printer(api):
    assert api.get("/api/v1/kiosk/status").get_json()["printer"] == {
        "name": "kiosk-1", "online": None, "paper_near_end": False, "error_code": ""}


def test_last_seen_is_recorded(api):
    api.get("/api/v1/kiosk/status")
    kiosk = db.session.execute(sa.select(Kiosk).filter_by(name="kiosk-a")).scalar_one()
    assert kiosk.last_seen_at is not None


ENDPOINTS = [("post", "/api/v1/checkins"), ("get", "/api/v1/print-jobs/1"), ("get", "/api/v1/print-jobs/1/preview.png"),
             ("post", "/api/v1/kiosk/lookup"), ("get", "/api/v1/kiosk/status")]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("header", ["Bearer ", "Bearer nonsense", f"Bearer {new_code('kiosk')}",
                                    f"Bearer {new_code('staff_token')}", f"Bearer {new_code('kiosk')}x"])
def test_without_a_valid_kiosk_token_every_endpoint_is_401(app, method, path, header):
    response = getattr(app.test_client(), method)(path, json={}, headers={"Authorization": header})
    assert_api_error(response, 401, "kiosk_unknown")


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic a2lvc2s6a2lvc2s="}])
def test_without_a_token_or_bound_browser_nothing_is_served(app, method, path, headers):
    response = getattr(app.test_client(), method)(path, json={}, headers=headers)
    if method == "post":  # cookie-style clients must show a CSRF token before anything else is looked at
        assert_api_error(response, 400, "csrf_failed")
    else:
        assert_api_error(response, 401, "kiosk_unknown")


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_a_disabled_kiosk_is_403_everywhere(api, method, path):
    kiosk = db.session.execute(sa.select(Kiosk).filter_by(name="kiosk-a")).scalar_one()
    disable_kiosk(kiosk, actor=Actor.system("test"))
    db.session.commit()
    assert_api_error(getattr(api, method)(path), 403, "kiosk_disabled")


def test_a_rotated_token_stops_at_once(api, make_registration):
    kiosk = db.session.execute(sa.select(Kiosk).filter_by(name="kiosk-a")).scalar_one()
    assert api.get("/api/v1/kiosk/status").status_code == 200
    new_token, _enrol = rotate_kiosk_token(kiosk, actor=Actor.system("test"))
    db.session.commit()
    assert_api_error(api.check_in(make_registration()[0].code), 401, "kiosk_unknown")
    api.token = new_token
    assert api.get("/api/v1/kiosk/status").status_code == 200


def _bind_browser(app, client, kiosk) -> str:
    """Bind a test browser to ``kiosk`` as enrolment does; returns the page's CSRF token."""
    with client.session_transaction() as session:
        session["kiosk"] = {"id": kiosk.id, "generation": kiosk.generation}
        session["csrf_token"] = raw = uuid.uuid4().hex
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def test_a_bound_browser_checks_in_with_its_csrf_token(app, make_kiosk, make_registration):
    kiosk = make_kiosk("kiosk-a")[0]
    client = app.test_client()
    token = _bind_browser(app, client, kiosk)
    body = {"code": make_registration()[0].code, "nonce": uuid.uuid4().hex}
    assert_api_error(client.post("/api/v1/checkins", json=body), 400, "csrf_failed")
    response = client.post("/api/v1/checkins", json=body, headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.get_json()["result"] == "checked_in"
    rotate_kiosk_token(kiosk, actor=Actor.system("test"))
    db.session.commit()
    assert_api_error(client.get("/api/v1/kiosk/status"), 401, "kiosk_unknown")


@pytest.fixture
def app_with_other_areas(make_app):
    """The app with its real desk and door API."""
    from tests.checkin.conftest import PRINTERS

    app = make_app(printers=PRINTERS)
    with app.app_context():
        yield app


def test_a_kiosk_token_opens_nothing_but_the_kiosk_api(app_with_other_areas):
    from kiosk.services import add_kiosk
    from registration.services import current_event

    settings = app_with_other_areas.extensions["lanyard"]
    _kiosk, token, _enrol = add_kiosk(current_event(settings), name="kiosk-a", printer_name="kiosk-1",
                                      settings=settings, actor=Actor.system("test"))
    db.session.commit()
    client = app_with_other_areas.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/kiosk/status", headers=auth).status_code == 200
    for path in ("/desk/", "/desk/cases", "/desk/printers", "/desk/admin/staff"):
        response = client.get(path, headers=auth)
        assert response.status_code in (302, 403), path  # to the staff login, or refused
        assert response.status_code != 302 or "/login" in response.headers["Location"]
    assert_api_error(client.post("/api/v1/scans", json={}, headers=auth), 401, "unauthorized")
    for path in ("/api/v1/registrations?q=a", "/api/v1/registrations/1", "/api/v1/desk-cases", "/api/v1/printers"):
        assert_api_error(client.get(path, headers=auth), 401, "unauthorized")


@pytest.mark.parametrize("typed", [
    lambda code: format_for_humans(code),
    lambda code: format_for_humans(code).lower(),
    lambda code: format_for_humans(code).replace("-", " "),
    lambda code: f"  {code.lower()} ",
], ids=["as-in-the-email", "lower-case", "spaces", "no-dashes"])
def test_a_typed_code_is_the_scanned_code(api, make_registration, typed):
    code = make_registration()[0].code
    body = api.check_in(typed(code)).get_json()
    assert (body["result"], body["reason"]) == ("checked_in", None)
