"""Online registration through the real forms (CSRF included), and the confirmation emails."""

from __future__ import annotations

import re
import socket

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask import g

from registration.codes import parse_code
from registration.extensions import db
from registration.models import AuditEvent, HealthRecord, Registration
from tests.helpers import qr_in_message, read_outbox


def csrf_token(client, url="/register") -> str:
    # The test's own app context is shared by its requests, and Flask-WTF caches the signed token in g:
    # a second browser (client) would be handed the first one's token.
    g.pop("csrf_token", None)
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
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"] == "/register/done"
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


def test_confirmation_page_lists_each_person_with_their_pass_and_no_code(client):
    response = client.post("/register", data=form_data(csrf_token(client), guests=GUESTS[:1]), follow_redirects=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "Grace Hopper" in html and "Vincent Hopper" in html
    assert "Full conference" in html and "Guest — Expo &amp; receptions" in html
    assert "grace@example.org" in html
    # The page is the same whether the email was registered now or before, so it can show no code.
    assert "data:image/png" not in html and "LY" not in re.sub(r"<[^>]+>", "", html).replace("Lanyard", "")


def test_refreshing_the_confirmation_page_registers_nobody_again(client):
    client.post("/register", data=form_data(csrf_token(client)))
    first = client.get("/register/done")
    again = client.get("/register/done")
    assert first.status_code == again.status_code == 200
    assert first.get_data() == again.get_data()
    assert "already" not in again.get_data(as_text=True)
    assert db.session.execute(sa.select(sa.func.count(Registration.id))).scalar() == 1


def test_confirmation_page_without_a_registration_goes_to_the_form(client):
    response = client.get("/register/done")
    assert response.status_code == 302 and response.headers["Location"] == "/register"


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
        assert response.status_code == 303
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
        response = client.post("/register", data=form_data(csrf_token(client)), follow_redirects=True)
        assert response.status_code == 200
        assert "could not send the email" in response.get_data(as_text=True)
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
                                              "health_method": "vaccinated"}]}, "guests-0-email", "used twice"),
    ("two guests same email", {"guests": [{"first_name": "A", "last_name": "B", "email": "ab@example.org",
                                           "health_method": "vaccinated"},
                                          {"first_name": "C", "last_name": "D", "email": "AB@example.org",
                                           "health_method": "vaccinated"}]}, "guests-1-email", "used twice"),
    ("formula first name", {"first_name": '=HYPERLINK("http://evil","x")'}, "first_name", "cannot start with"),
    ("plus first name", {"first_name": "+1+2"}, "first_name", "cannot start with"),
    ("minus last name", {"last_name": "-2+3"}, "last_name", "cannot start with"),
    ("at badge name", {"badge_name": "@SUM(A1)"}, "badge_name", "cannot start with"),
    ("tab organisation", {"organization": "\t=1+1"}, "organization", "cannot start with"),
    ("carriage return title", {"title": "\r=1+1"}, "title", "cannot start with"),
    ("space then formula", {"first_name": "  =1+1"}, "first_name", "cannot start with"),
    ("newline then formula", {"first_name": "\n=1+1"}, "first_name", "cannot start with"),
    ("guest formula", {"guests": [{"first_name": "=cmd|' /C calc'!A0", "last_name": "X",
                                   "health_method": "vaccinated"}]}, "guests-0-first_name", "cannot start with"),
    ("full name too long for the badge", {"first_name": "N" * 60, "last_name": "M" * 60}, "badge_name",
     "enter the name to print on the badge"),
    ("guest full name too long for the badge", {"guests": [{"first_name": "N" * 60, "last_name": "M" * 60,
                                                            "health_method": "vaccinated"}]},
     "guests-0-badge_name", "enter the name to print on the badge"),
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


def test_a_long_full_name_registers_with_the_badge_name_given_and_is_never_cut(client):
    response = client.post("/register", data=form_data(csrf_token(client), first_name="N" * 60, last_name="M" * 60,
                                                        badge_name="Nina Long"))
    assert response.status_code == 303, response.get_data(as_text=True)
    person = db.session.execute(sa.select(Registration)).scalar_one()
    assert (person.first_name, person.last_name, person.badge_name) == ("N" * 60, "M" * 60, "Nina Long")


@pytest.mark.parametrize(
    "name",
    ["Zoë Ångström-Ñúñez", "Σωκράτης Παπαδόπουλος", "Дмитрий Иванов", "李 小龍", "محمد عبد الله", "O'Brien-Smith Jr.",
     "Robert'); DROP TABLE registrations;--", "<script>alert(1)</script> Smith"],
)
def test_every_script_and_payload_is_stored_verbatim_and_escaped(client, name):
    first, last = name.split(" ", 1)
    response = client.post("/register", data=form_data(csrf_token(client), first_name=first, last_name=last),
                           follow_redirects=True)
    assert response.status_code == 200
    registration = db.session.execute(sa.select(Registration)).scalar_one()
    assert registration.legal_name == name
    assert "<script>alert(1)</script>" not in response.get_data(as_text=True)


@pytest.mark.parametrize("name", ["O'Brien", "Smith-Jones", "Anne-Marie", "d'Artagnan", "5th Ward", "Café = Bar"])
def test_formula_characters_inside_a_name_are_fine(client, name):
    response = client.post("/register", data=form_data(csrf_token(client), last_name=name))
    assert response.status_code == 303, response.get_data(as_text=True)


def _answer(client, **fields):
    """Post the form in a fresh browser; the redirect's status and target, and the page it leads to."""
    response = client.post("/register", data=form_data(csrf_token(client), **fields))
    page = client.get(response.headers.get("Location", "/nowhere"))
    return (response.status_code, response.headers.get("Location"), sorted(response.headers.keys()),
            page.status_code, page.get_data(as_text=True))


@pytest.mark.parametrize("email", ["grace@example.org", "GRACE@EXAMPLE.ORG", "Grace@Example.org"])
def test_a_registered_email_gets_the_same_answer_as_a_new_one(app, make_registration, email):
    make_registration(first_name="Grace", last_name="Hopper", email="grace@example.org")
    known = _answer(app.test_client(), email=email)
    new = _answer(app.test_client(), email="ada@example.org")
    assert known[:4] == new[:4] == (303, "/register/done", known[2], 200)
    assert email.split("@")[0] + "@example.org" in known[4]  # the address as typed (domain normalised)
    way = re.compile(r"on its way to [^,]+,")
    assert way.sub("", known[4]) == way.sub("", new[4])
    assert "already" not in known[4].lower()
    assert db.session.execute(sa.select(sa.func.count(Registration.id))).scalar() == 2  # Grace once, Ada


def test_both_answers_take_at_least_the_same_floor(app, make_registration, monkeypatch):
    """The time must not tell either: both answers wait out one floor (a lower bound only: no timed race)."""
    from registration import views

    slept = []
    monkeypatch.setattr(views.time, "sleep", slept.append)
    make_registration(email="grace@example.org")
    for email in ("grace@example.org", "ada@example.org"):
        g.pop("csrf_token", None)
        client = app.test_client()
        assert client.post("/register", data=form_data(csrf_token(client), email=email)).status_code == 303
    assert len(slept) == 2
    # (0 only on a machine so loaded that the request itself outlasted the floor)
    assert all(0 <= seconds <= views.ANSWER_FLOOR_SECONDS for seconds in slept)


def test_the_registered_person_is_mailed_a_new_private_link_instead(app, make_registration, tmp_path):
    issued = make_registration(first_name="Grace", last_name="Hopper", email="grace@example.org")[0]
    old_hash, old_code_hash = issued.registration.manage_hash, issued.registration.code_hash
    client = app.test_client()
    status = client.post("/register", data=form_data(csrf_token(client), first_name="Mallory", email="GRACE@example.org"))
    assert status.status_code == 303
    messages = read_outbox(tmp_path / "outbox")
    assert len(messages) == 1
    message = messages[0]
    assert message["To"] == "grace@example.org"
    assert "already registered" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    link = re.search(r"http://lanyard\.test(/r/\S+)", text).group(1)
    db.session.expire_all()
    registration = db.session.get(Registration, issued.registration.id)
    assert registration.first_name == "Grace"  # nothing typed on the form changed it
    assert registration.manage_hash != old_hash and registration.code_hash == old_code_hash  # the QR still works
    assert app.test_client().get(link).status_code == 303
    assert app.test_client().get(f"/r/{issued.manage_code}").status_code == 404
    assert "registration.manage_link" in db.session.execute(sa.select(AuditEvent.action)).scalars().all()


def test_a_guest_whose_email_is_registered_is_reminded_and_the_rest_registered(app, make_registration, tmp_path):
    make_registration(first_name="Vincent", last_name="Hopper", email="vincent@example.org")
    client = app.test_client()
    response = client.post("/register", data=form_data(csrf_token(client), guests=GUESTS))
    assert response.status_code == 303
    names = db.session.execute(sa.select(Registration.first_name).order_by(Registration.id)).scalars().all()
    assert names == ["Vincent", "Grace", "Zoë"]
    subjects = sorted((m["To"], m["Subject"].split(" for ")[0]) for m in read_outbox(tmp_path / "outbox"))
    assert subjects == [("grace@example.org", "Your badge QR code"), ("grace@example.org", "Zoë's badge QR code"),
                        ("vincent@example.org", "You are already registered")]


def test_registrations_from_one_client_are_limited(app, tmp_path):
    from dataclasses import replace

    app.extensions["lanyard"] = replace(app.extensions["lanyard"], registrations_per_client=3)
    client = app.test_client()
    statuses = [client.post("/register", data=form_data(csrf_token(client), email=f"p{i}@example.org")).status_code
                for i in range(5)]
    assert statuses == [303, 303, 303, 429, 429]
    refused = client.post("/register", data=form_data(csrf_token(client), email="late@example.org"))
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert "Too many registrations" in refused.get_data(as_text=True)
    assert db.session.execute(sa.select(sa.func.count(Registration.id))).scalar() == 3
    other = app.test_client()
    response = other.post("/register", data=form_data(csrf_token(other), email="x@example.org"),
                          environ_base={"REMOTE_ADDR": "127.0.0.9"})
    assert response.status_code == 303  # another client address has its own count


def test_registered_emails_count_against_the_limit_too(app, make_registration):
    from dataclasses import replace

    make_registration(email="grace@example.org")
    app.extensions["lanyard"] = replace(app.extensions["lanyard"], registrations_per_client=2)
    client = app.test_client()
    statuses = [client.post("/register", data=form_data(csrf_token(client))).status_code for _ in range(3)]
    assert statuses == [303, 303, 429]


def test_registration_is_audited(client):
    client.post("/register", data=form_data(csrf_token(client), guests=GUESTS))
    actions = db.session.execute(sa.select(AuditEvent.action)).scalars().all()
    assert actions.count("registration.create") == 3


def test_spanish_page(client):
    html = client.get("/register?lang=es").get_data(as_text=True)
    assert "Inscripción" in html or "Inscribirse" in html
    assert 'lang="es"' in html


def errors_of(html: str, field: str) -> str:
    """The error messages shown with one field: a text field's, or a radio group's."""
    found = re.findall(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    group = re.search(rf'<fieldset[^>]*id="{field}">(.*?)</fieldset>', html, flags=re.S)
    if group:
        found += re.findall(r'<p class="error">([^<]*)</p>', group.group(1))
    return " | ".join(found)


def test_every_error_shows_on_the_first_submit_with_the_banner(client):
    """QA's form: a bad first name, a guest repeating the registrant's email, a guest without a health choice."""
    guest = {"first_name": "Vincent", "last_name": "Hopper", "email": "grace@example.org", "health_method": ""}
    data = form_data(csrf_token(client), guests=[guest], first_name="=Bob 😀")
    del data["guests-0-health_method"]
    response = client.post("/register", data=data)
    assert response.status_code in (400, 422)
    html = response.get_data(as_text=True)
    assert "Please correct the fields marked below." in html
    assert re.search("cannot start with|not emoji", errors_of(html, "first_name"))
    assert "used twice in this form" in errors_of(html, "guests-0-email")
    assert errors_of(html, "guests-0-health_method") == "This field is required."
    assert db.session.execute(sa.select(sa.func.count(Registration.id))).scalar() == 0


@pytest.mark.parametrize("label, change, field, message", [n for n in NASTY if n[0] in (
    "guest same email as host", "two guests same email", "guest formula", "formula first name")])
def test_a_service_refusal_alone_still_shows_the_banner(client, label, change, field, message):
    change = dict(change)
    guests = change.pop("guests", ())
    html = client.post("/register", data=form_data(csrf_token(client), guests=guests, **change)).get_data(as_text=True)
    assert "Please correct the fields marked below." in html
    assert re.search(message, errors_of(html, field), flags=re.I)


def test_check_registration_names_every_problem_of_every_person(settings):
    from registration.services import HealthInput, PersonInput, check_registration

    host = PersonInput(first_name="=Bob 😀", last_name="", email="bob@example.org", type_name="full")
    guests = [(PersonInput(first_name="Ann", last_name="Lee", email="BOB@example.org", type_name="guest"),
               HealthInput(None)),
              (PersonInput(first_name="Cy", last_name="+1", email="", type_name="full"), HealthInput("vaccinated"))]
    problems = check_registration(host, settings=settings, health=HealthInput("vaccinated"), guests=guests)
    assert [(p.code, p.extra["field"]) for p in problems] == [
        ("invalid_field", "first_name"), ("invalid_field", "last_name"),
        ("invalid_field", "guests-0-health_method"), ("duplicate_email", "guests-0-email"),
        ("invalid_field", "guests-1-last_name"), ("invalid_field", "guests-1-registration_type"),
    ]



def test_a_guests_code_mailed_to_the_host_names_the_guest(client, tmp_path):
    client.post("/register", data=form_data(csrf_token(client), guests=GUESTS))
    seen = sorted((m["To"], m["Subject"], m.get_body(("plain",)).get_content().splitlines()[0])
                  for m in read_outbox(tmp_path / "outbox"))
    assert seen == [
        ("grace@example.org", "Your badge QR code for Annual Conference and Expo", "Hello Grace,"),
        ("grace@example.org", "Zoë's badge QR code for Annual Conference and Expo",
         "Hello Grace, this is the badge QR code of your guest Zoë Ångström."),
        ("vincent@example.org", "Your badge QR code for Annual Conference and Expo", "Hello Vincent,"),
    ]
    html = next(m for m in read_outbox(tmp_path / "outbox") if m["Subject"].startswith("Zoë"))
    assert "your guest Zoë Ångström" in html.get_body(("html",)).get_content()
