"""End to end: people check in at a kiosk, their badges print on emulated printers, the badge codes are read back
from the printed rasters, and the door API decides them; the desk reprints one badge and the old one stops."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from registration.audit import Actor
from registration.extensions import db
from registration.models import HealthRecord, utcnow
from tests.helpers import decode_qr

NETWORK_PRINTERS = ("kiosk-1", "desk")


@pytest.fixture
def emulators():
    """An ESC/POS printer emulator on loopback for the kiosk's printer and the desk's."""
    from printers import PrinterEmulator

    started = {}
    try:
        for name in NETWORK_PRINTERS:
            started[name] = PrinterEmulator().start()
        yield started
    finally:
        for emulator in started.values():
            emulator.stop()


@pytest.fixture
def app(make_app, emulators):
    """The app printing on the emulators (short timeouts), an application context pushed."""
    printers = "".join(f'[printers.{name}]\nbackend = "network"\nhost = "127.0.0.1"\nport = {emulators[name].port}\n'
                       f'connect_timeout = 0.5\nio_timeout = 2\n\n' for name in NETWORK_PRINTERS)
    app = make_app(printers=printers)
    with app.app_context():
        yield app


def _print_everything(app) -> None:
    """Run the print worker until the queue is empty."""
    from registration.printing.worker import process_once

    db.session.commit()  # never leave the test's own transaction open under the worker
    for _ in range(20):
        if not process_once(app, worker_id="e2e-worker"):
            break
    db.session.expire_all()


def _printed_codes(emulator, count: int) -> list[str]:
    """The badge codes read back from the QR codes in the rasters the printer received."""
    return [text for job in emulator.wait_for_jobs(count) for image in job.images for text in decode_qr(image)]


def test_kiosk_badges_at_the_door_guest_reprint_registration_code_and_expired_test(app, emulators, event, settings,
                                                                                   make_registration, make_door_user):
    from kiosk.services import add_kiosk

    # A full attendee with a guest, and a person whose negative test (taken 71 hours ago) still clears them.
    full, guest = make_registration(badge_name="Ana Full", guests=[{"first_name": "Gus"}])
    tested = make_registration(badge_name="Tess Tested", health="negative_test", health_state="verified",
                               test_taken_at=utcnow() - timedelta(hours=71))[0]
    _kiosk, kiosk_token, _enrol = add_kiosk(event, name="lobby-1", printer_name="kiosk-1", settings=settings,
                                            actor=Actor.system("test"))
    db.session.commit()
    client = app.test_client()
    for person in (full, guest, tested):
        response = client.post("/api/v1/checkins", json={"code": person.code, "nonce": uuid.uuid4().hex},
                               headers={"Authorization": f"Bearer {kiosk_token}"})
        assert response.get_json()["result"] == "checked_in", response.get_json()
    _print_everything(app)
    printed = _printed_codes(emulators["kiosk-1"], 3)
    assert len(printed) == 3 and all(code.startswith("B1") for code in printed)

    _door_user, door_token = make_door_user("door")
    door = {"Authorization": f"Bearer {door_token}"}

    def scan(code, area, **fields):
        response = client.post("/api/v1/scans", headers=door, json={"code": code, "area": area, "door": "Main",
                                                                     "nonce": uuid.uuid4().hex, **fields})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    # Which printed badge is whose: the door's answer names the holder.
    by_name = {scan(code, "receptions")["attendee"]["badge_name"]: code for code in printed}
    assert set(by_name) == {"Ana Full", guest.registration.badge_name, "Tess Tested"}
    guest_badge, full_badge = by_name[guest.registration.badge_name], by_name["Ana Full"]

    assert scan(guest_badge, "expo")["result"] == "admit"
    denied = scan(guest_badge, "breakouts")
    assert (denied["result"], denied["reason"], denied["attendee"]["pass_label"]) == (
        "deny", "area_denied", "Guest — Expo & receptions")
    assert scan(full_badge, "breakouts")["result"] == "admit"

    # The desk reprints the full attendee's badge (lost): the old one is void, the new one opens doors.
    _registrar, registrar_token = make_door_user("registrar")
    reprint = client.post(f"/api/v1/registrations/{full.registration.id}/badges",
                          headers={"Authorization": f"Bearer {registrar_token}"},
                          json={"reason": "lost", "printer": "desk", "nonce": uuid.uuid4().hex})
    assert reprint.status_code == 201, reprint.get_data(as_text=True)
    _print_everything(app)
    [new_badge] = _printed_codes(emulators["desk"], 1)
    old = scan(full_badge, "expo")
    assert (old["result"], old["reason"], old["replaced_by_serial"]) == ("deny", "badge_void",
                                                                          reprint.get_json()["serial"])
    assert old["attendee"]["badge_name"] == "Ana Full"
    assert scan(new_badge, "expo")["result"] == "admit"

    # The email's registration code is no badge.
    assert scan(full.code, "expo")["reason"] == "wrong_code_kind"

    # Two hours later the negative test has run out (72 hours), during the event: moved here by moving the
    # test's time back rather than by waiting.
    assert scan(by_name["Tess Tested"], "expo")["result"] == "admit"
    db.session.execute(sa.update(HealthRecord).where(HealthRecord.registration_id == tested.registration.id)
                       .values(test_taken_at=utcnow() - timedelta(hours=73), expires_at=None))
    db.session.commit()
    expired = scan(by_name["Tess Tested"], "expo")
    assert (expired["result"], expired["reason"]) == ("deny", "health_not_cleared")
