"""The kiosk page in Chromium: scan, print, and every answer a person can get at the kiosk."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
from PIL import ImageChops
from playwright.sync_api import expect

from registration.checkin.models import CheckIn
from registration.desk.models import DeskCase
from registration.codes import hash_code, new_code
from registration.extensions import db

from registration.printing.models import Badge, PrintJob, PrinterState
from tests.helpers import decode_qr

from .helpers import count, scan, screen, settled_jobs, tap

pytestmark = pytest.mark.browser


def expected_badge(settings, registration, code: str, serial: int, *, width: int, type_name: str | None = None):
    """The badge image the printer should have received for ``registration`` with badge ``code``."""
    from printers import BadgeData, render_badge

    rtype = settings.registration_types[type_name or registration.type_name]
    data = BadgeData(badge_name=registration.badge_name, band_text=rtype.band_text, event_name=settings.event.name,
                     code=code, title=registration.title, organization=registration.organization,
                     band_color=rtype.band_color, serial=f"#{serial:06d}")
    return render_badge(data, width=width).image


def same_image(a, b) -> bool:
    """Pixel-for-pixel equality of two black-and-white images."""
    a, b = a.convert("1"), b.convert("1")
    return a.size == b.size and ImageChops.difference(a.convert("L"), b.convert("L")).getbbox() is None


def printed_badge(emulator, registration, settings, fresh):
    """The one job the emulator received, checked against the registration's Badge row; returns (code, image)."""
    jobs = emulator.wait_for_jobs(1)
    assert len(jobs) == 1
    images = jobs[0].images
    assert len(images) == 1 and jobs[0].cut
    codes = decode_qr(images[0])
    assert len(codes) == 1, codes
    fresh()
    badge = db.session.execute(sa.select(Badge).filter_by(registration_id=registration.id)).scalar_one()
    assert hash_code(codes[0]) == badge.code_hash  # the QR on paper is this person's badge code
    return codes[0], badge, images[0]


def test_a_scanned_full_attendee_gets_exactly_one_full_badge(open_kiosk, make_registration, emulator, settings,
                                                              fresh):
    person = make_registration(first_name="Ada", last_name="Lovelace", badge_name="Ada Lovelace",
                               organization="City of Sacramento")[0]
    page, _kiosk = open_kiosk()

    scan(page, person.code)

    expect(screen(page, "printing")).to_be_visible()
    expect(page.locator("#welcome-name")).to_have_text("Welcome, Ada Lovelace")
    expect(page.locator("#pass-label")).to_have_text("Full conference")
    expect(page.locator("#pass-label")).to_have_css("background-color", "rgb(31, 78, 154)")  # #1f4e9a
    expect(page.locator("#badge-preview")).to_be_visible()
    expect(page.locator("#print-headline")).to_have_text("Printed — take your badge")
    expect(page.locator("#print-state")).to_have_text("Enjoy the conference!")
    code, badge, image = printed_badge(emulator, person.registration, settings, fresh)
    assert code.startswith("B1")
    assert same_image(image, expected_badge(settings, person.registration, code, badge.serial, width=image.width))
    assert not same_image(image, expected_badge(settings, person.registration, code, badge.serial, width=image.width,
                                                type_name="guest"))
    # Once the job is printed (as the worker committed it), no retry can send it again.
    assert settled_jobs(fresh) == ["printed"]
    assert len(emulator.jobs) == 1
    assert count(PrintJob, badge_id=badge.id) == 1
    preview = page.request.get(page.locator("#badge-preview").evaluate("img => img.src"))
    assert preview.headers["content-type"] == "image/png"
    assert decode_qr(preview.body()) == []  # the screen never shows the real badge code


def test_a_scan_is_taken_even_when_a_button_has_the_focus(open_kiosk, make_registration):
    person = make_registration(badge_name="Ada Lovelace")[0]
    page, _kiosk = open_kiosk()
    page.locator("#find-by-name").focus()  # the last person tapped it, then walked away

    scan(page, person.code)  # the Enter must end the scan, not press the button

    expect(page.locator("#welcome-name")).to_have_text("Welcome, Ada Lovelace")


def test_a_guest_gets_the_guest_band(open_kiosk, make_registration, emulator, settings, fresh):
    host, guest = make_registration(guests=[{"first_name": "Grace", "last_name": "Hopper"}])
    page, _kiosk = open_kiosk()

    scan(page, guest.code)

    expect(page.locator("#welcome-name")).to_have_text(f"Welcome, {guest.registration.badge_name}")
    expect(page.locator("#pass-label")).to_have_text("Guest — Expo & receptions")
    expect(page.locator("#pass-label")).to_have_css("background-color", "rgb(194, 65, 12)")  # the band, #c2410c
    expect(page.locator("#pass-label")).to_have_css("color", "rgb(255, 255, 255)")  # 5.2:1 on it
    expect(page.locator("#print-headline")).to_have_text("Printed — take your badge")
    # What the pass opens, in words from its access areas: not the pass label again.
    expect(page.locator("#print-state")).to_have_text("Your pass opens the Expo and the receptions.")
    code, badge, image = printed_badge(emulator, guest.registration, settings, fresh)
    assert same_image(image, expected_badge(settings, guest.registration, code, badge.serial, width=image.width))
    assert not same_image(image, expected_badge(settings, guest.registration, code, badge.serial, width=image.width,
                                                type_name="full"))


@pytest.mark.parametrize(
    ("health", "reason", "message"),
    [
        ({"health": None}, "health_missing", "on-site testing is available"),
        ({"health_state": "attested"}, "health_unverified", "on-site testing is available"),
    ],
)
def test_a_person_who_is_not_cleared_gets_no_badge_and_a_desk_case(open_kiosk, make_registration, emulator,
                                                                     fresh, health, reason, message):
    person = make_registration(badge_name="Alan Turing", **health)[0]
    page, kiosk = open_kiosk()

    scan(page, person.code)

    expect(screen(page, "desk")).to_be_visible()
    expect(page.locator("#desk-title")).to_have_text("Please go to the health verification desk")
    expect(page.locator("#desk-message")).to_contain_text(message)
    expect(page.locator("#desk-name")).to_have_text("Welcome, Alan Turing")
    expect(screen(page, "desk")).to_contain_text("No badge was printed.")
    fresh()
    case = db.session.execute(sa.select(DeskCase).filter_by(registration_id=person.registration.id)).scalar_one()
    assert (case.reason, case.kiosk_id, case.state) == (reason, kiosk.id, "open")
    expect(page.locator("#desk-case")).to_contain_text(str(case.id))
    assert count(PrintJob) == 0 and count(CheckIn) == 0  # the answer came after the commit: no job, no print
    assert emulator.jobs == []


def test_a_cancelled_registration_is_sent_to_the_registration_desk(open_kiosk, make_registration):
    from registration.models import Registration

    person = make_registration()[0]
    db.session.execute(sa.update(Registration).where(Registration.id == person.registration.id)
                       .values(status="cancelled"))
    db.session.commit()
    page, _kiosk = open_kiosk()

    scan(page, person.code)

    expect(page.locator("#desk-title")).to_have_text("Please go to the registration desk")
    expect(page.locator("#desk-message")).to_have_text("This registration was cancelled. The registration desk can help.")


def test_a_second_scan_prints_nothing_and_says_when_and_where(open_kiosk, make_registration, emulator, fresh):
    person = make_registration(badge_name="Katherine Johnson")[0]
    page, _kiosk = open_kiosk()
    scan(page, person.code)
    expect(page.locator("#print-headline")).to_have_text("Printed — take your badge")
    emulator.wait_for_jobs(1)

    scan(page, person.code)  # straight away, on the "take your badge" screen

    expect(screen(page, "already")).to_be_visible()
    expect(page.locator("#already-name")).to_have_text("Welcome, Katherine Johnson")
    fresh()
    at = db.session.execute(sa.select(CheckIn.at).filter_by(registration_id=person.registration.id)).scalar_one()
    local = at.astimezone(__import__("zoneinfo").ZoneInfo("America/Los_Angeles"))
    when = page.locator("#already-when")
    expect(when).to_contain_text("Your badge was printed at Lobby A on ")  # where it stands, not "kiosk-a"
    expect(when).to_contain_text(f"{local.strftime('%B')} {local.day}")
    expect(when).to_contain_text(f"{local.hour % 12 or 12}:{local.minute:02d}")
    expect(screen(page, "already")).to_contain_text("The registration desk can print a new one.")
    assert settled_jobs(fresh) == ["printed"]  # one job, done: nothing more can reach the printer
    assert len(emulator.jobs) == 1


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("HELLO-WORLD", "This is not a check-in code."),
        (new_code("registration"), "We could not find this code."),
        (new_code("badge"), "This is a badge code."),
    ],
    ids=["malformed", "unknown", "badge-code"],
)
def test_a_bad_code_gets_a_plain_message(open_kiosk, emulator, code, message):
    page, _kiosk = open_kiosk()

    scan(page, code)

    expect(screen(page, "invalid")).to_be_visible()
    expect(page.locator("#invalid-message")).to_contain_text(message)
    assert emulator.jobs == []


def test_a_superseded_code_says_so(open_kiosk, make_registration):
    from registration.audit import Actor
    from registration.services import rotate_codes

    person = make_registration()[0]
    rotate_codes(person.registration, actor=Actor.system("test"))
    db.session.commit()
    page, _kiosk = open_kiosk()

    scan(page, person.code)

    expect(page.locator("#invalid-message")).to_contain_text("This code was replaced by a newer one.")


def test_a_printer_fault_tells_the_attendee_where_to_go(open_kiosk, make_kiosk, make_registration, emulator, fresh):
    make_kiosk("kiosk-b", printer="kiosk-2", location="Lobby B")
    db.session.add(PrinterState(name="kiosk-2", online=True, error_code=""))  # the other kiosk's printer is fine
    db.session.commit()
    emulator.set_fault("paper_out")
    person = make_registration()[0]
    page, _kiosk = open_kiosk()

    scan(page, person.code)

    expect(page.locator("#print-headline")).to_have_text(
        "This kiosk's printer needs attention — please use the kiosk at Lobby B or the registration desk.")
    assert "kiosk-" not in page.locator("#main").inner_text()  # no kiosk's internal name, this one's neither
    fresh()
    assert db.session.execute(sa.select(PrintJob.state)).scalar_one() == "held"
    assert emulator.jobs == []


def test_a_printer_fault_without_another_kiosk_sends_to_the_desk(open_kiosk, make_registration, emulator):
    emulator.set_fault("cover_open")
    person = make_registration()[0]
    page, _kiosk = open_kiosk()

    scan(page, person.code)

    expect(page.locator("#print-headline")).to_have_text(
        "This kiosk's printer needs attention — please go to the registration desk.")


@pytest.mark.parametrize("kiosk_1_extra", ['fallback = "kiosk-2"\nhold_seconds = 0.5'])
def test_a_badge_held_by_a_fault_is_printed_on_the_fallback_printer(open_kiosk, make_registration, emulator, app,
                                                                     tmp_path):
    emulator.set_fault("paper_out")
    person = make_registration()[0]
    page, _kiosk = open_kiosk()

    scan(page, person.code)

    expect(page.locator("#print-headline")).to_have_text(
        "This kiosk's printer needs attention — please go to the registration desk.")
    expect(page.locator("#print-state")).to_have_text(
        "Your badge was printed at the registration desk, Hall A, not at this kiosk. Please collect it there, "
        "or ask at the registration desk.")  # where the printer stands, never its name
    assert len(list((tmp_path / "badges" / "kiosk-2").glob("*.png"))) == 1
    assert emulator.jobs == []


@pytest.mark.parametrize("kiosk_1_extra", ['fallback = "kiosk-3"\nhold_seconds = 0.5\n'
                                           '[printers.kiosk-3]\nbackend = "preview"\ndirectory = "badges/kiosk-3"'])
def test_a_printer_without_a_location_is_never_named(open_kiosk, make_registration, emulator):
    emulator.set_fault("paper_out")
    person = make_registration()[0]
    page, _kiosk = open_kiosk()

    scan(page, person.code)

    expect(page.locator("#print-state")).to_have_text(
        "Your badge was printed at another printer, not at this kiosk. Please ask at the registration desk.")
    assert "kiosk-3" not in page.locator("#main").inner_text()


@pytest.mark.parametrize("kiosk_1_extra", ['location = "Lobby A, by the escalators"\n'
                                           'location_es = "Vestíbulo A, junto a las escaleras"'])
@pytest.mark.parametrize(("language", "printing"), [
    ("en", "Your badge is printing at Lobby A, by the escalators"),
    ("es", "Su gafete se está imprimiendo en Vestíbulo A, junto a las escaleras"),
])
def test_the_kiosk_says_where_its_printer_stands(open_kiosk, make_registration, emulator, page_problems, language,
                                                 printing):
    person = make_registration()[0]
    page, _kiosk = open_kiosk(language=language)
    page.route("**/api/v1/print-jobs/*", lambda route: route.abort())  # hold the page on "printing"

    scan(page, person.code)

    expect(page.locator("#print-headline")).to_have_text(printing)
    page.unroute("**/api/v1/print-jobs/*")
    expect(page.locator("#print-status")).to_have_class("print-status is-done")
    page_problems.errors[:] = [e for e in page_problems.errors if "ERR_FAILED" not in e]  # the held polls


@pytest.mark.parametrize(("language", "title"), [("en", "Temporarily unavailable — please use the desk"),
                                                 ("es", "No disponible por el momento: use el mostrador")])
def test_a_storage_fault_sends_people_to_the_desk(open_kiosk, make_registration, language, title):
    person = make_registration()[0]
    page, _kiosk = open_kiosk(language=language)
    page.route("**/api/v1/checkins", lambda route: route.fulfill(
        status=503, content_type="application/json",
        body=json.dumps({"error": {"code": "storage_unavailable", "message": "The database cannot write."}})))

    scan(page, person.code)

    expect(screen(page, "unavailable")).to_be_visible()
    expect(page.locator("#unavailable-title")).to_have_text(title)
    assert count(CheckIn) == 0


def test_the_code_from_the_email_can_be_typed(open_kiosk, make_registration, emulator):
    from registration.codes import format_for_humans

    person = make_registration(badge_name="Ada Lovelace")[0]
    page, _kiosk = open_kiosk()
    page.locator("#type-code").click()
    expect(screen(page, "code")).to_be_visible()

    tap(page, person.code[:6])  # on the on-screen keyboard: shown grouped as in the email
    expect(page.locator("#code-input")).to_have_value(format_for_humans(person.code)[:7])
    page.locator('[data-screen="code"] .key[data-key="clear"]').click()
    page.keyboard.type(format_for_humans(person.code).lower().replace("-", " "))  # or on a keyboard, any case
    screen(page, "code").get_by_role("button", name="Check in").click()

    expect(page.locator("#welcome-name")).to_have_text("Welcome, Ada Lovelace")
    expect(page.locator("#print-headline")).to_have_text("Printed — take your badge")
    assert len(emulator.wait_for_jobs(1)) == 1


def test_a_short_code_asks_for_the_whole_code(open_kiosk):
    page, _kiosk = open_kiosk()
    page.locator("#type-code").click()
    tap(page, "R")
    screen(page, "code").get_by_role("button", name="Check in").click()
    expect(page.locator("#code-error")).to_have_text("Please type the whole code from your confirmation email.")
    assert count(CheckIn) == 0


@pytest.mark.parametrize("kiosk_1_extra", ["hold_seconds = 0.5"])
def test_a_badge_that_cannot_be_printed_goes_to_the_desk(open_kiosk, make_registration, emulator, fresh):
    emulator.set_fault("offline")
    person = make_registration()[0]
    page, _kiosk = open_kiosk()

    scan(page, person.code)

    expect(page.locator("#print-headline")).to_have_text(
        "Your badge could not be printed here. The registration desk will print it for you.")
    fresh()
    case = db.session.execute(sa.select(DeskCase).filter_by(registration_id=person.registration.id)).scalar_one()
    assert case.reason == "print_failed" and case.state == "open"


def test_a_disabled_kiosk_is_out_of_service(open_kiosk, make_registration, live_server):
    from kiosk.services import disable_kiosk
    from registration.audit import Actor

    person = make_registration()[0]
    page, kiosk = open_kiosk()
    disable_kiosk(kiosk, actor=Actor.system("test"))
    db.session.commit()

    scan(page, person.code)  # the page learns it from the API's 403 kiosk_disabled

    expect(screen(page, "out")).to_be_visible()
    expect(screen(page, "out")).to_contain_text("Out of service")
    assert count(CheckIn) == 0

    response = page.goto(f"{live_server}/kiosk/")  # and the server says so on the next load
    assert response.status == 503
    expect(page.locator("h1")).to_have_text("Out of service")


@pytest.mark.parametrize("kiosk_timings", [{"heartbeat_seconds": 1}])
def test_a_kiosk_disabled_while_nobody_scans_goes_out_of_service_by_itself(open_kiosk):
    from kiosk.services import disable_kiosk
    from registration.audit import Actor

    page, kiosk = open_kiosk()
    disable_kiosk(kiosk, actor=Actor.system("test"))
    db.session.commit()

    expect(screen(page, "out")).to_be_visible()


def test_a_rotated_kiosk_token_unbinds_the_browser(open_kiosk, make_registration):
    from kiosk.services import rotate_kiosk_token
    from registration.audit import Actor

    person = make_registration()[0]
    page, kiosk = open_kiosk()
    rotate_kiosk_token(kiosk, actor=Actor.system("test"))
    db.session.commit()

    scan(page, person.code)  # 401 from the API: the page reloads and the server sends it away

    expect(page).to_have_url(re.compile(r"/kiosk/not-enrolled$"))
    expect(page.locator("h1")).to_have_text("This browser is not a kiosk")
    assert count(CheckIn) == 0


def test_enrolment_asks_first_and_a_link_preview_spends_nothing(context, live_server, make_kiosk, page_problems):
    _kiosk, enrol_code = make_kiosk(location="Lobby A")
    link = f"{live_server}/kiosk/enrol/{enrol_code}"
    page = context.new_page()
    page_problems.watch(page)

    page.goto(f"{live_server}/kiosk/")
    expect(page).to_have_url(re.compile(r"/kiosk/not-enrolled$"))
    expect(page.locator("h1")).to_have_text("This browser is not a kiosk")

    previewer = context.browser.new_context()  # a chat previewer fetches the link before anyone taps it
    try:
        assert previewer.request.head(link).ok and previewer.request.get(link).ok
    finally:
        previewer.close()

    page.goto(link)
    expect(page).to_have_url(f"{live_server}/kiosk/enrol")  # the code is gone from the address bar
    expect(page.locator("h1")).to_have_text("Make this browser kiosk kiosk-a?")
    expect(page.locator("main")).to_contain_text("Lobby A")
    page.get_by_role("button", name="Make this browser the kiosk").click()
    expect(page).to_have_url(f"{live_server}/kiosk/")
    expect(screen(page, "start")).to_be_visible()

    other = context.browser.new_context()
    try:
        second = other.new_page()
        response = second.goto(link)
        assert response.status == 404
        expect(second.locator("h1")).to_have_text("This enrolment link does not work")
    finally:
        other.close()


def test_the_page_is_never_cached(open_kiosk, live_server):
    page, _kiosk = open_kiosk()
    response = page.goto(f"{live_server}/kiosk/")
    assert response.headers["cache-control"] == "no-store"
    expect(screen(page, "start")).to_be_visible()


def test_a_lost_answer_is_retried_with_the_same_nonce_and_prints_once(open_kiosk, make_registration, emulator,
                                                                       page_problems, fresh):
    person = make_registration()[0]
    page, _kiosk = open_kiosk()
    nonces = []

    def lose_the_first_answer(route):
        nonces.append(route.request.post_data_json["nonce"])
        if len(nonces) == 1:
            route.fetch()  # the server checks the person in and queues the badge ...
            route.abort("connectionreset")  # ... but the answer never reaches the kiosk
        else:
            route.continue_()

    page.route("**/api/v1/checkins", lose_the_first_answer)
    scan(page, person.code)

    expect(page.locator("#print-headline")).to_have_text("Printed — take your badge")
    assert len(nonces) == 2 and nonces[0] == nonces[1] and re.fullmatch(r"[0-9a-f]{32}", nonces[0])
    assert settled_jobs(fresh) == ["printed"]
    assert count(CheckIn) == 1 and len(emulator.jobs) == 1
    page_problems.errors[:] = [e for e in page_problems.errors if "ERR_CONNECTION_RESET" not in e]


#: This Chromium has no BarcodeDetector (nor a camera): stand both in, the detector "seeing" the code
#: on its third look at a canvas stream.
FAKE_CAMERA = """
(() => {
  const code = %s;
  window.BarcodeDetector = class {
    static async getSupportedFormats() { return ['ean_13', 'qr_code']; }
    constructor(options) { this.formats = options.formats; this.looks = 0; }
    async detect(source) {
      this.looks += 1;
      return this.looks < 3 ? [] : [{rawValue: code, format: 'qr_code'}];
    }
  };
  navigator.mediaDevices.getUserMedia = async () => {
    const canvas = document.createElement('canvas');
    canvas.getContext('2d').fillRect(0, 0, 10, 10);
    return canvas.captureStream(5);
  };
})();
"""


def test_the_camera_is_offered_only_where_the_browser_can_read_qr_codes(open_kiosk, context, make_registration,
                                                                        emulator):
    person = make_registration(badge_name="Grace Hopper")[0]
    page, _kiosk = open_kiosk("kiosk-a")
    expect(page.locator("#use-camera")).to_be_hidden()  # no BarcodeDetector in this Chromium

    context.add_init_script(FAKE_CAMERA % json.dumps(person.code))
    page.reload()
    page.locator("#use-camera").click()

    expect(page.locator("#welcome-name")).to_have_text("Welcome, Grace Hopper")
    expect(page.locator("#print-headline")).to_have_text("Printed — take your badge")
    assert page.evaluate("document.getElementById('camera-video').srcObject") is None  # the camera is off again
    assert len(emulator.wait_for_jobs(1)) == 1


def test_a_kiosk_without_a_location_is_never_named(open_kiosk, make_kiosk, make_registration, emulator, settings,
                                                    event):
    from registration.checkin.services import check_in

    other, _code = make_kiosk("kiosk-b", printer="kiosk-2", location="")
    db.session.add(PrinterState(name="kiosk-2", online=True, error_code=""))
    elsewhere, here = make_registration()[0], make_registration()[0]
    check_in(event, code=elsewhere.code, kiosk=other, nonce="n" * 16, settings=settings)
    db.session.commit()
    page, _kiosk = open_kiosk(location="")
    main = page.locator("#main")

    scan(page, elsewhere.code)
    expect(page.locator("#already-when")).to_contain_text("Your badge was printed at another kiosk on ")
    screen(page, "already").get_by_role("button", name="Done").click()
    scan(page, here.code)
    expect(page.locator("#kiosk")).to_have_attribute("data-state", "done")
    scan(page, here.code)
    expect(page.locator("#already-when")).to_contain_text("Your badge was printed at this kiosk on ")
    assert "kiosk-" not in main.inner_text()

    emulator.set_fault("paper_out")
    scan(page, make_registration()[0].code)
    expect(page.locator("#print-headline")).to_have_text(
        "This kiosk's printer needs attention — please use another kiosk or the registration desk.")
    assert "kiosk-" not in main.inner_text()
