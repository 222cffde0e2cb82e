"""`lanyard demo`: links follow its host and port; a restart keeps the data, the enrolled kiosks and the codes."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from kiosk import demo
from kiosk.services import enrol_kiosk
from registration.app import create_app
from registration.audit import Actor
from registration.checkin.models import Kiosk
from registration.extensions import db
from registration.mail import deliver_confirmations
from registration.models import Registration
from registration.services import rotate_codes
from tests.checkin.conftest import PRINTERS
from tests.conftest import BACKEND
from tests.helpers import read_outbox

# The demo creates its schema through the migrations, which needs an empty database of its own.
pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="the demo runs on SQLite")


@pytest.fixture
def run_demo(write_config, monkeypatch):
    """Factory: run `lanyard demo ARGS` in a new app, as a new process would, without serving; returns (app, output)."""
    monkeypatch.setattr(demo, "run_simple", lambda host, port, app, **options: None)
    monkeypatch.setattr("registration.printing.worker.start_worker_thread", lambda app, stop: None)
    path = write_config(printers=PRINTERS)

    def run(*args: str):
        app = create_app(path)
        result = app.test_cli_runner().invoke(args=["demo", "--attendees", "30", *args])
        assert result.exit_code == 0, result.output
        return app, result.output

    return run


def _section(output: str, title: str) -> list[str]:
    """The indented lines under a heading of the demo's printout."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(title)) + 1
    return [line.strip() for line in lines[start:] if line.startswith("    ")][:len(demo.SAMPLES)]


def _codes(output: str) -> list[str]:
    return [line.split()[0] for line in _section(output, "Codes to scan")]


def _urls(output: str) -> list[str]:
    return re.findall(r"open (\S+) in a browser", output)


def test_links_in_its_output_and_its_emails_follow_the_host_and_port(run_demo):
    app, output = run_demo("--port", "5123")
    assert "Register online:   http://127.0.0.1:5123/register" in output
    assert [url.rsplit("/", 1)[0] for url in _urls(output)] == ["http://127.0.0.1:5123/kiosk/enrol"] * 2
    settings = app.extensions["lanyard"]
    with app.app_context():
        registration = db.session.execute(sa.select(Registration).where(Registration.email.is_not(None))
                                          .limit(1)).scalar_one()
        issued = rotate_codes(registration, actor=Actor.system("test"))
        db.session.commit()
        assert deliver_confirmations([issued], settings) == []
    (message,) = read_outbox(settings.mail.outbox)
    assert "http://127.0.0.1:5123/r/" in message.get_body(("plain",)).get_content()


def test_a_restart_keeps_the_attendees_the_enrolled_kiosks_the_codes_and_the_passwords(run_demo):
    first, output = run_demo()
    with first.app_context():
        enrolled_code = _urls(output)[0].rsplit("/", 1)[1]
        enrol_kiosk(enrolled_code)  # a browser enrols kiosk-1
        db.session.commit()
        before = {k.name: (k.token_hash, k.generation) for k in db.session.execute(sa.select(Kiosk)).scalars()}
        people = db.session.execute(sa.select(sa.func.count(Registration.id))).scalar()

    second, again = run_demo()
    assert _codes(again) == _codes(output) and len(_codes(again)) == len(demo.SAMPLES)
    assert _section(again, "Help desk")[:2] == _section(output, "Help desk")[:2]  # same passwords
    assert "kiosk-1 (Lobby A): enrolled browsers keep working" in again
    assert _urls(again) == _urls(output)[1:]  # kiosk-2 was not enrolled yet: the same URL still works
    assert enrolled_code not in again
    assert "Changed since the last run" not in again
    with second.app_context():
        assert {k.name: (k.token_hash, k.generation) for k in db.session.execute(sa.select(Kiosk)).scalars()} == before
        assert db.session.execute(sa.select(sa.func.count(Registration.id))).scalar() == people
    state = demo.state_path(second.extensions["lanyard"])
    assert stat.S_IMODE(state.stat().st_mode) == 0o600


def test_a_restart_replaces_a_code_rotated_at_the_desk_and_says_so(run_demo):
    first, output = run_demo()
    stale = _codes(output)[0]
    with first.app_context():
        sample = demo.load_state(first.extensions["lanyard"]).samples[0]
        rotate_codes(db.session.get(Registration, sample["id"]), actor=Actor.system("desk"))
        db.session.commit()

    _second, again = run_demo()
    assert stale not in again
    assert len(_codes(again)) == len(demo.SAMPLES)
    assert set(_codes(output)) - set(_codes(again)) == {stale}  # the others are kept
    assert "Changed since the last run" in again
    assert "new sample code for a cleared full person (the last one no longer works)" in again


def test_the_kiosk_commands_import_neither_the_app_factory_nor_the_lanyard_group():
    # The app factory wires the kiosk package's commands in; the way back would be an import circle.
    check = ("import sys, kiosk.cli, kiosk.demo; "
             "print(sorted(m for m in ('registration.app', 'registration.cli') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.strip() == "[]"


def test_a_restart_replaces_a_sample_whose_clearance_changed_and_says_so(run_demo):
    from registration.desk.services import HealthVerification, verify_health

    first, output = run_demo()
    with first.app_context():
        state = demo.load_state(first.extensions["lanyard"])
        (sample,) = [s for s in state.samples if s["label"] == "not cleared"]
        verify_health(db.session.get(Registration, sample["id"]), HealthVerification(method="vaccinated"),
                      actor=Actor.system("desk"), settings=first.extensions["lanyard"])
        db.session.commit()

    _second, again = run_demo()
    assert sample["code"] not in again
    assert "new sample code for a not cleared person (the last one is now cleared" in again
    assert [line.rsplit("— ", 1)[1] for line in _section(again, "Codes to scan")] == list(demo.SAMPLES)
