"""Enrolling a browser over HTTP: the link only shows a confirmation; a POST with CSRF binds it."""

from __future__ import annotations

import re

import pytest
from flask import g

from kiosk.views import PENDING_ENROLMENT
from registration.checkin.models import Kiosk
from registration.codes import hash_code
from registration.extensions import db

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def confirmation_page(client, enrol_code: str) -> str:
    """Open the link in ``client`` and follow it to the confirmation page; returns the page."""
    # Requests in a test share the test's app context and so its ``g``, where Flask-WTF caches the
    # CSRF token it made for the last session: drop it, as a new request of a real browser would.
    g.pop("csrf_token", None)
    return client.get(f"/kiosk/enrol/{enrol_code}", follow_redirects=True).get_data(as_text=True)


def enrol_hash(kiosk_id: int) -> str | None:
    """The stored hash of the kiosk's enrolment code, as committed now."""
    db.session.expire_all()
    return db.session.get(Kiosk, kiosk_id).enrol_hash


@pytest.mark.parametrize("method", ["get", "head"])
def test_fetching_the_link_spends_nothing(app, make_kiosk, method):
    kiosk, _token, enrol_code = make_kiosk("kiosk-a")
    previewer = app.test_client()  # a chat previewer or a mail scanner

    for _ in range(3):
        response = getattr(previewer, method)(f"/kiosk/enrol/{enrol_code}")
        assert response.status_code == 302
        assert response.headers["Location"] == "/kiosk/enrol"  # the code is not in the next URL
        assert response.headers["Cache-Control"] == "no-store"
        assert getattr(previewer, method)("/kiosk/enrol").status_code == 200

    assert enrol_hash(kiosk.id) == hash_code(enrol_code)
    assert previewer.get("/kiosk/").status_code == 302  # not bound: sent to "not enrolled"


def test_the_confirmation_names_the_kiosk_and_only_a_post_binds(app, make_kiosk):
    kiosk, _token, enrol_code = make_kiosk("kiosk-a", location="Lobby A")
    browser = app.test_client()

    response = browser.get(f"/kiosk/enrol/{enrol_code}", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.request.path == "/kiosk/enrol"
    assert "Make this browser kiosk kiosk-a?" in page and "Lobby A" in page
    assert enrol_code not in page
    with browser.session_transaction() as session:
        assert session[PENDING_ENROLMENT] == enrol_code and "kiosk" not in session

    response = browser.post("/kiosk/enrol", data={"csrf_token": CSRF.search(page).group(1)})

    assert response.status_code == 302 and response.headers["Location"] == "/kiosk/"
    assert enrol_hash(kiosk.id) is None
    with browser.session_transaction() as session:
        assert session["kiosk"] == {"id": kiosk.id, "generation": kiosk.generation}
        assert PENDING_ENROLMENT not in session
    assert browser.get("/kiosk/").status_code == 200


def test_a_post_without_the_csrf_token_binds_nothing(app, make_kiosk):
    kiosk, _token, enrol_code = make_kiosk("kiosk-a")
    browser = app.test_client()
    browser.get(f"/kiosk/enrol/{enrol_code}")

    response = browser.post("/kiosk/enrol", data={})

    assert response.status_code == 400
    assert enrol_hash(kiosk.id) == hash_code(enrol_code)
    with browser.session_transaction() as session:
        assert "kiosk" not in session


def test_a_post_without_a_pending_code_binds_nothing(app, make_kiosk):
    kiosk, _token, enrol_code = make_kiosk("kiosk-a")
    browser = app.test_client()
    page = browser.get("/kiosk/enrol").get_data(as_text=True)  # no link was opened first
    assert "This enrolment link does not work" in page

    with browser.session_transaction() as session:
        session["csrf_token"] = "x"
    assert browser.post("/kiosk/enrol", data={}).status_code in (400, 404)
    assert enrol_hash(kiosk.id) == hash_code(enrol_code)


def test_the_second_browser_to_confirm_is_refused(app, make_kiosk):
    kiosk, _token, enrol_code = make_kiosk("kiosk-a")
    first, second = app.test_client(), app.test_client()
    pages = [confirmation_page(client, enrol_code) for client in (first, second)]

    assert first.post("/kiosk/enrol", data={"csrf_token": CSRF.search(pages[0]).group(1)}).status_code == 302
    refused = second.post("/kiosk/enrol", data={"csrf_token": CSRF.search(pages[1]).group(1)})

    assert refused.status_code == 404
    assert "This enrolment link does not work" in refused.get_data(as_text=True)
    assert second.get(f"/kiosk/enrol/{enrol_code}").status_code == 404  # and the link is spent now


@pytest.mark.parametrize("code", ["nonsense", "E1" + "0" * 26])
def test_a_bad_link_says_so_and_keeps_nothing(app, make_kiosk, code):
    make_kiosk("kiosk-a")
    browser = app.test_client()

    response = browser.get(f"/kiosk/enrol/{code}")

    assert response.status_code == 404
    assert "This enrolment link does not work" in response.get_data(as_text=True)
    with browser.session_transaction() as session:
        assert PENDING_ENROLMENT not in session
