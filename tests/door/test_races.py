"""Concurrent scans: the database, not Python, settles every race (SQLite and PostgreSQL).

Each request runs in its own thread with its own application context and database session, released
together by a barrier.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from registration.door.models import AccessScan, AreaOccupancy, AreaPresence
from registration.extensions import db
from tests.door.conftest import DURING, count, new_nonce

CONCURRENT = 16


@pytest.fixture
def pool():
    with ThreadPoolExecutor(CONCURRENT) as executor:
        yield executor


def _fire(app, pool, bodies: list[dict], bearer: dict) -> list:
    """POST every scan at once; returns the responses in order."""
    barrier = threading.Barrier(len(bodies))

    def send(index: int):
        client = app.test_client()
        barrier.wait()
        return client.post("/api/v1/scans", json=bodies[index], headers=bearer)

    return list(pool.map(send, range(len(bodies))))


@pytest.mark.parametrize("round_", range(3))
def test_sixteen_doors_at_once_with_ten_seats_left_admit_exactly_ten(app, pool, event, bearer, make_badge, round_):
    db.session.merge(AreaOccupancy(event_id=event.id, area="breakouts", occupancy=30))  # capacity 40
    db.session.commit()
    codes = [make_badge().code for _ in range(CONCURRENT)]
    bodies = [{"code": code, "area": "breakouts", "door": f"Door {n}", "nonce": new_nonce()}
              for n, code in enumerate(codes)]
    responses = _fire(app, pool, bodies, bearer)
    assert {r.status_code for r in responses} == {200}, responses[0].get_data(as_text=True)
    answers = [r.get_json() for r in responses]
    assert sorted((a["result"], a["reason"]) for a in answers) == [("admit", None)] * 10 + [("deny", "area_full")] * 6
    assert sorted(a["area"]["occupancy"] for a in answers if a["result"] == "admit") == list(range(31, 41))
    db.session.expire_all()
    assert db.session.get(AreaOccupancy, (event.id, "breakouts")).occupancy == 40
    assert count(AccessScan, AccessScan.counted.is_(True)) == 10 and count(AccessScan) == CONCURRENT


def test_one_nonce_sent_sixteen_times_at_once_counts_once(app, pool, event, bearer, make_badge):
    body = {"code": make_badge().code, "area": "breakouts", "door": "Door 1", "nonce": new_nonce()}
    responses = _fire(app, pool, [body] * CONCURRENT, bearer)
    assert {r.status_code for r in responses} == {200}
    assert len({r.get_data() for r in responses}) == 1
    db.session.expire_all()
    assert db.session.get(AreaOccupancy, (event.id, "breakouts")).occupancy == 1
    assert count(AccessScan) == 1


def test_one_badge_at_sixteen_doors_of_an_area_without_reentry_gets_in_once(app, pool, event, settings,
                                                                             door_actor, make_badge):
    from sqlalchemy.exc import IntegrityError

    from registration.door.services import record_scan

    code = make_badge().code
    barrier = threading.Barrier(CONCURRENT)

    def scan(index: int):
        with app.app_context():
            barrier.wait()
            try:
                outcome = record_scan(event, actor=door_actor, code=code, area="caucus", nonce=new_nonce(),
                                      door=f"Door {index}", settings=settings, now=DURING)
                db.session.commit()
                return outcome.result, outcome.reason
            except IntegrityError:  # never expected: each scan has its own nonce
                db.session.rollback()
                raise
            finally:
                db.session.remove()

    results = list(pool.map(scan, range(CONCURRENT)))
    assert sorted(results) == [("admit", None)] + [("deny", "already_inside")] * (CONCURRENT - 1)
    db.session.expire_all()
    assert db.session.get(AreaOccupancy, (event.id, "caucus")).occupancy == 1
    assert count(AreaPresence) == 1
    assert db.session.execute(sa.select(sa.func.count()).select_from(AccessScan)
                              .where(AccessScan.result == "admit")).scalar() == 1
