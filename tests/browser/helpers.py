"""Helpers for the browser tests: scanning, screens, axe-core and database counts."""

from __future__ import annotations

import os
import time
from pathlib import Path

import sqlalchemy as sa

from registration.extensions import db

AXE = Path(__file__).parent / "vendor" / "axe.min.js"

def desk_ready(page) -> None:
    """Wait until a desk page's script has wired it up (keys typed before that go to no listener)."""
    from playwright.sync_api import expect

    expect(page.locator("html[data-ready]")).to_have_count(1)


def scan(page, code: str) -> None:
    """Type a code as a keyboard-wedge scanner does: keystrokes then Enter, no field focused."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def enrol(page, base_url: str, enrol_code: str) -> None:
    """Open an enrolment link and confirm it, as the person setting the kiosk up does."""
    from playwright.sync_api import expect

    page.goto(f"{base_url}/kiosk/enrol/{enrol_code}")
    expect(page).to_have_url(f"{base_url}/kiosk/enrol")
    page.get_by_role("button", name="Make this browser the kiosk").click()
    expect(page).to_have_url(f"{base_url}/kiosk/")
    # The server's HTML shows the start screen before kiosk.js listens for a scanner: wait for the script.
    expect(page.locator("#kiosk")).to_have_attribute("data-state", "start")


def screen(page, name: str):
    """The section of screen ``name``."""
    return page.locator(f'[data-screen="{name}"]')


def axe_violations(page, *, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core in the page; the violations of the given impacts (id, impact, help, offending nodes)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the page's CSP (no inline scripts) stays on.
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations'],
                                              rules: {'color-contrast-enhanced': {enabled: true}}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                           nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
        }"""
    )
    return [v for v in result if v["impact"] in impacts]


def count(model, **where) -> int:
    """Rows of ``model`` matching ``where``."""
    return db.session.execute(sa.select(sa.func.count()).select_from(model).filter_by(**where)).scalar_one()


def tap(page, text: str) -> None:
    """Type ``text`` on the kiosk's on-screen keyboard, one key press (click) per character."""
    for char in text.upper():
        page.locator(f'.key[data-key="{char}"]:visible').click()


def sign_in(page, email: str, password: str) -> None:
    """Fill the staff sign-in form on the page and send it."""
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("main form button[type=submit]").click()


def wait_until(condition, *, timeout: float = 15, what: str = "the condition") -> None:
    """Poll ``condition`` (a callable) until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


#: Print-job states no worker moves on from: once every job is in one, nothing more can reach a printer.
SETTLED_STATES = ("printed", "failed", "needs_decision", "cancelled")


def settled_jobs(fresh, *, timeout: float = 15) -> list[str]:
    """Wait until every print job is in a settled state (as the worker committed it); returns the states."""
    from registration.printing.models import PrintJob

    def states() -> list[str]:
        fresh()
        return db.session.execute(sa.select(PrintJob.state).order_by(PrintJob.id)).scalars().all()

    wait_until(lambda: all(state in SETTLED_STATES for state in states()), timeout=timeout,
               what="every print job to settle")
    return states()


def badge_image(settings, registration, code: str, serial: int, *, width: int):
    """The badge image a printer should receive for ``registration`` (as it is now) with badge ``code``."""
    from printers import BadgeData, render_badge

    rtype = settings.registration_types[registration.type_name]
    data = BadgeData(badge_name=registration.badge_name, band_text=rtype.band_text, event_name=settings.event.name,
                     code=code, title=registration.title, organization=registration.organization,
                     band_color=rtype.band_color, serial=f"#{serial:06d}")
    return render_badge(data, width=width).image


def same_image(a, b) -> bool:
    """Pixel-for-pixel equality of two black-and-white images."""
    from PIL import ImageChops

    a, b = a.convert("1"), b.convert("1")
    return a.size == b.size and ImageChops.difference(a.convert("L"), b.convert("L")).getbbox() is None


def shot(page, name: str) -> None:
    """A full-page screenshot of what the page shows now, in ``$LANYARD_DESK_SHOTS`` (only when that is set)."""
    folder = os.environ.get("LANYARD_DESK_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
