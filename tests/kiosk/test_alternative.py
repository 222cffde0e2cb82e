"""Where a kiosk with a faulty printer sends people: another kiosk whose printer is not known to be faulty."""

import pytest

from registration.extensions import db
from registration.printing.models import PrinterState


@pytest.mark.parametrize(
    "other_state, offered",
    [
        (None, True),  # never heard from (a preview printer before its first badge)
        ({"online": None, "error_code": ""}, True),
        ({"online": True, "error_code": ""}, True),
        ({"online": False, "error_code": "printer_offline"}, False),
        ({"online": True, "error_code": "paper_out"}, False),
    ],
)
def test_the_alternative_kiosk_is_one_whose_printer_is_not_known_to_be_faulty(
        api, make_kiosk_client, make_registration, other_state, offered):
    make_kiosk_client("kiosk-b", printer="kiosk-2", location="Lobby B")
    db.session.add(PrinterState(name="kiosk-1", online=False, error_code="paper_out"))
    if other_state is not None:
        db.session.add(PrinterState(name="kiosk-2", **other_state))
    db.session.commit()
    job = api.check_in(make_registration()[0].code).get_json()["print_job"]
    status = api.get(job["url"]).get_json()["print_job"]
    assert status["attention"] is True
    expected = {"kiosk": "kiosk-b", "location": "Lobby B"} if offered else None
    assert status["alternative"] == expected

