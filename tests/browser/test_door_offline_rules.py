"""The door page's offline decision (registration/static/door/offline.js), run in Chromium over a hand-made copy:
every reason the page can give on its own, in the documented order, as one table."""

from __future__ import annotations

import hashlib

import pytest
from playwright.sync_api import expect

from .conftest import STAFF_PASSWORD
from .helpers import sign_in

pytestmark = pytest.mark.browser

#: The moment every case is decided at: 2027-09-15 10:30 in Sacramento.
NOW = "2027-09-15T17:30:00Z"


def badge(letter: str) -> str:
    """A well-formed badge code, different for each letter."""
    return "B1" + letter * 26


def digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def entry(code: str, **changes) -> dict:
    """A badge of the copy: a full pass that opens the area, cleared with no end, unless ``changes`` say otherwise."""
    return {"digest": digest(code), "badge_name": f"Holder of {code[2]}", "pass": "full",
            "pass_label": "Full conference", "admits": True, "cleared_until": None, "cleared": True, **changes}


AREA = {"name": "caucus", "label": "Caucus meetings", "capacity": 10, "occupancy": 3, "reentry": False,
        "open": [["2027-09-15T08:00", "2027-09-15T12:00"]]}  # as in config.toml: the event's local time

COPY = {
    "area": AREA,
    "offline_unknown": "deny",
    "badges": [entry(badge("A")), entry(badge("G"), pass_="guest"),
               entry(badge("C"), admits=False, **{"pass": "guest", "pass_label": "Guest — Expo & receptions"}),
               entry(badge("D"), cleared=False), entry(badge("E"), cleared_until="2027-09-15T17:00:00Z"),
               entry(badge("F"), cleared_until="2027-09-16T17:00:00Z"), entry(badge("H"))],
    "void": [digest(badge("V"))],
}

#: (what is scanned, options, expected result, expected reason)
CASES = [
    ("hello", {}, "deny", "code_malformed"),
    ("B1" + "A" * 25, {}, "deny", "code_malformed"),  # one character short
    ("R1" + "A" * 26, {}, "deny", "wrong_code_kind"),  # the email's registration code
    ("K1" + "A" * 26, {}, "deny", "wrong_code_kind"),  # a kiosk token
    (badge("V"), {}, "deny", "badge_void"),
    (badge("V"), {"direction": "out"}, "deny", "badge_void"),
    (badge("W"), {}, "deny", "code_unknown"),
    (badge("W"), {"offline_unknown": "admit"}, "admit", None),
    (badge("W"), {"direction": "out"}, "deny", "code_unknown"),
    (badge("C"), {}, "deny", "area_denied"),
    (badge("C"), {"direction": "out"}, "admit", None),  # nobody is kept in
    (badge("D"), {}, "deny", "health_not_cleared"),
    (badge("E"), {}, "deny", "health_not_cleared"),  # a negative test that ran out at 10:00
    (badge("F"), {}, "admit", None),  # cleared until tomorrow
    (badge("A"), {"now": "2027-09-15T19:00:00Z"}, "deny", "area_closed"),  # 12:00 local: the window has closed
    (badge("A"), {"now": "2027-09-15T14:59:00Z"}, "deny", "area_closed"),  # 07:59 local
    (badge("A"), {"now": "2027-09-15T15:00:00Z"}, "admit", None),  # 08:00 local
    (badge("H"), {"inside": [badge("H")]}, "deny", "already_inside"),
    (badge("H"), {"inside": [badge("H")], "direction": "out"}, "admit", None),
    (badge("A"), {"occupancy": 10}, "deny", "area_full"),
    (badge("A"), {"occupancy": 9}, "admit", None),
    ("b1-aaaa aaaa-" + "a" * 18, {}, "admit", None),  # typed: any case, dashes and spaces
    ("B1" + "O" * 26, {}, "deny", "badge_void"),  # O is read as 0 (Crockford), and 0000… is void below
    ("B1" + "L" * 26, {"void": ["B1" + "1" * 26]}, "deny", "badge_void"),  # and L (or I) as 1
]


@pytest.fixture
def door_module(live_server, browser, make_staff, page_problems):
    """A signed-in door page with offline.js imported into it as window.doorOffline (no service worker: only the
    module is under test)."""
    make_staff("door@example.org", role="door")
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    page_problems.watch(page)
    page.goto(f"{live_server}/door/")
    sign_in(page, "door@example.org", STAFF_PASSWORD)
    expect(page.locator("#door")).to_have_attribute("data-state", "setup")
    page.evaluate("async () => { window.doorOffline = await import('/static/door/offline.js'); }")
    yield page
    context.close()


def test_every_offline_reason_in_its_order(door_module):
    cases = []
    for raw, options, _result, _reason in CASES:
        voided = [digest(code) for code in options.get("void", [])] + COPY["void"]
        if raw == "B1" + "O" * 26:
            voided.append(digest("B1" + "0" * 26))
        cases.append({
            "raw": raw, "direction": options.get("direction", "in"), "now": options.get("now", NOW),
            "offline_unknown": options.get("offline_unknown", COPY["offline_unknown"]),
            "occupancy": options.get("occupancy", AREA["occupancy"]),
            "inside": [digest(code) for code in options.get("inside", [])], "void": voided,
        })
    decided = door_module.evaluate(
        """async ([copy, cases]) => {
            const out = [];
            for (const c of cases) {
                const local = {occupancy: c.occupancy, inside: new Set(c.inside)};
                const theCopy = {...copy, offline_unknown: c.offline_unknown,
                                 badges: new Map(copy.badges.map((b) => [b.digest, b])), void: new Set(c.void)};
                const answer = await window.doorOffline.decide(theCopy, c.raw, {
                    direction: c.direction, now: Date.parse(c.now), timeZone: "America/Los_Angeles", local});
                out.push([answer.result, answer.reason]);
            }
            return out;
        }""", [COPY, cases])
    expected = [[result, reason] for _raw, _options, result, reason in CASES]
    mismatches = [(CASES[i][0], CASES[i][1], expected[i], decided[i]) for i in range(len(CASES))
                  if decided[i] != expected[i]]
    assert mismatches == []


def test_the_pass_that_was_shown_comes_with_a_refusal(door_module):
    answer = door_module.evaluate(
        """async ([copy, raw]) => window.doorOffline.decide(
               {...copy, badges: new Map(copy.badges.map((b) => [b.digest, b])), void: new Set(copy.void)}, raw,
               {direction: "in", now: Date.parse("2027-09-15T17:30:00Z"), timeZone: "America/Los_Angeles",
                local: {occupancy: 0, inside: new Set()}})""", [COPY, badge("C")])
    assert answer["reason"] == "area_denied"
    assert answer["attendee"] == {"badge_name": "Holder of C", "pass": "guest",
                                  "pass_label": "Guest — Expo & receptions"}
