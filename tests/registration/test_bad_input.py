"""Bad input is a 4xx in the one error shape everywhere, never a 500: deep JSON, ids beyond the INTEGER range."""

from __future__ import annotations

import pytest

from registration.audit import Actor
from registration.extensions import db
from tests.helpers import assert_api_error

PRINTERS = """
[printers.kiosk-1]
backend = "preview"
directory = "badges/kiosk-1"
"""


@pytest.fixture
def app(make_app):
    app = make_app(printers=PRINTERS)
    with app.app_context():
        yield app


@pytest.fixture
def kiosk_auth(app):
    from kiosk.services import add_kiosk
    from registration.services import current_event

    settings = app.extensions["lanyard"]
    _kiosk, token, _enrol = add_kiosk(current_event(settings), name="kiosk-a", printer_name="kiosk-1",
                                      settings=settings, actor=Actor.system("test"))
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("depth", [100, 1_000, 100_000])
def test_deeply_nested_json_is_a_bad_request(app, kiosk_auth, depth):
    body = "[" * depth + "]" * depth
    response = app.test_client().post("/api/v1/checkins", data=body, content_type="application/json",
                                      headers=kiosk_auth)
    assert_api_error(response, 400, "bad_request")


@pytest.mark.parametrize("job_id", [2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30])
def test_an_id_beyond_the_database_range_is_not_found(app, kiosk_auth, job_id):
    response = app.test_client().get(f"/api/v1/print-jobs/{job_id}", headers=kiosk_auth)
    assert_api_error(response, 404, "not_found")
