"""axe-core on every desk page, in English and in Spanish: no serious or critical violation, AAA contrast (7:1)
included (the helper turns on ``color-contrast-enhanced``)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from registration.audit import Actor
from registration.extensions import db
from registration.printing.models import Badge, PrintJob

from .helpers import axe_violations, shot, sign_in, wait_until

pytestmark = pytest.mark.browser

LANGUAGES = ("en", "es")


def _jobs_in(registration, states: tuple[str, ...], fresh) -> int:
    fresh()
    return db.session.execute(
        sa.select(sa.func.count()).select_from(PrintJob).join(Badge, Badge.id == PrintJob.badge_id)
        .where(Badge.registration_id == registration.id, PrintJob.state.in_(states))).scalar_one()


def _void_badge_and_stuck_job(registration, *, user, event, settings, emulator, fresh) -> None:
    """Check in at the desk on kiosk-1 and let it print; then paper runs out and a reprint waits: one VOID badge,
    one print job waiting for staff."""
    from registration.desk.services import check_in_at_desk, reprint_badge

    actor = Actor.for_staff(user)
    check_in_at_desk(event, registration, actor=actor, settings=settings, nonce=uuid.uuid4().hex,
                     printer_name="kiosk-1")
    db.session.commit()
    wait_until(lambda: _jobs_in(registration, ("printed",), fresh) == 1, what="the first badge printed")
    emulator.set_fault("paper_out")
    reprint_badge(registration, reason="lost", actor=actor, settings=settings, nonce=uuid.uuid4().hex,
                  printer_name="kiosk-1")
    db.session.commit()
    wait_until(lambda: _jobs_in(registration, ("held", "failed", "needs_decision"), fresh) == 1,
               what="the reprint held by the paper-out printer")


def _sent_to_the_desk(registration, *, kiosk, event, settings) -> None:
    """The kiosk scanned a person who is not cleared: no badge, a desk case."""
    from registration.checkin.services import check_in

    outcome = check_in(event, registration=registration, kiosk=kiosk, nonce=uuid.uuid4().hex, settings=settings)
    assert outcome.result == "needs_desk"
    db.session.commit()


def test_every_desk_page_passes_axe_core_in_english_and_spanish(staff_page, make_registration, make_kiosk, emulator,
                                                                live_server, browser, settings, event, fresh,
                                                                page_problems):
    found: dict[str, list] = {}

    def check(page, name: str, lang: str) -> None:
        expect(page.locator("html")).to_have_attribute("lang", lang)
        key = f"{name} [{lang}]"
        found[key] = axe_violations(page)
        shot(page, f"axe-{name.replace(' ', '-')}-{lang}")

    # Nobody signed in: the sign-in page, and the same after a wrong password.
    outside = browser.new_context()
    try:
        page = outside.new_page()
        page_problems.watch(page)
        for lang in LANGUAGES:
            page.goto(f"{live_server}/login?lang={lang}")
            check(page, "sign-in", lang)
            sign_in(page, "nobody@example.org", "not-the-password")
            expect(page.locator("main [role=alert]")).to_be_visible()
            check(page, "sign-in with an error", lang)
    finally:
        outside.close()

    desk, admin = staff_page("admin", name="Ada Admin")

    def go(path: str, lang: str) -> None:
        desk.goto(f"{live_server}{path}{'&' if '?' in path else '?'}lang={lang}")

    # Before anything happened: nothing found, no cases, an empty walk-up form.
    for lang in LANGUAGES:
        go("/desk/", lang)
        check(desk, "search (empty)", lang)
        go("/desk/cases", lang)
        expect(desk.locator("#case-queue .queue-count")).to_be_visible()
        check(desk, "cases (empty)", lang)
        go("/desk/walk-up", lang)
        check(desk, "walk-up", lang)
        desk.locator("#walkup-first_name").fill("   ")
        desk.locator("#walkup-last_name").fill("Hopper")
        desk.locator("#walkup-form [type=submit]").click()
        expect(desk.locator("main [role=alert]")).to_be_visible()
        check(desk, "walk-up refused", lang)
        go("/desk/printers", lang)
        check(desk, "printers (no kiosk)", lang)
        go("/desk/admin/staff", lang)
        check(desk, "staff", lang)

    # A day at the desk: a person with a guest, one with a void badge and a stuck reprint, one sent by a kiosk.
    host, guest = make_registration(first_name="Ada", last_name="Lovelace", organization="City of Sacramento",
                                    title="Council member", guests=[{"first_name": "Byron", "last_name": "King"}])
    reprinted = make_registration(first_name="Katherine", last_name="Johnson", organization="City of Hampton")[0]
    waiting = make_registration(first_name="Alan", last_name="Turing", health_state="attested")[0]
    kiosk, _enrol = make_kiosk("kiosk-a")
    _void_badge_and_stuck_job(reprinted.registration, user=admin, event=event, settings=settings, emulator=emulator,
                              fresh=fresh)
    _sent_to_the_desk(waiting.registration, kiosk=kiosk, event=event, settings=settings)

    for lang in LANGUAGES:
        go("/desk/", lang)
        desk.locator("#q").fill("a")
        expect(desk.locator("#results a.result").first).to_be_visible()
        check(desk, "search (results)", lang)
        go(f"/desk/r/{host.registration.id}", lang)
        check(desk, "card", lang)
        desk.locator("form[action$='/health-details'] button").click()
        expect(desk.locator("#health-details")).to_be_visible()
        check(desk, "card with health details", lang)
        go(f"/desk/r/{guest.registration.id}", lang)
        check(desk, "card of a guest", lang)
        go(f"/desk/r/{reprinted.registration.id}", lang)
        expect(desk.locator(".job-actions")).to_have_count(1)
        expect(desk.locator("tr.void")).to_have_count(1)
        check(desk, "card with a void badge and a stuck job", lang)
        go(f"/desk/r/{waiting.registration.id}", lang)
        check(desk, "card of a person not cleared", lang)
        go("/desk/cases", lang)
        expect(desk.locator("#case-queue tbody tr").first).to_be_visible()
        check(desk, "cases", lang)
        go("/desk/printers", lang)
        expect(desk.locator(".job-actions")).to_have_count(1)
        check(desk, "printers (a printer out of paper)", lang)

    assert len(found) == 2 * 16  # every page above, in both languages
    bad = {name: violations for name, violations in found.items() if violations}
    assert bad == {}, "\n".join(f"{name}: {v['id']} ({v['impact']}) {v['nodes']}"
                                 for name, violations in bad.items() for v in violations)
