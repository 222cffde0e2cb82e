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


# --- history and case resolutions -------------------------------------------------------------------------


def _recorded_actions() -> set[str]:
    """Every audit action the code records: the literal second argument of each ``record`` / ``record_target``."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    call = re.compile(r'record(?:_target)?\(\s*[^,()]*(?:\([^()]*\))?\s*,\s*"([a-z_]+\.[a-z_]+)"')
    ternary = re.compile(r'"([a-z_]+\.[a-z_]+)" if .+? else "([a-z_]+\.[a-z_]+)"')
    actions = set()
    for path in [*root.glob("registration/**/*.py"), *root.glob("kiosk/**/*.py")]:
        text = path.read_text(encoding="utf-8")
        actions.update(call.findall(text))
        for pair in ternary.findall(text):
            actions.update(pair)
    return actions


def test_every_recorded_audit_action_has_a_label():
    from registration.desk.views import ACTION_LABELS

    actions = _recorded_actions()
    assert {"health.view", "desk_case.open", "staff.enable", "staff.disable", "health.reject"} <= actions
    assert actions - set(ACTION_LABELS) == set()


@pytest.fixture
def resolved_by_verification(make_registration, kiosk_check_in, registrar, settings):
    """A person who attested, was stopped at the kiosk (a case opened) and then verified at the desk."""
    from registration.desk.services import HealthVerification, verify_health

    issued = make_registration(health="vaccinated", health_state="attested")[0]
    assert kiosk_check_in(issued.code).result == "needs_desk"
    registration = issued.registration
    verify_health(registration, HealthVerification(method="vaccinated", state="verified"), actor=registrar,
                  settings=settings)
    db.session.commit()
    return registration


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ["Desk case opened", "Desk case resolved", "Health verified", "Health proof not verified yet",
            "health verified (Vaccination proof seen)"]),
    ("es", ["Caso del mostrador abierto", "Caso del mostrador resuelto", "Salud verificada",
            "salud verificada (Comprobante de vacunación revisado)"]),
])
def test_history_and_resolutions_are_in_words_not_internal_names(desk, resolved_by_verification, lang, words):
    page = _card(desk(), resolved_by_verification.id, lang=lang)
    for word in words:
        assert word in page
    for internal in ("desk_case.", "health.verify", "registration_id", "print_job_id", "None", "automatic: ",
                     "health vaccinated verified"):
        assert internal not in page


# --- health details ---------------------------------------------------------------------------------------


def _health_details(client, registration_id: int, *, lang: str = "en") -> str:
    response = client.post(f"/desk/r/{registration_id}/health-details",
                           data={"showhealth-csrf_token": client.csrf_token})
    assert response.status_code == 302
    return _card(client, registration_id, lang=lang)


@pytest.mark.parametrize(("lang", "stated", "proof"), [
    ("en", "vaccinated — not verified yet", "Vaccination proof seen"),
    ("es", "vacunado/a — sin verificar todavía", "Comprobante de vacunación revisado"),
])
def test_health_only_attested_is_stated_not_proof_seen(desk, make_registration, lang, stated, proof):
    registration = make_registration(health="vaccinated", health_state="attested")[0].registration
    page = _health_details(desk(), registration.id, lang=lang)
    assert stated in page
    assert proof not in page.split('id="health-details"')[1].split("</dl>")[0]


def test_verified_health_says_the_proof_was_seen(desk, make_registration):
    registration = make_registration(health="vaccinated", health_state="verified")[0].registration
    details = _health_details(desk(), registration.id).split('id="health-details"')[1].split("</dl>")[0]
    assert "Vaccination proof seen" in details
    assert "not verified yet" not in details


# --- walk-ups ---------------------------------------------------------------------------------------------


def _walk_up_form(client, **fields) -> dict:
    import re

    page = client.get("/desk/walk-up").get_data(as_text=True)
    nonce = re.search(r'name="walkup-nonce"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="walkup-nonce"', page)
    return {"walkup-csrf_token": client.csrf_token, "walkup-nonce": nonce.group(1) or nonce.group(2),
            "walkup-first_name": "Wanda", "walkup-last_name": "Walker", "walkup-email": "wanda@example.org",
            "walkup-registration_type": "full", "walkup-method": "", "walkup-print_badge": "y",
            "walkup-printer": "desk", **fields}


def test_a_walk_up_to_print_without_health_is_refused_at_the_field_and_registers_nobody(desk):
    from registration.models import Registration
    from tests.desk.conftest import count

    client = desk()
    response = client.post("/desk/walk-up", data=_walk_up_form(client))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert count(Registration) == 0
    assert 'id="walkup-method-error"' in page and "untick" in page
    assert "is registered" not in page


# --- Spanish wording --------------------------------------------------------------------------------------


def test_spanish_says_llegada_registrada_for_checked_in_never_registrado(desk, checked_in):
    registration = checked_in()
    page = _card(desk(), registration.id, lang="es")
    assert 'class="tag ok">Llegada registrada</span>' in page
    assert "Llegada registrada el " in page
    assert "Registrado" not in page and "registrado/a" not in page
