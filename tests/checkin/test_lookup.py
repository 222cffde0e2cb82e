"""Find me by name: last name plus the first letters of the email, masked, at most three, rate-limited, audited."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from registration.checkin.services import LOOKUP_LIMIT, LOOKUP_WINDOW, MAX_MATCHES, check_in, find_for_kiosk
from registration.errors import LanyardError
from registration.extensions import db
from registration.models import utcnow


@pytest.fixture
def find(event, kiosk, settings):
    def find(last_name, second_factor, *, at=None, kiosk_=None):
        matches = find_for_kiosk(event, kiosk=kiosk_ or kiosk, last_name=last_name, second_factor=second_factor,
                                 settings=settings, now=at)
        db.session.commit()
        return matches
    return find


def test_last_name_and_email_prefix_find_the_person_masked(make_registration, find):
    make_registration(first_name="Ada", last_name="Lovelace", email="ada.lovelace@engines.org")
    make_registration(first_name="Byron", last_name="Lovelace", email="byron@poets.org")
    [match] = find("lovelace", "ADA")
    assert match.masked_name == "A. Lov…"
    assert match.masked_email == "ad***@e***.org"
    assert match.pass_label == "Full conference"
    assert set(match.as_dict()) == {"selection", "masked_name", "pass_label", "masked_email"}


def test_accents_and_case_of_the_last_name_do_not_matter(make_registration, find):
    make_registration(first_name="Zoë", last_name="Núñez", email="zoe@city.example.gov")
    assert len(find("NUNEZ", "zoe")) == 1
    assert len(find("  núñez ", "Zoe@")) == 1


@pytest.mark.parametrize("factor", [None, "", "zo", "  z ", "xyz", "zoe@other", "zoe\x00", 42, ["zoe"], "z" * 300])
def test_without_a_right_second_factor_nothing_is_revealed(make_registration, find, factor):
    make_registration(first_name="Zoë", last_name="Núñez", email="zoe@city.example.gov")
    assert find("Núñez", factor) == []


@pytest.mark.parametrize("last_name", [None, "", "   ", "Nunez\x07", "x" * 101, 7, {"a": 1}, "' OR 1=1 --",
                                       "%", "_____"])
def test_a_bad_or_wildcard_last_name_finds_nothing(make_registration, find, last_name):
    make_registration(first_name="Zoë", last_name="Núñez", email="zoe@city.example.gov")
    assert find(last_name, "zoe") == []


def test_a_guest_without_email_is_found_with_the_hosts_email(make_registration, find):
    make_registration(last_name="García", email="maria@sac.example.gov",
                      guests=[{"first_name": "José", "last_name": "Ramírez"}])
    [match] = find("Ramirez", "mar")
    assert match.masked_name == "J. Ram…"
    assert match.masked_email == "ma***@s***.gov"


def test_at_most_three_matches(make_registration, find):
    for n in range(MAX_MATCHES + 2):
        make_registration(last_name="Smith", email=f"sam{n}@city.example.gov")
    assert len(find("smith", "sam")) == MAX_MATCHES


def test_the_selection_checks_that_person_in(make_registration, find, event, kiosk, settings):
    issued = make_registration(last_name="Okafor", email="kwame@city.example.gov")[0]
    [match] = find("Okafor", "kwa")
    outcome = check_in(event, selection=match.selection, kiosk=kiosk, nonce=uuid.uuid4().hex, settings=settings)
    assert outcome.result == "checked_in"
    assert outcome.response["attendee"]["badge_name"] == issued.registration.badge_name


def test_ten_lookups_a_minute_pass_and_the_eleventh_is_refused(make_registration, find):
    # The number is pinned here on purpose: a kiosk in a lobby is no attendee list.
    make_registration(last_name="Chen", email="mei@city.example.gov")
    now = utcnow().replace(second=1)
    for _ in range(10):
        assert len(find("Chen", "mei", at=now)) == 1
    with pytest.raises(LanyardError) as limited:
        find("Chen", "mei", at=now + timedelta(seconds=30))
    assert limited.value.code == "rate_limited"


def test_the_limit_is_per_kiosk(make_registration, make_kiosk, find):
    make_registration(last_name="Chen", email="mei@city.example.gov")
    now = utcnow()
    for _ in range(LOOKUP_LIMIT):
        find("Chen", "mei", at=now)
    other = make_kiosk("kiosk-b")[0]
    assert len(find("Chen", "mei", at=now, kiosk_=other)) == 1


def test_the_window_slides_across_a_minute_boundary(make_registration, find):
    make_registration(last_name="Chen", email="mei@city.example.gov")
    before_the_minute = utcnow().replace(second=59, microsecond=0)
    for _ in range(LOOKUP_LIMIT):
        find("Chen", "mei", at=before_the_minute)
    after_the_minute = before_the_minute + timedelta(seconds=2)  # a fixed window would start again here
    with pytest.raises(LanyardError) as limited:
        find("Chen", "mei", at=after_the_minute)
    assert limited.value.code == "rate_limited"
    assert len(find("Chen", "mei", at=before_the_minute + timedelta(seconds=LOOKUP_WINDOW))) == 1


def test_refused_lookups_count_so_hammering_keeps_the_kiosk_waiting(make_registration, find):
    make_registration(last_name="Chen", email="mei@city.example.gov")
    start = utcnow().replace(microsecond=0)
    for _ in range(LOOKUP_LIMIT):
        find("Chen", "mei", at=start)
    for second in range(50, 50 + LOOKUP_LIMIT):
        with pytest.raises(LanyardError):
            find("Chen", "mei", at=start + timedelta(seconds=second))
    with pytest.raises(LanyardError):  # the first ten left the window, the refusals at 50-59 s have not
        find("Chen", "mei", at=start + timedelta(seconds=LOOKUP_WINDOW + 5))


def test_a_cancelled_registration_is_never_listed(make_registration, find):
    from registration.models import Registration

    cancelled = make_registration(first_name="Ada", last_name="Chen", email="mei@city.example.gov")[0]
    make_registration(first_name="Bo", last_name="Chen", email="mei.b@city.example.gov")
    db.session.execute(sa.update(Registration).where(Registration.id == cancelled.registration.id)
                       .values(status="cancelled"))
    db.session.commit()
    assert [match.masked_name for match in find("Chen", "mei")] == ["B. Che…"]


def test_every_lookup_is_audited_with_who_was_listed_and_never_what_was_typed(make_registration, find, kiosk):
    from registration.models import AuditEvent

    person = make_registration(last_name="Chen", email="mei@city.example.gov")[0]
    find("Chen", "mei")
    find("Chen", "zzz")
    find("", "")
    for _ in range(LOOKUP_LIMIT - 3):
        find("Chen", "mei")
    with pytest.raises(LanyardError):
        find("Chen", "mei")
    db.session.commit()
    events = db.session.execute(sa.select(AuditEvent).filter_by(action="kiosk.lookup")
                                .order_by(AuditEvent.id)).scalars().all()
    assert len(events) == LOOKUP_LIMIT + 1
    assert {(e.actor_type, e.actor_id, e.target_type, e.target_id) for e in events} == {
        ("kiosk", kiosk.id, "Kiosk", kiosk.id)}
    assert [e.details for e in events[:3]] == [
        {"result": "listed", "listed": [person.registration.id]},
        {"result": "no_match", "listed": []},
        {"result": "no_match", "listed": []},
    ]
    assert events[-1].details == {"result": "rate_limited", "listed": []}
    assert not any("chen" in str(e.details).lower() or "mei" in str(e.details) for e in events)
