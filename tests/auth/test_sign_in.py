"""Staff sign-in: one message for every failure, safe redirects, rate limits shared in the database, session
expiry, cookie flags, sign-out everywhere, token rotation, CSRF, and inputs that never crash it."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from registration.audit import Actor
from registration.extensions import db
from registration.models import AuditEvent, Registration, StaffUser
from registration.staff import add_staff, set_staff_active, set_staff_password
from tests.auth.conftest import PASSWORD, PRINTERS, fresh_csrf, isolate, sign_in
from tests.helpers import assert_api_error

WRONG = "not the password at all"
WRONG_MESSAGE = "Email or password is wrong."
TOO_MANY = re.compile(r"Too many sign-in attempts\. Please wait (\d+) seconds and try again\.")
EXPIRED = "Your session expired"


def _text(response) -> str:
    return response.get_data(as_text=True)


def _signed_in(client) -> bool:
    """Whether the client's session opens the desk."""
    return client.get("/desk/").status_code == 200


# --- the answer to a failed sign-in -----------------------------------------------------------------------


def test_a_wrong_password_is_401_with_one_message(app, client, make_staff):
    account = make_staff("registrar")
    response = sign_in(client, account.email, WRONG)
    assert response.status_code == 401
    assert WRONG_MESSAGE in _text(response)
    assert response.headers["Cache-Control"] == "no-store"
    assert not _signed_in(client)


def test_an_unknown_email_gets_the_same_status_and_message(app, client, make_staff):
    make_staff("registrar", email="known@example.org")
    known = sign_in(client, "known@example.org", WRONG)
    unknown = sign_in(app.test_client(), "nobody@example.org", WRONG)
    assert unknown.status_code == known.status_code == 401
    assert WRONG_MESSAGE in _text(unknown)
    assert _flashes(unknown) == _flashes(known)


def _flashes(response) -> list[str]:
    return re.findall(r'<p class="flash[^"]*"[^>]*>(.*?)</p>', _text(response), re.S)


def test_a_disabled_user_with_the_right_password_gets_the_same_answer(app, client, make_staff):
    account = make_staff("registrar")
    set_staff_active(db.session.get(StaffUser, account.id), False, actor=Actor.system("test"))
    db.session.commit()
    response = sign_in(client, account.email, account.password)
    assert response.status_code == 401
    assert _flashes(response) == [WRONG_MESSAGE]


def test_the_right_password_signs_in_and_opens_the_desk(app, client, make_staff):
    account = make_staff("registrar")
    response = sign_in(client, account.email, account.password)
    assert response.status_code == 302, _text(response)
    assert urlsplit(response.headers["Location"]).path == "/desk/"
    page = client.get("/desk/")
    assert page.status_code == 200
    assert account.email in _text(page)


@pytest.mark.parametrize(("role", "home"), [("registrar", "/desk/"), ("admin", "/desk/"), ("door", "/door/")])
def test_each_role_lands_on_a_page_it_may_open(app, client, make_staff, role, home):
    account = make_staff(role)
    response = sign_in(client, account.email, account.password)
    assert response.status_code == 302, _text(response)
    assert urlsplit(response.headers["Location"]).path == home
    assert client.get(home).status_code == 200


def test_the_email_is_matched_without_regard_to_case_or_spaces(app, client, make_staff):
    account = make_staff("registrar", email="casey@example.org")
    assert sign_in(client, "  Casey@EXAMPLE.org ", account.password).status_code == 302
    assert _signed_in(client)


# --- where a sign-in leads --------------------------------------------------------------------------------


def test_next_is_honoured_for_a_local_path(app, client, make_staff):
    account = make_staff("registrar")
    response = sign_in(client, account.email, account.password, next="/desk/cases?x=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/desk/cases?x=1"


_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$", re.S)


def _where_a_browser_goes(location: str) -> str:
    """The host a browser loads for this Location on ``http://localhost`` (the WHATWG URL parser, in short).

    Browsers drop tabs and newlines, trim controls and spaces, read ``\\`` as ``/``, and take any run of two
    or more slashes (or an http(s) scheme) as the start of another host.
    """
    text = re.sub(r"[\t\n\r]", "", location).strip("".join(map(chr, range(0x21))))
    scheme = _SCHEME.match(text)
    if scheme:
        name, rest = scheme.group(1).lower(), scheme.group(2)
        if name not in ("http", "https"):
            return f"{name}:"  # another scheme is never this site
        if name == "http" and rest[:1] not in ("/", "\\"):
            return "localhost"  # "http:path" is relative to an http page
        text = "//" + rest.lstrip("/\\")
    if len(text) >= 2 and text[0] in "/\\" and text[1] in "/\\":
        authority = re.split(r"[/\\?#]", text.lstrip("/\\"), maxsplit=1)[0]
        return authority.rpartition("@")[2].partition(":")[0].lower()
    return "localhost"


def test_the_browser_model_sees_the_tricks():
    assert _where_a_browser_goes("/desk/") == "localhost"
    assert _where_a_browser_goes("/%5Cevil.example") == "localhost"
    for trick in ("//evil.example", "///evil.example", "/\\evil.example", "\\/evil.example", "/\t/evil.example",
                  "https:evil.example", "https://user@evil.example:443/", " //evil.example"):
        assert _where_a_browser_goes(trick) == "evil.example", trick
    assert _where_a_browser_goes("javascript:alert(1)") == "javascript:"


@pytest.mark.parametrize("target", [
    "//evil.example", "https://evil.example", "http://evil.example/desk/", "/\\evil.example", "\\\\evil.example",
    "/\t/evil.example", "/\n/evil.example", "///evil.example", "https:evil.example", "javascript:alert(1)",
    " //evil.example", "//evil.example/%2e%2e", "/%5Cevil.example", "\\/evil.example",
])
def test_next_never_leads_off_site(app, client, make_staff, target):
    account = make_staff("registrar")
    response = sign_in(client, account.email, account.password, next=target)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert _where_a_browser_goes(location) == "localhost", location


def test_the_sign_in_page_remembers_where_the_policy_sent_the_browser_from(app, client, make_staff):
    account = make_staff("registrar")
    refused = client.get("/desk/cases")
    assert refused.status_code == 302
    login = refused.headers["Location"]
    token = fresh_csrf(client)
    response = client.post(login, data={"csrf_token": token, "email": account.email, "password": account.password})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/desk/cases"


# --- rate limits ------------------------------------------------------------------------------------------


def _fail(client, email: str, times: int) -> None:
    for _ in range(times):
        response = sign_in(client, email, WRONG)
        assert response.status_code == 401, response.status


def _assert_rate_limited(response) -> int:
    assert response.status_code == 429, response.status
    wait = int(response.headers["Retry-After"])
    assert wait >= 1
    found = TOO_MANY.search(_text(response))
    assert found, _flashes(response)
    assert int(found.group(1)) == wait
    return wait


def test_after_the_account_limit_even_the_right_password_waits(app, client, settings, make_staff):
    account = make_staff("registrar")
    limit = settings.staff.sign_in_attempts_per_account
    assert limit == 5
    _fail(client, account.email, limit)
    response = sign_in(client, account.email, account.password)
    _assert_rate_limited(response)
    assert not _signed_in(client)
    other = make_staff("registrar")  # the same client may still sign in to another account
    assert sign_in(client, other.email, other.password).status_code == 302


def test_the_account_limit_counts_every_spelling_of_the_email(app, client, settings, make_staff):
    account = make_staff("registrar", email="spelling@example.org")
    spellings = ["spelling@example.org", "SPELLING@example.org", " Spelling@Example.Org", "spelling@EXAMPLE.ORG",
                 "spelling@example.org "]
    for spelling in spellings[:settings.staff.sign_in_attempts_per_account]:
        assert sign_in(client, spelling, WRONG).status_code == 401
    _assert_rate_limited(sign_in(client, "Spelling@example.org", account.password))


def test_the_limit_answer_is_the_same_for_an_email_that_does_not_exist(app, settings, make_staff):
    account = make_staff("registrar")
    limit = settings.staff.sign_in_attempts_per_account
    real, ghost = app.test_client(), app.test_client()
    _fail(real, account.email, limit)
    _fail(ghost, "ghost@example.org", limit)
    known = sign_in(real, account.email, account.password)
    unknown = sign_in(ghost, "ghost@example.org", WRONG)
    assert abs(_assert_rate_limited(known) - _assert_rate_limited(unknown)) <= 1
    assert [TOO_MANY.sub("", m) for m in _flashes(known)] == [TOO_MANY.sub("", m) for m in _flashes(unknown)]


def test_one_client_is_limited_across_many_accounts(app, client, settings, make_staff):
    account = make_staff("registrar")
    limit = settings.staff.sign_in_attempts_per_client
    assert limit == 20
    for n in range(limit):
        assert sign_in(client, f"guess{n}@example.org", WRONG).status_code == 401
    _assert_rate_limited(sign_in(client, account.email, account.password))
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.44"  # another client is not held up by this one
    assert sign_in(elsewhere, account.email, account.password).status_code == 302


def test_the_counters_are_shared_by_every_app_server(make_app):
    first, second = isolate(make_app(printers=PRINTERS)), isolate(make_app(printers=PRINTERS))
    assert first is not second
    with first.app_context():
        add_staff("shared@example.org", role="registrar", actor=Actor.system("test"), password=PASSWORD)
        db.session.commit()
        limit = first.extensions["lanyard"].staff.sign_in_attempts_per_account
        _fail(first.test_client(), "shared@example.org", limit - 2)
    with second.app_context():
        _fail(second.test_client(), "shared@example.org", 2)
        _assert_rate_limited(sign_in(second.test_client(), "shared@example.org", PASSWORD))
    with first.app_context():
        _assert_rate_limited(sign_in(first.test_client(), "shared@example.org", PASSWORD))


# --- session expiry ---------------------------------------------------------------------------------------


def _shift(client, **seconds_ago: int) -> None:
    """Move the session's ``staff_since`` / ``staff_seen`` this many seconds into the past."""
    now = int(time.time())
    with client.session_transaction() as session:
        assert "staff_since" in session and "staff_seen" in session
        for key, ago in seconds_ago.items():
            session[key] = now - ago


def _assert_expired(client) -> None:
    response = client.get("/desk/")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert EXPIRED in _text(client.get("/login"))
    again = client.get("/desk/")  # the session is over, not just this request
    assert again.status_code == 302


def test_an_idle_session_expires(app, settings, registrar_browser):
    idle = settings.staff.idle_minutes * 60
    assert idle == 30 * 60
    _shift(registrar_browser, staff_seen=idle - 60)
    assert _signed_in(registrar_browser)  # not idle long enough: still signed in (and the clock is reset)
    _shift(registrar_browser, staff_seen=idle + 60)
    _assert_expired(registrar_browser)


def test_a_session_older_than_its_longest_life_expires_even_when_busy(app, settings, registrar_browser):
    longest = settings.staff.session_hours * 3600
    assert longest == 12 * 3600
    _shift(registrar_browser, staff_since=longest - 60, staff_seen=10)
    assert _signed_in(registrar_browser)
    _shift(registrar_browser, staff_since=longest + 60, staff_seen=10)
    _assert_expired(registrar_browser)


def test_a_session_without_its_times_is_not_trusted(app, registrar_browser):
    with registrar_browser.session_transaction() as session:
        session.pop("staff_since")
    _assert_expired(registrar_browser)


def test_an_expired_session_also_stops_the_staff_api(app, objects, settings, registrar_browser):
    _shift(registrar_browser, staff_seen=settings.staff.idle_minutes * 60 + 60)
    response = registrar_browser.get(f"/api/v1/registrations/{objects['registration_id']}")
    assert_api_error(response, 401, "unauthorized")


# --- the session cookie -----------------------------------------------------------------------------------


def _session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


def test_the_session_cookie_is_http_only_and_same_site_lax(app, client, make_staff):
    account = make_staff("registrar")
    cookie = _session_cookie(sign_in(client, account.email, account.password))
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags
    assert "secure" not in flags  # plain http in development unless configured


def test_the_session_cookie_is_secure_when_configured(make_app):
    app = isolate(make_app(printers=PRINTERS, app_keys="session_cookie_secure = true"))
    assert app.extensions["lanyard"].session_cookie_secure is True
    with app.app_context():
        add_staff("secure@example.org", role="registrar", actor=Actor.system("test"), password=PASSWORD)
        db.session.commit()
        response = sign_in(app.test_client(), "secure@example.org", PASSWORD)
    assert response.status_code == 302
    flags = [part.strip().lower() for part in _session_cookie(response).split(";")]
    assert {"secure", "httponly", "samesite=lax"} <= set(flags)


def test_signing_in_starts_a_new_session(app, client, make_staff):
    account = make_staff("registrar")
    fresh_csrf(client)
    with client.session_transaction() as session:
        session["planted"] = "by an earlier visitor"
    assert sign_in(client, account.email, account.password).status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session


# --- signed out everywhere --------------------------------------------------------------------------------


def test_a_new_password_signs_out_every_session(app, make_staff, signed_in):
    account = make_staff("registrar")
    browsers = [signed_in(account=account), signed_in(account=account)]
    assert all(_signed_in(b) for b in browsers)
    set_staff_password(db.session.get(StaffUser, account.id), "a brand new password", actor=Actor.system("test"))
    db.session.commit()
    assert not any(_signed_in(b) for b in browsers)
    assert sign_in(app.test_client(), account.email, account.password).status_code == 401
    assert sign_in(app.test_client(), account.email, "a brand new password").status_code == 302


def test_disabling_a_user_signs_them_out_and_stops_their_token(app, objects, make_staff, signed_in):
    account = make_staff("registrar")
    browser = signed_in(account=account)
    api = app.test_client()
    assert api.get("/api/v1/registrations", headers=account.bearer).status_code == 200
    user = db.session.get(StaffUser, account.id)
    set_staff_active(user, False, actor=Actor.system("test"))
    db.session.commit()
    assert not _signed_in(browser)
    assert_api_error(api.get("/api/v1/registrations", headers=account.bearer), 401, "unauthorized")
    set_staff_active(user, True, actor=Actor.system("test"))  # enabling again does not revive old sessions
    db.session.commit()
    assert not _signed_in(browser)
    assert api.get("/api/v1/registrations", headers=account.bearer).status_code == 200


def test_a_user_made_inactive_by_any_means_is_signed_out(app, make_staff, signed_in):
    account = make_staff("registrar")
    browser = signed_in(account=account)
    db.session.execute(sa.update(StaffUser).where(StaffUser.id == account.id).values(active=False))  # no new generation
    db.session.commit()
    assert not _signed_in(browser)
    assert_api_error(app.test_client().get("/api/v1/registrations", headers=account.bearer), 401, "unauthorized")


def test_a_new_token_from_the_cli_stops_the_old_one_at_once(app, runner, make_staff):
    account = make_staff("registrar")
    api = app.test_client()
    assert api.get("/api/v1/registrations", headers=account.bearer).status_code == 200
    result = runner.invoke(args=["staff", "token", account.email])
    assert result.exit_code == 0, result.output
    token = re.search(r"API token for \S+: (\S+)", result.output).group(1)
    assert token != account.token
    assert_api_error(api.get("/api/v1/registrations", headers=account.bearer), 401, "unauthorized")
    assert api.get("/api/v1/registrations", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_signing_out_ends_the_session(app, registrar_browser):
    response = registrar_browser.post("/logout", data={"csrf_token": registrar_browser.csrf_token})
    assert response.status_code == 302
    assert not _signed_in(registrar_browser)


@pytest.mark.parametrize(("lang", "notice"), [("en", "You are signed out."), ("es", "Ha cerrado la sesión.")])
def test_signing_out_shows_the_sign_in_page_saying_so_without_a_next(app, registrar_browser, lang, notice):
    registrar_browser.get(f"/desk/?lang={lang}")
    response = registrar_browser.post("/logout", data={"csrf_token": registrar_browser.csrf_token})
    assert response.headers["Location"] == "/login"
    page = registrar_browser.get("/login").get_data(as_text=True)
    assert notice in page
    assert notice not in registrar_browser.get("/login").get_data(as_text=True)  # said once


@pytest.mark.parametrize(("path", "expected"), [("/desk/", "/desk/"), ("/desk/cases?x=1", "/desk/cases?x=1")])
def test_the_way_back_after_signing_in_has_no_stray_question_mark(app, client, path, expected):
    response = client.get(path)
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.headers["Location"]).query) == {"next": [expected]}


def test_a_copy_of_the_session_cookie_made_before_signing_out_no_longer_opens_the_desk(app, registrar_browser):
    copied = registrar_browser.get_cookie("session").value
    assert registrar_browser.post("/logout", data={"csrf_token": registrar_browser.csrf_token}).status_code == 302
    replayed = app.test_client()
    replayed.set_cookie("session", copied)
    assert not _signed_in(replayed)


def test_signing_out_is_audited(app, registrar_browser):
    registrar_browser.post("/logout", data={"csrf_token": registrar_browser.csrf_token})
    db.session.rollback()
    [event] = db.session.execute(sa.select(AuditEvent).filter_by(action="staff.logout")).scalars()
    assert event.actor_id == registrar_browser.account.id


# --- CSRF -------------------------------------------------------------------------------------------------


def _badge_name(registration_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Registration, registration_id).badge_name


@pytest.mark.parametrize("token", [None, "", "forged-token", "wrong-session"])
def test_a_desk_form_without_a_valid_csrf_token_is_400_and_changes_nothing(app, objects, registrar_browser, signed_in,
                                                                          token):
    registration_id = objects["registration_id"]
    before = _badge_name(registration_id)
    data = {"details-badge_name": "Forged Name"}
    if token == "wrong-session":
        data["details-csrf_token"] = signed_in("registrar").csrf_token  # another browser's token
    elif token is not None:
        data["details-csrf_token"] = token
    response = registrar_browser.post(f"/desk/r/{registration_id}/details", data=data)
    assert response.status_code == 400
    assert _badge_name(registration_id) == before


def test_a_desk_form_with_its_csrf_token_works(app, objects, registrar_browser):
    registration_id = objects["registration_id"]
    response = registrar_browser.post(f"/desk/r/{registration_id}/details",
                                      data={"details-csrf_token": registrar_browser.csrf_token,
                                            "details-badge_name": "Ada L."})
    assert response.status_code == 302
    assert _badge_name(registration_id) == "Ada L."


def test_the_staff_api_with_a_session_cookie_needs_the_csrf_header(app, objects, registrar_browser):
    registration_id = objects["registration_id"]
    before = _badge_name(registration_id)
    path = f"/api/v1/registrations/{registration_id}"
    assert_api_error(registrar_browser.patch(path, json={"badge_name": "Forged"}), 400, "csrf_failed")
    assert_api_error(registrar_browser.patch(path, json={"badge_name": "Forged"}, headers={"X-CSRFToken": "nope"}),
                     400, "csrf_failed")
    assert _badge_name(registration_id) == before
    response = registrar_browser.patch(path, json={"badge_name": "Via Session"},
                                       headers={"X-CSRFToken": registrar_browser.csrf_token})
    assert response.status_code == 200, _text(response)
    assert _badge_name(registration_id) == "Via Session"


def test_the_staff_api_with_a_bearer_token_needs_no_csrf(app, objects, make_staff):
    account = make_staff("registrar")
    registration_id = objects["registration_id"]
    response = app.test_client().patch(f"/api/v1/registrations/{registration_id}", json={"badge_name": "Via Token"},
                                       headers=account.bearer)
    assert response.status_code == 200, _text(response)
    assert _badge_name(registration_id) == "Via Token"


def test_the_sign_in_form_needs_its_csrf_token(app, client, make_staff):
    account = make_staff("registrar")
    fresh_csrf(client)
    response = client.post("/login", data={"email": account.email, "password": account.password})
    assert response.status_code == 400
    assert not _signed_in(client)


# --- nasty input ------------------------------------------------------------------------------------------

NASTY_FORMS = [
    {},
    {"email": "", "password": ""},
    {"email": "a@example.org"},
    {"password": WRONG},
    {"email": "x" * 10_000 + "@example.org", "password": WRONG},
    {"email": "a@example.org", "password": "p" * 10_000},
    {"email": "a\x00b@example.org", "password": WRONG},
    {"email": "a@example.org", "password": "pass\x00word-long-enough"},
    {"email": "a\r\nBcc: victim@example.org", "password": WRONG},
    {"email": "\u202e\u200b@example.org", "password": WRONG},
    {"email": "😀@example.org", "password": "😀" * 20},
    {"email": "' OR '1'='1", "password": "' OR '1'='1"},
    {"email": ["a@example.org", "b@example.org"], "password": [WRONG, WRONG]},
]


@pytest.mark.parametrize("form", NASTY_FORMS, ids=[repr(f)[:40] for f in NASTY_FORMS])
def test_nasty_sign_in_forms_never_fail(app, client, form):
    data = {"csrf_token": fresh_csrf(client), **form}
    response = client.post("/login", data=data)
    assert response.status_code in (400, 401), response.status
    assert not _signed_in(client)


@pytest.mark.parametrize("raw", ["email=%FF%FE%40example.org&password=not+the+password", "email=a%00%40example.org",
                                 "email=%ED%A0%80%40example.org&password=%C0%AF" + "x" * 20, "email&password",
                                 "=&=&email=&&", "email=a@example.org&password=" + "%" * 50])
def test_undecodable_sign_in_forms_never_fail(app, client, raw):
    body = f"csrf_token={fresh_csrf(client)}&{raw}".encode("ascii")
    response = client.post("/login", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code in (400, 401), response.status
    assert not _signed_in(client)


@pytest.mark.parametrize("body", ['{"email": 5, "password": 6}', '["a@example.org"]', "null", "not json", "",
                                  '{"email": {"$ne": null}, "password": {"$ne": null}}'])
def test_json_sent_to_the_sign_in_form_never_fails(app, client, body):
    response = client.post("/login", data=body, content_type="application/json",
                           headers={"X-CSRFToken": fresh_csrf(client)})
    assert response.status_code == 400, response.status
    assert not _signed_in(client)


@pytest.mark.parametrize("body", ['{"details-badge_name": 5}', '{"details-badge_name": ["A", "B"]}', '["x"]',
                                  '{"details-badge_name": {"a": 1}}'])
def test_json_sent_to_a_desk_form_never_fails(app, objects, registrar_browser, body):
    response = registrar_browser.post(f"/desk/r/{objects['registration_id']}/details", data=body,
                                      content_type="application/json",
                                      headers={"X-CSRFToken": registrar_browser.csrf_token})
    assert response.status_code in (302, 400), response.status
