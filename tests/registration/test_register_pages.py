"""Online registration through the real forms (CSRF included), and the confirmation emails."""

from __future__ import annotations

import re
import socket

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from registration.codes import parse_code
from registration.extensions import db
from registration.models import AuditEvent, HealthRecord, Registration
from tests.helpers import qr_in_message, read_outbox


def csrf_token(client, url="/register") -> str:
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def form_data(token, *, guests=(), **fields):
    data = {
        "csrf_token": token,
        "first_name": "Grace",
        "last_name": "Hopper",
        "badge_name": "",
        "email": "grace@example.org",
        "title": "Council Member",
        "organization": "City of Sacramento",
        "health_method": "vaccinated",
        "submit": "Register",
    }
    data.update(fields)
    for index, guest in enumerate(guests):
        for key, value in guest.items():
            data[f"guests-{index}-{key}"] = value
    return data


GUESTS = (
    {"first_name": "Vincent", "last_name": "Hopper", "email": "vincent@example.org", "health_method": "negative_test"},
    {"first_name": "Zoë", "last_name": "Ångström", "email": "", "health_method": "vaccinated"},
)


def registration_for(code: str) -> Registration:
    return db.session.execute(
        sa.select(Registration).filter_by(code_hash=parse_code(code).digest)
    ).scalar_one()


def test_register_with_two_guests_sends_three_emails_whose_qr_identifies_each_person(client, tmp_path):
    response = client.post("/register", data=form_data(csrf_token(client), guests=GUESTS))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    messages = read_outbox(tmp_path / "outbox")
    assert len(messages) == 3
    by_person = {}
    for message in messages:
        code = qr_in_message(message)
        registration = registration_for(code)
        by_person[registration.first_name] = (registration, message)
        assert code.replace("-", "") in message.get_body(("plain",)).get_content().replace("-", "")
    host = by_person["Grace"][0]
    assert host.type_name == "full" and host.host_id is None
    for name in ("Vincent", "Zoë"):
        guest = by_person[name][0]
        assert guest.type_name == "guest"
        assert guest.host_id == host.id
    # A guest without an email of their own: their QR goes to the host's address.
    assert by_person["Zoë"][1]["To"] == "grace@example.org"
    assert by_person["Vincent"][1]["To"] == "vincent@example.org"
    assert all(r.confirmation_sent_at is not None for r, _ in by_person.values())
    assert {h.method for h in db.session.execute(sa.select(HealthRecord)).scalars()} == {"vaccinated", "negative_test"}


def test_confirmation_page_shows_each_persons_qr(client):
    html = client.post("/register", data=form_data(csrf_token(client), guests=GUESTS[:1])).get_data(as_text=True)
    assert html.count('src="data:image/png;base64,') == 2
    assert "View or correct this registration" in html


class _Collect:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = _Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, handler
    controller.stop()


def test_confirmations_go_through_a_real_smtp_server(make_app, smtp_server):
    import email
    from email.policy import default

    port, handler = smtp_server
    app = make_app(mail=f'host = "127.0.0.1"\nport = {port}')
    client = app.test_client()
    with app.app_context():
        response = client.post("/register", data=form_data(csrf_token(client), guests=GUESTS))
        assert response.status_code == 200
        assert len(handler.envelopes) == 3
        for envelope in handler.envelopes:
            message = email.message_from_bytes(envelope.content, policy=default)
            assert registration_for(qr_in_message(message)).event_id is not None


def test_smtp_down_keeps_the_registration_and_says_so(make_app):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    app = make_app(mail=f'host = "127.0.0.1"\nport = {dead_port}\ntimeout = 2')
    client = app.test_client()
    with app.app_context():
        response = client.post("/register", data=form_data(csrf_token(client)))
        assert response.status_code == 200
        assert "could not send the confirmation email" in response.get_data(as_text=True)
        registration = db.session.execute(sa.select(Registration)).scalar_one()
        assert registration.confirmation_sent_at is None


def test_post_without_csrf_token_is_refused(client):
    response = client.post("/register", data=form_data("forged"))
    assert response.status_code == 400
    assert db.session.execute(sa.select(sa.func.count(Registration.id))).scalar() == 0


def test_add_and_remove_guest_buttons_work_without_javascript(client):
    token = csrf_token(client)
    html = client.post("/register", data=form_data(token, add_guest="Add a guest", submit=None)).get_data(as_text=True)
    assert 'name="guests-0-first_name"' in html
    data = form_data(token, guests=GUESTS, submit=None)
    data["remove_guest-0"] = "1"
    html = client.post("/register", data=data).get_data(as_text=True)
    assert 'value="Zoë"' in html and 'value="Vincent"' not in html
    assert db.session.execute(sa.select(sa.func.count(Registration.id))).scalar() == 0


def test_too_many_guests_are_refused(client, settings):
    guests = [{"first_name": f"G{i}", "last_name": "X", "health_method": "vaccinated"}
              for i in range(settings.max_guests + 1)]
    response = client.post("/register", data=form_data(csrf_token(client), guests=guests))
    assert response.status_code == 400
    assert db.session.execute(sa.select(sa.func.count(Registration.id))).scalar() == 0


NASTY = [
    ("empty first name", {"first_name": ""}, "first_name", "required"),
    ("huge last name", {"last_name": "x" * 10_000}, "last_name", "too long"),
    ("rtl override", {"last_name": "Hop\u202eper"}, "last_name", "invisible or control"),
    ("emoji", {"badge_name": "Grace 🎉"}, "badge_name", "not emoji"),
    ("zero width space", {"first_name": "Gr\u200bace"}, "first_name", "invisible or control"),
    ("control char", {"organization": "City\x07"}, "organization", "invisible or control"),
    ("not an email", {"email": "grace at example"}, "email", "email"),
    ("huge email", {"email": "a" * 10_000 + "@example.org"}, "email", "too long"),
    ("missing health", {"health_method": ""}, "health_method", "required"),
    ("forged health", {"health_method": "vaccine-brand-x"}, "health_method", "valid choice"),
    ("guest without name", {"guests": [{"first_name": "", "last_name": "X", "health_method": "vaccinated"}]},
     "guests-0-first_name", "required"),
    ("guest same email as host", {"guests": [{"first_name": "A", "last_name": "B", "email": "GRACE@example.org",
                                              "health_method": "vaccinated"}]}, "guests-0-email", "already registered"),
]


@pytest.mark.parametrize("label, change, field, message", NASTY, ids=[n[0] for n in NASTY])
def test_bad_input_gets_a_clear_message_and_writes_nothing(client, label, change, field, message):
    change = dict(change)
    guests = change.pop("guests", ())
    response = client.post("/register", data=form_data(csrf_token(client), guests=guests, **change))
    html = response.get_data(as_text=True)
    assert response.status_code in (400, 409, 422)
    assert re.search(message, html, flags=re.I), html
    assert f'id="{field}"' in html
    assert db.session.execute(sa.select(sa.func.count(Registration.id))).scalar() == 0


@pytest.mark.parametrize(
    "name",
    ["Zoë Ångström-Ñúñez", "Σωκράτης Παπαδόπουλος", "Дмитрий Иванов", "李 小龍", "محمد عبد الله", "O'Brien-Smith Jr.",
     "Robert'); DROP TABLE registrations;--", "<script>alert(1)</script> Smith"],
)
def test_every_script_and_payload_is_stored_verbatim_and_escaped(client, name):
    first, last = name.split(" ", 1)
    response = client.post("/register", data=form_data(csrf_token(client), first_name=first, last_name=last))
    assert response.status_code == 200
    registration = db.session.execute(sa.select(Registration)).scalar_one()
    assert registration.legal_name == name
    assert "<script>alert(1)</script>" not in response.get_data(as_text=True)


@pytest.mark.parametrize("email", ["grace@example.org", "GRACE@EXAMPLE.ORG", "Grace@Example.org"])
def test_duplicate_email_in_any_case_is_refused(client, email):
    assert client.post("/register", data=form_data(csrf_token(client))).status_code == 200
    response = client.post("/register", data=form_data(csrf_token(client), email=email))
    assert response.status_code == 422
    assert "already registered" in response.get_data(as_text=True)
    assert db.session.execute(sa.select(sa.func.count(Registration.id))).scalar() == 1


def test_registration_is_audited(client):
    client.post("/register", data=form_data(csrf_token(client), guests=GUESTS))
    actions = db.session.execute(sa.select(AuditEvent.action)).scalars().all()
    assert actions.count("registration.create") == 3


def test_spanish_page(client):
    html = client.get("/register?lang=es").get_data(as_text=True)
    assert "Inscripción" in html or "Inscribirse" in html
    assert 'lang="es"' in html
