"""Real storage faults in the real database: 503 ``storage_unavailable`` while they last, recovery without a restart.

- SQLite: the database lives on a tiny tmpfs of its own, and a filler file takes the last free byte (a full disk;
  the driver raises SQLITE_FULL). Mounting needs root, as the tests run; elsewhere the SQLite case is skipped.
- PostgreSQL: a failover to a read-only server — the database is set ``default_transaction_read_only`` and every
  connection of the app is terminated (the driver raises SQLSTATE 25006 on the next write). Clearing the fault
  leaves the app's pooled connections read-only: the app must discard them by itself.
- PostgreSQL restart: ``pg_terminate_backend`` on every connection of the app (restarting the shared server is
  not allowed here); the next kiosk check-in and page must not see an error.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from registration.extensions import db
from tests.checkin.conftest import PRINTERS
from tests.conftest import BACKEND, PG_SERVER_URL
from tests.helpers import assert_api_error
from tests.kiosk.conftest import make_kiosk, make_kiosk_client  # noqa: F401  (shared fixtures)
from tests.registration.test_register_pages import csrf_token, form_data

#: How long a test waits for the server to reach a state before it fails.
WAIT = 30


class DiskFull:
    """A tmpfs of a few MiB holding the SQLite database; ``inject`` fills it, ``clear`` frees it."""

    def __init__(self, database):
        self.database = database
        self.filler = database.parent / "filler"
        self.holder: sqlite3.Connection | None = None

    def inject(self, _app) -> None:
        # Another process keeps the database open (as the print worker does), so the app closing its connections
        # never deletes the -wal and -shm files and frees their space. Empty the write-ahead log first, so that
        # the next commit must grow it (a WAL file otherwise keeps its size and is written over).
        self.holder = sqlite3.connect(self.database)
        self.holder.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        with open(self.filler, "wb", buffering=0) as fh:
            for chunk in (1 << 16, 1 << 12, 1):
                try:
                    while True:
                        fh.write(b"\0" * chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc

    def clear(self) -> None:
        self.filler.unlink(missing_ok=True)
        if self.holder is not None:
            self.holder.close()
            self.holder = None


class ReadOnlyFailover:
    """The app's PostgreSQL database turns read-only and its connections are dropped, as after a failover."""

    def __init__(self, database_url: str):
        self.name = _database_name(database_url)
        self.admin = sa.create_engine(PG_SERVER_URL.replace("postgresql://", "postgresql+psycopg://"),
                                      isolation_level="AUTOCOMMIT")

    def inject(self, _app) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{self.name}" SET default_transaction_read_only = on'))
        terminate_connections(self.admin, self.name)

    def clear(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{self.name}" RESET default_transaction_read_only'))
        self.admin.dispose()


#: The ``application_name`` of this module's app: only its connections are dropped, never those of the apps that
#: other tests of the run keep for the whole session.
APPLICATION_NAME = "lanyard-storage-fault-test"


def terminate_connections(admin, name: str) -> int:
    """``pg_terminate_backend`` every connection of this module's app to database ``name``; returns when they are
    gone."""
    query = sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :name AND application_name = :app "
                    "AND pid <> pg_backend_pid()")
    params = {"name": name, "app": APPLICATION_NAME}
    with admin.connect() as conn:
        pids = list(conn.execute(query, params).scalars())
        for pid in pids:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        deadline = time.monotonic() + WAIT
        while conn.execute(query, params).first() is not None:  # a state, polled: the backends exit
            assert time.monotonic() < deadline, "backends still alive"
    return len(pids)


@pytest.fixture
def tiny_disk(tmp_path):
    """For SQLite: a 16 MiB tmpfs of its own."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(mountpoint)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.strip()}")
    yield mountpoint
    subprocess.run(["umount", "--lazy", str(mountpoint)], check=True)


@pytest.fixture
def database_url(request, tmp_path, database_server):
    """SQLite on the tiny filesystem; the run's PostgreSQL database otherwise."""
    if database_server is None:
        return f"sqlite:///{request.getfixturevalue('tiny_disk') / 'lanyard.db'}"
    return f"{database_server}?application_name={APPLICATION_NAME}"


def _database_name(database_url: str) -> str:
    return database_url.rsplit("/", 1)[1].split("?", 1)[0]


@pytest.fixture
def app(make_app):
    """The app with preview printers, an application context pushed."""
    app = make_app(printers=PRINTERS)
    with app.app_context():
        yield app


@pytest.fixture
def fault(app, database_url):
    """The backend's real storage fault; always cleared at the end (the PostgreSQL database is shared by the run)."""
    fault = (DiskFull(Path(database_url.removeprefix("sqlite:///"))) if BACKEND == "sqlite"
             else ReadOnlyFailover(database_url))
    yield fault
    fault.clear()
    db.session.rollback()
    db.engine.dispose()  # should the app not have healed, the rest of the run must not inherit its connections


def _register(client, email: str):
    return client.post("/register", data=form_data(csrf_token(client), email=email))


def test_a_full_or_read_only_database_answers_503_and_recovers_by_itself(app, fault, make_registration,
                                                                        make_kiosk_client):
    issued = [make_registration()[0] for _ in range(2)]
    codes = [i.code for i in issued]
    _kiosk, kiosk = make_kiosk_client("kiosk-a")
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    assert kiosk.check_in(codes[0]).get_json()["result"] == "checked_in"

    fault.inject(app)
    nonce = uuid.uuid4().hex
    response = kiosk.check_in(codes[1], nonce=nonce)
    assert_api_error(response, 503, "storage_unavailable")
    assert response.headers["Retry-After"] == "5"
    page = _register(client, "during-the-fault@example.org")
    assert page.status_code == 503
    assert "temporarily unavailable" in page.get_data(as_text=True)
    assert_api_error(client.get("/readyz"), 503, "storage_unavailable")
    assert client.get("/healthz").status_code == 200  # the process itself is fine: no restart wanted
    assert kiosk.check_in(codes[1], nonce=nonce).status_code == 503  # still failing, not half-done
    # Reading still works, and leaves in the pool a connection opened during the fault (on PostgreSQL a
    # read-only one, which stays read-only after the fault clears).
    assert client.get(f"/r/{issued[0].manage_code}", follow_redirects=True).status_code == 200

    fault.clear()
    started = time.perf_counter()
    response = kiosk.check_in(codes[1], nonce=nonce)  # the kiosk's retry of the same request
    recovery = time.perf_counter() - started
    print(f"\n{BACKEND}: first check-in after the fault cleared: {recovery * 1000:.0f} ms")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["result"] == "checked_in"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json() == {"status": "ready"}
    assert _register(client, "after-the-fault@example.org").status_code == 303  # on to the confirmation page


@pytest.mark.skipif(BACKEND != "postgresql", reason="a PostgreSQL server's restart")
def test_after_postgresql_drops_every_connection_no_kiosk_or_page_sees_an_error(app, database_url, make_registration,
                                                                               make_kiosk_client, caplog):
    issued = [make_registration()[0] for _ in range(3)]
    _kiosk, kiosk = make_kiosk_client("kiosk-a")
    client = app.test_client()
    assert kiosk.check_in(issued[0].code).get_json()["result"] == "checked_in"
    with contextlib.ExitStack() as stack:  # fill the pool with several idle connections, as a busy worker has
        for _ in range(4):
            stack.enter_context(db.engine.connect()).exec_driver_sql("SELECT 1")
    admin = sa.create_engine(PG_SERVER_URL.replace("postgresql://", "postgresql+psycopg://"),
                             isolation_level="AUTOCOMMIT")
    try:
        assert terminate_connections(admin, _database_name(database_url)) >= 4
    finally:
        admin.dispose()

    with caplog.at_level(logging.WARNING, logger="registration.app"):
        started = time.perf_counter()
        response = kiosk.check_in(issued[1].code)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["result"] == "checked_in"
        page = client.get(f"/r/{issued[2].manage_code}", follow_redirects=True)
        assert page.status_code == 200
        assert kiosk.check_in(issued[2].code).get_json()["result"] == "checked_in"
    print(f"\nfirst check-in after every connection was dropped: {elapsed * 1000:.0f} ms")
    # The check-in did meet a dead connection and ran again on a fresh one (not a lucky fresh checkout).
    assert [r for r in caplog.records if "running the request again on a fresh connection" in r.getMessage()]


@pytest.mark.skipif(BACKEND != "postgresql", reason="a PostgreSQL connection lost while committing")
def test_a_connection_lost_while_committing_is_not_run_again(app, database_url, event):
    from registration import storage

    admin = sa.create_engine(PG_SERVER_URL.replace("postgresql://", "postgresql+psycopg://"),
                             isolation_level="AUTOCOMMIT")
    try:
        with app.test_request_context("/api/v1/checkins", method="POST"):
            storage.begin_attempt()
            db.session.execute(sa.text("UPDATE events SET name = name"))
            assert storage.may_retry()  # a statement failing now would have changed nothing: safe to run again
            terminate_connections(admin, _database_name(database_url))
            with pytest.raises(sa.exc.DBAPIError) as excinfo:
                db.session.commit()
            assert storage.is_storage_fault(excinfo.value)
            assert not storage.may_retry()  # the server may have kept the work: never run it twice
            db.session.rollback()
    finally:
        admin.dispose()
