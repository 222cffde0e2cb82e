"""Storage faults: a database that is read-only, full or gone answers 503 ``storage_unavailable`` and heals itself.

Three parts, one idea (a connection that failed this way is worth nothing):

- :func:`is_storage_fault` names the driver errors that mean the storage, not the request, is at fault;
- the engine's ``handle_error`` hook treats them as disconnects, so the pool discards the connection and every
  connection opened before it (a connection opened during a failover or a read-only spell stays read-only for
  its whole life, which is why check-ins kept failing until gunicorn was restarted);
- the request edge (:class:`registration.app.LanyardFlask`) runs a request that hit one again, once, on a fresh
  connection when it had committed nothing yet; that is also how a PostgreSQL restart costs no kiosk an error
  without a pre-ping round trip on every request.

The ``probes`` blueprint serves ``/healthz`` (the process answers) and ``/readyz`` (the database can be written)
for load balancers and monitoring.
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from flask import Blueprint, g, has_request_context
from flask_sqlalchemy.session import Session as FlaskSession

from .extensions import csrf, db
from .settings import current_settings

bp = Blueprint("probes", __name__)

#: SQLite primary result codes that mean the file cannot be written: READONLY, IOERR, FULL, CANTOPEN.
SQLITE_FAULTS = frozenset({8, 10, 13, 14})
#: PostgreSQL SQLSTATEs (exact, or their two-character class) that mean the server cannot take writes now:
#: read-only transaction (a standby or ``default_transaction_read_only``), connection exceptions, insufficient
#: resources (disk full, out of memory, too many connections), shutdown or still starting up.
POSTGRES_FAULTS = frozenset({"25006", "08", "53", "57P01", "57P02", "57P03"})
#: Seconds a client is told to wait before trying again.
RETRY_AFTER = 5


def is_storage_fault(error: BaseException) -> bool:
    """Whether a database error means the storage cannot take writes now (as opposed to a bad request)."""
    if isinstance(error, sa.exc.DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig
    if isinstance(error, sqlite3.Error):
        return (getattr(error, "sqlite_errorcode", 0) & 0xFF) in SQLITE_FAULTS
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in POSTGRES_FAULTS or sqlstate[:2] in POSTGRES_FAULTS
    # psycopg without a SQLSTATE: the server refused the connection or went away mid-call.
    return type(error).__name__ == "OperationalError" and type(error).__module__.startswith("psycopg")


def _discard_faulty_connection(context) -> None:
    """``handle_error``: a storage fault invalidates its connection and the pool, like a disconnect."""
    if not context.is_disconnect and is_storage_fault(context.original_exception):
        context.is_disconnect = True
    if context.is_disconnect and context.statement is None and context.connection is not None:
        # Lost during COMMIT (no statement, but a connection): whether the server kept the work is unknown.
        _retry_unsafe()


@sa.event.listens_for(FlaskSession, "after_commit")
def _note_commit(_session) -> None:
    """A request that has committed work must not run again: that could repeat the work."""
    _retry_unsafe()


def _retry_unsafe() -> None:
    if has_request_context():
        g.lanyard_retry_unsafe = True


def begin_attempt() -> None:
    """Start (or restart) a request's attempt: nothing written yet."""
    g.lanyard_retry_unsafe = False


def may_retry() -> bool:
    """Whether the request can run again on a fresh connection: nothing it did so far was (or may have been) kept."""
    return not g.get("lanyard_retry_unsafe", False)


def init_app(app) -> None:
    """Hook the fault handling into the app's engine and register the probes."""
    with app.app_context():
        sa.event.listen(db.engine, "handle_error", _discard_faulty_connection)
    csrf.exempt(bp)  # no forms, no state a forged request could change: a POST gets the method check's 405
    app.register_blueprint(bp)


def check_writable(slug: str) -> None:
    """Change something in the database; the caller commits, which is when a full disk shows.

    SQLite writes nothing for an UPDATE that leaves a page as it was, so there the probe advances the file's
    ``user_version`` header field (Lanyard does not use it otherwise); PostgreSQL writes a new row version for any
    UPDATE, so rewriting the event's name as it is will do (and fails at once on a read-only server).

    :raise sqlalchemy.exc.DBAPIError: the database is read-only, full or unreachable.
    """
    from .models import Event

    if db.engine.dialect.name == "sqlite":
        version = db.session.execute(sa.text("PRAGMA user_version")).scalar_one()
        db.session.execute(sa.text(f"PRAGMA user_version = {(version + 1) % 2**31}"))
        return
    db.session.execute(sa.update(Event).where(Event.slug == slug).values(name=Event.name)
                       .execution_options(synchronize_session=False))


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers. Touches no database, so a database fault never restarts the app."""
    from .api import ok

    return ok({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Readiness: a real write commits (a fault answers 503 ``storage_unavailable`` from the request edge)."""
    from .api import ok

    check_writable(current_settings().event.slug)
    db.session.commit()
    return ok({"status": "ready"})
