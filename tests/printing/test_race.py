"""Several workers over one queue: every job is sent exactly once (threads and processes, SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from registration.audit import Actor
from registration.extensions import db
from registration.printing.models import PrintJob
from registration.printing.services import issue_badge
from registration.printing.worker import process_once
from tests.helpers import decode_qr

from .conftest import NETWORK_PRINTERS, PREVIEW_PRINTERS

#: Generous safety net so a broken queue fails instead of hanging; the tests never wait on it otherwise.
DEADLINE_SECONDS = 300


def queue_many(make_registration, settings, printers, count: int) -> dict[int, str]:
    """Queue ``count`` badges spread over ``printers``; returns job id -> badge code."""
    jobs = {}
    cycle = itertools.cycle(printers)
    for _ in range(count):
        person = make_registration(health=None)[0].registration
        job = issue_badge(person, printer_name=next(cycle), settings=settings, actor=Actor.system("test"))
        jobs[job.id] = job.payload["code"]
    db.session.commit()
    return jobs


def unfinished() -> int:
    db.session.commit()
    return db.session.execute(sa.select(sa.func.count()).where(PrintJob.state != "printed")).scalar()


def race_threads(app, workers: int) -> list[BaseException]:
    """Run ``workers`` threads, each its own worker with its own sessions, until every job printed."""
    errors: list[BaseException] = []
    done = threading.Event()

    def run(worker_id: str):
        try:
            deadline = time.monotonic() + DEADLINE_SECONDS
            while not done.is_set() and time.monotonic() < deadline:
                if not process_once(app, worker_id=worker_id):
                    time.sleep(0.005)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"racer-{n}",)) for n in range(workers)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + DEADLINE_SECONDS
    while unfinished() and time.monotonic() < deadline and not errors:
        time.sleep(0.05)
    done.set()
    for thread in threads:
        thread.join()
    return errors


def assert_each_printed_once_as_png(jobs: dict[int, str], preview_dir: Path, *, decode_every: int = 25) -> None:
    files = sorted(preview_dir.glob("*/*.png"))
    names = [f.stem for f in files]
    assert len(files) == len(jobs) and len(set(names)) == len(jobs)
    assert {int(name.split("-")[1]) for name in names} == set(jobs)
    for path in files[::decode_every]:  # a sample proves each file is the badge of its own job
        assert decode_qr(path.read_bytes()) == [jobs[int(path.stem.split("-")[1])]]
    db.session.expire_all()
    states = db.session.execute(sa.select(PrintJob.state, sa.func.count()).group_by(PrintJob.state)).all()
    assert states == [("printed", len(jobs))]
    assert db.session.execute(sa.select(sa.func.count()).where(PrintJob.payload.is_not(None))).scalar() == 0


def test_two_worker_threads_print_500_jobs_exactly_once(app, settings, make_registration, preview_dir):
    jobs = queue_many(make_registration, settings, PREVIEW_PRINTERS, 500)
    assert race_threads(app, 2) == []
    assert_each_printed_once_as_png(jobs, preview_dir)


def test_two_worker_processes_print_500_jobs_exactly_once(app, settings, make_registration, preview_dir):
    jobs = queue_many(make_registration, settings, PREVIEW_PRINTERS, 500)
    lanyard = Path(sys.executable).parent / "lanyard"
    env = dict(os.environ, LANYARD_CONFIG=str(settings.path))
    env.pop("LANYARD_DATABASE_URL", None)
    processes = [subprocess.Popen([str(lanyard), "print-worker", "--once", "--worker-id", f"process-{n}"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(2)]
    outputs = [p.communicate(timeout=DEADLINE_SECONDS) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    handled = [int(out.split(": ")[1].split()[0]) for out, _err in outputs]
    assert sum(handled) == 500, outputs
    assert_each_printed_once_as_png(jobs, preview_dir)


def test_two_worker_threads_send_each_job_to_the_emulators_once(app, settings, make_registration, emulators):
    jobs = queue_many(make_registration, settings, NETWORK_PRINTERS, 90)
    assert race_threads(app, 2) == []
    received = [job for name in NETWORK_PRINTERS for job in emulators[name].jobs]
    assert len(received) == 90
    codes = [text for job in received for image in job.images for text in decode_qr(image)]
    assert sorted(codes) == sorted(jobs.values())


def test_racing_claims_without_the_printer_lease_still_take_each_job_once(app, settings, make_registration):
    # The lease keeps workers off each other's printer; this takes it away to show the claim alone is atomic.
    from registration.models import utcnow
    from registration.printing.services import claim_next_job

    jobs = queue_many(make_registration, settings, ["preview-1"], 300)
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def claim_all(worker_id: str):
        mine = claimed.setdefault(worker_id, [])
        try:
            with app.app_context():
                start.wait()
                while (claim := claim_next_job("preview-1", worker_id=worker_id, now=utcnow())) is not None:
                    db.session.commit()
                    mine.append(claim.id)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=claim_all, args=(f"claimer-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    every = [job_id for ids in claimed.values() for job_id in ids]
    assert sorted(every) == sorted(jobs)  # each job claimed by exactly one worker
    db.session.expire_all()
    owners = dict(db.session.execute(sa.select(PrintJob.id, PrintJob.claimed_by)).all())
    assert all(owners[job_id] == worker for worker, ids in claimed.items() for job_id in ids)
