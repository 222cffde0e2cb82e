"""``location`` and ``location_es`` of a printer: validated at startup, and what the kiosk page is given."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from registration.settings import ConfigError, load_settings
from tests.kiosk.test_page import bound_page

ROOT = Path(__file__).parents[2]


@pytest.fixture
def unlocated_config(tmp_path) -> Path:
    """The shipped configuration with its printers' locations taken out."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    path = tmp_path / "config.toml"
    path.write_text(re.sub(r"^location(_es)? = .*\n", "", text, flags=re.M), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_secret_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("LANYARD_SECRET_KEY", raising=False)
    monkeypatch.chdir(tmp_path)


def test_the_shipped_printers_say_where_they_stand_in_both_languages():
    printers = load_settings(ROOT / "config.toml").printers
    assert {name: (p["location"], p["location_es"]) for name, p in printers.items()} == {
        "kiosk-1": ("Kiosk 1, north lobby", "Quiosco 1, vestíbulo norte"),
        "kiosk-2": ("Kiosk 2, south lobby", "Quiosco 2, vestíbulo sur"),
        "desk": ("the registration help desk", "el mostrador de ayuda de inscripción"),
    }


def test_locations_are_read_with_spaces_collapsed(unlocated_config):
    settings = load_settings(unlocated_config, overrides={
        "printers.kiosk-1.location": "  Lobby A,   by the escalators ",
        "printers.kiosk-1.location_es": "Vestíbulo A, junto a las escaleras"})
    options = settings.printers["kiosk-1"]
    assert (options["location"], options["location_es"]) == ("Lobby A, by the escalators",
                                                             "Vestíbulo A, junto a las escaleras")
    assert "location" not in settings.printers["kiosk-2"]


@pytest.mark.parametrize("change", [
    {"printers.kiosk-1.location": ""},
    {"printers.kiosk-1.location": "   "},
    {"printers.kiosk-1.location": 7},
    {"printers.kiosk-1.location": "x" * 121},
    {"printers.kiosk-1.location": "Lobby\x07A"},
    {"printers.kiosk-1.location": "Lobby A", "printers.kiosk-1.location_es": ""},
])
def test_a_bad_location_is_named(change):
    with pytest.raises(ConfigError) as refused:
        load_settings(ROOT / "config.toml", overrides=change)
    assert str(refused.value).startswith(f"printers.kiosk-1.{sorted(change)[-1].rsplit('.', 1)[1]}")


def test_a_spanish_location_needs_the_english_one(unlocated_config):
    with pytest.raises(ConfigError, match=r"^printers\.kiosk-1\.location_es"):
        load_settings(unlocated_config, overrides={"printers.kiosk-1.location_es": "Sala A"})


def test_the_page_gets_the_locations_and_never_a_printer_without_one(make_app):
    from kiosk.services import add_kiosk
    from registration.audit import Actor
    from registration.extensions import db
    from registration.services import current_event
    from tests.checkin.conftest import PRINTERS

    app = make_app(printers=PRINTERS.replace('directory = "badges/kiosk-2"', 'directory = "badges/kiosk-2"\n'
                                             'location = "the registration desk"'))
    with app.app_context():
        settings = app.extensions["lanyard"]
        kiosk = add_kiosk(current_event(settings), name="kiosk-a", printer_name="kiosk-1", settings=settings,
                          actor=Actor.system("test"))[0]
        db.session.commit()
        page = bound_page(app, kiosk)
    block = re.search(r'<script type="application/json" id="kiosk-printer-locations">(.*?)</script>', page, re.S)
    assert json.loads(block.group(1)) == {"kiosk-2": {"en": "the registration desk", "es": "the registration desk"}}
