"""SQLite durability: every connection commits with ``synchronous=FULL`` unless the operator chose NORMAL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from registration.app import create_app
from registration.extensions import db
from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="a SQLite setting")

#: What ``PRAGMA synchronous`` reads back.
LEVELS = {1: "normal", 2: "full"}


def _levels(app) -> list[str]:
    """The level on two distinct pooled connections (each is set up when it is opened)."""
    with app.app_context():
        try:
            with db.engine.connect() as first, db.engine.connect() as second:
                return [LEVELS[c.execute(sa.text("PRAGMA synchronous")).scalar_one()] for c in (first, second)]
        finally:
            db.engine.dispose()


@pytest.mark.parametrize("overrides, expected", [
    ({}, "full"),
    ({"database.sqlite_synchronous": "full"}, "full"),
    ({"database.sqlite_synchronous": "normal"}, "normal"),
])
def test_every_sqlite_connection_uses_the_configured_synchronous_level(write_config, monkeypatch, overrides,
                                                                        expected):
    monkeypatch.delenv("LANYARD_DATABASE_URL", raising=False)
    app = create_app(write_config(), overrides=overrides)
    assert _levels(app) == [expected, expected]
