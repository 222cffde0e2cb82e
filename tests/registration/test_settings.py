"""Configuration: read once, validated, and a bad key stops startup with its name."""

import re
from pathlib import Path

import pytest

from registration.app import create_app
from registration.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_config_is_valid():
    settings = load_settings(ROOT / "config.toml")
    assert settings.event.slug
    assert settings.registration_types["guest"].access_areas == ("expo", "receptions")
    assert settings.registration_types["guest"].is_guest


@pytest.mark.parametrize(
    "change, key",
    [
        ({"event.slug": "Bad Slug"}, "event.slug"),
        ({"event.timezone": "Mars/Olympus"}, "event.timezone"),
        ({"event.ends_on": "tomorrow"}, "event.ends_on"),
        ({"registration_types.guest.band_color": "orange"}, "registration_types.guest.band_color"),
        ({"registration_types.guest.access_areas": ["moon"]}, "registration_types.guest.access_areas"),
        ({"health.negative_test_valid_hours": -1}, "health.negative_test_valid_hours"),
        ({"health.negative_test_valid_hours": "72"}, "health.negative_test_valid_hours"),
        ({"health.typo_key": 1}, "health.typo_key"),
        ({"mail.outbox": ""}, "mail"),
        ({"mail.password": "hunter2"}, "mail.password"),
        ({"app.secret_key": "hunter2"}, "app.secret_key"),
        ({"printers.p.backend": "fax"}, "printers.p.backend"),
        ({"printers.p.backend": "network"}, "printers.p.host"),
        ({"printers.kiosk-1.fallback": "nowhere"}, "printers.kiosk-1.fallback"),
        ({"printers.kiosk-1.fallback": "kiosk-1"}, "printers.kiosk-1.fallback"),
        ({"printers.kiosk-1.hold_seconds": -5}, "printers.kiosk-1.hold_seconds"),
        ({"printers.kiosk-1.connect_timeout": 0}, "printers.kiosk-1.connect_timeout"),
        ({"printers.kiosk-1.port": "9100"}, "printers.kiosk-1.port"),
        ({"printers.kiosk-1.baudrate": 0}, "printers.kiosk-1.baudrate"),
        ({"printers.kiosk-1.io_timeout": -1.5}, "printers.kiosk-1.io_timeout"),
        ({"printers.kiosk-1.directory": 7}, "printers.kiosk-1.directory"),
        ({"printers.kiosk-1.profile": "NoSuchPrinter"}, "printers.kiosk-1.profile"),
        ({"kiosk.idle_seconds": 0}, "kiosk.idle_seconds"),
        ({"kiosk.idle_secs": 5}, "kiosk.idle_secs"),
        ({"surprise.key": 1}, "surprise"),
        ({"staff.idle_minutes": 0}, "staff.idle_minutes"),
        ({"staff.session_hours": "12"}, "staff.session_hours"),
        ({"staff.lockout": 3}, "staff.lockout"),
        ({"desk.printer": "nowhere"}, "desk.printer"),
        ({"desk.refresh_seconds": 0}, "desk.refresh_seconds"),
        ({"desk.colour": "red"}, "desk.colour"),
        ({"app.trusted_proxies": -1}, "app.trusted_proxies"),
        ({"database.sqlite_synchronous": "off"}, "database.sqlite_synchronous"),
        ({"database.sqlite_synchronous": 1}, "database.sqlite_synchronous"),
        ({"database.pool": 5}, "database.pool"),
        ({"areas.breakouts.capacity": 0}, "areas.breakouts.capacity"),
        ({"areas.breakouts.capacity": "40"}, "areas.breakouts.capacity"),
        ({"areas.breakouts.label": ""}, "areas.breakouts.label"),
        ({"areas.breakouts.reentry": "no"}, "areas.breakouts.reentry"),
        ({"areas.breakouts.seats": 4}, "areas.breakouts.seats"),
        ({"areas.caucus.open": [["2027-09-15T12:00", "2027-09-15T08:00"]]}, "areas.caucus.open"),
        ({"areas.caucus.open": [["2027-09-15 8am", "2027-09-15T12:00"]]}, "areas.caucus.open"),
        ({"areas.caucus.open": [["2027-09-15T08:00"]]}, "areas.caucus.open"),
        ({"areas.caucus.open": [[1, 2]]}, "areas.caucus.open"),
        ({"areas.caucus.open": [[None, "2027-09-15T12:00"]]}, "areas.caucus.open"),
        ({"areas.Bad-Name.label": "x"}, "areas.Bad-Name"),
        ({"event.areas": ["expo", "moon"]}, "event.areas"),
        ({"door.offline_unknown": "maybe"}, "door.offline_unknown"),
        ({"door.snapshot_seconds": 0}, "door.snapshot_seconds"),
        ({"door.offline_after_ms": "1500"}, "door.offline_after_ms"),
        ({"door.colour": "red"}, "door.colour"),
    ],
)
def test_a_bad_key_is_named(tmp_path, change, key, monkeypatch):
    monkeypatch.delenv("LANYARD_SECRET_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as excinfo:
        load_settings(ROOT / "config.toml", overrides=change)
    assert str(excinfo.value).startswith(key)


def test_kiosk_timings_are_read_with_their_defaults(write_config):
    app = create_app(write_config(extra="\n[kiosk]\nidle_seconds = 45\npoll_ms = 250\n"))
    timings = app.extensions["lanyard"].kiosk
    assert (timings.idle_seconds, timings.poll_ms, timings.warning_seconds) == (45, 250, 10)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_environment_overrides_database_url_and_secret(monkeypatch, tmp_path):
    monkeypatch.setenv("LANYARD_DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    monkeypatch.setenv("LANYARD_SECRET_KEY", "from-the-environment")
    settings = load_settings(ROOT / "config.toml")
    assert settings.database_url == f"sqlite:///{tmp_path}/x.db"
    assert settings.secret_key == "from-the-environment"


def test_lanyard_config_names_the_file(monkeypatch, write_config):
    path = write_config()
    monkeypatch.setenv("LANYARD_CONFIG", str(path))
    assert load_settings().path == path


def test_generated_secret_is_private_and_stable(write_config, monkeypatch):
    monkeypatch.delenv("LANYARD_SECRET_KEY", raising=False)
    path = write_config()
    first = load_settings(path).secret_key
    assert load_settings(path).secret_key == first
    assert (path.parent / "secret_key").stat().st_mode & 0o077 == 0


def test_areas_come_from_their_tables_with_windows_in_the_event_zone():
    settings = load_settings(ROOT / "config.toml")
    assert settings.event.areas == ("general_sessions", "breakouts", "caucus", "expo", "receptions")
    assert settings.areas["breakouts"].capacity == 40 and settings.areas["expo"].capacity is None
    caucus = settings.areas["caucus"]
    assert not caucus.reentry and settings.areas["expo"].reentry
    start, end = caucus.open[0]
    assert start.isoformat() == "2027-09-15T08:00:00-07:00" and end.isoformat() == "2027-09-15T12:00:00-07:00"
    assert caucus.is_open_at(start) and not caucus.is_open_at(end)
    assert settings.door.offline_unknown == "deny" and settings.door.snapshot_seconds == 5


def test_event_areas_alone_still_define_areas(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    head, _, rest = text.partition("\n[areas.general_sessions]")
    rest = rest[rest.index("\n[registration_types."):]
    path = tmp_path / "config.toml"
    path.write_text(head + rest, encoding="utf-8")
    settings = load_settings(path)
    assert tuple(settings.areas) == settings.event.areas and settings.areas["expo"].label == "Expo"
    assert settings.areas["expo"].capacity is None and settings.areas["expo"].reentry


def test_app_factory_refuses_a_bad_config(write_config):
    path = write_config(extra='\n[printers.broken]\nbackend = "network"\n')
    with pytest.raises(ConfigError, match=r"printers\.broken\.host"):
        create_app(path)


def test_every_config_key_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    keys = set(re.findall(r"^([a-z_]+)\s*=", text, flags=re.M))
    keys |= {"host", "port", "starttls", "username", "timeout", "fallback", "hold_seconds", "path", "devfile",
             "baudrate", "vendor_id", "product_id", "connect_timeout", "io_timeout", "guest", "label_es"}
    missing = sorted(k for k in keys if f"`{k}`" not in readme)
    assert not missing, f"undocumented config keys: {missing}"


def test_workers_starting_at_once_share_one_secret_key(tmp_path, monkeypatch):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from registration.settings import _secret_key

    monkeypatch.delenv("LANYARD_SECRET_KEY", raising=False)
    for round_ in range(20):
        folder = tmp_path / f"round-{round_}"
        barrier = threading.Barrier(12)

        def start():
            barrier.wait()
            return _secret_key({"secret_key_file": "secret_key"}, folder)

        with ThreadPoolExecutor(12) as pool:
            keys = list(pool.map(lambda _: start(), range(12)))
        assert len(set(keys)) == 1 and len(keys[0]) > 40
        assert (folder / "secret_key").stat().st_mode & 0o777 == 0o600
        assert [p.name for p in folder.iterdir()] == ["secret_key"]  # no temporary file left behind
