"""The kiosk's answer screens in Chromium: they clear themselves, and the printing screen holds still."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from .helpers import scan, screen

pytestmark = pytest.mark.browser

#: A short ``[kiosk] done_seconds`` for these tests, and no idle warning to clear a screen instead.
SHORT_DONE = {"done_seconds": 1, "idle_seconds": 120}


def moved(before, after) -> float:
    """How far the edges of boxes moved between two layouts, at most (CSS px)."""
    return max(abs(a[key] - b[key]) for a, b in zip(before, after) for key in ("x", "y", "width", "height"))


def state(page):
    """The page's state machine, as the page shows it."""
    return page.locator("#kiosk")


def reach_done(page, person) -> None:
    scan(page, person.code)
    expect(state(page)).to_have_attribute("data-state", "done")


def reach_already(page, person) -> None:
    reach_done(page, person)
    expect(state(page)).to_have_attribute("data-state", "start")
    scan(page, person.code)
    expect(state(page)).to_have_attribute("data-state", "already")


def reach_desk(page, person) -> None:
    scan(page, person.code)
    expect(state(page)).to_have_attribute("data-state", "desk")


def reach_invalid(page, person) -> None:
    scan(page, "HELLO-WORLD")
    expect(state(page)).to_have_attribute("data-state", "invalid")


def reach_print_failed(page, person) -> None:
    def failed(route):  # the worker's "failed" comes after a hold longer than done_seconds: say it at once
        response = route.fetch()
        body = response.json()
        body["print_job"]["state"] = "failed"
        route.fulfill(response=response, json=body)

    page.route("**/api/v1/print-jobs/*", failed)
    scan(page, person.code)
    expect(state(page)).to_have_attribute("data-state", "print_failed")


def reach_attention(page, person) -> None:
    scan(page, person.code)
    expect(state(page)).to_have_attribute("data-state", "attention")


@pytest.mark.parametrize("kiosk_timings", [SHORT_DONE])
@pytest.mark.parametrize(("reach", "registration", "fault"), [
    (reach_done, {}, None),
    (reach_already, {}, None),
    (reach_desk, {"health": None}, None),
    (reach_invalid, {}, None),
    (reach_print_failed, {}, None),
    (reach_attention, {}, "paper_out"),
], ids=["checked-in", "already-checked-in", "needs-desk", "invalid", "print-failed", "printer-needs-attention"])
def test_every_answer_screen_returns_to_the_start_by_itself(open_kiosk, make_registration, emulator, reach,
                                                           registration, fault):
    if fault:
        emulator.set_fault(fault)
    person = make_registration(badge_name="Ethan Okafor", **registration)[0]
    page, _kiosk = open_kiosk()

    reach(page, person)
    expect(page.get_by_role("button", name="Done").locator("visible=true")).to_have_count(1)  # to leave sooner

    expect(state(page)).to_have_attribute("data-state", "start")  # after done_seconds, untouched
    expect(page.locator("#idle-dialog")).to_be_hidden()
    assert "Okafor" not in page.locator("#main").inner_text()


@pytest.mark.parametrize("kiosk_timings", [SHORT_DONE])
def test_done_leaves_an_answer_screen_at_once(open_kiosk, make_registration):
    person = make_registration(badge_name="Ethan Okafor", health=None)[0]
    page, _kiosk = open_kiosk()
    reach_desk(page, person)

    screen(page, "desk").get_by_role("button", name="Done").click()

    expect(state(page)).to_have_attribute("data-state", "start")


@pytest.mark.parametrize(("width", "height"), [(1024, 768), (1280, 800)])
def test_the_printing_screen_does_not_move_when_the_badge_is_printed(open_kiosk, make_registration, context,
                                                                     page_problems, width, height):
    person = make_registration(badge_name="Fatima Moreno")[0]
    page, _kiosk = open_kiosk()
    page.set_viewport_size({"width": width, "height": height})
    page.route("**/api/v1/print-jobs/*", lambda route: route.abort())  # hold the page on "printing"
    scan(page, person.code)
    expect(page.locator("#badge-preview")).to_be_visible()
    expect(state(page)).to_have_attribute("data-state", "printing")
    printing = page.locator("#badge-preview").bounding_box(), page.locator("#print-status").bounding_box()

    page.unroute("**/api/v1/print-jobs/*")
    expect(state(page)).to_have_attribute("data-state", "done")

    page_problems.errors[:] = [e for e in page_problems.errors if "ERR_FAILED" not in e]  # the held polls
    printed = page.locator("#badge-preview").bounding_box(), page.locator("#print-status").bounding_box()
    assert moved(printing, printed) < 0.5  # no layout shift: same places, same sizes


def test_the_preview_box_is_there_before_the_preview_arrives(open_kiosk, make_registration, page_problems):
    person = make_registration()[0]
    page, _kiosk = open_kiosk()
    held = []
    page.route("**/api/v1/print-jobs/*/preview.png", lambda route: held.append(route))  # the preview is on its way
    page.route("**/api/v1/print-jobs/*", lambda route: route.abort())

    scan(page, person.code)
    expect(state(page)).to_have_attribute("data-state", "printing")
    page.wait_for_function("() => document.getElementById('print-state').textContent !== ''")
    waiting = page.locator("#print-status").bounding_box()
    assert len(held) == 1
    held[0].continue_()
    expect(page.locator("#badge-preview")).to_be_visible()

    page_problems.errors[:] = [e for e in page_problems.errors if "ERR_FAILED" not in e]
    assert moved([waiting], [page.locator("#print-status").bounding_box()]) < 0.5  # its arrival moves nothing


def test_the_badge_preview_is_drawn_smooth_not_jagged(open_kiosk, make_registration):
    person = make_registration(badge_name="Fatima Moreno")[0]
    page, _kiosk = open_kiosk()

    scan(page, person.code)
    preview = page.locator("#badge-preview")
    expect(preview).to_be_visible()
    expect(state(page)).to_have_attribute("data-state", "done")
    natural = page.evaluate("() => document.getElementById('badge-preview').naturalWidth")
    assert preview.bounding_box()["width"] < natural  # shown smaller than drawn, so it is filtered

    shot = Image.open(io.BytesIO(preview.screenshot(animations="disabled"))).convert("L")
    inner = shot.crop((6, 6, shot.width - 6, shot.height - 6))  # inside the border
    greys = sum(count for level, count in enumerate(inner.histogram()) if 40 < level < 215)
    # A 1-bit raster scaled down by nearest neighbour stays black and white, with jagged edges; filtered,
    # the edges of its letters get grey steps.
    assert greys > 0.005 * inner.width * inner.height
