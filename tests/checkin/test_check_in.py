"""The check-in service: every result and reason, nonce replays, desk cases, one badge per person."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from registration.audit import Actor
from registration.checkin.models import CheckIn, CheckInRequest
from registration.desk.models import DeskCase
from registration.checkin.services import REASONS, check_in, selection_token
from registration.codes import new_code
from registration.errors import CODES, LanyardError
from registration.extensions import db
from registration.models import Event, utcnow
from registration.printing.models import Badge, PrintJob
from registration.services import cancel_registration, rotate_codes


def nonce() -> str:
    return uuid.uuid4().hex


def _cleared(make_registration, **_):
    return {"code": make_registration()[0].code}


def _guest(make_registration, **_):
    return {"code": make_registration(guests=[{"first_name": "Grace"}])[1].code}


def _already(make_registration, event, kiosk, settings, **_):
    code = make_registration()[0].code
    check_in(event, code=code, kiosk=kiosk, nonce=nonce(), settings=settings)
    db.session.commit()
    return {"code": code}


def _cancelled(make_registration, **_):
    issued = make_registration()[0]
    cancel_registration(issued.registration, actor=Actor.system("test"), reason="asked to")
    db.session.commit()
    return {"code": issued.code}


def _health(**fields):
    def setup(make_registration, **_):
        return {"code": make_registration(**fields)[0].code}
    return setup


def _purged(make_registration, event, **_):
    code = make_registration(health=None)[0].code
    event.health_purged_at = utcnow()
    db.session.commit()
    return {"code": code}


def _superseded(make_registration, **_):
    issued = make_registration()[0]
    rotate_codes(issued.registration, actor=Actor.system("test"))
    db.session.commit()
    return {"code": issued.code}


def _other_event(make_registration, event, **_):
    issued = make_registration()[0]
    other = Event(slug="forum-2027", name="Forum", venue="Hall", starts_on=event.starts_on, ends_on=event.ends_on,
                  timezone=event.timezone)
    db.session.add(other)
    db.session.flush()
    issued.registration.event_id = other.id
    db.session.commit()
    return {"code": issued.code}


def _selection(make_registration, kiosk, settings, **_):
    return {"selection": selection_token(make_registration()[0].registration, kiosk=kiosk, settings=settings)}


def _const(**kwargs):
    return lambda **_: kwargs


CASES = [
    ("cleared full registrant", _cleared, "checked_in", None),
    ("cleared guest", _guest, "checked_in", None),
    ("find-me selection", _selection, "checked_in", None),
    ("second scan", _already, "already_checked_in", "already_checked_in"),
    ("cancelled", _cancelled, "needs_desk", "registration_cancelled"),
    ("no health record", _health(health=None), "needs_desk", "health_not_cleared"),
    ("attested only", _health(health_state="attested"), "needs_desk", "health_not_cleared"),
    ("test too old", _health(health="negative_test", test_taken_at=utcnow() - timedelta(hours=100)),
     "needs_desk", "health_not_cleared"),
    ("proof rejected", _health(health_state="rejected"), "needs_desk", "health_not_cleared"),
    ("health data purged", _purged, "needs_desk", "health_not_cleared"),
    ("not a code", _const(code="hello"), "invalid", "code_malformed"),
    ("empty", _const(code=""), "invalid", "code_malformed"),
    ("65 characters", _const(code="R1" + "A" * 63), "invalid", "code_malformed"),
    ("well formed, matches nothing", _const(code=new_code("registration")), "invalid", "code_unknown"),
    ("re-sent confirmation's old code", _superseded, "invalid", "code_superseded"),
    ("badge code scanned", _const(code=new_code("badge")), "invalid", "wrong_code_kind"),
    ("kiosk token scanned", _const(code=new_code("kiosk")), "invalid", "wrong_code_kind"),
    ("another event's code", _other_event, "invalid", "wrong_event"),
    ("forged selection", _const(selection="W1sxLDIsM10.forged"), "invalid", "selection_invalid"),
]


@pytest.mark.parametrize(("request_id", "setup", "result", "reason"), CASES, ids=[c[0] for c in CASES])
def test_every_result_and_reason(request_id, setup, result, reason, make_registration, event, kiosk, settings):
    request = setup(make_registration=make_registration, event=event, kiosk=kiosk, settings=settings)
    outcome = check_in(event, kiosk=kiosk, nonce=nonce(), settings=settings, **request)
    db.session.commit()
    assert (outcome.result, outcome.reason) == (result, reason)
    answer = outcome.response
    assert set(answer) == {"result", "reason", "attendee", "print_job", "checked_in", "desk_case", "go_to"}
    assert (answer["result"], answer["reason"]) == (result, reason)
    assert (answer["print_job"] is not None) == (result == "checked_in")
    assert (answer["desk_case"] is not None) == (result == "needs_desk")
    assert (answer["checked_in"] is not None) == (result in ("checked_in", "already_checked_in"))
    assert (answer["attendee"] is None) == (result == "invalid")
    if result == "needs_desk":
        assert answer["go_to"] == ("health_desk" if reason.startswith("health_") else "registration_desk")
        case = db.session.get(DeskCase, answer["desk_case"]["id"])
        assert (case.kiosk_id, case.state) == (kiosk.id, "open")
        assert case.reason == (reason if reason == "registration_cancelled" else DESK_REASONS[request_id])
    else:
        assert answer["go_to"] is None


#: What the desk case says when the kiosk was told only "health_not_cleared".
DESK_REASONS = {"no health record": "health_missing", "attested only": "health_unverified",
                "test too old": "health_expired", "proof rejected": "health_rejected",
                "health data purged": "health_purged"}


def test_the_reason_table_is_closed_and_known():
    assert set(REASONS) == {"checked_in", "already_checked_in", "needs_desk", "invalid"}
    assert all(r is None or r in CODES for reasons in REASONS.values() for r in reasons)


def test_checked_in_answer_names_the_person_pass_and_job(make_registration, event, kiosk, settings):
    host, guest = make_registration(badge_name="Ada L.", guests=[{"first_name": "Grace"}])
    answer = check_in(event, code=host.code, kiosk=kiosk, nonce=nonce(), settings=settings).response
    db.session.commit()
    assert answer["attendee"] == {"badge_name": "Ada L.", "pass": "full", "pass_label": "Full conference",
                                  "pass_label_es": "Conferencia completa", "band_text": "FULL CONFERENCE",
                                  "band_color": "#1f4e9a", "guest": False}
    job = db.session.get(PrintJob, answer["print_job"]["id"])
    assert answer["print_job"] == {"id": job.id, "state": "queued", "printer": "kiosk-1", "error_code": "",
                                   "url": f"/api/v1/print-jobs/{job.id}",
                                   "preview_url": f"/api/v1/print-jobs/{job.id}/preview.png"}
    assert answer["checked_in"]["kiosk"] == "kiosk-a" and answer["checked_in"]["location"] == "Lobby A"
    assert answer["checked_in"]["at"].endswith("Z")
    checkin = db.session.execute(sa.select(CheckIn)).scalar_one()
    assert (checkin.registration_id, checkin.kiosk_id, checkin.badge_id) == (host.registration.id, kiosk.id,
                                                                            job.badge_id)
    guest_answer = check_in(event, code=guest.code, kiosk=kiosk, nonce=nonce(), settings=settings).response
    assert guest_answer["attendee"]["guest"] is True
    assert guest_answer["attendee"]["band_text"] == "GUEST — EXPO & RECEPTIONS"


def test_second_scan_says_when_and_where_and_never_prints(make_registration, make_kiosk, event, kiosk, settings):
    code = make_registration()[0].code
    first = check_in(event, code=code, kiosk=kiosk, nonce=nonce(), settings=settings).response
    db.session.commit()
    other, _token, _enrol = make_kiosk("kiosk-b", printer="kiosk-2", location="Lobby B")
    second = check_in(event, code=code, kiosk=other, nonce=nonce(), settings=settings).response
    db.session.commit()
    assert second["result"] == "already_checked_in"
    assert second["checked_in"] == first["checked_in"]
    assert second["print_job"] is None
    assert db.session.execute(sa.select(sa.func.count(PrintJob.id))).scalar() == 1
    assert db.session.execute(sa.select(sa.func.count(Badge.id))).scalar() == 1


def test_a_retry_with_the_same_nonce_gets_the_first_answer(make_registration, event, kiosk, settings):
    issued = make_registration(health_state="attested")[0]
    same = nonce()
    first = check_in(event, code=issued.code, kiosk=kiosk, nonce=same, settings=settings)
    db.session.commit()
    assert first.reason == "health_not_cleared"
    issued.registration.health.state = "verified"  # the desk verifies between the two requests
    db.session.commit()
    again = check_in(event, code=issued.code, kiosk=kiosk, nonce=same, settings=settings)
    db.session.commit()
    assert again.replayed and again.response == first.response
    assert db.session.execute(sa.select(sa.func.count(DeskCase.id))).scalar() == 1
    assert db.session.execute(sa.select(sa.func.count(CheckIn.id))).scalar() == 0
    # A new nonce is a new request: now cleared, the badge prints.
    assert check_in(event, code=issued.code, kiosk=kiosk, nonce=nonce(), settings=settings).result == "checked_in"


def test_a_replayed_check_in_does_not_print_again(make_registration, event, kiosk, settings):
    code = make_registration()[0].code
    same = nonce()
    first = check_in(event, code=code, kiosk=kiosk, nonce=same, settings=settings)
    db.session.commit()
    again = check_in(event, code=code, kiosk=kiosk, nonce=same, settings=settings)
    db.session.commit()
    assert again.response == first.response and again.result == "checked_in"
    assert db.session.execute(sa.select(sa.func.count(PrintJob.id))).scalar() == 1
    assert db.session.execute(sa.select(sa.func.count(CheckInRequest.id))).scalar() == 1


def test_nonces_are_per_kiosk(make_registration, make_kiosk, event, kiosk, settings):
    other = make_kiosk("kiosk-b")[0]
    same = nonce()
    a = check_in(event, code=make_registration()[0].code, kiosk=kiosk, nonce=same, settings=settings)
    b = check_in(event, code=make_registration()[0].code, kiosk=other, nonce=same, settings=settings)
    assert (a.result, b.result, b.replayed) == ("checked_in", "checked_in", False)


def test_repeated_scans_of_a_not_cleared_person_share_one_desk_case(make_registration, event, kiosk, settings):
    code = make_registration(health=None)[0].code
    answers = [check_in(event, code=code, kiosk=kiosk, nonce=nonce(), settings=settings).response for _ in range(3)]
    db.session.commit()
    assert len({a["desk_case"]["id"] for a in answers}) == 1


@pytest.mark.parametrize("bad", [None, "", "short", "x" * 65, "has space1", "nonce/../../x", "ünïcödé-nonce",
                                 "abcdefgh\n", 12345678, ["abcdefgh"]])
def test_a_bad_nonce_is_refused_before_anything_happens(bad, make_registration, event, kiosk, settings):
    with pytest.raises(LanyardError) as refused:
        check_in(event, code=make_registration()[0].code, kiosk=kiosk, nonce=bad, settings=settings)
    assert refused.value.code == "nonce_invalid"
    assert db.session.execute(sa.select(sa.func.count(CheckInRequest.id))).scalar() == 0


def test_a_selection_is_bound_to_its_kiosk_and_token_generation(make_registration, make_kiosk, event, kiosk,
                                                                settings):
    from kiosk.services import rotate_kiosk_token

    registration = make_registration()[0].registration
    other = make_kiosk("kiosk-b")[0]
    token = selection_token(registration, kiosk=kiosk, settings=settings)
    assert check_in(event, selection=token, kiosk=other, nonce=nonce(), settings=settings).reason == \
        "selection_invalid"
    rotate_kiosk_token(kiosk, actor=Actor.system("test"))
    db.session.commit()
    assert check_in(event, selection=token, kiosk=kiosk, nonce=nonce(), settings=settings).reason == \
        "selection_invalid"


def test_a_selection_expires(make_registration, event, kiosk, settings, monkeypatch):
    import time

    token = selection_token(make_registration()[0].registration, kiosk=kiosk, settings=settings)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 121)
    assert check_in(event, selection=token, kiosk=kiosk, nonce=nonce(), settings=settings).reason == \
        "selection_invalid"


def test_a_kiosk_whose_printer_left_the_configuration_is_refused(make_registration, event, kiosk, settings):
    kiosk.printer_name = "gone"
    db.session.commit()
    with pytest.raises(LanyardError) as refused:
        check_in(event, code=make_registration()[0].code, kiosk=kiosk, nonce=nonce(), settings=settings)
    assert refused.value.code == "printer_unknown"


def test_a_new_badge_voids_nothing_for_a_first_check_in_and_gets_the_next_serial(make_registration, event, kiosk,
                                                                               settings):
    for _ in range(3):
        check_in(event, code=make_registration()[0].code, kiosk=kiosk, nonce=nonce(), settings=settings)
    db.session.commit()
    badges = db.session.execute(sa.select(Badge).order_by(Badge.created_at, Badge.id)).scalars().all()
    assert [badge.status for badge in badges] == ["valid"] * 3
    serials = [badge.serial for badge in badges]
    assert serials == sorted(set(serials)) and len(serials) == 3  # increasing and distinct; not dense
    payloads = db.session.execute(sa.select(PrintJob.payload).order_by(PrintJob.badge_id)).scalars().all()
    assert [payload["serial"] for payload in payloads] == [f"#{serial:06d}" for serial in serials]


def test_a_reprint_voids_the_earlier_badge_and_gets_a_new_serial(make_registration, event, kiosk, settings):
    from registration.printing.services import issue_badge

    issued = make_registration()[0]
    check_in(event, code=issued.code, kiosk=kiosk, nonce=nonce(), settings=settings)
    db.session.commit()
    first = db.session.execute(sa.select(Badge).filter_by(registration_id=issued.registration.id)).scalar_one()
    job = issue_badge(issued.registration, printer_name="kiosk-2", settings=settings, actor=Actor.system("test"),
                      reason="lost")
    db.session.commit()
    assert first.status == "void" and first.void_reason == "replaced: lost" and first.voided_at is not None
    assert job.badge.status == "valid" and job.badge.serial > first.serial
    assert job.payload["serial"] == f"#{job.badge.serial:06d}" and job.printer_name == "kiosk-2"
    assert db.session.execute(sa.select(sa.func.count()).select_from(Badge).where(
        Badge.registration_id == issued.registration.id, Badge.status == "valid")).scalar() == 1
