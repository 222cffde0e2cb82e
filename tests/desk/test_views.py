"""The desk's pages as a signed-in registrar sees them: times, history, health wording, walk-ups."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from registration.extensions import db
from tests.auth.conftest import fresh_csrf, isolate, sign_in
from tests.desk.conftest import PRINTERS, STAFF_PASSWORD


@pytest.fixture
def app(make_app):
    """The desk's app, each request in its own application context (as in production)."""
    app = isolate(make_app(printers=PRINTERS))
    with app.app_context():
        yield app


@pytest.fixture
def desk(app, make_staff):
    """Factory: a browser signed in at the desk as a new staff user of ``role`` (``.csrf_token`` set)."""

    def make(role: str = "registrar"):
        user, _actor = make_staff(role)
        client = app.test_client()
        assert sign_in(client, user.email, STAFF_PASSWORD).status_code == 302
        client.csrf_token = fresh_csrf(client)
        return client

    return make


def _card(client, registration_id: int, *, lang: str = "en") -> str:
    response = client.get(f"/desk/r/{registration_id}?lang={lang}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


# --- times ------------------------------------------------------------------------------------------------


def test_the_card_shows_times_in_the_events_time_zone(desk, make_registration):
    registration = make_registration()[0].registration
    registration.created_at = datetime(2026, 12, 5, 0, 30, tzinfo=timezone.utc)  # 4 Dec 16:30 in Sacramento
    db.session.commit()
    page = _card(desk(), registration.id)
    assert "4 Dec 2026, 16:30" in page
    assert "5 Dec 2026, 00:30" not in page


def test_an_onsite_test_shows_its_expiry_in_the_events_time_zone(desk, make_registration):
    # taken 4 Dec 16:00 in Sacramento (00:00 UTC the next day), valid 72 h: until 7 Dec 16:00 there
    registration = make_registration(health="onsite_test", health_state="verified",
                                     test_taken_at=datetime(2026, 12, 5, 0, 0, tzinfo=timezone.utc))[0].registration
    page = _card(desk(), registration.id)
    assert "7 Dec 2026, 16:00" in page
