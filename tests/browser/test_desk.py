"""The help desk in Chromium: sign-in, search, scans, corrections and reprints, the case queue, walk-ups, and the
refusals a person at the counter can run into (an expired session, a form without its CSRF token)."""

from __future__ import annotations

import re
import time
import warnings

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from registration.codes import hash_code
from registration.desk.models import DeskCase
from registration.extensions import db
from registration.models import Registration
from registration.printing.models import Badge, PrintJob
from tests.helpers import decode_qr, qr_in_message, read_outbox

from .conftest import STAFF_PASSWORD
from .helpers import badge_image, count, desk_ready, same_image, scan, shot, sign_in, wait_until

pytestmark = pytest.mark.browser

WRONG = "not-the-password"


def messages(page, role: str = "status"):
    """The flashed messages at the top of the page (``status`` for good news, ``alert`` for refusals)."""
    return page.locator("main").get_by_role(role)


def submit(page, control) -> int:
    """Click a button (or link) that loads a new page and wait for it; returns that page's HTTP status.

    Waiting on the navigation matters where the new page says the same as the old one (a second wrong password).
    """
    with page.expect_navigation() as navigation:
        control.click()
    return navigation.value.status


def printed_code(emulator, n: int, registration: Registration, fresh) -> tuple[str, object]:
    """The badge code in the QR of the emulator's ``n``-th job (1-based), checked to be this person's valid badge."""
    jobs = emulator.wait_for_jobs(n)
    job = jobs[n - 1]
    assert len(job.images) == 1 and job.cut
    codes = decode_qr(job.images[0])
    assert len(codes) == 1, codes
    fresh()
    valid = db.session.execute(sa.select(Badge).filter_by(registration_id=registration.id, status="valid")).scalar_one()
    assert hash_code(codes[0]) == valid.code_hash  # the QR on paper is the badge that opens doors now
    return codes[0], job.images[0]


def wait_printed(registration: Registration, fresh, *, jobs: int = 1) -> None:
    """Until the print worker has recorded ``jobs`` printed jobs for this person (it confirms after the printer)."""
    def printed() -> bool:
        fresh()
        return db.session.execute(
            sa.select(sa.func.count()).select_from(PrintJob).join(Badge, Badge.id == PrintJob.badge_id)
            .where(Badge.registration_id == registration.id, PrintJob.state == "printed")).scalar_one() >= jobs
    wait_until(printed, what=f"{jobs} printed job(s) for registration {registration.id}")


def card_url(live_server: str, registration: Registration) -> str:
    """The address of this person's attendee card."""
    return f"{live_server}/desk/r/{registration.id}"


# --- the pages render -------------------------------------------------------------------------------------


def test_desk_pages_render_under_the_strict_warnings(staff_page, make_registration, live_server):
    person = make_registration(first_name="Ada", last_name="Lovelace")[0]
    page, _user = staff_page()
    warnings.filterwarnings("error")  # pytest restores the filters afterwards

    for path in (f"/desk/r/{person.registration.id}", "/desk/walk-up", "/desk/printers"):
        response = page.goto(f"{live_server}{path}")
        assert response.status == 200, f"{path}: {response.status}"


# --- signing in -------------------------------------------------------------------------------------------


def test_the_right_password_opens_the_desk_and_a_wrong_one_says_so(live_server, desk_context, make_staff,
                                                                 page_problems):
    make_staff("ana@example.org", role="registrar")
    page = desk_context.new_page()
    page_problems.watch(page)

    page.goto(f"{live_server}/desk/")  # not signed in: sent to the sign-in page

    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()
    page.get_by_label("Email").fill("ana@example.org")
    page.get_by_label("Password").fill(WRONG)
    assert submit(page, page.get_by_role("button", name="Sign in")) == 401
    expect(messages(page, "alert")).to_have_text("Email or password is wrong.")
    expect(page.get_by_label("Email")).to_have_value("ana@example.org")  # kept, so only the password is retyped
    expect(page.get_by_role("link", name="Cases")).to_have_count(0)

    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{live_server}/desk/")
    expect(page.get_by_role("heading", name="Find a person")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out (ana@example.org)")).to_be_visible()
    expect(page.get_by_role("searchbox", name="Search")).to_be_focused()


def _away_from_a_window_edge(settings) -> None:
    """Start well inside a sign-in rate-limit window (fixed windows): the six attempts must share one."""
    window = settings.staff.sign_in_window_minutes * 60
    wait_until(lambda: window - int(time.time()) % window > 15, timeout=20, what="a fresh rate-limit window")


@pytest.mark.parametrize("email", ["ana@example.org", "nobody@example.org"], ids=["known-email", "unknown-email"])
def test_after_five_wrong_passwords_the_sixth_attempt_says_how_long_to_wait(live_server, desk_context, make_staff,
                                                                          page_problems, settings, email):
    make_staff("ana@example.org")
    page = desk_context.new_page()
    page_problems.watch(page)
    page.goto(f"{live_server}/login")
    _away_from_a_window_edge(settings)

    for _attempt in range(5):
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(WRONG)
        assert submit(page, page.get_by_role("button", name="Sign in")) == 401
        expect(messages(page, "alert")).to_have_text("Email or password is wrong.")

    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(STAFF_PASSWORD)  # even the right one waits now
    assert submit(page, page.get_by_role("button", name="Sign in")) == 429

    alert = messages(page, "alert")
    expect(alert).to_have_text(re.compile(r"^Too many sign-in attempts\. Please wait \d+ seconds and try again\.$"))
    seconds = int(re.search(r"wait (\d+) seconds", alert.inner_text()).group(1))
    window = settings.staff.sign_in_window_minutes * 60
    assert 0 < seconds <= window
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()


def test_the_language_chosen_on_the_sign_in_page_stays_at_the_desk(live_server, desk_context, make_staff,
                                                                  page_problems):
    make_staff("ana@example.org")
    page = desk_context.new_page()
    page_problems.watch(page)
    page.goto(f"{live_server}/login")
    page.get_by_role("link", name="Español").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Acceso del personal")

    sign_in(page, "ana@example.org", STAFF_PASSWORD)

    expect(page).to_have_url(f"{live_server}/desk/")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "es"  # the page is there: no need to wait for a change
    expect(page.get_by_role("heading", level=1)).to_have_text("Buscar a una persona")


# --- finding people ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "first_name", "last_name"),
    [("nunez", "María", "Núñez"), ("oneill", "Seán", "O'Neill"), ("παπαδ", "Γιώργος", "Παπαδόπουλος")],
    ids=["accents", "apostrophe", "greek"],
)
def test_typing_part_of_a_name_finds_the_person_and_the_keyboard_opens_the_card(staff_page, make_registration,
                                                                               live_server, typed, first_name,
                                                                               last_name):
    wanted = make_registration(first_name=first_name, last_name=last_name, organization="City of Fresno")[0]
    make_registration(first_name="Nina", last_name="Nunes", organization="City of Oakland")  # near, not a match
    page, _user = staff_page()
    search = page.get_by_role("searchbox", name="Search")
    expect(search).to_be_focused()  # the page opens ready to type

    page.keyboard.type(typed)

    results = page.locator("#results a.result")
    expect(page.locator("#results-count")).to_have_text("1 person")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text(f"{last_name}, {first_name}")
    expect(results.first).to_contain_text("City of Fresno")
    page.keyboard.press("ArrowDown")
    expect(results.first).to_be_focused()
    page.keyboard.press("Enter")

    expect(page).to_have_url(card_url(live_server, wanted.registration))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{first_name} {last_name}")


def test_the_arrow_keys_move_through_several_results(staff_page, make_registration, live_server):
    make_registration(first_name="María", last_name="Núñez")
    make_registration(first_name="Pedro", last_name="Nuñez")
    page, _user = staff_page()
    expect(page.get_by_role("searchbox", name="Search")).to_be_focused()  # a person types once they see it
    page.keyboard.type("nunez")
    results = page.locator("#results a.result")
    expect(results).to_have_count(2)
    expect(page.locator("#results-count")).to_have_text("2 people")

    page.keyboard.press("ArrowDown")
    expect(results.nth(0)).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(results.nth(1)).to_be_focused()
    page.keyboard.press("ArrowDown")  # the last one stays
    expect(results.nth(1)).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(results.nth(0)).to_be_focused()
    page.keyboard.press("ArrowUp")  # back in the box, to type more
    expect(page.get_by_role("searchbox", name="Search")).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    second = results.nth(1).locator(".name").inner_text()  # "Last, First"
    page.keyboard.press("Enter")

    last, first = second.split(", ")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{first} {last}")


def test_search_results_keep_their_columns_whatever_a_row_lacks(staff_page, make_registration):
    make_registration(first_name="María", last_name="Núñez", organization="City of Sacramento")
    make_registration(first_name="Ángel", last_name="Núñez", organization="",
                      badge_name="Ángel Núñez-Villanueva de la Santísima Trinidad")
    make_registration(first_name="Pedro", last_name="Nuñez", organization="City of Los Ángeles")
    page, _user = staff_page()
    page.keyboard.type("nunez")
    results = page.locator("#results a.result")
    expect(results).to_have_count(3)
    shot(page, "search-columns")

    def lefts(cell: str) -> set[int]:
        return {round(results.nth(i).locator(cell).bounding_box()["x"]) for i in range(3)}

    for cell in (".who", ".org", ".email", ".tags"):
        assert len(lefts(cell)) == 1, cell  # every row's cell starts where the others' do
    angel = results.filter(has_text="Villanueva")
    expect(angel.locator(".org")).to_have_text("")
    expect(angel.locator(".who .badge-name")).to_contain_text("Ángel Núñez-Villanueva")
    assert angel.locator(".badge-name").bounding_box()["x"] == angel.locator(".name").bounding_box()["x"]


def test_the_staff_page_in_spanish_keeps_each_button_by_its_input_and_the_heading_clear_of_the_table(
        staff_page, live_server):
    page, _user = staff_page("admin")
    page.goto(f"{live_server}/desk/admin/staff?lang=es")
    shot(page, "staff-es")
    password = page.locator("form.inline-form:has(input[type=password])").first
    field, button = password.locator("input[type=password]").bounding_box(), password.locator("[type=submit]").bounding_box()
    assert 0 <= button["x"] - (field["x"] + field["width"]) <= 16  # beside its input, not across the cell
    assert abs((button["y"] + button["height"]) - (field["y"] + field["height"])) <= 4
    table = page.locator("table.dense").bounding_box()
    heading = page.get_by_role("heading", name="Añadir un usuario del personal").bounding_box()
    assert heading["y"] - (table["y"] + table["height"]) >= 20


def test_nobody_matching_is_said_plainly(staff_page, make_registration):
    make_registration(first_name="Ada", last_name="Lovelace")
    page, _user = staff_page()

    page.keyboard.type("zzyzx")

    expect(page.locator("#results-count")).to_have_text("Nobody matches “zzyzx”.")
    expect(page.locator("#results a.result")).to_have_count(0)


@pytest.mark.parametrize("where", ["search page", "another card"])
def test_a_scanned_registration_code_opens_that_persons_card(staff_page, make_registration, live_server, where):
    person = make_registration(first_name="Grace", last_name="Hopper")[0]
    other = make_registration(first_name="Alan", last_name="Turing")[0]
    page, _user = staff_page()
    if where == "another card":
        page.goto(card_url(live_server, other.registration))
        expect(page.get_by_role("heading", level=1)).to_have_text("Alan Turing")
        desk_ready(page)
        assert page.evaluate("document.activeElement === document.body")  # no field has the focus

    scan(page, person.code)

    expect(page).to_have_url(card_url(live_server, person.registration))
    expect(page.get_by_role("heading", level=1)).to_have_text("Grace Hopper")


@pytest.mark.parametrize("after", ["search results", "health details"])
def test_the_language_links_work_on_a_page_shown_after_a_form(staff_page, make_registration, live_server, after):
    person = make_registration(first_name="Ada", last_name="Lovelace")[0]
    make_registration(first_name="Ada", last_name="Byron")
    page, _user = staff_page()
    if after == "search results":
        page.get_by_role("searchbox", name="Search").fill("ada")
        submit(page, page.get_by_role("button", name="Search", exact=True))  # the search form, sent (no script)
        expect(page.locator("#results a.result")).to_have_count(2)
        spanish_heading = "Buscar a una persona"
    else:
        page.goto(card_url(live_server, person.registration))
        page.get_by_role("button", name="Show health details").click()
        expect(page.locator("#health-details")).to_be_visible()
        spanish_heading = "Ada Lovelace"

    status = submit(page, page.get_by_role("link", name="Español"))

    assert status < 400, f"{page.url} answered {status}"
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", level=1)).to_have_text(spanish_heading)


# --- the card: correct, check in, reprint -------------------------------------------------------------------


def test_a_corrected_name_is_reprinted_and_the_first_badge_is_void(staff_page, make_registration, emulator,
                                                                 settings, fresh, live_server):
    person = make_registration(first_name="Katherine", last_name="Johnson", badge_name="Kathrine Jonson",
                               organization="City of Hampton")[0]
    registration = person.registration
    page, _user = staff_page()
    page.goto(card_url(live_server, registration))
    badges = page.get_by_role("region", name="Check-in and badges")

    badges.get_by_label("Printer").select_option("kiosk-1")
    badges.get_by_role("button", name="Check in and print").click()
    expect(messages(page)).to_have_text("Checked in: the badge is printing on kiosk-1.")
    first_code, first_image = printed_code(emulator, 1, registration, fresh)
    assert first_code.startswith("B1")
    wait_printed(registration, fresh)
    page.reload()
    expect(badges.locator("tbody tr")).to_have_count(1)
    expect(badges.locator("tbody tr")).to_contain_text("valid")
    expect(badges.locator("tbody tr")).to_contain_text("kiosk-1: printed")

    correct = page.get_by_role("region", name="Correct the badge")
    correct.get_by_label("Name on badge", exact=True).fill("Katherine Johnson")
    correct.get_by_role("button", name="Save changes").click()
    expect(messages(page)).to_have_text("Saved.")
    expect(page.locator("dd.badge-name")).to_have_text("Katherine Johnson")

    badges.get_by_text("Reprint the badge").click()
    reprint = page.locator("#reprint-form")
    reprint.get_by_label("Why").select_option(label="Name change")
    reprint.get_by_label("Printer").select_option("kiosk-1")
    reprint.get_by_role("button", name="Reprint badge").click()

    expect(messages(page)).to_have_text(
        re.compile(r"^New badge #\d{6} is printing on kiosk-1; the previous badge is void\.$"))
    new_code, new_image = printed_code(emulator, 2, registration, fresh)
    assert new_code.startswith("B1") and new_code != first_code
    new_badge = db.session.execute(sa.select(Badge).filter_by(code_hash=hash_code(new_code))).scalar_one()
    assert registration.badge_name == "Katherine Johnson"
    assert same_image(new_image, badge_image(settings, registration, new_code, new_badge.serial,
                                             width=new_image.width))  # the corrected name, on paper
    assert first_image.size == new_image.size and not same_image(first_image, new_image)
    wait_printed(registration, fresh, jobs=2)
    page.reload()
    rows = badges.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(f"#{new_badge.serial:06d}")
    expect(rows.nth(0)).to_contain_text("valid")
    expect(rows.nth(0)).to_contain_text("kiosk-1: printed")
    expect(rows.nth(1)).to_contain_text("VOID")
    expect(rows.nth(1)).not_to_contain_text("valid")
    shot(page, "card-after-reprint")

    scan(page, first_code)  # someone hands in the old badge

    expect(messages(page, "alert")).to_have_text("This badge is VOID: it no longer opens doors.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Katherine Johnson")
    assert len(emulator.jobs) == 2


# --- the case queue -----------------------------------------------------------------------------------------


def test_a_person_the_kiosk_sends_to_the_desk_is_queued_and_verify_and_print_closes_the_case(
        open_kiosk, staff_page, make_registration, emulator, fresh, live_server):
    person = make_registration(first_name="Alan", last_name="Turing", health_state="attested")[0]
    desk, _user = staff_page()
    desk.get_by_role("link", name="Cases").click()
    expect(desk.get_by_role("heading", name="Desk cases", level=1)).to_be_visible()
    queue = desk.locator("#case-queue")
    expect(queue.locator(".queue-count")).to_have_text("0 open cases")

    kiosk, _kiosk = open_kiosk()
    scan(kiosk, person.code)
    expect(kiosk.locator("#desk-title")).to_have_text("Please go to the health verification desk")

    row = queue.locator("tbody tr")
    expect(row).to_have_count(1)  # the queue updates by itself
    expect(queue.locator(".queue-count")).to_have_text("1 open case")
    expect(row).to_contain_text("Alan Turing")
    expect(row).to_contain_text("Health proof not verified yet")
    expect(row).to_contain_text("kiosk-a")
    shot(desk, "case-queue")
    row.get_by_role("link", name="Alan Turing").click()

    health = desk.get_by_role("region", name="Health")
    expect(health.locator(".verdict")).to_have_text("Not cleared: Health proof not verified yet")
    expect(desk.get_by_role("region", name="Desk cases")).to_contain_text("Health proof not verified yet")
    health.get_by_label("Proof").select_option(label="Vaccination proof seen")
    health.get_by_label("Verdict").select_option(label="Verified")
    health.get_by_label("Printer").select_option("kiosk-1")
    health.get_by_role("button", name="Verify and print").click()

    expect(messages(desk)).to_have_text("Cleared. Checked in: the badge is printing on kiosk-1.")
    code, _image = printed_code(emulator, 1, person.registration, fresh)
    assert code.startswith("B1")
    expect(health.locator(".verdict")).to_contain_text("Cleared")
    expect(desk.get_by_role("region", name="Desk cases").locator("li.resolved")).to_have_count(1)
    assert count(DeskCase, state="open") == 0

    desk.get_by_role("link", name="Cases").click()
    expect(queue.locator(".queue-count")).to_have_text("0 open cases")
    expect(queue.locator("tbody tr")).to_have_count(0)
    resolved = desk.locator("main table").last
    expect(resolved).to_contain_text("Alan Turing")
    expect(resolved).to_contain_text("health verified (Vaccination proof seen)")


# --- walk-ups -------------------------------------------------------------------------------------------------


def test_a_walk_up_is_registered_printed_and_emailed(staff_page, emulator, fresh, tmp_path, live_server):
    page, _user = staff_page()
    page.get_by_role("link", name="Walk-up").click()
    expect(page.get_by_role("heading", name="Walk-up registration")).to_be_visible()

    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Last name").fill("Hopper")
    page.get_by_label("Email", exact=True).fill("grace.hopper@example.org")
    page.get_by_label("City or organisation").fill("City of Arlington")
    page.get_by_label("Pass", exact=True).select_option(label="Full conference")
    page.get_by_label("Health proof seen").select_option(label="Vaccination proof seen")
    expect(page.get_by_label("Check in and print the badge now")).to_be_checked()
    page.get_by_label("Printer").select_option("kiosk-1")
    page.get_by_role("button", name="Register").click()

    expect(page).to_have_url(re.compile(r"/desk/r/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Grace Hopper")
    expect(messages(page)).to_have_text(["Grace Hopper is registered.",
                                         "Checked in: the badge is printing on kiosk-1."])
    expect(page.locator(".card-head")).to_contain_text("Checked in")
    expect(page.locator(".card-head")).to_contain_text("Cleared")
    fresh()
    registration = db.session.execute(sa.select(Registration).filter_by(email="grace.hopper@example.org")).scalar_one()
    assert page.url == card_url(live_server, registration)
    code, _image = printed_code(emulator, 1, registration, fresh)
    assert code.startswith("B1")
    mail = read_outbox(tmp_path / "outbox")
    assert len(mail) == 1
    assert "grace.hopper@example.org" in mail[0]["To"]
    assert hash_code(qr_in_message(mail[0])) == registration.code_hash  # the QR in the email checks her in


def test_the_browser_asks_for_the_names_before_a_walk_up_is_sent(staff_page, live_server):
    page, _user = staff_page()
    page.goto(f"{live_server}/desk/walk-up")
    requests = []
    page.on("request", lambda request: requests.append(request) if request.method == "POST" else None)

    page.get_by_role("button", name="Register").click()

    expect(page.get_by_label("First name")).to_be_focused()  # the browser points at the first missing field
    assert page.get_by_label("First name").evaluate("input => input.validity.valueMissing")
    assert requests == []
    expect(page).to_have_url(f"{live_server}/desk/walk-up")


@pytest.mark.parametrize(
    ("fields", "status", "errors"),
    [
        ({"First name": "   ", "Last name": "Hopper"}, 400, ["First name: This field is required."]),
        ({"First name": "Grace", "Last name": "Hopper", "Pass": "Guest — Expo & receptions"}, 422,
         ["A guest needs the full registrant they come with: enter the host's email."]),
        ({"First name": "Grace", "Last name": "Hopper", "Email": "taken@example.org"}, 422,
         ["This email is already registered for the event."]),
    ],
    ids=["blank-name", "guest-without-host", "email-taken"],
)
def test_a_refused_walk_up_says_why_and_keeps_what_was_typed(staff_page, make_registration, emulator, live_server,
                                                            fields, status, errors):
    make_registration(first_name="Grace", last_name="Taken", email="taken@example.org")
    page, _user = staff_page()
    page.goto(f"{live_server}/desk/walk-up")
    page.get_by_label("City or organisation").fill("City of Arlington")
    page.get_by_label("Health proof seen").select_option(label="Vaccination proof seen")  # cleared: only `fields` fail
    for label, value in fields.items():
        field = page.get_by_label(label, exact=True)
        if label == "Pass":
            field.select_option(label=value)
        else:
            field.fill(value)

    assert submit(page, page.get_by_role("button", name="Register")) == status

    expect(messages(page, "alert")).to_have_text(errors)
    expect(page.get_by_role("heading", name="Walk-up registration")).to_be_visible()
    expect(page.get_by_label("City or organisation")).to_have_value("City of Arlington")  # nothing to retype
    if status == 400:
        expect(page.get_by_label("First name")).to_have_attribute("aria-invalid", "true")
    shot(page, f"walk-up-refused-{status}")
    assert count(Registration) == 1 and emulator.jobs == []


# --- refusals ---------------------------------------------------------------------------------------------


def test_an_idle_session_expires_and_the_sign_in_page_says_so(app, staff_page, live_server):
    page, user = staff_page()
    app.config["STAFF_IDLE_SECONDS"] = 1
    signed_in_at = time.monotonic()
    wait_until(lambda: time.monotonic() - signed_in_at >= 2, what="two idle seconds")

    page.get_by_role("link", name="Cases").click()

    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(messages(page, "alert")).to_have_text("Your session expired. Please sign in again.")
    app.config["STAFF_IDLE_SECONDS"] = 60
    sign_in(page, user.email, STAFF_PASSWORD)
    expect(page).to_have_url(re.compile(r"/desk/cases\??$"))  # back where they were going
    expect(page.get_by_role("heading", name="Desk cases", level=1)).to_be_visible()


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(staff_page, make_registration, live_server,
                                                                     fresh):
    person = make_registration(first_name="Ada", last_name="Lovelace", badge_name="Ada Lovelace")[0]
    page, _user = staff_page()
    page.goto(card_url(live_server, person.registration))
    correct = page.get_by_role("region", name="Correct the badge")
    correct.get_by_label("Name on badge", exact=True).fill("Countess of Lovelace")
    correct.locator("form").evaluate("form => form.querySelector('input[name$=csrf_token]').remove()")

    assert submit(page, correct.get_by_role("button", name="Save changes")) == 400

    expect(page.get_by_role("heading", level=1)).to_have_text("Bad request")
    fresh()
    assert db.session.get(Registration, person.registration.id).badge_name == "Ada Lovelace"
    page.goto(card_url(live_server, person.registration))
    expect(page.locator("dd.badge-name")).to_have_text("Ada Lovelace")
