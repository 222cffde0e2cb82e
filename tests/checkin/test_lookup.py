"""Find me by name: last name plus the first letters of the email, masked, at most three, rate-limited."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from registration.checkin.services import LOOKUP_LIMIT, MAX_MATCHES, check_in, find_for_kiosk
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


def test_lookups_are_rate_limited_per_kiosk_and_per_minute(make_registration, make_kiosk, find):
    make_registration(last_name="Chen", email="mei@city.example.gov")
    now = utcnow().replace(second=1)
    for _ in range(LOOKUP_LIMIT):
        find("Chen", "mei", at=now)
    with pytest.raises(LanyardError) as limited:
        find("Chen", "mei", at=now + timedelta(seconds=30))
    assert limited.value.code == "rate_limited"
    other = make_kiosk("kiosk-b")[0]
    assert len(find("Chen", "mei", at=now, kiosk_=other)) == 1
    assert len(find("Chen", "mei", at=now + timedelta(seconds=61))) == 1
