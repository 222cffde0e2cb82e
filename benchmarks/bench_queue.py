"""Jobs per second through the print queue: claim, render, send, record; into the emulator and into preview PNGs.

Usage: python benchmarks/bench_queue.py [--db sqlite|postgresql] [--jobs 400] [--database-url URL]

Each scenario queues ``--jobs`` badges, starts the workers (threads of this process, each with its own
database sessions) and times until every job is printed. The emulators are real TCP ESC/POS printers on
loopback, so each job pays for a connection, the status query before it, the raster and the status after it.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import database, write_config  # noqa: E402

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"

#: (label, backend, printers, workers)
SCENARIOS = [
    ("emulator, 1 printer, 1 worker", "network", 1, 1),
    ("emulator, 2 printers, 2 workers", "network", 2, 2),
    ("preview, 1 printer, 1 worker", "preview", 1, 1),
    ("preview, 4 printers, 2 workers", "preview", 4, 2),
]


def printers_toml(ports: list[int], folder: Path) -> str:
    """Emulated printers net-1.., preview printers prev-1.. (production timeouts: the defaults)."""
    text = ""
    for n, port in enumerate(ports, 1):
        text += f'[printers.net-{n}]\nbackend = "network"\nhost = "127.0.0.1"\nport = {port}\n\n'
    for n in range(1, 5):
        text += f'[printers.prev-{n}]\nbackend = "preview"\ndirectory = "{folder / "badges" / f"prev-{n}"}"\n\n'
    return text


def run_scenario(app, people, *, backend: str, printers: int, workers: int, jobs: int) -> float:
    """Queue ``jobs`` badges over the printers, drain them with ``workers`` threads; returns the seconds taken."""
    import sqlalchemy as sa

    from registration.audit import Actor
    from registration.extensions import db
    from registration.printing.models import PrintJob
    from registration.printing.services import issue_badge
    from registration.printing.worker import PrintWorker

    settings = app.extensions["lanyard"]
    names = [f"{'net' if backend == 'network' else 'prev'}-{n}" for n in range(1, printers + 1)]
    with app.app_context():
        cycle = itertools.cycle(names)
        for person, _ in zip(itertools.cycle(people), range(jobs)):
            issue_badge(db.session.merge(person), printer_name=next(cycle), settings=settings,
                        actor=Actor.system("bench"))
        db.session.commit()

    def pending() -> int:
        with app.app_context():
            return db.session.execute(
                sa.select(sa.func.count()).where(PrintJob.state.not_in(("printed", "failed", "needs_decision")))
            ).scalar()

    done = threading.Event()
    racers = [PrintWorker(app, worker_id=f"bench-{backend}-{n}") for n in range(workers)]

    def work(worker):
        while not done.is_set():
            if not worker.process_once():
                time.sleep(0.002)

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(w,)) for w in racers]
    for thread in threads:
        thread.start()
    while pending():
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    done.set()
    for thread in threads:
        thread.join()
    with app.app_context():
        bad = db.session.execute(sa.select(sa.func.count()).where(PrintJob.state != "printed")).scalar()
        if bad:
            raise SystemExit(f"{bad} jobs did not print")
        db.session.execute(sa.delete(PrintJob))  # the next scenario starts from an empty queue
        db.session.commit()
    return elapsed


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", default=None, help=f"PostgreSQL server (default {PG_URL})")
    parser.add_argument("--jobs", type=int, default=400)
    args = parser.parse_args(argv)

    import sqlalchemy as sa

    from printers import PrinterEmulator
    from registration.app import create_app
    from registration.extensions import db
    from registration.models import Registration
    from registration.seed import seed_demo
    from registration.services import current_event, ensure_event

    url = (args.database_url or PG_URL) if args.db == "postgresql" else None
    emulators = [PrinterEmulator().start() for _ in range(2)]
    try:
        with database(url) as (folder, db_url):
            app = create_app(write_config(folder, db_url, printers=printers_toml([e.port for e in emulators], folder)))
            with app.app_context():
                # create_all, not init-db: the benchmark measures the queue, whatever migration is current.
                db.create_all()
                settings = app.extensions["lanyard"]
                ensure_event(settings.event)
                seed_demo(current_event(settings), settings=settings, count=100)
                db.session.commit()
                people = list(db.session.execute(sa.select(Registration)).scalars())
                db.session.expunge_all()
            print(f"print queue on {args.db}, {args.jobs} jobs per scenario (threads of one process; "
                  f"{len(people)} registrations):")
            for label, backend, printers, workers in SCENARIOS:
                received_before = sum(len(e.jobs) for e in emulators)
                pngs_before = len(list((folder / "badges").glob("*/*.png")))
                elapsed = run_scenario(app, people, backend=backend, printers=printers, workers=workers,
                                       jobs=args.jobs)
                if backend == "network":
                    received = sum(len(e.jobs) for e in emulators) - received_before
                    check = f"emulators received {received}"
                else:
                    pngs = len(list((folder / "badges").glob("*/*.png"))) - pngs_before
                    check = f"{pngs} PNG files written"
                print(f"  {label:34s} {args.jobs / elapsed:7.1f} jobs/s  ({elapsed * 1000 / args.jobs:6.1f} ms/job; "
                      f"{check})")
            with app.app_context():
                db.engine.dispose()
    finally:
        for emulator in emulators:
            emulator.stop()


if __name__ == "__main__":
    main()
