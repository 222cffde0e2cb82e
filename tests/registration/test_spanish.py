"""Spanish pages and mail: translated text, the Spanish pass labels, dates through Flask-Babel, one word for badge."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import g

from tests.helpers import read_outbox

CATALOG = Path(__file__).resolve().parents[2] / "registration" / "translations" / "es" / "LC_MESSAGES" / "messages.po"


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def token_of(html: str, prefix: str = "") -> str:
    return re.search(rf'name="{prefix}csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def fresh_browser():
    """Forget what the test's app context (shared by its requests) cached for the previous browser.

    Flask-WTF keeps the signed CSRF token and Flask-Babel the chosen locale in g; in production each
    request has a g of its own.
    """
    g.pop("csrf_token", None)
    g.pop("_flask_babel", None)


@pytest.fixture
def spanish(app):
    """A fresh browser that chose Spanish."""

    def make():
        fresh_browser()
        client = app.test_client()
        client.get("/register?lang=es")
        return client

    return make


def _register(client, *, guest=True):
    token = token_of(client.get("/register").get_data(as_text=True))
    data = {"csrf_token": token, "first_name": "María José", "last_name": "Rodríguez", "email": "mj@example.org",
            "health_method": "vaccinated", "submit": "Inscribirse"}
    if guest:
        data.update({"guests-0-first_name": "Zoë", "guests-0-last_name": "Núñez",
                     "guests-0-health_method": "vaccinated"})
    return client.post("/register", data=data, follow_redirects=True)


def test_the_header_date_is_formatted_for_the_language(spanish, app):
    assert "15 sept 2027 – 17 sept 2027" in text_of(spanish().get("/register").get_data(as_text=True))
    fresh_browser()
    assert "Sep 15, 2027 – Sep 17, 2027" in text_of(app.test_client().get("/register?lang=en").get_data(as_text=True))


def test_the_confirmation_page_is_spanish_with_spanish_pass_labels(spanish):
    response = _register(spanish())
    assert response.status_code == 200
    page = text_of(response.get_data(as_text=True))
    assert "Gracias por inscribirse" in page
    assert "Revise su correo: le enviamos un mensaje a mj@example.org" in page
    assert "Conferencia completa" in page and "Invitado — Expo y recepciones" in page
    assert "Full conference" not in page and "Guest — Expo" not in page
    assert "15 sept 2027" in page


def test_the_confirmation_email_is_spanish(spanish, tmp_path):
    _register(spanish())
    messages = read_outbox(tmp_path / "outbox")
    assert len(messages) == 2
    for message in messages:
        body = message.get_body(("plain",)).get_content()
        assert "gafete" in body and "credencial" not in body
        assert "Conferencia completa" in body or "Invitado — Expo y recepciones" in body


def test_the_already_registered_email_is_in_the_registrants_language(spanish, tmp_path):
    _register(spanish())
    for path in (tmp_path / "outbox").glob("*.eml"):
        path.unlink()
    _register(spanish(), guest=False)
    messages = read_outbox(tmp_path / "outbox")
    assert [m["Subject"] for m in messages] == ["Ya está inscrito/a en Annual Conference and Expo"]
    body = messages[0].get_body(("plain",)).get_content()
    assert "Conferencia completa" in body and "gafete" in body and "Si no fue usted" in body


def test_the_manage_page_is_spanish_with_the_spanish_pass_label(spanish, tmp_path):
    client = spanish()
    _register(client)
    link = re.search(r"http://lanyard\.test(/r/\S+)", read_outbox(tmp_path / "outbox")[0]
                     .get_body(("plain",)).get_content()).group(1)
    assert client.get(link).status_code == 303
    page = text_of(client.get("/manage").get_data(as_text=True))
    assert "Su inscripción" in page
    assert "Conferencia completa" in page or "Invitado — Expo y recepciones" in page
    assert "Full conference" not in page and "Guest — Expo" not in page
    assert "Nombre en el gafete" in page and "15 sept 2027" in page


def test_the_closed_manage_page_is_spanish(spanish):
    response = spanish().get("/r/LYM1-NOT-A-CODE")
    assert response.status_code == 404
    assert "Este enlace no funciona" in text_of(response.get_data(as_text=True))


def test_the_sign_in_page_is_spanish(spanish):
    client = spanish()
    html = client.get("/login").get_data(as_text=True)
    page = text_of(html)
    assert "Acceso del personal" in page and "Correo electrónico" in page and "Contraseña" in page
    assert "Entrar" in page and "15 sept 2027" in page
    assert "Password" not in page and "Sign in" not in page
    response = client.post("/login", data={"csrf_token": token_of(html), "email": "", "password": ""})
    assert response.status_code == 400
    assert "Este campo es obligatorio." in text_of(response.get_data(as_text=True))
    response = client.post("/login", data={"csrf_token": token_of(html), "email": "x@example.org", "password": "no"})
    assert response.status_code == 401
    assert "El correo o la contraseña no son correctos." in text_of(response.get_data(as_text=True))


@pytest.mark.parametrize("field, value, message", [
    ("first_name", "=1+1", "No puede empezar por =, +, - ni @."),
    ("badge_name", "María 🎉", "emoji"),
    ("email", "no-es-correo", "correo"),
])
def test_form_errors_are_spanish(spanish, field, value, message):
    client = spanish()
    token = token_of(client.get("/register").get_data(as_text=True))
    data = {"csrf_token": token, "first_name": "María", "last_name": "Ruiz", "email": "mr@example.org",
            "health_method": "vaccinated", "submit": "Inscribirse", field: value}
    response = client.post("/register", data=data)
    assert response.status_code in (400, 422)
    page = text_of(response.get_data(as_text=True))
    assert "Corrija los campos marcados abajo." in page or message in page
    assert re.search(re.escape(message), page, flags=re.I), page


def test_the_catalog_says_gafete_never_credencial():
    text = CATALOG.read_text(encoding="utf-8")
    msgstrs = " ".join(re.findall(r'msgstr[^\n]*\n(?:"[^\n]*"\n)*', text))
    assert "credencial" not in msgstrs.lower()
    assert "gafete" in msgstrs


def test_the_storage_unavailable_page_is_in_spanish(spanish, app):
    from registration.app import _storage_unavailable

    client = spanish()
    fresh_browser()
    with app.test_request_context("/register?lang=es"):
        response = _storage_unavailable()
    html = text_of(response.get_data(as_text=True))
    assert response.status_code == 503
    assert "No disponible temporalmente" in html and "no está disponible temporalmente" in html, html
    assert "unavailable" not in html
    fresh_browser()
    assert "No encontrado" in text_of(client.get("/no-such-page").get_data(as_text=True))


def _manage_link(tmp_path) -> str:
    message = next(m for m in read_outbox(tmp_path / "outbox") if m["To"] == "mj@example.org")
    return re.search(r"http://lanyard\.test(/r/\S+)", message.get_body(("plain",)).get_content()).group(1)


@pytest.mark.parametrize("before", ["", "/register?lang=en"])
def test_the_manage_link_opens_in_the_registrants_language_whatever_the_browser_chose(spanish, app, tmp_path,
                                                                                      before):
    _register(spanish())
    fresh_browser()
    english = app.test_client()  # another browser, in English (by its preference or by an earlier choice)
    if before:
        english.get(before)
    fresh_browser()
    assert english.get(_manage_link(tmp_path), headers={"Accept-Language": "en"}).status_code == 303
    fresh_browser()
    html = english.get("/manage", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Su inscripción" in text_of(html) and "Your registration" not in text_of(html)
    fresh_browser()
    english.post("/manage", data={"name-csrf_token": token_of(html, "name-"), "name-badge_name": "MJ",
                                  "name-save": "Guardar"})
    fresh_browser()
    page = text_of(english.get("/manage").get_data(as_text=True))
    assert "Guardado. Su gafete dirá «MJ»." in page and "Saved." not in page


def test_a_language_chosen_on_the_manage_link_wins(spanish, app, tmp_path):
    _register(spanish())
    fresh_browser()
    english = app.test_client()
    assert english.get(_manage_link(tmp_path) + "?lang=en").status_code == 303
    fresh_browser()
    assert "Your registration" in text_of(english.get("/manage").get_data(as_text=True))


@pytest.mark.parametrize("guest, field", [
    ({"guests-0-first_name": "", "guests-0-last_name": "Núñez", "guests-0-health_method": "vaccinated"}, "first_name"),
    ({"guests-0-first_name": "Zoë", "guests-0-last_name": "", "guests-0-health_method": "vaccinated"}, "last_name"),
    ({"guests-0-first_name": "Zoë", "guests-0-last_name": "Núñez"}, "health_method"),
    ({"guests-0-first_name": "Zoë", "guests-0-last_name": "Núñez", "guests-0-health_method": "x"}, "health_method"),
    ({"guests-0-first_name": "Zoë", "guests-0-last_name": "Núñez", "guests-0-email": "x" * 300 + "@example.org",
      "guests-0-health_method": "vaccinated"}, "email"),
])
def test_guest_field_errors_are_spanish(spanish, guest, field):
    client = spanish()
    token = token_of(client.get("/register").get_data(as_text=True))
    data = {"csrf_token": token, "first_name": "María", "last_name": "Ruiz", "email": "mr@example.org",
            "health_method": "vaccinated", "submit": "Inscribirse", **guest}
    response = client.post("/register", data=data)
    assert response.status_code in (400, 422)
    section = text_of(response.get_data(as_text=True).split('class="guest"', 1)[1])
    assert not re.search(r"This field|Not a valid|too long|Invalid", section), section
    assert re.search(r"obligatorio|válid|largo", section), section


def test_the_guest_health_answers_speak_of_the_guest(spanish, app):
    fresh_browser()
    english = app.test_client()
    english.get("/register?lang=en")
    for client, guest_answer, own_answer in (
        (english, "They are vaccinated and will show proof", "I am vaccinated and will show proof"),
        (spanish(), "Está vacunado/a y mostrará el comprobante", "Estoy vacunado/a y mostraré el comprobante"),
    ):
        fresh_browser()
        token = token_of(client.get("/register").get_data(as_text=True))
        fresh_browser()
        html = client.post("/register", data={"csrf_token": token, "add_guest": "1"}).get_data(as_text=True)
        you, guest = html.split('class="guest"', 1)
        assert own_answer in you and guest_answer in guest and own_answer not in guest


def test_a_guests_code_mailed_to_the_host_names_the_guest_in_spanish(spanish, tmp_path):
    _register(spanish())
    seen = sorted((m["Subject"], m.get_body(("plain",)).get_content().splitlines()[0])
                  for m in read_outbox(tmp_path / "outbox"))
    assert seen == [
        ("Código QR para el gafete de Zoë en Annual Conference and Expo",
         "Hola, María José: este es el código QR para el gafete de su invitado/a Zoë Núñez."),
        ("Su código QR para el gafete de Annual Conference and Expo", "Hola, María José:"),
    ]
