"""The door page and its service worker over HTTP: who gets them, what the page hands its scripts, and that the
service worker's shell is what the page loads."""

from __future__ import annotations

import json
import re

import pytest

from registration.audit import Actor
from registration.extensions import db
from tests.auth.conftest import IsolatedClient, sign_in

PASSWORD = "door-password-2027"


@pytest.fixture
def app(make_app, monkeypatch):
    """The app with quick password hashing (these tests are about the page, not passwords)."""
    import registration.staff

    monkeypatch.setattr(registration.staff, "PASSWORD_METHOD", "pbkdf2:sha256:1000")
    app = make_app(extra="\n[door]\nsnapshot_seconds = 3\noffline_after_ms = 900\noffline_unknown = \"admit\"\n")
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app


@pytest.fixture
def door_client(app):
    """A browser signed in as a door user."""
    from registration.staff import add_staff

    add_staff("door@example.org", role="door", actor=Actor.system("test"), password=PASSWORD)
    db.session.commit()
    client = app.test_client()
    assert sign_in(client, "door@example.org", PASSWORD, next="/door/").status_code == 302
    return client


def _json_block(html: str, block_id: str):
    found = re.search(rf'<script type="application/json" id="{block_id}">(.*?)</script>', html, re.S)
    assert found, block_id
    return json.loads(found.group(1))


def test_a_signed_out_browser_is_sent_to_sign_in_and_back(client):
    response = client.get("/door/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_the_page_hands_its_scripts_the_door_settings_areas_and_messages(door_client):
    response = door_client.get("/door/")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert 'data-snapshot-seconds="3"' in html and 'data-offline-after-ms="900"' in html
    assert 'data-scan-url="/api/v1/scans"' in html and 'data-snapshot-url="/api/v1/door/snapshot"' in html
    areas = _json_block(html, "door-areas")
    assert [area["name"] for area in areas] == ["general_sessions", "breakouts", "caucus", "expo", "receptions"]
    assert areas[1]["label"] == "Breakout sessions"
    messages = _json_block(html, "door-messages")
    assert messages["area_denied"] == "This pass does not open this area."
    assert _json_block(html, "door-pass-labels")["guest"] == "Guest — Expo & receptions"
    assert "<script>" not in html and "style=" not in html  # the CSP allows neither


def test_the_page_in_spanish(door_client):
    html = door_client.get("/door/?lang=es").get_data(as_text=True)
    assert '<html lang="es">' in html
    assert _json_block(html, "door-areas")[1]["label"] == "Sesiones simultáneas"
    messages = _json_block(html, "door-messages")
    assert messages["admit"] == "ADELANTE" and messages["health_not_cleared"].startswith("Falta la verificación")
    assert _json_block(html, "door-pass-labels")["guest"] == "Invitado — Expo y recepciones"


def test_every_reason_code_has_words_in_both_languages(door_client):
    reasons = ("code_malformed", "code_unknown", "wrong_code_kind", "wrong_event", "badge_void",
               "registration_cancelled", "area_denied", "area_closed", "area_full", "health_not_cleared",
               "already_inside")
    for lang in ("en", "es"):
        messages = _json_block(door_client.get(f"/door/?lang={lang}").get_data(as_text=True), "door-messages")
        assert all(messages.get(reason) for reason in reasons), lang
    english = _json_block(door_client.get("/door/?lang=en").get_data(as_text=True), "door-messages")
    spanish = _json_block(door_client.get("/door/?lang=es").get_data(as_text=True), "door-messages")
    assert set(english) == set(spanish) and all(english[key] != spanish[key] for key in reasons)


def test_the_service_worker_is_public_scoped_to_the_door_and_lists_a_shell_that_exists(client, door_client):
    response = client.get("/door/sw.js")  # no session: a browser updates its service worker signed out too
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    script = response.get_data(as_text=True)
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", script).group(1))
    assert shell[0] == "/door/"
    for path in shell[1:]:
        with client.get(path) as static:
            assert static.status_code == 200, path
    page = door_client.get("/door/").get_data(as_text=True)
    loaded = set(re.findall(r'(?:src|href)="(/static/[^"]+)"', page)) | {
        re.search(r'data-jsqr-url="([^"]+)"', page).group(1)}
    assert loaded <= set(shell)
    # Every module the page imports is in the shell too, or a reload offline would miss it.
    from registration.door.views import SHELL_FILES, STATIC

    imported = set()
    for name in SHELL_FILES:
        if name.endswith(".js") and name.startswith("door/"):
            imported |= {f"door/{m}" for m in re.findall(r'from "\./([\w.]+)"', (STATIC / name).read_text())}
    assert imported <= set(SHELL_FILES)
