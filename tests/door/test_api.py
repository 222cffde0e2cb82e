"""The door API over HTTP: the scan contract, tokens and the door page's session, the snapshot, the conflicts,
and a table of nasty input that must all be refused in the one error shape (or decided as a malformed code)."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest

from registration.codes import new_code
from registration.door.models import AccessScan
from registration.extensions import db
from tests.auth.conftest import IsolatedClient, fresh_csrf, sign_in
from tests.door.conftest import PASSWORD, count, new_nonce
from tests.helpers import assert_api_error


def _body(code, **fields) -> dict:
    return {"code": code, "area": "expo", "nonce": new_nonce(), "door": "Hall B north", **fields}


@pytest.fixture
def post(app, bearer):
    """POST a scan with the door user's token."""
    client = app.test_client()

    def send(body, headers=None):
        return client.post("/api/v1/scans", json=body, headers=headers or bearer)

    return send


def test_a_scan_answers_the_documented_shape(post, make_badge):
    badge = make_badge(badge_name="Ada L.")
    response = post(_body(badge.code))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == {
        "result": "admit", "reason": None,
        "attendee": {"badge_name": "Ada L.", "pass": "full", "pass_label": "Full conference"},
        "area": {"name": "expo", "label": "Expo hall", "occupancy": 1, "capacity": None},
        "conflict": None, "replaced_by_serial": None}


def test_direction_defaults_to_in_and_out_lets_people_leave(post, make_badge):
    badge = make_badge()
    assert post(_body(badge.code)).get_json()["area"]["occupancy"] == 1
    answer = post(_body(badge.code, direction="out")).get_json()
    assert (answer["result"], answer["area"]["occupancy"]) == ("admit", 0)


def test_a_guest_at_a_breakout_is_denied_with_the_pass_shown(post, make_badge):
    answer = post(_body(make_badge(guest=True).code, area="breakouts")).get_json()
    assert (answer["result"], answer["reason"]) == ("deny", "area_denied")
    assert answer["attendee"]["pass_label"] == "Guest — Expo & receptions"
    assert answer["area"] == {"name": "breakouts", "label": "Breakout sessions", "occupancy": 0, "capacity": 40}


def test_a_retry_gets_the_same_answer_and_a_reused_nonce_is_409(post, make_badge):
    badge = make_badge()
    body = _body(badge.code)
    first = post(body)
    assert post(body).get_data() == first.get_data()
    assert count(AccessScan) == 1
    assert_api_error(post({**body, "area": "receptions"}), 409, "nonce_reused")


def test_an_offline_upload_flags_a_void_badge_and_the_desk_lists_it(app, post, make_badge, settings, make_door_user):
    from tests.door.conftest import issue_badge_for
    from registration.models import Registration

    badge = make_badge()
    issue_badge_for(db.session.get(Registration, badge.registration_id), settings, reason="lost")
    scanned = (datetime.now(timezone.utc) - timedelta(minutes=3)).isoformat()
    answer = post(_body(badge.code, offline=True, scanned_at=scanned, offline_result="admit")).get_json()
    assert (answer["result"], answer["reason"], answer["conflict"]) == ("deny", "badge_void", "admitted_void")
    _user, token = make_door_user("registrar")
    listed = app.test_client().get("/api/v1/door/conflicts", headers={"Authorization": f"Bearer {token}"})
    [conflict] = listed.get_json()["conflicts"]
    assert (conflict["conflict"], conflict["area"], conflict["door"], conflict["badge_serial"]) == (
        "admitted_void", "expo", "Hall B north", badge.serial)
    assert datetime.fromisoformat(conflict["scanned_at"].replace("Z", "+00:00")) == datetime.fromisoformat(scanned)


def test_the_door_page_scans_with_its_session_and_csrf_header(app, make_door_user, make_badge):
    user, _token = make_door_user("door")
    client = IsolatedClient(app, app.response_class, use_cookies=True)
    assert sign_in(client, user.email, PASSWORD).status_code == 302
    badge = make_badge()
    assert_api_error(client.post("/api/v1/scans", json=_body(badge.code)), 400, "csrf_failed")
    response = client.post("/api/v1/scans", json=_body(badge.code), headers={"X-CSRFToken": fresh_csrf(client)})
    assert response.status_code == 200 and response.get_json()["result"] == "admit"
    assert client.get("/api/v1/door/snapshot?area=expo").status_code == 200


@pytest.mark.parametrize("who, method, path, expected", [
    ("door", "GET", "/api/v1/door/conflicts", (403, "forbidden")),
    ("door", "GET", "/api/v1/registrations?q=a", (403, "forbidden")),
    ("door", "GET", "/api/v1/desk-cases", (403, "forbidden")),
    ("registrar", "GET", "/api/v1/door/snapshot?area=expo", 200),
    ("admin", "GET", "/api/v1/door/conflicts", 200),
    ("nobody", "GET", "/api/v1/door/snapshot?area=expo", (401, "unauthorized")),
    ("forged", "POST", "/api/v1/scans", (401, "unauthorized")),
    ("forged", "GET", "/api/v1/door/snapshot?area=expo", (401, "unauthorized")),
])
def test_who_reaches_the_door_api(app, make_door_user, who, method, path, expected):
    headers = {"Authorization": f"Bearer {new_code('staff_token')}"} if who == "forged" else {}
    if who not in ("nobody", "forged"):
        headers = {"Authorization": f"Bearer {make_door_user(who)[1]}"}
    response = app.test_client().open(path, method=method, headers=headers, json={} if method == "POST" else None)
    if isinstance(expected, tuple):
        assert_api_error(response, *expected)
    else:
        assert response.status_code == expected


def test_a_kiosk_token_cannot_scan(app, event, settings, post):
    from kiosk.services import add_kiosk
    from registration.audit import Actor

    _kiosk, token, _enrol = add_kiosk(event, name="k1", printer_name="kiosk-1", settings=settings,
                                      actor=Actor.system("test"))
    db.session.commit()
    assert_api_error(post(_body(new_code("badge")), headers={"Authorization": f"Bearer {token}"}), 401,
                     "unauthorized")


# --- nasty input ---------------------------------------------------------------------------------------------

_NOW = datetime.now(timezone.utc)
NASTY = [
    # (what, body changes, status, code)
    ("not an object", ["a list"], 400, "invalid_field"),
    ("a number", 7, 400, "invalid_field"),
    ("no code", {"code": None}, 400, "invalid_field"),
    ("code is a number", {"code": 12345}, 400, "invalid_field"),
    ("code is a list", {"code": ["B1"]}, 400, "invalid_field"),
    ("no area", {"area": None}, 400, "invalid_field"),
    ("unknown area", {"area": "moon"}, 400, "unknown_area"),
    ("empty area", {"area": ""}, 400, "unknown_area"),
    ("huge area", {"area": "x" * 100_000}, 400, "unknown_area"),
    ("area in another script", {"area": "выставка"}, 400, "unknown_area"),
    ("area with a NUL", {"area": "expo\x00"}, 400, "unknown_area"),
    ("area as object", {"area": {"name": "expo"}}, 400, "invalid_field"),
    ("no door", {"door": None}, 400, "invalid_field"),
    ("empty door", {"door": ""}, 400, "invalid_field"),
    ("blank door", {"door": " \t "}, 400, "invalid_field"),
    ("door too long", {"door": "D" * 61}, 400, "invalid_field"),
    ("huge door", {"door": "D" * 100_000}, 400, "invalid_field"),
    ("door with control characters", {"door": "Door\x1b[2J"}, 400, "invalid_field"),
    ("door with a NUL", {"door": "Door\x00"}, 400, "invalid_field"),
    ("door with a lone surrogate", {"door": "Door \ud800"}, 400, "invalid_field"),
    ("no nonce", {"nonce": None}, 400, "nonce_invalid"),
    ("short nonce", {"nonce": "abc"}, 400, "nonce_invalid"),
    ("nonce with spaces", {"nonce": "abc def ghi"}, 400, "nonce_invalid"),
    ("huge nonce", {"nonce": "n" * 10_000}, 400, "nonce_invalid"),
    ("bad direction", {"direction": "sideways"}, 400, "invalid_field"),
    ("direction in capitals", {"direction": "IN"}, 400, "invalid_field"),
    ("direction as bool", {"direction": True}, 400, "invalid_field"),
    ("offline as text", {"offline": "yes"}, 400, "invalid_field"),
    ("scanned_at without offline", {"scanned_at": _NOW.isoformat()}, 400, "invalid_field"),
    ("offline without scanned_at", {"offline": True}, 400, "invalid_field"),
    ("scanned_at not a time", {"offline": True, "scanned_at": "yesterday"}, 400, "invalid_field"),
    ("scanned_at without zone", {"offline": True, "scanned_at": "2027-09-15T10:00:00"}, 400, "invalid_field"),
    ("scanned_at in the future", {"offline": True, "scanned_at": (_NOW + timedelta(hours=2)).isoformat()}, 400,
     "invalid_field"),
    ("scanned_at long ago", {"offline": True, "scanned_at": "2001-01-01T00:00:00Z"}, 400, "invalid_field"),
    ("scanned_at huge", {"offline": True, "scanned_at": "2027" * 1000}, 400, "invalid_field"),
    ("scanned_at as number", {"offline": True, "scanned_at": 1_820_000_000}, 400, "invalid_field"),
    ("offline_result online", {"offline_result": "admit"}, 400, "invalid_field"),
    ("offline_result unknown", {"offline": True, "scanned_at": _NOW.isoformat(), "offline_result": "maybe"}, 400,
     "invalid_field"),
]


@pytest.mark.parametrize("what, change, status, code", NASTY, ids=[row[0] for row in NASTY])
def test_nasty_requests_are_refused_in_the_one_error_shape_and_store_nothing(post, make_badge, what, change,
                                                                             status, code):
    body = _body(make_badge().code)
    if isinstance(change, dict):
        body.update(change)
        body = {k: v for k, v in body.items() if v is not None}
    else:
        body = change
    assert_api_error(post(body), status, code)
    assert count(AccessScan) == 0


def test_a_body_that_is_not_json_is_refused(app, bearer):
    client = app.test_client()
    for data in (b"", b"{", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000, b"code=B1"):
        assert_api_error(client.post("/api/v1/scans", data=data, headers={**bearer, "Content-Type": "application/json"}),
                         400, "invalid_field")


def test_a_body_too_large_is_413(app, bearer):
    response = app.test_client().post("/api/v1/scans", data=b'{"code": "' + b"B" * (3 * 1024 * 1024) + b'"}',
                                      headers={**bearer, "Content-Type": "application/json"})
    assert_api_error(response, 413, "too_large")


NASTY_CODES = ["", " ", "B1", "B1" + "Z" * 26 + "!", "x" * 65, "B" * 100_000, "B1\x00" + "0" * 25,
               "\u202eB1" + "0" * 26, "Β1" + "0" * 26,  # a Greek capital beta
               "ＢＬ" + "０" * 26, "<script>alert(1)</script>", "B1' OR '1'='1", "%00", "\ud83d\ude00" * 10]


@pytest.mark.parametrize("code", NASTY_CODES)
def test_nasty_codes_are_denied_as_malformed_and_stored(post, code):
    response = post(_body(code))
    assert response.status_code == 200
    answer = response.get_json()
    assert (answer["result"], answer["reason"], answer["attendee"]) == ("deny", "code_malformed", None)
    assert count(AccessScan) == 1


@pytest.mark.parametrize("forged", [lambda: new_code("badge"), lambda: new_code("badge").lower(),
                                    lambda: "B1" + new_code("registration")[2:]])
def test_forged_badge_codes_are_code_unknown(post, forged):
    assert post(_body(forged())).get_json()["reason"] == "code_unknown"


# --- the snapshot --------------------------------------------------------------------------------------------


def test_the_snapshot_lists_badges_by_the_digest_the_page_computes(app, bearer, make_badge):
    badge = make_badge()
    response = app.test_client().get("/api/v1/door/snapshot?area=expo", headers=bearer)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    snap = response.get_json()
    assert set(snap) == {"area", "cursor", "full", "generated_at", "offline_unknown", "badges", "void"}
    assert [b["digest"] for b in snap["badges"]] == [hashlib.sha256(badge.code.encode()).hexdigest()]
    delta = app.test_client().get(f"/api/v1/door/snapshot?area=expo&since={snap['cursor']}", headers=bearer)
    assert delta.get_json()["full"] is False


def test_a_large_snapshot_is_gzip_compressed_for_clients_that_accept_it(app, bearer, make_badge):
    for _ in range(100):
        make_badge()
    client = app.test_client()
    plain = client.get("/api/v1/door/snapshot?area=expo", headers=bearer)
    packed = client.get("/api/v1/door/snapshot?area=expo", headers={**bearer, "Accept-Encoding": "gzip, br"})
    assert "Content-Encoding" not in plain.headers and packed.headers["Content-Encoding"] == "gzip"
    assert len(json.loads(gzip.decompress(packed.get_data()))["badges"]) == 100 == len(plain.get_json()["badges"])


@pytest.mark.parametrize("query, code", [("", "invalid_field"), ("?area=moon", "unknown_area"),
                                         ("?area=expo&since=garbage", "invalid_field"),
                                         ("?area=expo&since=1.99999999999999999999", "invalid_field")])
def test_a_bad_snapshot_request_is_400(app, bearer, query, code):
    assert_api_error(app.test_client().get(f"/api/v1/door/snapshot{query}", headers=bearer), 400, code)


# --- the desk's conflict list ---------------------------------------------------------------------------------


def test_the_desk_lists_conflicts_in_english_and_spanish(app, post, make_badge, make_door_user, settings):
    from tests.door.conftest import issue_badge_for
    from registration.models import Registration

    badge = make_badge(badge_name="Lost Badge Person")
    issue_badge_for(db.session.get(Registration, badge.registration_id), settings, reason="lost")
    post(_body(badge.code, offline=True, scanned_at=datetime.now(timezone.utc).isoformat(), offline_result="admit"))
    user, _token = make_door_user("registrar")
    client = IsolatedClient(app, app.response_class, use_cookies=True)
    assert sign_in(client, user.email, PASSWORD).status_code == 302
    page = client.get("/desk/conflicts").get_data(as_text=True)
    assert "Admitted offline with a void badge" in page and "Lost Badge Person" in page and "Hall B north" in page
    assert 'href="/desk/conflicts"' in client.get("/desk/").get_data(as_text=True)
    spanish = client.get("/desk/conflicts?lang=es").get_data(as_text=True)
    assert "Admitido sin conexión con un gafete anulado" in spanish and "Sala de exposición" in spanish


def test_door_staff_do_not_see_the_conflict_page(app, make_door_user):
    user, _token = make_door_user("door")
    client = IsolatedClient(app, app.response_class, use_cookies=True)
    assert sign_in(client, user.email, PASSWORD).status_code == 302
    assert client.get("/desk/conflicts").status_code == 403



def test_the_snapshot_carries_the_configured_offline_policy(make_app):
    from registration.staff import add_staff
    from registration.audit import Actor
    from tests.door.conftest import PRINTERS

    app = make_app(printers=PRINTERS, extra='\n[door]\noffline_unknown = "admit"\nsnapshot_seconds = 3\n')
    with app.app_context():
        assert app.extensions["lanyard"].door.snapshot_seconds == 3
        _user, token = add_staff("door-admit@example.org", role="door", actor=Actor.system("test"),
                                 password=PASSWORD, with_token=True)
        db.session.commit()
        snap = app.test_client().get("/api/v1/door/snapshot?area=expo", headers={"Authorization": f"Bearer {token}"})
        assert snap.get_json()["offline_unknown"] == "admit"
