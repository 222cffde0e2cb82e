"""The private manage link: exchanged for a session at an address without the code, the page and its forms, expiry."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from flask import g

from registration.extensions import db
from registration.models import AuditEvent, Registration
from tests.helpers import qr_in_message, read_outbox


def csrf_from(html: str) -> str:
    """The CSRF token of the first form on a page (the manage page's forms have prefixes: ``name-csrf_token``)."""
    return re.search(r'name="[a-z-]*csrf_token" type="hidden" value="([^"]+)"', html).group(1)


@pytest.fixture
def browser(app):
    """A fresh browser (Flask-WTF caches the signed CSRF token in g, which the test's app context shares)."""

    def make():
        g.pop("csrf_token", None)
        return app.test_client()

    return make


@pytest.fixture
def signed_in(browser, make_registration):
    """A browser that opened Ada's private link; returns (browser, issued)."""
    issued = make_registration(first_name="Ada", last_name="Lovelace", email="ada@example.org")[0]
    client = browser()
    assert client.get(f"/r/{issued.manage_code}").status_code == 303
    return client, issued


def test_the_link_is_exchanged_for_a_session_and_the_code_leaves_the_address(browser, make_registration):
    issued = make_registration(first_name="Ada", last_name="Lovelace")[0]
    client = browser()
    response = client.get(f"/r/{issued.manage_code}")
    assert response.status_code == 303
    assert response.headers["Location"] == "/manage"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    page = client.get("/manage")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Ada Lovelace" in html and "Full conference" in html
    assert issued.manage_code not in html  # no form posts to an address that carries it


def test_the_manage_page_needs_the_session(browser):
    response = browser().get("/manage")
    assert response.status_code == 403
    assert "Open the private link in your confirmation email" in response.get_data(as_text=True)


@pytest.mark.parametrize("code", ["LYM1-NOT-A-CODE", "x" * 5000, "LYR1" + "0" * 26, "%00", "'; DROP TABLE x;--"])
def test_unknown_and_malformed_links_get_a_clear_page(browser, code):
    response = browser().get(f"/r/{code}")
    assert response.status_code == 404
    assert "This link does not work" in response.get_data(as_text=True)


def test_correcting_the_badge_name_works_from_the_session(signed_in):
    client, issued = signed_in
    token = csrf_from(client.get("/manage").get_data(as_text=True))
    response = client.post("/manage", data={"name-csrf_token": token, "name-badge_name": "Countess Ada",
                                            "name-save": "Save"})
    assert response.status_code == 303 and response.headers["Location"] == "/manage"
    assert "Your badge will say “Countess Ada”" in client.get("/manage").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Registration, issued.registration.id).badge_name == "Countess Ada"
    assert "registration.badge_name" in db.session.execute(sa.select(AuditEvent.action)).scalars().all()


@pytest.mark.parametrize("name, message", [("", "required"), ("=HYPERLINK(\"http://evil\")", "cannot start with"),
                                           ("Ada 🎉", "not emoji"), ("x" * 101, "too long")])
def test_a_bad_badge_name_is_refused_with_a_reason(signed_in, name, message):
    client, issued = signed_in
    token = csrf_from(client.get("/manage").get_data(as_text=True))
    response = client.post("/manage", data={"name-csrf_token": token, "name-badge_name": name, "name-save": "Save"})
    assert response.status_code in (400, 422)
    assert re.search(message, response.get_data(as_text=True), flags=re.I)
    db.session.expire_all()
    assert db.session.get(Registration, issued.registration.id).badge_name == "Ada Lovelace"


def test_a_correction_without_the_csrf_token_is_refused(signed_in):
    client, issued = signed_in
    response = client.post("/manage", data={"name-badge_name": "Mallory", "name-save": "Save"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Registration, issued.registration.id).badge_name == "Ada Lovelace"


def test_resend_mails_new_codes_and_supersedes_the_old_ones(signed_in, browser, tmp_path):
    client, issued = signed_in
    token = csrf_from(client.get("/manage").get_data(as_text=True))
    response = client.post("/manage/resend", data={"resend-csrf_token": token, "resend-resend": "Email me a new code"})
    assert response.status_code == 200
    assert "We sent a new link to your email; this page is closed." in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    messages = read_outbox(tmp_path / "outbox")
    assert len(messages) == 1
    new_code = qr_in_message(messages[0])
    assert new_code != issued.code
    new_link = re.search(r"http://lanyard\.test(/r/\S+)", messages[0].get_body(("plain",)).get_content()).group(1)
    assert new_link != f"/r/{issued.manage_code}"
    # The old link is superseded; the new one works.
    assert browser().get(f"/r/{issued.manage_code}").status_code == 404
    assert browser().get(new_link).status_code == 303


def test_resend_ends_the_session_of_the_browser_that_asked(signed_in):
    client, _issued = signed_in
    token = csrf_from(client.get("/manage").get_data(as_text=True))
    client.post("/manage/resend", data={"resend-csrf_token": token, "resend-resend": "Email me a new code"})
    response = client.get("/manage")
    assert response.status_code == 403
    assert "Ada Lovelace" not in response.get_data(as_text=True)


def test_a_failed_resend_says_so_and_closes_the_page(signed_in, monkeypatch):
    client, issued = signed_in
    monkeypatch.setattr("registration.views.deliver_confirmations", lambda issued_list, settings: [(issued, "down")])
    token = csrf_from(client.get("/manage").get_data(as_text=True))
    response = client.post("/manage/resend", data={"resend-csrf_token": token, "resend-resend": "Email me a new code"})
    html = response.get_data(as_text=True)
    assert "We could not send the new link just now" in html and "We sent a new link" not in html
    assert client.get("/manage").status_code == 403


def test_a_session_opened_with_a_superseded_link_ends(signed_in, browser):
    client, issued = signed_in
    other = browser()
    assert other.get(f"/r/{issued.manage_code}").status_code == 303
    token = csrf_from(client.get("/manage").get_data(as_text=True))
    client.post("/manage/resend", data={"resend-csrf_token": token, "resend-resend": "Email me a new code"})
    response = other.get("/manage")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "This link was replaced by a newer one: use the link in your latest email." in html
    assert "mistyped" not in html


def test_resend_without_a_session_sends_nothing(browser, tmp_path):
    client = browser()
    token = csrf_from(client.get("/register").get_data(as_text=True))  # a valid token, but no manage session
    response = client.post("/manage/resend", data={"resend-csrf_token": token, "resend-resend": "Email me a new code"})
    assert response.status_code == 403
    assert read_outbox(tmp_path / "outbox") == []


# The event ends on 2027-09-17 in America/Los_Angeles (PDT, UTC-7): links close at 07:00 UTC on the 18th.
LAST_MOMENT = datetime(2027, 9, 18, 6, 59, 59, tzinfo=timezone.utc)
CLOSED = datetime(2027, 9, 18, 7, 0, 0, tzinfo=timezone.utc)


def _at(monkeypatch, moment):
    monkeypatch.setattr("registration.views.utcnow", lambda: moment)


def test_the_link_works_until_the_end_of_the_last_day_in_the_events_time_zone(browser, make_registration, monkeypatch):
    issued = make_registration()[0]
    _at(monkeypatch, LAST_MOMENT)
    client = browser()
    assert client.get(f"/r/{issued.manage_code}").status_code == 303
    assert client.get("/manage").status_code == 200


def test_the_link_stops_working_after_the_event(browser, make_registration, monkeypatch):
    issued = make_registration()[0]
    _at(monkeypatch, CLOSED)
    response = browser().get(f"/r/{issued.manage_code}")
    assert response.status_code == 410
    assert "This link has expired: the event is over" in response.get_data(as_text=True)


def test_an_open_session_stops_working_after_the_event(signed_in, monkeypatch):
    client, _issued = signed_in
    _at(monkeypatch, CLOSED)
    token = csrf_from(client.get("/register").get_data(as_text=True))
    assert client.get("/manage").status_code == 410
    response = client.post("/manage/resend", data={"resend-csrf_token": token, "resend-resend": "Email me a new code"})
    assert response.status_code in (403, 410)


def test_a_cancelled_registration_shows_so_and_offers_no_forms(signed_in):
    from registration.audit import Actor
    from registration.services import cancel_registration

    client, issued = signed_in
    cancel_registration(db.session.get(Registration, issued.registration.id), actor=Actor.system("test"), reason="x")
    db.session.commit()
    html = client.get("/manage").get_data(as_text=True)
    assert "This registration was cancelled." in html
    assert 'name="name-badge_name"' not in html
