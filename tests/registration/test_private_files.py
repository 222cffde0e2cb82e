"""Files holding personal data are readable by their owner only: the database, the outbox, badge previews."""

from __future__ import annotations

import stat

from registration.audit import Actor
from registration.extensions import db
from tests.conftest import BACKEND

PRINTERS = """
[printers.kiosk-1]
backend = "preview"
directory = "badges/kiosk-1"
"""


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_outbox_and_badges_are_private(make_app, tmp_path):
    app = make_app(printers=PRINTERS)
    with app.app_context():
        from registration.mail import deliver_confirmations
        from registration.services import PersonInput, current_event, register
        from printers import BadgeData, make_printer, render_badge

        settings = app.extensions["lanyard"]
        issued = register(current_event(settings), PersonInput("Ada", "Lovelace", "ada@example.org", "full"),
                          settings=settings, actor=Actor.system("test"))
        db.session.commit()
        assert deliver_confirmations(issued, settings) == []
        data = BadgeData(badge_name="Ada Lovelace", band_text="FULL", event_name="Event", code="B1TEST")
        printer = make_printer("kiosk-1", settings.printers["kiosk-1"])
        printer.print_badge(render_badge(data, width=printer.width).image, job_name="job-1")
    outbox = tmp_path / "outbox"
    assert _mode(outbox) == 0o700
    assert [_mode(p) for p in outbox.glob("*.eml")] == [0o600]
    badges = tmp_path / "badges" / "kiosk-1"
    assert _mode(badges) == 0o700 and [_mode(p) for p in badges.iterdir()] == [0o600]
    if BACKEND == "sqlite":
        files = sorted(tmp_path.glob("lanyard.db*"))
        assert files and all(_mode(p) == 0o600 for p in files), {p.name: oct(_mode(p)) for p in files}


def test_a_fresh_config_folder_gets_a_private_var_folder_and_secret_key(write_config, monkeypatch, tmp_path):
    from registration.settings import load_settings

    monkeypatch.delenv("LANYARD_SECRET_KEY", raising=False)
    path = write_config()
    assert not (tmp_path / "var").exists()
    load_settings(path, overrides={"app.secret_key_file": "var/secret_key"})  # the shipped default
    assert _mode(tmp_path / "var") == 0o700
    assert _mode(tmp_path / "var" / "secret_key") == 0o600
