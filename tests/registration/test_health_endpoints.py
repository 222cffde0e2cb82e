"""``/healthz`` (the process answers) and ``/readyz`` (the database can be written), for load balancers: no login."""

from __future__ import annotations

import shutil
import socket

import pytest

from registration.app import create_app
from registration.auth import PUBLIC, requirement_for
from registration.extensions import db
from tests.conftest import BACKEND
from tests.helpers import assert_api_error


@pytest.mark.parametrize("path, body", [("/healthz", {"status": "ok"}), ("/readyz", {"status": "ready"})])
def test_probes_answer_anyone_without_a_login(client, path, body):
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == body
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("endpoint", ["probes.healthz", "probes.readyz"])
def test_the_policy_lists_the_probes_as_public(endpoint):
    assert requirement_for(endpoint) == PUBLIC


@pytest.fixture
def unreachable_app(write_config, tmp_path, monkeypatch):
    """An app whose database cannot be reached: a SQLite folder that is gone, or a PostgreSQL port nobody serves."""
    monkeypatch.delenv("LANYARD_DATABASE_URL", raising=False)
    if BACKEND == "sqlite":
        folder = tmp_path / "data"
        app = create_app(write_config(database_url_=f"sqlite:///{folder / 'lanyard.db'}"))
        shutil.rmtree(folder)
    else:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        app = create_app(write_config(database_url_=f"postgresql://postgres@127.0.0.1:{port}/lanyard"))
    yield app
    with app.app_context():
        db.engine.dispose()


def test_without_a_database_the_process_is_alive_but_not_ready(unreachable_app):
    client = unreachable_app.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert_api_error(response, 503, "storage_unavailable")
    assert response.headers["Retry-After"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_the_probes_answer_other_methods_with_405_not_a_csrf_refusal(client, path, method):
    response = client.open(path, method=method)
    assert response.status_code == 405
