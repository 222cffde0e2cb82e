"""Fixed-window counters in the database, shared by every app worker and server (e.g. sign-in attempts)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .extensions import db
from .models import RateLimitWindow

_windows = RateLimitWindow.__table__


def _window(window_seconds: int, now: datetime) -> int:
    return int(now.timestamp()) // window_seconds


def seconds_left(window_seconds: int, now: datetime) -> int:
    """Seconds until the current window ends (at least 1)."""
    return max(1, (_window(window_seconds, now) + 1) * window_seconds - int(now.timestamp()))


def current_count(key: str, *, window_seconds: int, now: datetime) -> int:
    """How often ``key`` was counted in the current window."""
    return db.session.execute(
        sa.select(_windows.c.count).where(_windows.c.key == key[:300],
                                          _windows.c.window == _window(window_seconds, now))
    ).scalar() or 0


def count(key: str, *, window_seconds: int, now: datetime) -> int:
    """Count one more for ``key`` in the current window, atomically; returns the new count."""
    window = _window(window_seconds, now)
    insert = (postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert)(_windows)
    new = db.session.execute(
        insert.values(key=key[:300], window=window, count=1)
        .on_conflict_do_update(index_elements=["key", "window"], set_={"count": _windows.c.count + 1})
        .returning(_windows.c.count)
    ).scalar_one()
    if new == 1:  # a new window for this key: forget its old ones
        db.session.execute(sa.delete(_windows).where(_windows.c.key == key[:300], _windows.c.window < window))
    return new
