"""Jobs per second through the print queue: claim, render, send, record; into the emulator and into preview PNGs.

Usage: python benchmarks/bench_queue.py [--db sqlite|postgresql] [--jobs 400] [--database-url URL]

Each scenario queues ``--jobs`` badges, starts the workers (threads of this process, each with its own
database sessions) and times until every job is printed. The emulators are real TCP ESC/POS printers on
loopback, each in a process of its own (as a printer would be): each job pays for a connection, the status
query before it, the raster and the status query after it. The first line is the same work without the queue
(render + send in a loop), so the difference is what the queue costs per job.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
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


EMULATOR = """
import signal, sys
from printers import PrinterEmulator
emulator = PrinterEmulator().start()
print(emulator.port, flush=True)
def finish(*_):
    emulator.stop()
    print(len(emulator.jobs), flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, finish)
while True:
    signal.pause()
"""


@contextmanager
def emulator_processes(count: int):
    """Start ``count`` emulators, each in its own process; yields their ports, then a dict of jobs received."""
    processes = [subprocess.Popen([sys.executable, "-c", EMULATOR], stdout=subprocess.PIPE, text=True,
                                  cwd=Path(__file__).resolve().parent.parent) for _ in range(count)]
    received: dict[int, int] = {}
    try:
        ports = [int(p.stdout.readline()) for p in processes]
        yield ports, received
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for port, process in zip(ports, processes):
            out, _ = process.communicate(timeout=30)
            received[port] = int(out.strip() or 0)


def printers_toml(ports: list[int], folder: Path) -> str:
    """Emulated printers net-1.. on ``ports``, preview printers prev-1..4 (production timeouts: the defaults)."""
    text = ""
    for n, port in enumerate(ports, 1):
        text += f'[printers.net-{n}]\nbackend = "network"\nhost = "127.0.0.1"\nport = {port}\n\n'
    for n in range(1, 5):
        text += f'[printers.prev-{n}]\nbackend = "preview"\ndirectory = "{folder / "badges" / f"prev-{n}"}"\n\n'
    return text


def make_app(folder: Path, db_url: str, ports: list[int]):
    """The app for one scenario, its schema and event in place, and about 100 registrations to print for."""
    import sqlalchemy as sa

    from registration.app import create_app
    from registration.extensions import db
    from registration.models import Registration
    from registration.seed import seed_demo
    from registration.services import current_event, ensure_event

    app = create_app(write_config(folder, db_url, printers=printers_toml(ports, folder)))
    with app.app_context():
        # create_all, not init-db: the benchmark measures the queue, whatever migration is current.
        db.create_all()
        settings = app.extensions["lanyard"]
        ensure_event(settings.event)
        if not db.session.execute(sa.select(sa.func.count(Registration.id))).scalar():
            seed_demo(current_event(settings), settings=settings, count=100)
        db.session.commit()
    return app


def queue_jobs(app, names: list[str], jobs: int) -> None:
    """Queue ``jobs`` badges round-robin over the printers ``names``."""
    import sqlalchemy as sa

    from registration.audit import Actor
    from registration.extensions import db
    from registration.models import Registration
    from registration.printing.services import issue_badge

    settings = app.extensions["lanyard"]
    with app.app_context():
        people = list(db.session.execute(sa.select(Registration)).scalars())
        for person, printer in zip(itertools.cycle(people), itertools.islice(itertools.cycle(names), jobs)):
            issue_badge(person, printer_name=printer, settings=settings, actor=Actor.system("bench"))
        db.session.commit()


def drain(app, workers: int) -> float:
    """Work the queue with ``workers`` threads until every job is printed; returns the seconds taken."""
    import sqlalchemy as sa

    from registration.extensions import db
    from registration.printing.models import PrintJob
    from registration.printing.worker import PrintWorker

    def pending() -> int:
        with app.app_context():
            return db.session.execute(
                sa.select(sa.func.count()).where(PrintJob.state.not_in(("printed", "failed", "needs_decision")))
            ).scalar()

    done = threading.Event()

    def work(worker):
        while not done.is_set():
            if not worker.process_once():
                time.sleep(0.002)

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(PrintWorker(app, worker_id=f"bench-{n}"),)) for n in range(workers)]
    for thread in threads:
        thread.start()
    while pending():
        time.sleep(0.05)  # the watcher competes with the workers for the GIL: look rarely
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
        db.engine.dispose()
    return elapsed


def direct(port: int, jobs: int) -> float:
    """The same printer work without the queue: render and send ``jobs`` badges in a loop; seconds taken."""
    from printers import BadgeData, make_printer, render_badge

    printer = make_printer("direct", {"backend": "network", "host": "127.0.0.1", "port": port})
    started = time.perf_counter()
    for n in range(jobs):
        data = BadgeData(badge_name="Ada Lovelace", band_text="FULL CONFERENCE", event_name="Annual Conference",
                         code=f"B1{n:030d}", title="Mayor", organization="City of Sacramento", serial=f"#{n:06d}")
        printer.print_badge(render_badge(data, width=printer.width).image, job_name=f"direct-{n}")
    return time.perf_counter() - started


def report(label: str, jobs: int, elapsed: float, check: str) -> None:
    print(f"  {label:38s} {jobs / elapsed:7.1f} jobs/s  ({elapsed * 1000 / jobs:6.1f} ms/job; {check})", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", default=None, help=f"PostgreSQL server (default {PG_URL})")
    parser.add_argument("--jobs", type=int, default=400)
    args = parser.parse_args(argv)
    url = (args.database_url or PG_URL) if args.db == "postgresql" else None
    jobs = args.jobs

    with database(url) as (folder, db_url):
        print(f"print queue on {args.db}, {jobs} jobs per line (workers are threads of one process; "
              "each emulator is a process of its own):", flush=True)
        with emulator_processes(1) as (ports, received):
            elapsed = direct(ports[0], jobs)
        report("no queue: render + send in a loop", jobs, elapsed, f"emulator received {sum(received.values())}")
        for label, backend, printers, workers in SCENARIOS:
            with emulator_processes(printers if backend == "network" else 0) as (ports, received):
                app = make_app(folder, db_url, ports)
                names = [f"net-{n}" for n in range(1, len(ports) + 1)] if backend == "network" else [
                    f"prev-{n}" for n in range(1, printers + 1)]
                pngs_before = len(list((folder / "badges").glob("*/*.png")))
                queue_jobs(app, names, jobs)
                elapsed = drain(app, workers)
            if backend == "network":
                check = f"emulators received {sum(received.values())}"
            else:
                check = f"{len(list((folder / 'badges').glob('*/*.png'))) - pngs_before} PNG files written"
            report(f"queue: {label}", jobs, elapsed, check)


if __name__ == "__main__":
    main()
