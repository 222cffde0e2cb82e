"""Fixtures for kiosk tests: the check-in fixtures, plus an authenticated kiosk API client."""

from __future__ import annotations

import uuid

import pytest

from tests.checkin.conftest import PRINTERS, app, kiosk, make_kiosk  # noqa: F401  (shared fixtures)


class KioskClient:
    """A test client that speaks to the kiosk API with a kiosk's bearer token."""

    def __init__(self, client, token: str):
        self.client, self.token = client, token

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kwargs):
        return self.client.get(path, headers=self.headers(), **kwargs)

    def post(self, path: str, json=None, **kwargs):
        return self.client.post(path, json=json, headers=self.headers(), **kwargs)

    def check_in(self, code=None, *, nonce: str | None = None, selection=None):
        body = {"nonce": nonce or uuid.uuid4().hex}
        body.update({"selection": selection} if selection is not None else {"code": code})
        return self.post("/api/v1/checkins", json=body)


@pytest.fixture
def make_kiosk_client(app, make_kiosk):
    """Factory: a new kiosk and a client holding its token; returns ``(kiosk, KioskClient)``."""

    def make(name: str | None = None, **options):
        kiosk, token, _enrol = make_kiosk(name, **options)
        return kiosk, KioskClient(app.test_client(), token)

    return make


@pytest.fixture
def api(make_kiosk_client):
    """A client for kiosk ``kiosk-a`` (Lobby A, printer kiosk-1)."""
    return make_kiosk_client("kiosk-a")[1]
