"""The clearance policy: every method × state × moment, exactly at expiry included, under a policy whose
hours and verification flags are not the defaults (so a rule that ignores the policy cannot pass)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from registration.audit import Actor
from registration.desk.models import DeskCase
from registration.extensions import db
from registration.health import METHODS, STATES, assess_clearance, expiry_for
from registration.models import HealthRecord, utcnow
from registration.settings import HealthPolicy

NEGATIVE_HOURS = 24
ONSITE_HOURS = 48
TAKEN = datetime(2027, 9, 15, 8, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)
S = timedelta(seconds=1)


def policy(*, vaccinated: bool = True, negative: bool = True) -> HealthPolicy:
    """A policy with non-default hours (24 h for a negative test, 48 h on site) and the given flags."""
    return HealthPolicy(vaccinated_requires_verification=vaccinated, negative_test_requires_verification=negative,
                        negative_test_valid_hours=NEGATIVE_HOURS, onsite_test_valid_hours=ONSITE_HOURS)


def record(method: str, state: str, *, taken: datetime | None = None,
           expires: datetime | None = None) -> HealthRecord:
    """A health record as stored, without a database (the policy reads nothing else)."""
    return HealthRecord(method=method, state=state, test_taken_at=taken, expires_at=expires)


STRICT = policy()
LENIENT = policy(vaccinated=False, negative=False)
ONLY_VACCINATION_CHECKED = policy(vaccinated=True, negative=False)
ONLY_TESTS_CHECKED = policy(vaccinated=False, negative=True)

CLEARED, MISSING, UNVERIFIED = (True, None), (False, "health_missing"), (False, "health_unverified")
REJECTED, EXPIRED = (False, "health_rejected"), (False, "health_expired")

# (id, policy, method, state, test_taken_at, expires_at, at, (cleared, reason), the verdict's expires_at)
TABLE = [
    # -- vaccinated: never expires unless an expiry was recorded; verification as the policy says
    ("vacc-verified-strict", STRICT, "vaccinated", "verified", None, None, TAKEN, CLEARED, None),
    ("vacc-verified-lenient", LENIENT, "vaccinated", "verified", None, None, TAKEN, CLEARED, None),
    ("vacc-attested-strict", STRICT, "vaccinated", "attested", None, None, TAKEN, UNVERIFIED, None),
    ("vacc-attested-lenient", LENIENT, "vaccinated", "attested", None, None, TAKEN, CLEARED, None),
    ("vacc-attested-only-vacc-checked", ONLY_VACCINATION_CHECKED, "vaccinated", "attested", None, None, TAKEN,
     UNVERIFIED, None),
    ("vacc-attested-only-tests-checked", ONLY_TESTS_CHECKED, "vaccinated", "attested", None, None, TAKEN,
     CLEARED, None),
    ("vacc-rejected-strict", STRICT, "vaccinated", "rejected", None, None, TAKEN, REJECTED, None),
    ("vacc-rejected-lenient", LENIENT, "vaccinated", "rejected", None, None, TAKEN, REJECTED, None),
    ("vacc-test-time-ignored", STRICT, "vaccinated", "verified", TAKEN - 1000 * H, None, TAKEN, CLEARED, None),
    ("vacc-expiry-1s-before", STRICT, "vaccinated", "verified", None, TAKEN + 10 * H, TAKEN + 10 * H - S,
     CLEARED, TAKEN + 10 * H),
    ("vacc-expiry-exactly", STRICT, "vaccinated", "verified", None, TAKEN + 10 * H, TAKEN + 10 * H,
     EXPIRED, TAKEN + 10 * H),
    # -- negative test: valid for the policy's 24 h from when it was taken
    ("neg-verified-just-taken", STRICT, "negative_test", "verified", TAKEN, None, TAKEN, CLEARED,
     TAKEN + 24 * H),
    ("neg-verified-1s-before", STRICT, "negative_test", "verified", TAKEN, None, TAKEN + 24 * H - S, CLEARED,
     TAKEN + 24 * H),
    ("neg-verified-exactly", STRICT, "negative_test", "verified", TAKEN, None, TAKEN + 24 * H, EXPIRED,
     TAKEN + 24 * H),
    ("neg-verified-at-default-72h", STRICT, "negative_test", "verified", TAKEN, None, TAKEN + 72 * H - S, EXPIRED,
     TAKEN + 24 * H),
    ("neg-verified-at-96h", STRICT, "negative_test", "verified", TAKEN, None, TAKEN + 96 * H - S, EXPIRED,
     TAKEN + 24 * H),
    ("neg-verified-no-test-time", STRICT, "negative_test", "verified", None, None, TAKEN, UNVERIFIED, None),
    ("neg-verified-no-test-time-lenient", LENIENT, "negative_test", "verified", None, None, TAKEN, UNVERIFIED,
     None),
    ("neg-attested-strict", STRICT, "negative_test", "attested", TAKEN, None, TAKEN + H, UNVERIFIED, None),
    ("neg-attested-only-vacc-checked", ONLY_VACCINATION_CHECKED, "negative_test", "attested", TAKEN, None,
     TAKEN + H, CLEARED, TAKEN + 24 * H),
    ("neg-attested-only-tests-checked", ONLY_TESTS_CHECKED, "negative_test", "attested", TAKEN, None, TAKEN + H,
     UNVERIFIED, None),
    ("neg-attested-lenient-1s-before", LENIENT, "negative_test", "attested", TAKEN, None, TAKEN + 24 * H - S,
     CLEARED, TAKEN + 24 * H),
    ("neg-attested-lenient-exactly", LENIENT, "negative_test", "attested", TAKEN, None, TAKEN + 24 * H, EXPIRED,
     TAKEN + 24 * H),
    ("neg-attested-lenient-no-test-time", LENIENT, "negative_test", "attested", None, None, TAKEN, UNVERIFIED,
     None),
    ("neg-rejected-strict", STRICT, "negative_test", "rejected", TAKEN, None, TAKEN + H, REJECTED, None),
    ("neg-rejected-lenient", LENIENT, "negative_test", "rejected", TAKEN, None, TAKEN + H, REJECTED, None),
    # a recorded expiry wins over the one the policy would compute (the desk may have set it)
    ("neg-recorded-expiry-1s-before", STRICT, "negative_test", "verified", TAKEN, TAKEN + 5 * H,
     TAKEN + 5 * H - S, CLEARED, TAKEN + 5 * H),
    ("neg-recorded-expiry-exactly", STRICT, "negative_test", "verified", TAKEN, TAKEN + 5 * H, TAKEN + 5 * H,
     EXPIRED, TAKEN + 5 * H),
    ("neg-recorded-expiry-no-test-time", STRICT, "negative_test", "verified", None, TAKEN + 5 * H,
     TAKEN + 5 * H - S, CLEARED, TAKEN + 5 * H),
    # -- on-site test: valid for the policy's 48 h; always entered (verified) by staff
    ("onsite-verified-just-taken", STRICT, "onsite_test", "verified", TAKEN, None, TAKEN, CLEARED, TAKEN + 48 * H),
    ("onsite-verified-past-negative-hours", STRICT, "onsite_test", "verified", TAKEN, None, TAKEN + 24 * H,
     CLEARED, TAKEN + 48 * H),
    ("onsite-verified-1s-before", STRICT, "onsite_test", "verified", TAKEN, None, TAKEN + 48 * H - S, CLEARED,
     TAKEN + 48 * H),
    ("onsite-verified-exactly", STRICT, "onsite_test", "verified", TAKEN, None, TAKEN + 48 * H, EXPIRED,
     TAKEN + 48 * H),
    ("onsite-verified-at-72h", STRICT, "onsite_test", "verified", TAKEN, None, TAKEN + 72 * H - S, EXPIRED,
     TAKEN + 48 * H),
    ("onsite-verified-no-test-time", STRICT, "onsite_test", "verified", None, None, TAKEN, UNVERIFIED, None),
    ("onsite-attested-lenient", LENIENT, "onsite_test", "attested", TAKEN, None, TAKEN + H, UNVERIFIED, None),
    ("onsite-rejected", LENIENT, "onsite_test", "rejected", TAKEN, None, TAKEN + H, REJECTED, None),
    ("onsite-recorded-expiry-exactly", STRICT, "onsite_test", "verified", TAKEN, TAKEN + 2 * H, TAKEN + 2 * H,
     EXPIRED, TAKEN + 2 * H),
    # -- exempt: always checked by staff, whatever the flags; never expires unless recorded
    ("exempt-verified", STRICT, "exempt", "verified", None, None, TAKEN, CLEARED, None),
    ("exempt-attested-strict", STRICT, "exempt", "attested", None, None, TAKEN, UNVERIFIED, None),
    ("exempt-attested-lenient", LENIENT, "exempt", "attested", None, None, TAKEN, UNVERIFIED, None),
    ("exempt-rejected", LENIENT, "exempt", "rejected", None, None, TAKEN, REJECTED, None),
    ("exempt-expiry-1s-before", STRICT, "exempt", "verified", None, TAKEN + 3 * H, TAKEN + 3 * H - S, CLEARED,
     TAKEN + 3 * H),
    ("exempt-expiry-exactly", STRICT, "exempt", "verified", None, TAKEN + 3 * H, TAKEN + 3 * H, EXPIRED,
     TAKEN + 3 * H),
]


@pytest.mark.parametrize(("policy_", "method", "state", "taken", "expires", "at", "verdict", "verdict_expires"),
                         [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_the_clearance_policy_table(policy_, method, state, taken, expires, at, verdict, verdict_expires):
    clearance = assess_clearance(record(method, state, taken=taken, expires=expires), policy_, at)
    assert (clearance.cleared, clearance.reason) == verdict
    if clearance.cleared or clearance.reason == "health_expired":
        assert clearance.expires_at == verdict_expires


def test_the_table_covers_every_method_and_state():
    covered = {(method, state) for _id, _p, method, state, *_rest in TABLE}
    assert covered == {(method, state) for method in METHODS for state in STATES}


@pytest.mark.parametrize("policy_", [STRICT, LENIENT], ids=["strict", "lenient"])
def test_nobody_without_a_health_record_is_cleared(policy_):
    clearance = assess_clearance(None, policy_, TAKEN)
    assert (clearance.cleared, clearance.reason) == MISSING


@pytest.mark.parametrize(("method", "taken", "expected"), [
    ("negative_test", TAKEN, TAKEN + NEGATIVE_HOURS * H),
    ("onsite_test", TAKEN, TAKEN + ONSITE_HOURS * H),
    ("negative_test", None, None),
    ("onsite_test", None, None),
    ("vaccinated", TAKEN, None),
    ("exempt", TAKEN, None),
])
def test_a_tests_expiry_is_the_policys_hours_after_it_was_taken(method, taken, expected):
    assert expiry_for(record(method, "verified", taken=taken), STRICT) == expected


@pytest.mark.parametrize(("negative_hours", "onsite_hours"), [(0, 0), (1, 2), (24, 48), (72, 72), (100, 7)])
def test_the_expiry_follows_whatever_hours_are_configured(negative_hours, onsite_hours):
    configured = HealthPolicy(negative_test_valid_hours=negative_hours, onsite_test_valid_hours=onsite_hours)
    assert expiry_for(record("negative_test", "verified", taken=TAKEN), configured) == TAKEN + negative_hours * H
    assert expiry_for(record("onsite_test", "verified", taken=TAKEN), configured) == TAKEN + onsite_hours * H


# --- the policy as configured, through a registration and a kiosk check-in ----------------------------------


@pytest.fixture
def write_config(write_config):
    """As the shared one, with a 24 h negative test, a 48 h on-site test and attested negative tests accepted."""

    def write(**options):
        path = write_config(**options)
        text = path.read_text(encoding="utf-8").replace(
            "[health]\nnegative_test_valid_hours = 72\n",
            "[health]\nnegative_test_valid_hours = 24\nonsite_test_valid_hours = 48\n"
            "negative_test_requires_verification = false\n", 1)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def app(make_app):
    """The app with one preview printer for the kiosk, an application context pushed."""
    app = make_app(printers='[printers.kiosk-1]\nbackend = "preview"\ndirectory = "badges"\n')
    with app.app_context():
        yield app


@pytest.fixture
def scan_at_kiosk(app, settings, event):
    """Factory: check a code in at a kiosk and commit; returns the result and the reason of the desk case it opened."""
    from kiosk.services import add_kiosk
    from registration.checkin.services import check_in

    kiosk = add_kiosk(event, name="kiosk-a", printer_name="kiosk-1", settings=settings, actor=Actor.system("test"),
                      location="Lobby A")[0]
    db.session.commit()

    def scan(code: str):
        outcome = check_in(event, code=code, kiosk=kiosk, nonce=uuid.uuid4().hex, settings=settings)
        db.session.commit()
        case = outcome.response.get("desk_case")
        return outcome.result, db.session.get(DeskCase, case["id"]).reason if case else None

    return scan


def test_the_configured_policy_is_the_one_in_force(settings):
    assert settings.health == HealthPolicy(negative_test_requires_verification=False, negative_test_valid_hours=24,
                                           onsite_test_valid_hours=48)


@pytest.mark.parametrize(("hours_ago", "result", "reason"), [
    (1, "checked_in", None),
    (23.9, "checked_in", None),
    (24.1, "needs_desk", "health_expired"),
    (71, "needs_desk", "health_expired"),
    (95, "needs_desk", "health_expired"),
])
def test_an_attested_negative_test_checks_in_for_the_configured_hours(make_registration, scan_at_kiosk, hours_ago,
                                                                      result, reason):
    issued = make_registration(health="negative_test", health_state="attested",
                               test_taken_at=utcnow() - timedelta(hours=hours_ago))[0]
    assert scan_at_kiosk(issued.code) == (result, reason)


def test_an_attested_vaccination_still_needs_the_desk(make_registration, scan_at_kiosk):
    issued = make_registration(health="vaccinated", health_state="attested")[0]
    assert scan_at_kiosk(issued.code) == ("needs_desk", "health_unverified")


def test_every_health_list_and_label_table_follows_the_one_list_of_methods_and_states():
    from registration.desk.forms import HEALTH_STATE_LABELS, METHOD_LABELS
    from registration.forms import HEALTH_CHOICES
    from registration.models import HealthRecord

    assert list(METHOD_LABELS) == list(METHODS)
    assert list(HEALTH_STATE_LABELS) == list(STATES)
    assert {choice.value for choice in HEALTH_CHOICES} <= set(METHODS)
    checks = {c.name: c.sqltext.text for c in HealthRecord.__table__.constraints if hasattr(c, "sqltext")}
    assert all(f"'{method}'" in checks["ck_health_records_method"] for method in METHODS)
    assert all(f"'{state}'" in checks["ck_health_records_state"] for state in STATES)
