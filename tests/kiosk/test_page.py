"""The kiosk page as the server renders it: what the script gets from the page, and from nowhere else."""

from __future__ import annotations

import json
import re
from pathlib import Path

from registration.extensions import db
from tests.checkin.conftest import PRINTERS

SCRIPTS = Path(__file__).parents[2] / "kiosk" / "static"


def bound_page(app, kiosk) -> str:
    """The kiosk page as a browser bound to ``kiosk`` gets it."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["kiosk"] = {"id": kiosk.id, "generation": kiosk.generation}
    response = client.get("/kiosk/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_kiosk_timings_of_the_settings_reach_the_page(make_app):
    from kiosk.services import add_kiosk
    from registration.audit import Actor
    from registration.services import current_event

    app = make_app(printers=PRINTERS, extra="""
        [kiosk]
        idle_seconds = 45
        warning_seconds = 7
        done_seconds = 5
        poll_ms = 250
        heartbeat_seconds = 90
    """)
    with app.app_context():
        settings = app.extensions["lanyard"]
        kiosk = add_kiosk(current_event(settings), name="kiosk-a", printer_name="kiosk-1", settings=settings,
                          actor=Actor.system("test"))[0]
        db.session.commit()
        page = bound_page(app, kiosk)
    attributes = dict(re.findall(r'data-(idle-seconds|warning-seconds|done-seconds|poll-ms|heartbeat-seconds)'
                                 r'="(\d+)"', page))
    assert attributes == {"idle-seconds": "45", "warning-seconds": "7", "done-seconds": "5", "poll-ms": "250",
                          "heartbeat-seconds": "90"}


def test_the_script_holds_no_copy_of_a_timing():
    script = (SCRIPTS / "kiosk.js").read_text(encoding="utf-8")
    for name in ("idleSeconds", "warningSeconds", "doneSeconds", "pollMs", "heartbeatSeconds"):
        assert f"cfg.{name}" in script
    assert not re.search(r"\b(30|400|60)\s*\*\s*1000\b|\b(IDLE|POLL|DONE)_MS\s*=\s*\d", script)


def test_the_page_json_blocks_parse(app, kiosk):
    page = bound_page(app, kiosk)
    blocks = re.findall(r'<script type="application/json" id="([\w-]+)">(.*?)</script>', page, re.S)
    assert {name for name, _ in blocks} >= {"kiosk-messages", "kiosk-pass-labels"}
    for _name, text in blocks:
        json.loads(text)


def json_block(page: str, name: str):
    """The JSON data block ``name`` of the page."""
    return json.loads(re.search(rf'<script type="application/json" id="{name}">(.*?)</script>', page, re.S)[1])


def test_a_pass_that_opens_some_areas_says_which_in_words(app, kiosk):
    access = json_block(bound_page(app, kiosk), "kiosk-pass-access")

    # The guest pass's access areas, not its label again; the full pass opens everything and is not listed.
    assert access == {"guest": {"en": "the Expo and the receptions", "es": "la Expo y las recepciones"}}


def test_an_area_without_a_label_is_named_by_its_setting(app):
    from kiosk.views import AREA_LABELS, area_label

    with app.test_request_context():
        assert area_label("vip_lounge") == "vip lounge"
        assert area_label("expo") == "the Expo"
    assert set(AREA_LABELS) >= set(app.extensions["lanyard"].event.areas)  # every configured area has a label


def test_the_page_never_shows_a_kiosk_or_printer_name(app, kiosk):
    page = bound_page(app, kiosk)
    shown = re.sub(r"<script.*?</script>|<[^>]+>", " ", page, flags=re.S)  # text, not attributes or data

    assert "Lobby A" in shown
    assert kiosk.name not in shown and kiosk.printer_name not in shown
    messages = json_block(page, "kiosk-messages")
    assert not [text for table in messages.values() for text in table.values()
                if kiosk.name in text or kiosk.printer_name in text or "{kiosk}" in text]
