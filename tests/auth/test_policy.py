"""Route × role: every rule of the URL map, asked by every kind of principal, gets what POLICY says.

The expected outcome of each request is computed from ``registration.auth.requirement_for`` (so a new
route is walked the day it is added), and a hand-written table pins the key expectations on their own
(so loosening POLICY itself fails a test).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from flask import Blueprint, request
from flask_wtf.csrf import CSRFError

from registration import auth
from registration.audit import Actor
from registration.auth import ADMIN, DESK, DOOR, KIOSK, POLICY, PUBLIC, requirement_for
from registration.checkin.models import CheckIn
from registration.extensions import csrf, db
from registration.models import StaffUser
from tests.auth.conftest import PRINTERS, fresh_csrf, isolate, sign_in
from tests.helpers import assert_api_error

pytestmark = pytest.mark.usefixtures("fast_passwords")

PRINCIPALS = ("anonymous", "kiosk_token", "kiosk_browser", "door_session", "door_token", "registrar_session",
              "registrar_token", "admin_session", "admin_token")
#: Endpoints that end the asking browser's session: walked last, so nothing after them is asked signed out.
SESSION_ENDING = {"auth.logout"}
#: Public pages whose own answer is a 403 (they explain a refusal; they are not one).
OWN_403 = {"kiosk.unenrolled", "registration.manage", "registration.resend"}  # 403: no manage-link session
#: Harmless values for string arguments of routes (unknown ones get "harmless").
STRINGS = {"filename": "harmless.txt"}
_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


@dataclass
class Principal:
    """Someone asking: a browser with cookies (and its CSRF token) or an API client with a bearer token."""

    name: str
    client: object
    role: str | None = None  # a staff user's role
    kiosk: bool = False
    headers: dict = field(default_factory=dict)
    csrf_token: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role is not None

    def send(self, method: str, path: str, **options):
        """One request; cookie sessions send X-CSRFToken on anything that changes state, as the pages' scripts do."""
        headers = dict(self.headers)
        if self.csrf_token and method not in ("GET", "HEAD", "OPTIONS"):
            headers["X-CSRFToken"] = self.csrf_token
        return self.client.open(path, method=method, headers=headers, **options)


@pytest.fixture
def make_principal(app, make_staff, make_kiosk, signed_in, kiosk_browser):
    """Factory: the principal named by one of :data:`PRINCIPALS`."""

    def make(name: str) -> Principal:
        if name == "anonymous":
            client = app.test_client()
            return Principal(name, client, csrf_token=fresh_csrf(client))
        if name == "kiosk_token":
            return Principal(name, app.test_client(), kiosk=True, headers=make_kiosk("token-kiosk").bearer)
        if name == "kiosk_browser":
            return Principal(name, kiosk_browser, kiosk=True, csrf_token=kiosk_browser.csrf_token)
        role, how = name.split("_")
        if how == "session":
            client = signed_in(role)
            return Principal(name, client, role=role, csrf_token=client.csrf_token)
        return Principal(name, app.test_client(), role=role, headers=make_staff(role).bearer)

    return make


@pytest.fixture
def csrf_failures(monkeypatch):
    """Every request the CSRF check refused: none may, or CSRF would hide what the policy decides."""
    failures = []
    protect = csrf.protect

    def spy(**options):
        try:
            return protect(**options)
        except CSRFError:
            failures.append(f"{request.method} {request.full_path}")
            raise

    monkeypatch.setattr(csrf, "protect", spy)
    return failures


def _fill(rule, ids: dict) -> str:
    """The rule's path with real ids for int arguments and harmless text for string ones."""

    def value(match):
        converter, name = match.group(1) or "default", match.group(2)
        if converter == "int":
            assert name in ids, f"{rule.rule}: no real object for <int:{name}>: add one to the objects fixture"
            return str(ids[name])
        assert converter in ("default", "string", "path"), f"{rule.rule}: fill converter {converter!r} in this test"
        return STRINGS.get(name, "harmless")

    return _ARGUMENT.sub(value, rule.rule)


@dataclass(frozen=True)
class Expected:
    """What the policy implies: allowed, or refused with a status and an API code or a redirect target."""

    allowed: bool
    status: int | None = None
    code: str | None = None  # API refusals
    location: str | None = None  # page refusals that redirect


ALLOWED = Expected(True)


def expected_for(endpoint: str, path: str, who: Principal) -> Expected:
    """The outcome class POLICY implies for this principal at this endpoint."""
    rule = requirement_for(endpoint)
    api = path.startswith("/api/")
    if rule == PUBLIC:
        return ALLOWED
    if rule == KIOSK:
        if who.kiosk:
            return ALLOWED
        return Expected(False, 401, "kiosk_unknown") if api else Expected(False, 302, location="/kiosk/not-enrolled")
    if isinstance(rule, frozenset):
        if who.role in rule:
            return ALLOWED
        if api:
            return Expected(False, 403, "forbidden") if who.is_staff else Expected(False, 401, "unauthorized")
        return Expected(False, 403) if who.is_staff else Expected(False, 302, location="/login")
    return Expected(False, 404, "not_found") if api else Expected(False, 403)


def _is_policy_redirect(response) -> bool:
    """A redirect the policy makes: to sign in (with ``next``) or to the kiosk's not-enrolled page."""
    if response.status_code not in (301, 302, 303, 307, 308):
        return False
    target = urlsplit(response.headers["Location"])
    return (target.path == "/login" and "next" in parse_qs(target.query)) or target.path == "/kiosk/not-enrolled"


def problem_with(response, endpoint: str, path: str, expected: Expected) -> str | None:
    """Why the response is not what was expected, or None."""
    status = response.status_code
    if expected.allowed:
        if status in (401, 403) and endpoint not in OWN_403:
            return f"refused with {status} but POLICY allows it"
        if _is_policy_redirect(response):
            return f"redirected to {response.headers['Location']} but POLICY allows it"
        if status >= 500:
            return f"answered {status}"
        return None
    if path.startswith("/api/"):
        try:
            assert_api_error(response, expected.status, expected.code)
        except AssertionError as error:
            return f"expected API error {expected.status} {expected.code}, got {status}: {str(error)[:200]}"
        return None
    if status != expected.status:
        return f"expected {expected.status}{' to ' + expected.location if expected.location else ''}, got {status}"
    if expected.location:
        target = urlsplit(response.headers["Location"])
        if target.path != expected.location:
            return f"expected a redirect to {expected.location}, got {response.headers['Location']}"
        if expected.location == "/login" and parse_qs(target.query).get("next", [""])[0].rstrip("?") != path:
            return f"the sign-in redirect does not come back here: {response.headers['Location']}"
    return None


def _requests(app, ids: dict):
    """Every (endpoint, method, path) of the URL map; session-ending endpoints last."""
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint in SESSION_ENDING, r.rule, r.endpoint))
    for rule in rules:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, _fill(rule, ids)


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_every_route_answers_each_principal_as_policy_says(app, objects, make_principal, csrf_failures, principal):
    who = make_principal(principal)
    walked, problems = 0, []
    for endpoint, method, path in _requests(app, objects):
        expected = expected_for(endpoint, path, who)
        try:
            response = who.send(method, path)
        except Exception as error:  # noqa: BLE001  (a crash is a finding; keep walking to report them all)
            db.session.rollback()
            problems.append(f"{method} {path} [{endpoint}]: raised {error!r}")
            continue
        walked += 1
        problem = problem_with(response, endpoint, path, expected)
        if problem:
            problems.append(f"{method} {path} [{endpoint}]: {problem}")
    assert walked >= 50, walked  # the walk really covered the application
    assert not problems, f"{principal}:\n" + "\n".join(problems)
    assert not csrf_failures, csrf_failures


def test_the_walk_reaches_every_blueprint(app):
    blueprints = {rule.endpoint.rsplit(".", 1)[0] for rule in app.url_map.iter_rules() if "." in rule.endpoint}
    assert {"desk", "desk_api", "desk_admin", "kiosk", "kiosk_api", "auth", "registration"} <= blueprints


def test_no_endpoint_is_missing_from_the_policy(app):
    missing = sorted(rule.endpoint for rule in app.url_map.iter_rules() if requirement_for(rule.endpoint) is None)
    assert not missing, f"add these to registration.auth.POLICY: {missing}"


def test_the_role_sets_are_the_documented_roles():
    assert DESK == {"registrar", "admin"}
    assert DOOR == {"door", "registrar", "admin"}
    assert ADMIN == {"admin"}
    assert requirement_for("desk.card") == DESK and requirement_for("desk_api.search") == DESK
    assert requirement_for("desk_admin.staff") == ADMIN and requirement_for("desk_api.undo_checkin") == ADMIN
    assert requirement_for("desk.undo_checkin") == ADMIN and requirement_for("kiosk.index") == KIOSK
    assert requirement_for("kiosk_api.create_checkin") == KIOSK
    assert requirement_for("door_api.create_scan") == DOOR and requirement_for("door_api.snapshot") == DOOR
    assert requirement_for("door.index") == DOOR and requirement_for("door_api.conflicts") == DESK
    assert requirement_for("desk.conflicts") == DESK
    assert set(POLICY.values()) <= {PUBLIC, KIOSK, DESK, DOOR, ADMIN, auth.STAFF}


# --- the key expectations, written out by hand ------------------------------------------------------------

LOGIN = "→/login"
NOT_ENROLLED = "→/kiosk/not-enrolled"

KEY_EXPECTATIONS = [
    # door staff get nothing of the desk, its pages or its API
    ("door_session", "GET", "/desk/", None, 403),
    ("door_session", "GET", "/desk/r/{registration_id}", None, 403),
    ("door_session", "POST", "/desk/search", {"q": "Ada"}, 403),
    ("door_token", "GET", "/api/v1/registrations?q=Ada", None, (403, "forbidden")),
    ("door_token", "GET", "/api/v1/registrations/{registration_id}", None, (403, "forbidden")),
    ("door_token", "POST", "/api/v1/registrations/{registration_id}/badges", {"reason": "lost"}, (403, "forbidden")),
    ("door_session", "GET", "/kiosk/", None, NOT_ENROLLED),
    ("door_session", "GET", "/desk/conflicts", None, 403),
    ("door_token", "GET", "/api/v1/door/conflicts", None, (403, "forbidden")),
    # door staff scan and read the door's offline copy, with a token or the door page's session
    ("door_token", "POST", "/api/v1/scans", {"code": "B1", "area": "expo", "door": "D1", "nonce": "nonce-door-1"}, 200),
    ("door_session", "POST", "/api/v1/scans", {"code": "B1", "area": "expo", "door": "D1", "nonce": "nonce-door-2"},
     200),
    ("door_token", "GET", "/api/v1/door/snapshot?area=expo", None, 200),
    ("kiosk_token", "POST", "/api/v1/scans", {"code": "B1", "area": "expo", "door": "D1", "nonce": "nonce-door-3"},
     (401, "unauthorized")),
    ("anonymous", "GET", "/api/v1/door/snapshot?area=expo", None, (401, "unauthorized")),
    # the door page: door staff, registrars and admins; nobody else (its service worker holds nothing personal)
    ("door_session", "GET", "/door/", None, 200),
    ("registrar_session", "GET", "/door/", None, 200),
    ("anonymous", "GET", "/door/", None, LOGIN),
    ("kiosk_browser", "GET", "/door/", None, LOGIN),
    ("anonymous", "GET", "/door/sw.js", None, 200),
    # a kiosk gets nothing personal
    ("kiosk_token", "GET", "/api/v1/registrations?q=Ada", None, (401, "unauthorized")),
    ("kiosk_token", "GET", "/api/v1/registrations/{registration_id}", None, (401, "unauthorized")),
    ("kiosk_token", "GET", "/api/v1/desk-cases", None, (401, "unauthorized")),
    ("kiosk_token", "GET", "/desk/", None, LOGIN),
    ("kiosk_browser", "GET", "/desk/r/{registration_id}", None, LOGIN),
    ("kiosk_browser", "GET", "/api/v1/registrations/{registration_id}", None, (401, "unauthorized")),
    ("kiosk_token", "GET", "/api/v1/kiosk/status", None, 200),
    # nobody anonymous
    ("anonymous", "GET", "/desk/", None, LOGIN),
    ("anonymous", "GET", "/api/v1/registrations", None, (401, "unauthorized")),
    ("anonymous", "GET", "/api/v1/print-jobs/{job_id}", None, (401, "kiosk_unknown")),
    # registrars work the desk, but do not manage staff or undo check-ins
    ("registrar_session", "GET", "/desk/", None, 200),
    ("registrar_token", "GET", "/api/v1/registrations/{registration_id}", None, 200),
    ("registrar_session", "GET", "/desk/conflicts", None, 200),
    ("registrar_token", "GET", "/api/v1/door/conflicts", None, 200),
    ("registrar_token", "POST", "/api/v1/scans", {"code": "B1", "area": "expo", "door": "D1", "nonce": "nonce-desk-1"},
     200),
    ("registrar_session", "GET", "/desk/admin/staff", None, 403),
    ("registrar_session", "POST", "/desk/admin/staff/{user_id}/toggle", {}, 403),
    ("registrar_token", "DELETE", "/api/v1/registrations/{registration_id}/checkin", {"reason": "test"},
     (403, "forbidden")),
    ("registrar_session", "POST", "/desk/r/{registration_id}/undo-checkin", {"undo-reason": "test"}, 403),
    # admins can
    ("admin_session", "GET", "/desk/admin/staff", None, 200),
    ("admin_token", "DELETE", "/api/v1/registrations/{registration_id}/checkin", {"reason": "test"}, 200),
    ("admin_session", "POST", "/desk/r/{registration_id}/undo-checkin", {"undo-reason": "test"}, 302),
]


@pytest.mark.parametrize("principal, method, template, body, outcome", KEY_EXPECTATIONS,
                         ids=[f"{p}-{m}-{t}" for p, m, t, _b, _o in KEY_EXPECTATIONS])
def test_key_expectations(objects, make_principal, principal, method, template, body, outcome):
    who = make_principal(principal)
    path = template.format(**objects)
    options = {}
    if body is not None:
        options = {"json": body} if path.startswith("/api/") else {"data": body}
    response = who.send(method, path, **options)
    if isinstance(outcome, tuple):
        assert_api_error(response, *outcome)
    elif isinstance(outcome, str):
        assert response.status_code == 302, response.status
        assert urlsplit(response.headers["Location"]).path == outcome.removeprefix("→")
    else:
        assert response.status_code == outcome, response.get_data(as_text=True)[:500]
        assert not _is_policy_redirect(response)


@pytest.mark.parametrize("principal, expect_undone", [("registrar_token", False), ("registrar_session", False),
                                                      ("admin_token", True), ("admin_session", True)])
def test_only_an_admin_undoes_a_check_in(objects, make_principal, principal, expect_undone):
    who = make_principal(principal)
    registration_id = objects["registration_id"]
    if principal.endswith("token"):
        who.send("DELETE", f"/api/v1/registrations/{registration_id}/checkin", json={"reason": "test"})
    else:
        who.send("POST", f"/desk/r/{registration_id}/undo-checkin", data={"undo-reason": "test"})
    db.session.expire_all()
    left = db.session.execute(sa.select(CheckIn.id).filter_by(registration_id=registration_id)).first()
    assert (left is None) == expect_undone


def test_a_refused_staff_action_changes_nothing(objects, make_principal):
    who = make_principal("registrar_session")
    assert who.send("POST", f"/desk/admin/staff/{objects['user_id']}/toggle", data={}).status_code == 403
    db.session.expire_all()
    assert db.session.get(StaffUser, objects["user_id"]).active


# --- deny by default --------------------------------------------------------------------------------------


def test_an_endpoint_missing_from_the_policy_is_refused_even_to_an_admin(make_app):
    from registration.staff import add_staff

    app = isolate(make_app(printers=PRINTERS))
    app.add_url_rule("/unlisted", "unlisted", lambda: "secret page")
    app.add_url_rule("/api/v1/unlisted", "unlisted_api", lambda: {"secret": True})
    mystery = Blueprint("mystery", __name__, url_prefix="/mystery")
    mystery.add_url_rule("/", "page", lambda: "secret page")
    app.register_blueprint(mystery)
    with app.app_context():
        assert requirement_for("unlisted") is None and requirement_for("mystery.page") is None
        _user, token = add_staff("boss@example.org", role="admin", actor=Actor.system("test"), password="p" * 12,
                                 with_token=True)
        db.session.commit()
        browser = app.test_client()
        assert sign_in(browser, "boss@example.org", "p" * 12).status_code == 302
        for client, headers in ((app.test_client(), {}), (app.test_client(), {"Authorization": f"Bearer {token}"}),
                                (browser, {})):
            for path in ("/unlisted", "/mystery/"):
                response = client.get(path, headers=headers)
                assert response.status_code == 403, (path, headers)
                assert "secret" not in response.get_data(as_text=True)
            assert_api_error(client.get("/api/v1/unlisted", headers=headers), 404, "not_found")
