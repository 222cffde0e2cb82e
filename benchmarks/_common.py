"""Shared by the benchmarks: a temporary configuration and database for a run."""

from __future__ import annotations

import statistics
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent


def write_config(folder: Path, database_url: str, *, printers: str = "") -> Path:
    """A config.toml like the shipped one, pointed at ``database_url`` and an outbox in ``folder``."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('url = "sqlite:///var/lanyard.db"', f'url = "{database_url}"')
    text = text.replace('outbox = "var/outbox"', f'outbox = "{folder / "outbox"}"')
    text = text.replace('secret_key_file = "var/secret_key"', f'secret_key_file = "{folder / "secret_key"}"')
    text = text.split("[printers.", 1)[0] + printers
    if "[printers.desk]" not in printers:  # the shipped [desk] names the desk's printer
        text = text.replace('printer = "desk"', 'printer = ""')
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@contextmanager
def database(url: str | None):
    """Yield a database URL: a temporary SQLite file, or a fresh PostgreSQL database dropped afterwards."""
    with tempfile.TemporaryDirectory(prefix="lanyard-bench-") as folder:
        folder = Path(folder)
        if not url or url.startswith("sqlite"):
            yield folder, url or f"sqlite:///{folder / 'bench.db'}"
            return
        name = f"lanyard_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield folder, url.rsplit("/", 1)[0] + "/" + name
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def percentiles(samples_ms: list[float]) -> str:
    """p50 / p95 / p99 / max of a list of milliseconds, as one line."""
    ordered = sorted(samples_ms)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return f"p50 {q[49]:.1f} ms · p95 {q[94]:.1f} ms · p99 {q[98]:.1f} ms · max {ordered[-1]:.1f} ms"


def generate_import_csv(path: Path, rows: int, *, guest_every: int = 7) -> None:
    """Write an import file of ``rows`` people: full registrants, every ``guest_every``-th a guest."""
    import csv
    import random

    from registration.seed import CITIES, FIRST, LAST, TITLES

    rng = random.Random(50_000)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["first_name", "last_name", "badge_name", "email", "title", "organization",
                         "registration_type", "host_email", "health_method", "health_state", "test_taken_at"])
        last_host = None
        for n in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            if last_host and n % guest_every == 0:
                writer.writerow([first, last, "", "", "", "", "guest", last_host, "vaccinated", "attested", ""])
                continue
            email = f"person{n}@city{n % 480}.example.gov"
            health = rng.choice([("vaccinated", "verified", ""), ("vaccinated", "attested", ""),
                                 ("negative_test", "verified", "2026-11-20T09:00"), ("", "", "")])
            writer.writerow([first, last, "", email, rng.choice(TITLES), f"City of {rng.choice(CITIES)}", "full",
                             "", *health])
            last_host = email


@contextmanager
def gunicorn(config_path: Path, *, workers: int = 4, threads: int = 4, worker_class: str = "gthread"):
    """Serve the app with gunicorn on a free loopback port; yield ``(host, port)``."""
    import os
    import socket
    import subprocess
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(Path(os.sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers",
               str(workers), "--worker-class", worker_class, "--log-level", "warning"]
    if worker_class == "gthread":
        command += ["--threads", str(threads)]
    process = subprocess.Popen(command + ["registration.wsgi:app"], cwd=ROOT,
                               env=dict(os.environ, LANYARD_CONFIG=str(config_path)))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        process.wait(timeout=15)
