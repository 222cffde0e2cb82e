"""Concurrent requests through the whole HTTP stack: one check-in and one print job per person, ever.

Each request runs in its own thread with its own application context and database session
(``app.test_client()`` pushes them), so the database, not Python, has to settle every race.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from registration.checkin.models import CheckIn, CheckInRequest
from registration.extensions import db
from registration.printing.models import Badge, PrintJob

CONCURRENT = 32
ROUNDS = 50
KIOSKS = 4


@pytest.fixture
def pool():
    with ThreadPoolExecutor(CONCURRENT) as executor:
        yield executor


@pytest.fixture
def tokens(make_kiosk):
    return [make_kiosk(f"kiosk-{n}", printer=("kiosk-1", "kiosk-2")[n % 2])[1] for n in range(KIOSKS)]


def _fire(app, pool, bodies: list[dict], tokens: list[str]) -> list:
    """Send every body at once (a barrier releases them together); returns the responses in order."""
    barrier = threading.Barrier(len(bodies))

    def send(index: int):
        client = app.test_client()
        headers = {"Authorization": f"Bearer {tokens[index % len(tokens)]}"}
        barrier.wait()
        return client.post("/api/v1/checkins", json=bodies[index], headers=headers)

    return list(pool.map(send, range(len(bodies))))


def _count(model, *where) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar()


def test_concurrent_scans_of_one_code_check_in_once_and_print_once(app, pool, tokens, make_registration):
    for _round in range(ROUNDS):
        issued = make_registration()[0]
        bodies = [{"code": issued.code, "nonce": uuid.uuid4().hex} for _ in range(CONCURRENT)]
        responses = _fire(app, pool, bodies, tokens)
        assert [r.status_code for r in responses] == [200] * CONCURRENT, responses[0].get_data(as_text=True)
        results = sorted(r.get_json()["result"] for r in responses)
        assert results == ["already_checked_in"] * (CONCURRENT - 1) + ["checked_in"]
        registration_id = issued.registration.id
        assert _count(CheckIn, CheckIn.registration_id == registration_id) == 1
        assert _count(Badge, Badge.registration_id == registration_id) == 1
        assert _count(PrintJob, PrintJob.badge_id.in_(
            sa.select(Badge.id).where(Badge.registration_id == registration_id))) == 1
        winner = next(r.get_json() for r in responses if r.get_json()["result"] == "checked_in")
        assert all(r.get_json()["checked_in"] == winner["checked_in"] for r in responses)


def test_concurrent_retries_with_one_nonce_act_once_and_answer_alike(app, pool, tokens, make_registration):
    for _round in range(10):
        code = make_registration()[0].code
        nonce = uuid.uuid4().hex
        responses = _fire(app, pool, [{"code": code, "nonce": nonce}] * CONCURRENT, tokens[:1])
        assert {r.status_code for r in responses} == {200}
        assert len({r.get_data() for r in responses}) == 1
        assert responses[0].get_json()["result"] == "checked_in"
        assert _count(CheckInRequest, CheckInRequest.nonce == nonce) == 1
    assert _count(CheckIn) == 10 and _count(PrintJob) == 10


def test_one_nonce_reused_for_different_codes_acts_once_and_shows_nobody_another_person(
        app, pool, tokens, make_registration):
    codes = [make_registration()[0].code for _ in range(CONCURRENT)]
    nonce = uuid.uuid4().hex
    responses = _fire(app, pool, [{"code": code, "nonce": nonce} for code in codes], tokens[:1])
    assert sorted(r.status_code for r in responses) == [200] + [409] * (CONCURRENT - 1)
    assert all(r.get_json()["error"]["code"] == "nonce_reused" for r in responses if r.status_code == 409)
    assert _count(CheckIn) == 1 and _count(PrintJob) == 1


def test_concurrent_check_ins_of_different_people_get_distinct_serials(app, pool, tokens, make_registration):
    codes = [make_registration()[0].code for _ in range(CONCURRENT)]
    responses = _fire(app, pool, [{"code": code, "nonce": uuid.uuid4().hex} for code in codes], tokens)
    assert [r.get_json()["result"] for r in responses] == ["checked_in"] * CONCURRENT
    # The serial is the badge's id from the database's sequence: no lock, and never the same twice.
    serials = db.session.execute(sa.select(Badge.serial)).scalars().all()
    assert len(serials) == len(set(serials)) == CONCURRENT
    printed = db.session.execute(sa.select(PrintJob.payload["serial"].as_string())).scalars().all()
    assert sorted(printed) == sorted(f"#{serial:06d}" for serial in serials)
