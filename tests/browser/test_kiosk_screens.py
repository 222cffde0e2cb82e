"""The kiosk page in Chromium: find me by name, English and Spanish, idle reset and what it leaves behind."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from registration.checkin.models import CheckIn

from .helpers import count, scan, screen, tap

pytestmark = pytest.mark.browser

STORAGE = """async () => ({
    local: localStorage.length, session: sessionStorage.length,
    indexed: (await indexedDB.databases()).length, cookies: document.cookie,
})"""


def lookup(page, last_name: str, second_factor: str) -> None:
    """Find me by name on the on-screen keyboard, then Search."""
    page.locator("#find-by-name").click()
    expect(screen(page, "lookup")).to_be_visible()
    tap(page, last_name)
    page.locator("#second-factor").click()
    tap(page, second_factor)
    screen(page, "lookup").get_by_role("button", name="Search").click()


def test_find_me_by_name_with_the_second_factor_checks_in_and_prints(open_kiosk, make_registration, emulator):
    person = make_registration(first_name="Ada", last_name="Quixote", email="dulcinea@example.org")[0]
    make_registration(first_name="Sancho", last_name="Quixote", email="panza@example.org")
    page, _kiosk = open_kiosk()

    lookup(page, "Quixote", "dul")

    results = page.locator("#results .result")
    expect(results).to_have_count(1)  # the other Quixote does not have this email
    expect(results.first).to_contain_text("A. Qui…")
    expect(results.first).to_contain_text("Full conference · du***@e***.org")
    assert "QUIXOTE" not in page.content() and "dulcinea" not in page.content()
    results.first.click()
    expect(page.locator("#welcome-name")).to_have_text(f"Welcome, {person.registration.badge_name}")
    expect(page.locator("#print-headline")).to_have_text("Printed — take your badge")
    assert len(emulator.wait_for_jobs(1)) == 1


@pytest.mark.parametrize("typed", ["Muñoz", "Munoz"])
def test_find_me_by_name_ignores_accents(open_kiosk, make_registration, typed):
    make_registration(first_name="Inés", last_name="Muñoz", email="ines@example.org")
    page, _kiosk = open_kiosk()

    lookup(page, typed, "ine")

    expect(page.locator("#results .result")).to_have_count(1)
    expect(page.locator("#results .result")).to_contain_text("I. Muñ…")


def test_find_me_by_name_without_the_second_factor_reveals_nothing(open_kiosk, make_registration, live_server):
    make_registration(first_name="Ada", last_name="Quixote", email="dulcinea@example.org")
    page, _kiosk = open_kiosk()

    page.locator("#find-by-name").click()
    tap(page, "Quixote")
    screen(page, "lookup").get_by_role("button", name="Search").click()
    expect(page.locator("#lookup-error")).to_have_text(
        "Please enter your last name and the first 3 letters of your email address.")
    expect(screen(page, "lookup")).to_be_visible()

    page.locator("#second-factor").click()
    tap(page, "zzz")  # a wrong second factor
    screen(page, "lookup").get_by_role("button", name="Search").click()
    expect(screen(page, "results")).to_be_visible()
    expect(page.locator("#no-match")).to_be_visible()
    expect(page.locator("#results .result")).to_have_count(0)
    expect(page.locator("#results-title")).to_have_text("No match found")  # never "Is this you?" over nothing
    expect(page.locator("#search-again")).to_have_text("Search again")
    assert "Is this you?" not in page.locator("#main").inner_text()
    assert "Qui" not in page.locator("#main").inner_text()

    # Nor does the API itself, asked directly from the kiosk's own session.
    answer = page.evaluate("""async () => {
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const r = await fetch('/api/v1/kiosk/lookup', {method: 'POST', headers: {
            'Content-Type': 'application/json', 'X-CSRFToken': csrf},
            body: JSON.stringify({last_name: 'Quixote', second_factor: ''})});
        return [r.status, await r.json()];
    }""")
    assert answer == [200, {"matches": []}]


@pytest.mark.parametrize(("layout", "first", "last", "typed", "masked"), [
    ("greek", "Ελένη", "Παπαδοπούλου", "ΠΑΠΑΔΟΠΟΥΛΟΥ", "Ε. Παπ…"),
    ("cyrillic", "Анна", "Ёлкина", "ЁЛКИНА", "А. Ёлк…"),
])
def test_greek_and_cyrillic_names_are_found_on_their_keyboards(open_kiosk, make_registration, layout, first, last,
                                                                typed, masked):
    make_registration(first_name=first, last_name=last, email="eleni@city.example.gov")
    page, _kiosk = open_kiosk()
    page.locator("#find-by-name").click()

    page.locator(f'.layout-key[data-layout-key="{layout}"]').click()
    expect(page.locator(f'.layout-key[data-layout-key="{layout}"]')).to_have_attribute("aria-pressed", "true")
    tap(page, typed)
    expect(page.locator("#last-name")).to_have_value(typed)
    page.locator('.layout-key[data-layout-key="latin"]').click()
    page.locator("#second-factor").click()
    tap(page, "ele")
    screen(page, "lookup").get_by_role("button", name="Search").click()

    expect(page.locator("#results .result")).to_have_count(1)
    expect(page.locator("#results .result")).to_contain_text(masked)
    expect(page.locator("#results-title")).to_have_text("Is this you?")


def test_too_many_lookups_ask_to_wait(open_kiosk, make_registration, monkeypatch):
    monkeypatch.setattr("registration.checkin.services.LOOKUP_LIMIT", 1)
    page, _kiosk = open_kiosk()
    lookup(page, "Nobody", "abc")
    expect(page.locator("#no-match")).to_be_visible()

    page.locator('[data-screen="results"] [data-action="lookup"]').click()
    tap(page, "Nobody")
    page.locator("#second-factor").click()
    tap(page, "abc")
    screen(page, "lookup").get_by_role("button", name="Search").click()

    expect(page.locator("#lookup-error")).to_have_text("Too many attempts. Please wait a moment and try again.")


def test_the_spanish_toggle_shows_spanish_through_the_whole_check_in(open_kiosk, make_registration):
    person = make_registration(badge_name="Ada Lovelace")[0]
    page, _kiosk = open_kiosk()
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.get_by_role("button", name="Español").click()

    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("#start-title")).to_have_text("Le damos la bienvenida")
    expect(screen(page, "start")).to_contain_text("Escanee el código QR de su correo de confirmación")
    expect(page.get_by_role("button", name="Español")).to_have_attribute("aria-pressed", "true")
    scan(page, person.code)
    expect(page.locator("#welcome-name")).to_have_text("Le damos la bienvenida, Ada Lovelace")
    expect(page.locator("#pass-label")).to_have_text("Conferencia completa")
    expect(page.locator("#print-headline")).to_have_text("Impreso: tome su gafete")

    scan(page, person.code)
    expect(page.locator("#already-title")).to_have_text("Usted ya tiene su gafete")
    expect(page.locator("#already-when")).to_contain_text("Su gafete se imprimió en Lobby A el ")

    screen(page, "already").get_by_role("button", name="Listo").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")  # the next person starts in the kiosk's language
    expect(page.locator("#start-title")).to_have_text("Welcome")


def test_a_spanish_kiosk_starts_in_spanish(open_kiosk, make_registration):
    person = make_registration(health=None)[0]
    page, _kiosk = open_kiosk(language="es")

    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("#start-title")).to_have_text("Le damos la bienvenida")
    scan(page, person.code)
    expect(page.locator("#desk-title")).to_have_text("Vaya al mostrador de verificación sanitaria")
    expect(page.locator("#desk-message")).to_contain_text("pruebas en el lugar")
    scan(page, "NOT-A-CODE")
    expect(page.locator("#invalid-message")).to_have_text(
        "Este no es un código de registro. Escanee el código QR de su correo de confirmación.")


@pytest.mark.parametrize("kiosk_timings", [{"idle_seconds": 1, "warning_seconds": 2}])
def test_idle_warns_then_clears_every_trace_of_the_person(open_kiosk, make_registration):
    person = make_registration(badge_name="Alan Turing", health=None)[0]
    page, _kiosk = open_kiosk()
    scan(page, person.code)
    expect(page.locator("#desk-name")).to_have_text("Welcome, Alan Turing")

    dialog = page.locator("#idle-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Still there?")
    dialog.get_by_role("button", name="I'm still here").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#desk-name")).to_have_text("Welcome, Alan Turing")  # still there: nothing cleared

    expect(dialog).to_be_visible()
    expect(page.locator("#idle-countdown")).to_contain_text("The screen clears in")
    expect(screen(page, "start")).to_be_visible()  # nobody answered
    expect(dialog).to_be_hidden()
    assert "Alan" not in page.content() and "Turing" not in page.content()
    assert page.evaluate(STORAGE) == {"local": 0, "session": 0, "indexed": 0, "cookies": ""}


@pytest.mark.parametrize("kiosk_timings", [{"idle_seconds": 1, "warning_seconds": 1}])
def test_idle_clears_a_half_typed_name_search(open_kiosk):
    page, _kiosk = open_kiosk()
    page.locator("#find-by-name").click()
    tap(page, "Lovelace")
    expect(page.locator("#last-name")).to_have_value("LOVELACE")

    expect(screen(page, "start")).to_be_visible(timeout=10_000)
    expect(page.locator("#last-name")).to_have_value("")
    assert "LOVELACE" not in page.content()
    assert page.evaluate(STORAGE) == {"local": 0, "session": 0, "indexed": 0, "cookies": ""}


def test_a_scan_on_a_screen_with_a_focused_field_is_not_taken(open_kiosk, make_registration):
    person = make_registration()[0]
    page, _kiosk = open_kiosk()
    page.locator("#find-by-name").click()

    scan(page, person.code)  # typed into the focused last-name field, then Enter searches

    expect(page.locator("#lookup-error")).to_contain_text("Please enter your last name")
    assert count(CheckIn) == 0


GUEST_HINTS = {"en": "Guests without their own email: use your host's email.",
               "es": "Invitados sin correo propio: usen el correo de su anfitrión."}


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize(("width", "height"), [(1024, 768), (800, 1280)])
def test_the_find_me_fields_line_up_and_tell_guests_whose_email_to_use(open_kiosk, language, width, height):
    page, _kiosk = open_kiosk(language=language)
    page.set_viewport_size({"width": width, "height": height})

    page.locator("#find-by-name").click()

    expect(screen(page, "lookup")).to_be_visible()
    last_name, factor = page.locator("#last-name").bounding_box(), page.locator("#second-factor").bounding_box()
    assert abs(last_name["y"] - factor["y"]) < 0.5  # a label on two lines does not lower its input
    assert abs(last_name["height"] - factor["height"]) < 0.5
    expect(page.locator("#second-factor-hint")).to_have_text(GUEST_HINTS[language])
    expect(page.locator("#second-factor")).to_have_accessible_description(GUEST_HINTS[language])


def test_a_guest_without_an_email_is_found_with_the_hosts_email(open_kiosk, make_registration, emulator):
    host, guest = make_registration(last_name="Okafor", email="ethan@example.org",
                                    guests=[{"first_name": "Ngozi", "last_name": "Adeyemi"}])
    page, _kiosk = open_kiosk()
    expect(page.locator("#second-factor-hint")).to_have_text(GUEST_HINTS["en"])

    lookup(page, "Adeyemi", "eth")  # the guest's own last name, the host's email

    expect(page.locator("#results .result")).to_have_count(1)
    expect(page.locator("#results .result .name")).to_have_text("N. Ade…")
