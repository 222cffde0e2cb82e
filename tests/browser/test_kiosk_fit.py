"""Every kiosk screen fits the screens kiosks have, in every language, with a long name on it.

1280x800 and 1024x768, landscape and portrait, English and Spanish: each screen is screenshot
(into the test's tmp folder, or ``$LANYARD_KIOSK_SHOTS`` when set) and every visible control must
lie inside the viewport and no text may be cut (an element's scrollWidth within its clientWidth).
The server's answers are stood in for through Playwright's routing, so each screen is reached in
one step, with the longest content it can show.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from .helpers import scan, screen, tap

pytestmark = pytest.mark.browser

SIZES = [(1280, 800), (800, 1280), (1024, 768), (768, 1024)]
LONG_NAME = "María José Rodríguez-Fernández-Villanueva de la Santísima Trinidad"
GUEST = {"badge_name": LONG_NAME, "pass": "guest", "pass_label": "Guest — Expo & receptions",
         "pass_label_es": "Invitado — Expo y recepciones", "band_text": "GUEST — EXPO & RECEPTIONS",
         "band_color": "#c2410c", "guest": True}
JOB = {"id": 7, "url": "/api/v1/print-jobs/7", "preview_url": "/api/v1/print-jobs/7/preview.png",
       "printer": "kiosk-1", "state": "sending", "error_code": ""}

#: What a person can see, checked in the visible screen and in an open dialog.
LAYOUT_PROBLEMS = """() => {
  const width = window.innerWidth, height = window.innerHeight, problems = [];
  const roots = [...document.querySelectorAll('.screen:not([hidden]), dialog[open]')];
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                       ' "' + (el.innerText || el.value || '').trim().slice(0, 30) + '"';
  for (const root of roots) {
    for (const el of root.querySelectorAll('button, input, a[href], [role=button]')) {
      if (!shown(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.left < 0 || r.top < 0 || r.right > width + 0.5 || r.bottom > height + 0.5) {
        problems.push(`${name(el)} outside the viewport: ${Math.round(r.left)},${Math.round(r.top)}-` +
                      `${Math.round(r.right)},${Math.round(r.bottom)}`);
      }
    }
    for (const el of [root, ...root.querySelectorAll('*')]) {
      if (!shown(el) || el.clientWidth === 0) continue;
      if (el.scrollWidth > el.clientWidth + 1) problems.push(`${name(el)} cut: ${el.scrollWidth} > ${el.clientWidth}`);
    }
  }
  if (document.documentElement.scrollWidth > width) problems.push('the page scrolls sideways');
  return problems;
}"""


def badge_png() -> bytes:
    """A badge-shaped preview (the real one is drawn by the server for a real job)."""
    out = io.BytesIO()
    Image.new("RGB", (512, 860), "white").save(out, format="PNG")
    return out.getvalue()


class StandIn:
    """The server's answers for the page, changed by the test between screens."""

    def __init__(self, page):
        self.checkin: tuple[int, dict] = (200, {})
        self.job = dict(JOB)
        self.lookup: list[dict] = []
        preview = badge_png()
        page.route("**/api/v1/checkins", lambda route: self._json(route, *self.checkin))
        page.route("**/api/v1/kiosk/lookup", lambda route: self._json(route, 200, {"matches": self.lookup}))
        page.route("**/api/v1/print-jobs/7", lambda route: self._json(route, 200, {"print_job": self.job}))
        page.route("**/api/v1/print-jobs/7/preview.png",
                   lambda route: route.fulfill(status=200, content_type="image/png", body=preview))

    @staticmethod
    def _json(route, status: int, body: dict) -> None:
        route.fulfill(status=status, content_type="application/json", body=json.dumps(body))

    def answer(self, result: str, **fields) -> None:
        """The next check-in's answer."""
        body = {"result": result, "reason": None, "attendee": GUEST, "print_job": None, "checked_in": None,
                "desk_case": None, "go_to": None}
        body.update(fields)
        self.checkin = (200, body)


def shots_folder(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("LANYARD_KIOSK_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_kiosk_screen_fits(browser, live_server, make_kiosk, page_problems, tmp_path, width, height):
    from .helpers import enrol

    make_kiosk("kiosk-b", printer="kiosk-2", location="Hall B, by the north doors of the Expo")
    _kiosk, enrol_code = make_kiosk(location="Lobby A, opposite the main registration desk")
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US",
                                  timezone_id="America/Los_Angeles")
    folder = shots_folder(tmp_path)
    seen: dict[str, list[str]] = {}
    try:
        page = context.new_page()
        page_problems.watch(page)
        page.clock.install()  # real-time fake timers: the idle warning can be brought forward
        enrol(page, live_server, enrol_code)
        stand_in = StandIn(page)
        for language in ("en", "es"):
            walk(page, stand_in, language, folder / f"{width}x{height}-{language}", seen)
            page.reload()
            expect(page.locator("#kiosk")).to_have_attribute("data-state", "start")
    finally:
        context.close()
    bad = {name: problems for name, problems in seen.items() if problems}
    assert bad == {}, bad
    assert len(seen) == 2 * 19


def walk(page, stand_in: StandIn, language: str, prefix: Path, seen: dict) -> None:
    """Reach every screen in ``language``, checking and screenshooting each."""

    def check(name: str) -> None:
        page.evaluate("document.fonts.ready")
        page.screenshot(path=f"{prefix}-{name}.png")
        seen[f"{prefix.name}-{name}"] = page.evaluate(LAYOUT_PROBLEMS)

    def start_over() -> None:
        page.locator('.screen:not([hidden]) [data-action="reset"]').first.click()
        expect(page.locator("#kiosk")).to_have_attribute("data-state", "start")
        if language == "es":
            page.locator('.lang[data-lang="es"]').click()

    def scan_to(state: str) -> None:
        scan(page, "R1" + "0" * 26)
        expect(page.locator("#kiosk")).to_have_attribute("data-state", state)

    if language == "es":
        page.locator('.lang[data-lang="es"]').click()
        expect(page.locator("html")).to_have_attribute("lang", "es")
    check("start")

    page.locator("#type-code").click()
    tap(page, "R1AB12CD34")
    check("code-entry")
    start_over()

    page.locator("#find-by-name").click()
    tap(page, "Rodriguez")
    check("find-me-keyboard-latin")
    tops = page.evaluate("() => ['last-name', 'second-factor'].map(id => "
                         "document.getElementById(id).getBoundingClientRect().top)")
    if abs(tops[0] - tops[1]) > 0.5:  # a label wrapping onto two lines must not lower its input
        seen[f"{prefix.name}-find-me-keyboard-latin"].append(f"the inputs' tops differ: {tops}")
    for layout in ("greek", "cyrillic"):
        page.locator(f'.layout-key[data-layout-key="{layout}"]').click()
        check(f"find-me-keyboard-{layout}")
    page.locator('.layout-key[data-layout-key="latin"]').click()
    page.locator("#second-factor").click()
    tap(page, "mar")
    stand_in.lookup = [{"selection": f"s{n}", "masked_name": "M. Rod…", "pass_label": "Guest — Expo & receptions",
                        "masked_email": "ma***@s***.gov"} for n in range(3)]
    screen(page, "lookup").locator('button[type="submit"]').click()
    expect(page.locator("#results .result")).to_have_count(3)
    check("find-me-results")
    stand_in.lookup = []
    page.locator("#search-again").click()
    tap(page, "Nobody")
    page.locator("#second-factor").click()
    tap(page, "zzz")
    screen(page, "lookup").locator('button[type="submit"]').click()
    expect(page.locator("#no-match")).to_be_visible()
    check("find-me-no-match")
    start_over()

    stand_in.job = dict(JOB, state="sending")
    stand_in.answer("checked_in", print_job=JOB)
    scan_to("printing")
    expect(page.locator("#badge-preview")).to_be_visible()
    check("printing")
    stand_in.job = dict(JOB, state="held", attention=True,
                        alternative={"kiosk": "kiosk-b", "location": "Hall B, by the north doors of the Expo"})
    expect(page.locator("#print-status")).to_have_class("print-status is-alert")
    check("printer-needs-attention")
    stand_in.job = dict(JOB, state="printed")
    scan_to("done")
    check("checked-in")

    stand_in.answer("checked_in", print_job=JOB)
    stand_in.job = dict(JOB, state="failed")
    scan_to("print_failed")
    expect(page.locator("#print-status")).to_have_class("print-status is-alert")
    check("print-failed")
    start_over()

    stand_in.answer("checked_in", print_job=JOB)
    stand_in.job = dict(JOB, state="printed", printer="kiosk-2")
    scan_to("done")
    check("printed-elsewhere")

    stand_in.answer("already_checked_in", checked_in={"kiosk": "kiosk-b", "at": "2027-09-15T16:05:00Z",
                                                      "location": "Hall B, by the north doors of the Expo"})
    scan_to("already")
    check("already-checked-in")

    stand_in.answer("needs_desk", reason="health_not_cleared", go_to="health_desk", desk_case={"id": 123456})
    scan_to("desk")
    check("needs-desk")

    stand_in.answer("invalid", reason="code_superseded", attendee=None)
    scan_to("invalid")
    check("invalid")

    # An answer screen clears itself after done_seconds: the idle warning is for a screen with a person on it.
    screen(page, "invalid").locator('[data-action="lookup"]').click()
    expect(page.locator("#kiosk")).to_have_attribute("data-state", "lookup")
    page.clock.fast_forward(int(page.locator("#kiosk").get_attribute("data-idle-seconds")) * 1000)
    expect(page.locator("#idle-dialog")).to_be_visible()
    check("still-there")
    page.locator("#still-here").click()
    start_over()

    stand_in.checkin = (503, {"error": {"code": "storage_unavailable", "message": "The database cannot write."}})
    scan(page, "R1" + "0" * 26)
    page.clock.fast_forward(10_000)  # past the retries
    expect(page.locator("#kiosk")).to_have_attribute("data-state", "unavailable")
    check("unavailable")

    page.locator('.screen:not([hidden]) [data-action="reset"]').click()
    stand_in.checkin = (500, {"error": {"code": "server_error", "message": "Something went wrong."}})
    scan(page, "R1" + "0" * 26)
    page.clock.fast_forward(10_000)
    expect(page.locator("#kiosk")).to_have_attribute("data-state", "error")
    check("error")

    page.locator('.screen:not([hidden]) [data-action="reset"]').click()
    stand_in.checkin = (403, {"error": {"code": "kiosk_disabled", "message": "This kiosk is disabled."}})
    scan_to("out")
    check("out-of-service")
