"""Kiosk check-in API under load: 16 kiosks against 50,000 registrations, through gunicorn.

Each kiosk client has its own bearer token and posts check-ins for codes nobody else scans, by
default as fast as answers come back (a closed loop: each kiosk sends its next scan the moment the
last one is answered), or at a fixed total rate with ``--rate`` (latency then counts from when a scan
was due, so a slow answer that delays the next scan is not hidden). Prints p50/p99 latency and
check-ins per second, then checks that every person was checked in once and got exactly one badge
and one print job with a distinct serial.
Target on the 2-core machine: p99 ≤ 50 ms and ≥ 300 check-ins/s.

The server is gunicorn with one sync worker per core by default: each check-in is a short,
CPU-bound request on its own connection, and more processes or threads than cores only add
context switches, GIL hand-offs and SQLite lock waits. ``--worker-class gthread --workers 4
--threads 4`` runs the README's production example for comparison.

Usage: python benchmarks/bench_checkin.py [--db sqlite|postgresql] [--registrations 50000] [--kiosks 16]
       [--per-kiosk 250] [--workers N] [--threads 1] [--worker-class sync|gthread] [--rate R] [--keep-alive]
       [--sqlite-synchronous full|normal]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import database, gunicorn, percentiles, write_config  # noqa: E402

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
PRINTERS = 4
BATCH = 5000


def printers_config(folder: Path) -> str:
    """A few preview printers (nothing prints during the run: no worker is started)."""
    return "".join(f'\n[printers.bench-{n}]\nbackend = "preview"\ndirectory = "{folder / f"badges-{n}"}"\n'
                   for n in range(PRINTERS))


def populate(app, count: int, kiosks: int) -> tuple[list[str], list[str]]:
    """Insert ``count`` cleared registrations with Core (as the importer does) and add the kiosks.

    Returns the registration codes and the kiosk tokens.
    """
    import sqlalchemy as sa

    from kiosk.services import add_kiosk
    from registration.audit import Actor
    from registration.codes import hash_code, new_code
    from registration.extensions import db
    from registration.models import HealthRecord, Registration, utcnow
    from registration.services import ensure_event

    settings = app.extensions["lanyard"]
    with app.app_context():
        db.create_all()
        event = ensure_event(settings.event)
        db.session.commit()
        now = utcnow()
        codes: list[str] = []
        for start in range(0, count, BATCH):
            rows, batch_hashes = [], []
            for n in range(start, min(start + BATCH, count)):
                code = new_code("registration")
                codes.append(code)
                batch_hashes.append(hash_code(code))
                rows.append(dict(
                    event_id=event.id, type_name="full", first_name="Bench", last_name=f"Person{n}",
                    badge_name=f"Bench Person{n}", title="", organization="City of Davis",
                    email=f"person{n}@bench.example.gov", email_key=f"person{n}@bench.example.gov",
                    first_name_key="bench", last_name_key=f"person{n}", host_id=None, status="confirmed",
                    code_hash=batch_hashes[-1], code_issued_at=now, manage_hash=hash_code(new_code("manage")),
                    language="en", source="import", created_at=now, updated_at=now))
            db.session.execute(sa.insert(Registration.__table__), rows)
            ids = db.session.execute(sa.select(Registration.id).where(Registration.code_hash.in_(batch_hashes)))
            db.session.execute(sa.insert(HealthRecord.__table__), [
                dict(registration_id=rid, method="vaccinated", state="verified", updated_at=now)
                for rid in ids.scalars()])
        tokens = []
        for n in range(kiosks):
            _kiosk, token, _enrol = add_kiosk(event, name=f"kiosk-{n + 1}", printer_name=f"bench-{n % PRINTERS}",
                                              settings=settings, actor=Actor.system("bench"), location=f"Lobby {n}")
            tokens.append(token)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                conn.execute(sa.text("ANALYZE"))
        db.engine.dispose()
    return codes, tokens


def _request(method: str, path: str, host: str, port: int, token: str, body: bytes, keep_alive: bool) -> bytes:
    """One HTTP/1.1 request, as bytes built before the clock starts (the load generator shares the CPU)."""
    return (f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"{'' if keep_alive else 'Connection: close' + chr(13) + chr(10)}\r\n").encode("ascii") + body


def _exchange(sock: socket.socket, request: bytes) -> tuple[int, bytes]:
    """Send a request and read its whole answer (by Content-Length); returns status and body."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before the answer")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head[9:12]), body


def kiosk_client(host, port, token, codes, latencies, failures, start: threading.Barrier, keep_alive: bool,
                 interval: float | None = None, offset: float = 0.0):
    """One kiosk: one check-in after another, each timed from request (or from when it was due) to full answer.

    Without keep-alive a new connection per request lets the kernel spread requests over the gunicorn
    workers; keep-alive connections stick to whichever worker accepted them first (often all to one).
    """
    requests = [_request("POST", "/api/v1/checkins", host, port, token,
                         json.dumps({"code": code, "nonce": uuid.uuid4().hex}).encode(), keep_alive)
                for code in codes]
    sock = socket.create_connection((host, port), timeout=30)
    _exchange(sock, _request("GET", "/api/v1/kiosk/status", host, port, token, b"", keep_alive))  # warm a worker
    if not keep_alive:
        sock.close()
    start.wait()
    due = time.perf_counter() + offset
    for request in requests:
        if interval is not None:
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        began = time.perf_counter() if interval is None else due
        if not keep_alive:
            sock = socket.create_connection((host, port), timeout=30)
        status, data = _exchange(sock, request)
        if not keep_alive:
            sock.close()
        latencies.append((time.perf_counter() - began) * 1000)
        if status != 200 or b'"result":"checked_in"' not in data.replace(b" ", b""):
            failures.append((status, data[:200]))
        if interval is not None:
            due += interval
    if keep_alive:
        sock.close()


def cpu_seconds(marker: str) -> float:
    """CPU time used so far by every process whose command line contains ``marker`` (Linux /proc)."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if marker.encode() not in fh.read():
                    continue
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return total


def verify(app, expected: int) -> str:
    """Every check-in once, one badge and one print job each."""
    import sqlalchemy as sa

    from registration.checkin.models import CheckIn
    from registration.extensions import db
    from registration.printing.models import Badge, PrintJob

    with app.app_context():
        checkins = db.session.execute(sa.select(sa.func.count(CheckIn.id))).scalar()
        doubled = db.session.execute(
            sa.select(sa.func.count()).select_from(
                sa.select(Badge.registration_id).group_by(Badge.registration_id)
                .having(sa.func.count() > 1).subquery())).scalar()
        jobs = db.session.execute(sa.select(sa.func.count(PrintJob.id))).scalar()
        distinct_serials = db.session.execute(sa.select(sa.func.count(sa.distinct(Badge.serial)))).scalar()
        db.engine.dispose()
    ok = checkins == expected == jobs == distinct_serials and doubled == 0
    return (f"{'OK' if ok else 'FAILED'}: {checkins} check-ins for {expected} requests, {jobs} print jobs, "
            f"{distinct_serials} distinct badge serials, {doubled} people with more than one badge")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", default=None, help=f"PostgreSQL server (default {PG_URL})")
    parser.add_argument("--registrations", type=int, default=50_000)
    parser.add_argument("--kiosks", type=int, default=16)
    parser.add_argument("--per-kiosk", type=int, default=250)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="default: one per core")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (gthread only)")
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default="sync")
    parser.add_argument("--rate", type=float, default=None,
                        help="check-ins per second offered by all kiosks together (default: as fast as answered)")
    parser.add_argument("--keep-alive", action="store_true", help="one persistent connection per kiosk")
    parser.add_argument("--sqlite-synchronous", choices=("full", "normal"), default="full",
                        help="[database] sqlite_synchronous (default full, as shipped)")
    args = parser.parse_args(argv)
    if args.kiosks * args.per_kiosk > args.registrations:
        parser.error("--kiosks × --per-kiosk must not exceed --registrations")
    if args.keep_alive and args.worker_class == "sync":
        parser.error("--keep-alive needs --worker-class gthread (sync workers close every connection)")
    interval = args.kiosks / args.rate if args.rate else None

    from registration.app import create_app

    url = (args.database_url or PG_URL) if args.db == "postgresql" else None
    with database(url) as (folder, db_url):
        config = write_config(folder, db_url, printers=printers_config(folder))
        config.write_text(config.read_text(encoding="utf-8").replace(
            'sqlite_synchronous = "full"', f'sqlite_synchronous = "{args.sqlite_synchronous}"'), encoding="utf-8")
        app = create_app(config)
        began = time.perf_counter()
        codes, tokens = populate(app, args.registrations, args.kiosks)
        print(f"{args.registrations} registrations and {args.kiosks} kiosks on {args.db} "
              f"in {time.perf_counter() - began:.1f} s")
        latencies: list[float] = []
        failures: list = []
        with gunicorn(config, workers=args.workers, threads=args.threads, worker_class=args.worker_class) as (
                host, port):
            start = threading.Barrier(args.kiosks + 1)
            threads = [threading.Thread(target=kiosk_client, args=(
                host, port, tokens[n], codes[n * args.per_kiosk:(n + 1) * args.per_kiosk], latencies, failures,
                start, args.keep_alive, interval, interval * n / args.kiosks if interval else 0.0))
                for n in range(args.kiosks)]
            for t in threads:
                t.start()
            # CPU time is measured too: on a shared machine it says more than the wall clock.
            server_marker, db_marker = f"127.0.0.1:{port}", db_url.rsplit("/", 1)[-1]
            start.wait()
            began, client_cpu = time.perf_counter(), time.process_time()
            server_cpu, db_cpu = cpu_seconds(server_marker), cpu_seconds(db_marker) if args.db == "postgresql" else 0
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - began
            client_cpu = time.process_time() - client_cpu
            server_cpu = cpu_seconds(server_marker) - server_cpu
            db_cpu = (cpu_seconds(db_marker) - db_cpu) if args.db == "postgresql" else 0
        total = args.kiosks * args.per_kiosk
        server = (f"gunicorn {args.workers} {args.worker_class} workers"
                  + (f" × {args.threads} threads" if args.worker_class == "gthread" else ""))
        load = f"offered {args.rate:.0f}/s" if args.rate else "closed loop"
        print(f"check-in API on {args.db}: {args.kiosks} concurrent kiosks ({load}), {total} check-ins in "
              f"{elapsed:.1f} s = {total / elapsed:.0f} check-ins/s (target ≥ 300); {server}, "
              f"{'keep-alive' if args.keep_alive else 'a connection per request'}")
        print(f"  POST /api/v1/checkins: {percentiles(latencies)} (target p99 ≤ 50 ms)"
              + (" from when each scan was due" if args.rate else ""))
        per = 1000 / total
        print(f"  CPU per check-in: gunicorn {server_cpu * per:.2f} ms"
              + (f" + PostgreSQL {db_cpu * per:.2f} ms" if args.db == "postgresql" else "")
              + f" + load generator {client_cpu * per:.2f} ms "
              f"(the machine's {os.cpu_count()} cores allow at most "
              f"{os.cpu_count() * 1000 / ((server_cpu + db_cpu + client_cpu) * per):.0f} check-ins/s at this cost)")
        print(f"  failures: {len(failures)}{' e.g. ' + repr(failures[0]) if failures else ''}")
        print(f"  {verify(app, total - len(failures))}")


if __name__ == "__main__":
    main()
