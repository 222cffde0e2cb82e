"""Door scan API under load: 16 concurrent doors against 50,000 badges, through gunicorn; and the offline snapshot.

Each door has its own staff bearer token (role door) and scans badges as fast as answers come back (a closed
loop), mostly ``in`` at the Expo, every tenth ``out`` (there), every fifth at the breakouts (a capacity, so the
conditional seat write is on the path). Prints scans/s and p50/p99 latency, then checks that every scan was
stored once and that each area's occupancy is its admitted ins minus outs. Then builds the snapshot of 50,000
badges in-process and over HTTP (plain and gzip) and prints its size and time.
Targets on the 2-core machine: p99 ≤ 30 ms and ≥ 500 scans/s on SQLite; the snapshot a few MB, well under 1 s.

Usage: python benchmarks/bench_door.py [--db sqlite|postgresql] [--badges 50000] [--doors 16] [--per-door 250]
       [--workers N] [--rate R] [--sqlite-synchronous full|normal]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import database, gunicorn, percentiles, write_config  # noqa: E402
from benchmarks.bench_checkin import _exchange, cpu_seconds  # noqa: E402

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
BATCH = 5000


def populate(app, count: int, doors: int) -> tuple[list[str], list[str]]:
    """Insert ``count`` cleared, checked-in registrations with a valid badge each (Core, as the importer does) and
    one door staff user per door; returns the badge codes and the door tokens."""
    import sqlalchemy as sa

    import registration.staff
    from registration.audit import Actor
    from registration.codes import hash_code, new_code
    from registration.extensions import db
    from registration.models import HealthRecord, Registration, utcnow
    from registration.printing.models import Badge
    from registration.services import ensure_event
    from registration.staff import add_staff

    settings = app.extensions["lanyard"]
    with app.app_context():
        db.create_all()
        event = ensure_event(settings.event)
        db.session.commit()
        now = utcnow()
        badge_codes: list[str] = []
        for start in range(0, count, BATCH):
            rows, hashes = [], []
            for n in range(start, min(start + BATCH, count)):
                hashes.append(hash_code(new_code("registration")))
                guest = n % 7 == 6
                rows.append(dict(
                    event_id=event.id, type_name="guest" if guest else "full", first_name="Bench",
                    last_name=f"Person{n}", badge_name=f"Bench Person{n}", title="", organization="City of Davis",
                    email=f"person{n}@bench.example.gov", email_key=f"person{n}@bench.example.gov",
                    first_name_key="bench", last_name_key=f"person{n}", host_id=None, status="confirmed",
                    code_hash=hashes[-1], code_issued_at=now, manage_hash=hash_code(new_code("manage")),
                    language="en", source="import", created_at=now, updated_at=now))
            db.session.execute(sa.insert(Registration.__table__), rows)
            ids = list(db.session.execute(sa.select(Registration.id).where(Registration.code_hash.in_(hashes)))
                       .scalars())
            db.session.execute(sa.insert(HealthRecord.__table__), [
                dict(registration_id=rid, method="vaccinated", state="verified", updated_at=now) for rid in ids])
            badges = []
            for rid in ids:
                code = new_code("badge")
                badge_codes.append(code)
                badges.append(dict(event_id=event.id, registration_id=rid, code_hash=hash_code(code),
                                   code_prefix=code[:8], status="valid", void_reason="", created_at=now,
                                   issued_by="bench", reason="check-in"))
            db.session.execute(sa.insert(Badge.__table__), badges)
        registration.staff.PASSWORD_METHOD = "pbkdf2:sha256:1000"  # door users never sign in here
        tokens = [add_staff(f"door{n}@bench.example.gov", role="door", actor=Actor.system("bench"),
                            password="bench door password", with_token=True)[1] for n in range(doors)]
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                conn.execute(sa.text("ANALYZE"))
        db.engine.dispose()
    return badge_codes, tokens


def _post(host: str, port: int, token: str, body: dict) -> bytes:
    data = json.dumps(body).encode()
    return (f"POST /api/v1/scans HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n"
            ).encode("ascii") + data


def door_client(host, port, token, bodies, latencies, failures, start: threading.Barrier,
                interval: float | None = None, offset: float = 0.0):
    """One door: one scan after another, each timed from request (or from when it was due, with ``interval``)
    to full answer, a connection per request (so the kernel spreads them over the gunicorn workers)."""
    requests = [_post(host, port, token, body) for body in bodies]
    start.wait()
    due = time.perf_counter() + offset
    for request in requests:
        if interval is not None:
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        began = time.perf_counter() if interval is None else due
        sock = socket.create_connection((host, port), timeout=30)
        status, data = _exchange(sock, request)
        sock.close()
        latencies.append((time.perf_counter() - began) * 1000)
        if status != 200 or b'"result"' not in data:
            failures.append((status, data[:200]))
        if interval is not None:
            due += interval


def verify(app, expected: int) -> str:
    """Every scan stored once; each area's occupancy is its counted ins minus outs (never below zero)."""
    import sqlalchemy as sa

    from registration.door.models import AccessScan, AreaOccupancy
    from registration.extensions import db

    with app.app_context():
        stored = db.session.execute(sa.select(sa.func.count(AccessScan.id))).scalar()
        problems = []
        for row in db.session.execute(sa.select(AreaOccupancy)).scalars():
            ins = db.session.execute(sa.select(sa.func.count()).where(
                AccessScan.area == row.area, AccessScan.counted.is_(True), AccessScan.direction == "in")).scalar()
            outs = db.session.execute(sa.select(sa.func.count()).where(
                AccessScan.area == row.area, AccessScan.counted.is_(True), AccessScan.direction == "out")).scalar()
            if row.occupancy != ins - outs or row.occupancy < 0:
                problems.append(f"{row.area}: occupancy {row.occupancy}, counted {ins} in − {outs} out")
        occupancy = {row.area: row.occupancy for row in db.session.execute(sa.select(AreaOccupancy)).scalars()}
        db.engine.dispose()
    ok = stored == expected and not problems
    return (f"{'OK' if ok else 'FAILED'}: {stored} scans stored for {expected} requests; occupancy {occupancy}"
            + (f"; {problems}" if problems else ""))


def snapshot_figures(app, host: str, port: int, token: str) -> list[str]:
    """Build the expo snapshot in-process and fetch it over HTTP, plain and gzip."""
    import gzip
    import http.client

    from registration.door.services import build_snapshot
    from registration.extensions import db
    from registration.services import current_event

    lines = []
    settings = app.extensions["lanyard"]
    with app.app_context():
        event = current_event(settings)
        timings = []
        for _ in range(3):
            began = time.perf_counter()
            snap = build_snapshot(event, area="expo", settings=settings)
            timings.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        body = json.dumps(snap, separators=(",", ":")).encode()
        encode_ms = (time.perf_counter() - began) * 1000
        began = time.perf_counter()
        packed = gzip.compress(body, compresslevel=1)
        gzip_ms = (time.perf_counter() - began) * 1000
        # A door's refresh every few seconds: the changes since its cursor (nothing changed meanwhile here).
        from registration.door.services import SNAPSHOT_OVERLAP, encode_cursor
        from registration.models import utcnow

        quiet = encode_cursor(utcnow() + SNAPSHOT_OVERLAP)
        delta_began = time.perf_counter()
        delta = build_snapshot(event, area="expo", since=quiet, settings=settings)
        delta_ms = (time.perf_counter() - delta_began) * 1000
        assert not delta["badges"]
        db.session.remove()
        db.engine.dispose()
    lines.append(f"snapshot of {len(snap['badges'])} badges: built in {min(timings):.0f} ms (best of 3; "
                 f"{max(timings):.0f} worst), JSON {len(body) / 1e6:.1f} MB encoded in {encode_ms:.0f} ms, "
                 f"gzip {len(packed) / 1e6:.1f} MB in {gzip_ms:.0f} ms; a delta with nothing new: {delta_ms:.1f} ms")
    for encoding in ("identity", "gzip"):
        samples, size = [], 0
        for _ in range(3):
            conn = http.client.HTTPConnection(host, port, timeout=60)
            began = time.perf_counter()
            conn.request("GET", "/api/v1/door/snapshot?area=expo",
                         headers={"Authorization": f"Bearer {token}", "Accept-Encoding": encoding})
            response = conn.getresponse()
            size = len(response.read())
            samples.append((time.perf_counter() - began) * 1000)
            conn.close()
        lines.append(f"GET /api/v1/door/snapshot ({encoding}): {size / 1e6:.1f} MB in {min(samples):.0f} ms "
                     f"(best of 3; {max(samples):.0f} worst)")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", default=None, help=f"PostgreSQL server (default {PG_URL})")
    parser.add_argument("--badges", type=int, default=50_000)
    parser.add_argument("--doors", type=int, default=16)
    parser.add_argument("--per-door", type=int, default=250)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn sync workers")
    parser.add_argument("--rate", type=float, default=None,
                        help="scans per second offered by all doors together (default: as fast as answered)")
    parser.add_argument("--sqlite-synchronous", choices=("full", "normal"), default="full",
                        help="[database] sqlite_synchronous (default full, as shipped)")
    args = parser.parse_args(argv)
    interval = args.doors / args.rate if args.rate else None

    from registration.app import create_app

    url = (args.database_url or PG_URL) if args.db == "postgresql" else None
    with database(url) as (folder, db_url):
        config = write_config(folder, db_url)
        config.write_text(config.read_text(encoding="utf-8").replace(
            'sqlite_synchronous = "full"', f'sqlite_synchronous = "{args.sqlite_synchronous}"'), encoding="utf-8")
        app = create_app(config)
        began = time.perf_counter()
        codes, tokens = populate(app, args.badges, args.doors)
        print(f"{args.badges} badges and {args.doors} door users on {args.db} in {time.perf_counter() - began:.1f} s")
        rng = random.Random(10)
        plans = []
        for n in range(args.doors):
            bodies = []
            for i in range(args.per_door):
                area = "breakouts" if i % 5 == 4 else "expo"
                bodies.append({"code": rng.choice(codes), "area": area, "door": f"Door {n + 1}",
                               "direction": "out" if i % 10 == 8 else "in", "nonce": uuid.uuid4().hex})
            plans.append(bodies)
        latencies: list[float] = []
        failures: list = []
        with gunicorn(config, workers=args.workers, worker_class="sync") as (host, port):
            start = threading.Barrier(args.doors + 1)
            threads = [threading.Thread(target=door_client, args=(
                host, port, tokens[n], plans[n], latencies, failures, start, interval,
                interval * n / args.doors if interval else 0.0)) for n in range(args.doors)]
            for t in threads:
                t.start()
            server_marker = f"127.0.0.1:{port}"
            start.wait()
            began, client_cpu, server_cpu = time.perf_counter(), time.process_time(), cpu_seconds(server_marker)
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - began
            client_cpu = time.process_time() - client_cpu
            server_cpu = cpu_seconds(server_marker) - server_cpu
            total = args.doors * args.per_door
            load = f"offered {args.rate:.0f}/s" if args.rate else "closed loop"
            sync = f", sqlite_synchronous {args.sqlite_synchronous}" if args.db == "sqlite" else ""
            print(f"scan API on {args.db}: {args.doors} concurrent doors ({load}), {total} scans in "
                  f"{elapsed:.1f} s = {total / elapsed:.0f} scans/s (target ≥ 500); gunicorn {args.workers} sync "
                  f"workers, a connection per request{sync}")
            print(f"  POST /api/v1/scans: {percentiles(latencies)} (target p99 ≤ 30 ms)"
                  + (" from when each scan was due" if args.rate else ""))
            print(f"  CPU per scan: gunicorn {server_cpu * 1000 / total:.2f} ms + load generator "
                  f"{client_cpu * 1000 / total:.2f} ms")
            print(f"  failures: {len(failures)}{' e.g. ' + repr(failures[0]) if failures else ''}")
            print(f"  {verify(app, total - len(failures))}")
            for line in snapshot_figures(app, host, port, tokens[0]):
                print(line)


if __name__ == "__main__":
    main()
