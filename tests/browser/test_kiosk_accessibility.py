"""axe-core on every kiosk screen: no violations of any impact (the bar is serious and critical), AAA contrast (7:1) included."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from registration.audit import Actor
from registration.extensions import db

from .helpers import axe_violations, scan, screen, tap

pytestmark = pytest.mark.browser


def test_every_kiosk_screen_passes_axe_core(app, open_kiosk, make_registration, emulator,
                                                                     live_server, context):
    full = make_registration(first_name="Ada", last_name="Quixote", email="dulcinea@example.org")[0]
    not_cleared = make_registration(health=None)[0]
    page, kiosk = open_kiosk()
    found: dict[str, list] = {}

    def check(name: str) -> None:
        found[name] = axe_violations(page, impacts=("minor", "moderate", "serious", "critical"))

    check("start")
    page.get_by_role("button", name="Español").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    check("start (Spanish)")
    page.get_by_role("button", name="English").click()

    page.locator("#type-code").click()
    tap(page, "R1AB")
    check("code entry")
    screen(page, "code").get_by_role("button", name="Back").click()

    page.locator("#find-by-name").click()
    tap(page, "Quixote")
    check("name lookup")
    page.locator('.layout-key[data-layout-key="greek"]').click()
    check("name lookup, Greek keyboard")
    page.locator('.layout-key[data-layout-key="latin"]').click()
    page.locator("#second-factor").click()
    tap(page, "dul")
    screen(page, "lookup").get_by_role("button", name="Search").click()
    expect(page.locator("#results .result")).to_have_count(1)
    check("results")
    page.locator("#results .result").first.click()
    expect(screen(page, "printing")).to_be_visible()
    check("welcome / printing")
    expect(page.locator("#print-headline")).to_have_text("Printed — take your badge")
    check("printed")

    scan(page, full.code)
    expect(screen(page, "already")).to_be_visible()
    check("already checked in")
    scan(page, not_cleared.code)
    expect(screen(page, "desk")).to_be_visible()
    check("needs desk")
    scan(page, "NOT-A-CODE")
    expect(screen(page, "invalid")).to_be_visible()
    check("invalid code")

    page.locator('[data-screen="invalid"] [data-action="lookup"]').click()
    screen(page, "lookup").get_by_role("button", name="Search").click()
    expect(page.locator("#lookup-error")).not_to_be_empty()
    check("name lookup with a message")

    page.clock.install()  # fake timers from the next load on, still running at the real pace
    page.reload()
    # An answer screen (invalid) clears itself after done_seconds: the idle warning shows on a screen being used.
    page.locator("#find-by-name").click()
    expect(screen(page, "lookup")).to_be_visible()
    page.clock.fast_forward(int(page.locator("#kiosk").get_attribute("data-idle-seconds")) * 1000)
    expect(page.locator("#idle-dialog")).to_be_visible()
    check("idle warning")

    from kiosk.services import disable_kiosk

    disable_kiosk(kiosk, actor=Actor.system("test"))
    db.session.commit()
    page.locator("#still-here").click()
    page.locator('[data-screen="lookup"] [data-action="reset"]').click()
    scan(page, full.code)
    expect(screen(page, "out")).to_be_visible()
    check("out of service (in the page)")
    page.goto(f"{live_server}/kiosk/")
    expect(page.locator("h1")).to_have_text("Out of service")
    check("out of service (server page)")

    other = context.browser.new_context()
    try:
        page = other.new_page()
        page.goto(f"{live_server}/kiosk/")
        check("not enrolled")
        page.goto(f"{live_server}/kiosk/enrol/E1NOTAREALCODE")
        check("bad enrolment link")
        from kiosk.services import rotate_kiosk_token

        _token, enrol_code = rotate_kiosk_token(kiosk, actor=Actor.system("test"))
        db.session.commit()
        page.goto(f"{live_server}/kiosk/enrol/{enrol_code}")
        expect(page.locator("h1")).to_contain_text("Make this browser kiosk")
        check("enrolment confirmation")
    finally:
        other.close()

    bad = {name: v for name, v in found.items() if v}
    assert bad == {}, bad
    assert len(found) == 18
