"""`lanyard kiosk add|list|disable|enable|rotate`."""

from __future__ import annotations

import re

import sqlalchemy as sa

from registration.checkin.models import Kiosk
from registration.codes import hash_code
from registration.extensions import db

TOKEN = re.compile(r"API token .*: (K1[0-9A-Z]{26})$", re.M)
URL = re.compile(r"Enrolment URL .*: (http://lanyard\.test/kiosk/enrol/(E1[0-9A-Z]{26}))$", re.M)


def kiosk_named(name: str) -> Kiosk:
    db.session.expire_all()
    return db.session.execute(sa.select(Kiosk).filter_by(name=name)).scalar_one()


def test_add_prints_the_token_and_the_enrolment_url(runner, app):
    result = runner.invoke(args=["kiosk", "add", "kiosk-1", "--printer", "kiosk-1", "--location", "Lobby A",
                                 "--language", "es"])
    assert result.exit_code == 0, result.output
    token = TOKEN.search(result.output).group(1)
    url, enrol_code = URL.search(result.output).groups()
    kiosk = kiosk_named("kiosk-1")
    assert (kiosk.token_hash, kiosk.enrol_hash) == (hash_code(token), hash_code(enrol_code))
    assert (kiosk.location, kiosk.language, kiosk.printer_name) == ("Lobby A", "es", "kiosk-1")
    status = app.test_client().get("/api/v1/kiosk/status", headers={"Authorization": f"Bearer {token}"})
    assert status.status_code == 200


def test_add_refuses_an_unknown_printer_and_a_duplicate_name(runner):
    result = runner.invoke(args=["kiosk", "add", "kiosk-1", "--printer", "nowhere"])
    assert result.exit_code != 0 and "printer_unknown" in result.output and "kiosk-1, kiosk-2" in result.output
    assert runner.invoke(args=["kiosk", "add", "kiosk-1", "--printer", "kiosk-1"]).exit_code == 0
    result = runner.invoke(args=["kiosk", "add", "kiosk-1", "--printer", "kiosk-2"])
    assert result.exit_code != 0 and "kiosk_exists" in result.output
    result = runner.invoke(args=["kiosk", "add", "kiosk-9", "--printer", "kiosk-2", "--language", "fr"])
    assert result.exit_code != 0 and "language" in result.output


def test_add_needs_a_printer(runner):
    result = runner.invoke(args=["kiosk", "add", "kiosk-1"])
    assert result.exit_code != 0 and "--printer" in result.output


def test_list_disable_enable_rotate(runner, app):
    assert "No kiosks yet" in runner.invoke(args=["kiosk", "list"]).output
    added = runner.invoke(args=["kiosk", "add", "kiosk-1", "--printer", "kiosk-1", "--location", "Lobby A"])
    old_token = TOKEN.search(added.output).group(1)
    listing = runner.invoke(args=["kiosk", "list"]).output
    assert "kiosk-1" in listing and "enabled" in listing and "Lobby A" in listing and "never" in listing

    assert runner.invoke(args=["kiosk", "disable", "kiosk-1"]).exit_code == 0
    assert not kiosk_named("kiosk-1").enabled
    assert "DISABLED" in runner.invoke(args=["kiosk", "list"]).output
    assert runner.invoke(args=["kiosk", "enable", "kiosk-1"]).exit_code == 0
    assert kiosk_named("kiosk-1").enabled

    rotated = runner.invoke(args=["kiosk", "rotate", "kiosk-1"])
    assert rotated.exit_code == 0, rotated.output
    new_token = TOKEN.search(rotated.output).group(1)
    assert URL.search(rotated.output)
    assert kiosk_named("kiosk-1").generation == 2
    client = app.test_client()
    assert client.get("/api/v1/kiosk/status", headers={"Authorization": f"Bearer {old_token}"}).status_code == 401
    assert client.get("/api/v1/kiosk/status", headers={"Authorization": f"Bearer {new_token}"}).status_code == 200


def test_commands_on_an_unknown_kiosk_fail(runner):
    for command in ("disable", "enable", "rotate"):
        result = runner.invoke(args=["kiosk", command, "nobody"])
        assert result.exit_code != 0 and "kiosk_unknown" in result.output
