"""Security headers on every page a person uses, no-store on whatever shows personal data, and pages that keep to
their Content-Security-Policy (no inline script, style or event handlers)."""

from __future__ import annotations

import uuid
import warnings
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from registration.extensions import db
from registration.printing.models import PrintJob
from tests.auth.conftest import csrf_from_html

pytestmark = pytest.mark.usefixtures("fast_passwords")


def _csp(response) -> dict[str, str]:
    """The Content-Security-Policy as ``{directive: sources}``."""
    header = response.headers.get("Content-Security-Policy", "")
    directives = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            directives[name] = value.strip()
    return directives


@pytest.fixture
def desk_world(app, objects):
    """The objects, plus a print job that waits for staff (so the card and the printers page show its forms)."""
    jobs = PrintJob.__table__
    db.session.execute(sa.update(jobs).where(jobs.c.id == objects["job_id"]).values(state="failed",
                                                                                     error_code="printer_offline"))
    db.session.commit()
    return objects


@pytest.fixture
def visits(app, desk_world, make_registration, kiosk_browser, admin_browser):
    """Every page a person uses, as ``{name: callable returning the response}``."""
    anonymous = app.test_client()
    manage_code = make_registration()[0].manage_code
    registration_id, waiting_id = desk_world["registration_id"], desk_world["waiting_registration_id"]
    return {
        "register": lambda: anonymous.get("/register"),
        "login": lambda: anonymous.get("/login"),
        "manage": lambda: anonymous.get(f"/r/{manage_code}", follow_redirects=True),
        "kiosk": lambda: kiosk_browser.get("/kiosk/"),
        **{name: visit for name, visit in _desk_visits(admin_browser, registration_id, waiting_id).items()},
    }


def _desk_visits(browser, registration_id: int, waiting_id: int) -> dict:
    """Every desk page and fragment, as the admin sees them (the admin sees every link)."""

    def health_details():  # an audited click, then the card shows the details once
        return browser.post(f"/desk/r/{registration_id}/health-details",
                            data={"showhealth-csrf_token": browser.csrf_token}, follow_redirects=True)

    def new_token():
        return browser.post(f"/desk/admin/staff/{browser.account.id}/token",
                            data={f"token{browser.account.id}-csrf_token": browser.csrf_token})

    return {
        "desk": lambda: browser.get("/desk/"),
        "card": lambda: browser.get(f"/desk/r/{registration_id}"),
        "card with a case": lambda: browser.get(f"/desk/r/{waiting_id}"),
        "card with health details": health_details,
        "cases": lambda: browser.get("/desk/cases"),
        "cases fragment": lambda: browser.get("/desk/cases/list"),
        "search fragment": lambda: browser.post("/desk/search", data={"q": "Ada", "csrf_token": browser.csrf_token}),
        "search page": lambda: browser.post("/desk/find", data={"q": "Lovelace", "csrf_token": browser.csrf_token}),
        "walk-up": lambda: browser.get("/desk/walk-up"),
        "walk-up with errors": lambda: browser.post("/desk/walk-up", data={"walkup-csrf_token": browser.csrf_token,
                                                                           "walkup-first_name": "Ada"}),
        "printers": lambda: browser.get("/desk/printers"),
        "staff": lambda: browser.get("/desk/admin/staff"),
        "staff with a new token": new_token,
    }


PAGES = ["register", "login", "manage", "kiosk", "desk", "card", "card with a case", "card with health details",
         "cases", "walk-up", "printers", "staff", "staff with a new token"]
DESK_PAGES = ["desk", "card", "card with a case", "card with health details", "cases", "cases fragment",
              "search fragment", "search page", "walk-up", "walk-up with errors", "printers", "staff",
              "staff with a new token"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_sends_the_security_headers(visits, page):
    response = visits[page]()
    assert response.status_code in (200, 400), response.status
    assert "text/html" in response.headers["Content-Type"]
    csp = _csp(response)
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in response.headers["Content-Security-Policy"]
    assert csp.get("frame-ancestors") == "'none'"
    assert csp.get("script-src") == "'self'" and csp.get("style-src") == "'self'"
    assert csp.get("object-src") == "'none'" and csp.get("base-uri") == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("no-referrer", "same-origin", "strict-origin")
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_links_an_icon_that_is_served(app, visits, page):
    import re

    found = re.search(r'<link rel="icon" href="([^"]+)"', visits[page]().get_data(as_text=True))
    assert found, "the page links no icon: the browser asks for /favicon.ico"
    with app.test_client().get(found.group(1)) as icon:
        assert (icon.status_code, icon.mimetype) == (200, "image/svg+xml")


def test_favicon_ico_is_served_to_browsers_that_ask_for_it_anyway(app):
    with app.test_client().get("/favicon.ico") as response:
        assert (response.status_code, response.mimetype) == (200, "image/svg+xml")
        assert b"<svg" in response.data


@pytest.mark.parametrize("page", DESK_PAGES + ["kiosk", "manage", "login"])
def test_pages_with_personal_data_are_never_stored(visits, page):
    response = visits[page]()
    assert response.status_code in (200, 400), response.status
    assert response.headers["Cache-Control"] == "no-store"


def test_refused_and_missing_desk_pages_are_not_stored_either(app, admin_browser, door_browser):
    assert admin_browser.get("/desk/r/999999").status_code == 404
    assert admin_browser.get("/desk/r/999999").headers["Cache-Control"] == "no-store"
    refused = door_browser.get("/desk/")
    assert refused.status_code == 403 and refused.headers["Cache-Control"] == "no-store"


@pytest.fixture
def api_calls(app, desk_world, make_staff, kiosk, make_registration):
    """Every /api/v1 call that answers with personal data, as ``{name: callable}``."""
    registrar = make_staff("registrar").bearer
    client = app.test_client()
    registration_id = desk_world["registration_id"]
    code = make_registration(last_name="Hopper")[0].code

    def check_in():
        return client.post("/api/v1/checkins", json={"code": code, "nonce": uuid.uuid4().hex}, headers=kiosk.bearer)

    return {
        "search": lambda: client.get("/api/v1/registrations?q=Ada", headers=registrar),
        "card": lambda: client.get(f"/api/v1/registrations/{registration_id}", headers=registrar),
        "update": lambda: client.patch(f"/api/v1/registrations/{registration_id}", json={"title": "Mayor"},
                                       headers=registrar),
        "cases": lambda: client.get("/api/v1/desk-cases", headers=registrar),
        "resolved cases": lambda: client.get("/api/v1/desk-cases?state=resolved", headers=registrar),
        "printers": lambda: client.get("/api/v1/printers", headers=registrar),
        "checkin": lambda: client.post(f"/api/v1/registrations/{registration_id}/checkin",
                                       json={"nonce": uuid.uuid4().hex}, headers=registrar),
        "kiosk checkin": check_in,
        "kiosk lookup": lambda: client.post("/api/v1/kiosk/lookup", json={"last_name": "Lovelace1",
                                                                          "second_factor": "x"},
                                            headers=kiosk.bearer),
        "print job": lambda: client.get(f"/api/v1/print-jobs/{desk_world['job_id']}", headers=kiosk.bearer),
        "an error": lambda: client.get("/api/v1/registrations/999999", headers=registrar),
    }


@pytest.mark.parametrize("call", ["search", "card", "update", "cases", "resolved cases", "printers", "checkin",
                                  "kiosk checkin", "kiosk lookup", "print job", "an error"])
def test_api_answers_with_personal_data_are_never_stored(api_calls, call):
    response = api_calls[call]()
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.is_json


class _InlineFinder(HTMLParser):
    """Collects what a strict CSP blocks: inline scripts and styles, event-handler attributes, javascript: URLs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and not attributes.get("src"):
            self.found.append(f"<script> without src: {self.get_starttag_text()}")
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs:
            if name == "style":
                self.found.append(f"style attribute: {self.get_starttag_text()}")
            elif name.startswith("on"):
                self.found.append(f"event handler attribute: {self.get_starttag_text()}")
            elif name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                    "javascript:"):
                self.found.append(f"javascript: URL: {self.get_starttag_text()}")

    handle_startendtag = handle_starttag


def _inline(html: str) -> list[str]:
    finder = _InlineFinder()
    finder.feed(html)
    return finder.found


@pytest.mark.parametrize("page", DESK_PAGES)
def test_desk_pages_have_no_inline_script_or_style(visits, page):
    response = visits[page]()
    assert response.status_code in (200, 400), response.status
    html = response.get_data(as_text=True)
    assert len(html) > 200
    assert _inline(html) == []


def test_the_pages_checked_carry_the_forms_they_are_checked_for(visits, desk_world):
    """The card and the printers page really show the failed job's forms (an empty page would pass trivially)."""
    job = desk_world["job_id"]
    for page in ("card", "printers"):
        html = visits[page]().get_data(as_text=True)
        assert f'name="job{job}-printer"' in html, page
        assert csrf_from_html(html)
    assert 'name="reprint-reason"' in visits["card"]().get_data(as_text=True)
    assert 'name="case' in visits["card with a case"]().get_data(as_text=True)


def test_the_inline_finder_finds_what_the_csp_forbids():
    assert _inline('<p style="color: red">x</p>')
    assert _inline("<script>alert(1)</script>")
    assert _inline('<button onclick="go()">x</button>')
    assert _inline('<a href="javascript:go()">x</a>')
    assert _inline("<style>p {}</style>")
    assert _inline('<script src="/static/desk.js"></script><p class="x">ok</p>') == []


@pytest.mark.parametrize("page", ["register", "login", "manage", "kiosk"])
def test_other_pages_carry_only_data_blocks_inline(visits, page):
    """Outside the desk a ``<script type="application/json">`` data block is allowed: the browser never runs it."""
    html = visits[page]().get_data(as_text=True)
    problems = [p for p in _inline(html) if 'type="application/json"' not in p]
    assert problems == []


def test_desk_pages_render_under_the_strict_warnings(visits):
    """The project runs tests with ``filterwarnings = error``; no desk page may raise a deprecation (WTForms 3.3
    deprecated the (value, label) tuples the desk's selects were first built with: every such page was a 500)."""
    warnings.filterwarnings("error")  # whatever a plugin or marker may have relaxed; pytest restores the filters
    failures = {}
    for page in ("card", "walk-up", "staff", "printers"):
        try:
            status = visits[page]().status_code
        except DeprecationWarning as warning:
            failures[page] = str(warning)
        else:
            if status >= 500:
                failures[page] = status
    assert failures == {}
