"""Typed, validated settings read once from ``config.toml`` in the app factory."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parent  # the folder holding our packages: a source tree, or site-packages once installed
DEFAULT_CONFIG = Path("config.toml")  # in the current folder, so an installed Lanyard reads the operator's file


def shipped_folder(name: str) -> Path:
    """``templates`` or ``migrations``: inside the installed package (a wheel), else at the top of the source tree."""
    installed = PACKAGE_DIR / name
    return installed if installed.is_dir() else ROOT / name


TEMPLATE_FOLDER = shipped_folder("templates")
MIGRATIONS_FOLDER = shipped_folder("migrations")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_AREA = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class ConfigError(Exception):
    """The configuration is missing a key or has a bad value; the message names the key."""


@dataclass(frozen=True)
class EventSettings:
    """The event that this installation is running."""

    slug: str
    name: str
    venue: str
    starts_on: date
    ends_on: date
    timezone: str
    areas: tuple[str, ...]

    @property
    def tz(self) -> ZoneInfo:
        """The event's time zone."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class AreaSettings:
    """A place doors check: its labels, seats (for distancing), opening windows and re-entry rule."""

    name: str
    label: str
    label_es: str = ""
    capacity: int | None = None  # None: no seat limit
    open: tuple[tuple[datetime, datetime], ...] = ()  # aware datetimes in the event's zone; () = always open
    reentry: bool = True

    def label_for(self, language: str) -> str:
        """The area's label in ``language`` (English when there is no translation)."""
        return self.label_es if language == "es" and self.label_es else self.label

    def is_open_at(self, at: datetime) -> bool:
        """Whether ``at`` falls inside one of the opening windows (an area without windows is always open)."""
        return not self.open or any(start <= at < end for start, end in self.open)


#: What a door does offline with a badge its copy does not know (printed after its last sync).
OFFLINE_UNKNOWN = ("deny", "admit")


@dataclass(frozen=True)
class DoorSettings:
    """The door page: its offline policy and its pace."""

    offline_unknown: str = "deny"
    snapshot_seconds: int = 5  # how often the page refreshes its offline copy
    offline_after_ms: int = 1500  # the page decides from its copy when the server takes longer than this


@dataclass(frozen=True)
class RegistrationTypeSettings:
    """A pass: what it is called, how its badge band looks, which areas it opens."""

    name: str
    label: str
    band_text: str
    band_color: str
    access_areas: tuple[str, ...]
    is_guest: bool
    label_es: str = ""

    def label_for(self, language: str) -> str:
        """The pass's label in ``language`` (English when there is no translation)."""
        return self.label_es if language == "es" and self.label_es else self.label


@dataclass(frozen=True)
class HealthPolicy:
    """Who counts as cleared at a given moment."""

    vaccinated_requires_verification: bool = True
    negative_test_requires_verification: bool = True
    negative_test_valid_hours: int = 72
    onsite_test_valid_hours: int = 72
    purge_after_days: int = 14


@dataclass(frozen=True)
class KioskSettings:
    """How the kiosk page paces itself (seconds, except the poll interval)."""

    idle_seconds: int = 30
    warning_seconds: int = 10
    done_seconds: int = 8
    poll_ms: int = 400
    heartbeat_seconds: int = 60


@dataclass(frozen=True)
class StaffSettings:
    """Staff sessions and the sign-in limits."""

    idle_minutes: int = 30
    session_hours: int = 12
    sign_in_attempts_per_account: int = 5
    sign_in_attempts_per_client: int = 20
    sign_in_window_minutes: int = 15


@dataclass(frozen=True)
class DeskSettings:
    """The help desk."""

    printer: str = ""  # the desk's own printer: "verify and print" and walk-ups print here by default
    refresh_seconds: int = 5  # how often the case queue updates itself


@dataclass(frozen=True)
class MailSettings:
    """Where confirmation mail goes: an outbox folder or an SMTP server."""

    sender: str
    outbox: Path | None = None
    host: str = ""
    port: int = 25
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    timeout: float = 10.0


@dataclass(frozen=True)
class Settings:
    """Everything Lanyard reads from its configuration file."""

    path: Path
    database_url: str
    secret_key: str = field(repr=False)
    base_url: str
    event: EventSettings
    registration_types: dict[str, RegistrationTypeSettings]
    health: HealthPolicy
    mail: MailSettings
    printers: dict[str, dict]
    kiosk: KioskSettings = field(default_factory=KioskSettings)
    staff: StaffSettings = field(default_factory=StaffSettings)
    desk: DeskSettings = field(default_factory=DeskSettings)
    areas: dict[str, AreaSettings] = field(default_factory=dict)
    door: DoorSettings = field(default_factory=DoorSettings)
    trusted_proxies: int = 0
    languages: tuple[str, ...] = ("en", "es")
    max_guests: int = 4
    session_cookie_secure: bool = False
    sqlite_synchronous: str = "full"
    registrations_per_client: int = 30
    registration_window_minutes: int = 60

    @property
    def full_types(self) -> list[str]:
        """Names of the types that can host guests."""
        return [t.name for t in self.registration_types.values() if not t.is_guest]

    @property
    def guest_types(self) -> list[str]:
        """Names of the guest types."""
        return [t.name for t in self.registration_types.values() if t.is_guest]


def _get(table: dict, key: str, where: str, kind, default=...):
    """Read ``table[key]`` checking its type; the error names ``where.key``."""
    name = f"{where}.{key}" if where else key
    if key not in table:
        if default is ...:
            raise ConfigError(f"{name}: missing")
        return default
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is int and isinstance(value, bool):
        raise ConfigError(f"{name}: expected an integer")
    if not isinstance(value, kind):
        expected = getattr(kind, "__name__", str(kind))
        raise ConfigError(f"{name}: expected {expected}, got {type(value).__name__}")
    if isinstance(value, str) and kind is str and default is ... and not value.strip():
        raise ConfigError(f"{name}: must not be empty")
    return value


def _table(raw: dict, key: str, *, required: bool = True) -> dict:
    """Read a sub-table; the error names the key."""
    value = raw.get(key, ... if required else {})
    if value is ...:
        raise ConfigError(f"[{key}]: missing table")
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a table")
    return value


def _event(raw: dict) -> EventSettings:
    t = _table(raw, "event")
    slug = _get(t, "slug", "event", str)
    if not _SLUG.match(slug):
        raise ConfigError("event.slug: use lower-case letters, digits and hyphens")
    starts, ends = _get(t, "starts_on", "event", date), _get(t, "ends_on", "event", date)
    if ends < starts:
        raise ConfigError("event.ends_on: before event.starts_on")
    tz = _get(t, "timezone", "event", str)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"event.timezone: unknown time zone {tz!r}") from None
    areas = _get(t, "areas", "event", list, [])
    for area in areas:
        if not isinstance(area, str) or not _AREA.match(area):
            raise ConfigError(f"event.areas: bad area name {area!r}")
    return EventSettings(
        slug=slug,
        name=_get(t, "name", "event", str),
        venue=_get(t, "venue", "event", str),
        starts_on=starts,
        ends_on=ends,
        timezone=tz,
        areas=tuple(areas),
    )


_WINDOW_FORMAT = "%Y-%m-%dT%H:%M"


def _window_time(value: object, where: str, tz: ZoneInfo) -> datetime:
    """One end of an opening window: ``"YYYY-MM-DDTHH:MM"`` in the event's time zone."""
    if isinstance(value, datetime) and value.tzinfo is None:  # TOML's own local date-time, unquoted
        return value.replace(tzinfo=tz)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return datetime.strptime(value, _WINDOW_FORMAT).replace(tzinfo=tz)
    raise ConfigError(f"{where}: expected [\"YYYY-MM-DDTHH:MM\", \"YYYY-MM-DDTHH:MM\"] windows, got {value!r}")


def _areas(raw: dict, event: EventSettings) -> dict[str, AreaSettings]:
    """``[areas.NAME]`` tables; without any, the names in ``event.areas`` with their names as labels."""
    tables = _table(raw, "areas", required=False)
    if not tables:
        if not event.areas:
            raise ConfigError("areas: define [areas.NAME] tables (or list event.areas)")
        return {name: AreaSettings(name=name, label=name.replace("_", " ").capitalize()) for name in event.areas}
    areas = {}
    for name, t in tables.items():
        where = f"areas.{name}"
        if not isinstance(t, dict):
            raise ConfigError(f"{where}: expected a table")
        if not _AREA.match(name):
            raise ConfigError(f"{where}: bad area name (lower-case letters, digits and _)")
        unknown = set(t) - {"label", "label_es", "capacity", "open", "reentry"}
        if unknown:
            raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key")
        capacity = _get(t, "capacity", where, int, None) if "capacity" in t else None
        if capacity is not None and capacity <= 0:
            raise ConfigError(f"{where}.capacity: must be a positive number of seats")
        windows = []
        for window in _get(t, "open", where, list, []):
            if not isinstance(window, list) or len(window) != 2:
                raise ConfigError(f"{where}.open: each window is [start, end], got {window!r}")
            start, end = (_window_time(value, f"{where}.open", event.tz) for value in window)
            if end <= start:
                raise ConfigError(f"{where}.open: window {window!r} ends before it starts")
            windows.append((start, end))
        areas[name] = AreaSettings(name=name, label=_get(t, "label", where, str),
                                   label_es=_get(t, "label_es", where, str, ""), capacity=capacity,
                                   open=tuple(sorted(windows)), reentry=_get(t, "reentry", where, bool, True))
    for name in event.areas:
        if name not in areas:
            raise ConfigError(f"event.areas: {name!r} has no [areas.{name}] table")
    return areas


def _door(raw: dict) -> DoorSettings:
    t = _table(raw, "door", required=False)
    unknown = set(t) - {"offline_unknown", "snapshot_seconds", "offline_after_ms"}
    if unknown:
        raise ConfigError(f"door.{sorted(unknown)[0]}: unknown key")
    policy = _get(t, "offline_unknown", "door", str, "deny")
    if policy not in OFFLINE_UNKNOWN:
        raise ConfigError(f"door.offline_unknown: expected one of {', '.join(OFFLINE_UNKNOWN)}, got {policy!r}")
    values = {}
    for key, default in (("snapshot_seconds", 5), ("offline_after_ms", 1500)):
        values[key] = _get(t, key, "door", int, default)
        if values[key] <= 0:
            raise ConfigError(f"door.{key}: must be positive")
    return DoorSettings(offline_unknown=policy, **values)


def _registration_types(raw: dict, areas: tuple[str, ...]) -> dict[str, RegistrationTypeSettings]:
    tables = _table(raw, "registration_types")
    types = {}
    for name, t in tables.items():
        where = f"registration_types.{name}"
        if not isinstance(t, dict):
            raise ConfigError(f"{where}: expected a table")
        if not _AREA.match(name):
            raise ConfigError(f"{where}: bad type name")
        color = _get(t, "band_color", where, str)
        if not _COLOR.match(color):
            raise ConfigError(f"{where}.band_color: expected #RRGGBB")
        access = _get(t, "access_areas", where, list)
        for area in access:
            if area not in areas:
                raise ConfigError(f"{where}.access_areas: {area!r} is not a defined area")
        types[name] = RegistrationTypeSettings(
            name=name,
            label=_get(t, "label", where, str),
            label_es=_get(t, "label_es", where, str, ""),
            band_text=_get(t, "band_text", where, str),
            band_color=color,
            access_areas=tuple(access),
            is_guest=_get(t, "guest", where, bool, False),
        )
    if not any(not t.is_guest for t in types.values()):
        raise ConfigError("registration_types: at least one non-guest type is needed")
    return types


#: SQLite's ``synchronous`` levels Lanyard offers: ``full`` survives a power cut with every committed
#: check-in (the default); ``normal`` is faster but may lose the last commits in WAL mode.
SQLITE_SYNCHRONOUS = ("full", "normal")


def _database_synchronous(db_table: dict) -> str:
    """``[database] sqlite_synchronous``, checked; unknown keys in ``[database]`` are refused."""
    unknown = set(db_table) - {"url", "sqlite_synchronous"}
    if unknown:
        raise ConfigError(f"database.{sorted(unknown)[0]}: unknown key")
    value = _get(db_table, "sqlite_synchronous", "database", str, "full")
    if value not in SQLITE_SYNCHRONOUS:
        raise ConfigError(f"database.sqlite_synchronous: expected one of {', '.join(SQLITE_SYNCHRONOUS)}, "
                          f"got {value!r}")
    return value


def _health(raw: dict) -> HealthPolicy:
    t = _table(raw, "health", required=False)
    defaults = HealthPolicy()
    values = {}
    for key, value in vars(defaults).items():
        values[key] = _get(t, key, "health", type(value), value)
        if isinstance(value, int) and not isinstance(value, bool) and values[key] < 0:
            raise ConfigError(f"health.{key}: must not be negative")
    unknown = set(t) - set(values)
    if unknown:
        raise ConfigError(f"health.{sorted(unknown)[0]}: unknown key")
    return HealthPolicy(**values)


def _mail(raw: dict, root: Path) -> MailSettings:
    t = _table(raw, "mail")
    sender = _get(t, "sender", "mail", str)
    outbox = _get(t, "outbox", "mail", str, "")
    host = _get(t, "host", "mail", str, "")
    if not outbox and not host:
        raise ConfigError("mail: set mail.outbox (a folder) or mail.host (an SMTP server)")
    password = os.environ.get("LANYARD_SMTP_PASSWORD", "")
    if "password" in t:
        raise ConfigError("mail.password: secrets do not belong in the file; set LANYARD_SMTP_PASSWORD")
    return MailSettings(
        sender=sender,
        outbox=(root / outbox) if outbox else None,
        host=host,
        port=_get(t, "port", "mail", int, 25),
        username=_get(t, "username", "mail", str, ""),
        password=password,
        starttls=_get(t, "starttls", "mail", bool, False),
        timeout=_get(t, "timeout", "mail", float, 10.0),
    )


#: Where a printer stands, as attendees are told (English, Spanish); optional.
PRINTER_LOCATION_KEYS = ("location", "location_es")
PRINTER_LOCATION_MAX = 120


def _printers(raw: dict, root: Path) -> dict[str, dict]:
    from printers import PrinterConfigError
    from printers.backends import checked_options

    tables = _table(raw, "printers", required=False)
    printers = {}
    for name, t in tables.items():
        where = f"printers.{name}"
        if not isinstance(t, dict):
            raise ConfigError(f"{where}: expected a table")
        # The printers library owns the rule for what its backends read (backend, connection, profile,
        # timeouts): a typo stops startup here, not the first badge of the morning. Building opens nothing.
        try:
            options = checked_options(name, t)
        except PrinterConfigError as exc:
            raise ConfigError(str(exc)) from None
        # The print queue's own keys.
        for key, kind in (("fallback", str), ("hold_seconds", float)):
            if key in t:
                options[key] = _get(t, key, where, kind)
        if options.get("hold_seconds", 0) < 0:
            raise ConfigError(f"{where}.hold_seconds: must not be negative")
        for key in PRINTER_LOCATION_KEYS:  # what a kiosk tells attendees, never the printer's own name
            if key in t:
                location = " ".join(_get(t, key, where, str).split())
                if not location or len(location) > PRINTER_LOCATION_MAX or not location.isprintable():
                    raise ConfigError(f"{where}.{key}: 1-{PRINTER_LOCATION_MAX} printable characters")
                options[key] = location
        if "location_es" in options and "location" not in options:
            raise ConfigError(f"{where}.location_es: needs location (the English text) too")
        if options.get("fallback") == name:
            raise ConfigError(f"{where}.fallback: a printer cannot be its own fallback")
        for key in ("directory", "path"):  # relative paths are relative to the configuration file
            if isinstance(options.get(key), str) and not Path(options[key]).is_absolute():
                options[key] = str(root / options[key])
        fallback = options.get("fallback")
        if fallback is not None and fallback not in tables:
            raise ConfigError(f"{where}.fallback: no printer named {fallback!r}")
        printers[name] = options
    return printers


def _kiosk(raw: dict) -> KioskSettings:
    t = _table(raw, "kiosk", required=False)
    defaults = KioskSettings()
    values = {}
    for key in ("idle_seconds", "warning_seconds", "done_seconds", "poll_ms", "heartbeat_seconds"):
        value = _get(t, key, "kiosk", int, getattr(defaults, key))
        if value <= 0:
            raise ConfigError(f"kiosk.{key}: must be positive")
        values[key] = value
    unknown = set(t) - set(values)
    if unknown:
        raise ConfigError(f"kiosk.{sorted(unknown)[0]}: unknown key")
    return KioskSettings(**values)


def _staff(raw: dict) -> StaffSettings:
    t = _table(raw, "staff", required=False)
    defaults = StaffSettings()
    values = {}
    for key, value in vars(defaults).items():
        values[key] = _get(t, key, "staff", int, value)
        if values[key] <= 0:
            raise ConfigError(f"staff.{key}: must be positive")
    unknown = set(t) - set(values)
    if unknown:
        raise ConfigError(f"staff.{sorted(unknown)[0]}: unknown key")
    return StaffSettings(**values)


def _desk(raw: dict, printers: dict[str, dict]) -> DeskSettings:
    t = _table(raw, "desk", required=False)
    unknown = set(t) - {"printer", "refresh_seconds"}
    if unknown:
        raise ConfigError(f"desk.{sorted(unknown)[0]}: unknown key")
    printer = _get(t, "printer", "desk", str, "desk" if "desk" in printers else "")
    if printer and printer not in printers:
        raise ConfigError(f"desk.printer: no printer named {printer!r}")
    refresh = _get(t, "refresh_seconds", "desk", int, 5)
    if refresh <= 0:
        raise ConfigError("desk.refresh_seconds: must be positive")
    return DeskSettings(printer=printer, refresh_seconds=refresh)


def _secret_key(app_table: dict, root: Path) -> str:
    """The session-signing key: from the environment, or a generated file that never enters git."""
    env = os.environ.get("LANYARD_SECRET_KEY")
    if env:
        return env
    if "secret_key" in app_table:
        raise ConfigError("app.secret_key: secrets do not belong in the file; set LANYARD_SECRET_KEY")
    path = root / _get(app_table, "secret_key_file", "app", str, "var/secret_key")
    if not path.exists():
        _create_secret_key(path)
    return path.read_text().strip()


def _create_secret_key(path: Path) -> None:
    """Write a new random key to ``path`` (mode 0600, its folder 0700) unless another process got there first.

    Several gunicorn workers start at once: each writes a whole key to a private temporary file and
    links it into place, so exactly one wins and no one ever reads half a key.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # var/ holds the key, and later other secrets
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        with contextlib.suppress(FileExistsError):  # another worker's key is in place: everyone uses that one
            os.link(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def current_settings() -> Settings:
    """The running app's settings, read once by the app factory (needs an app context)."""
    from flask import current_app  # imported here: the settings module is read by code that has no app

    return current_app.extensions["lanyard"]


def load_settings(path: str | os.PathLike | None = None, *, overrides: dict | None = None) -> Settings:
    """Read and validate the configuration file (``LANYARD_CONFIG`` or ``config.toml``).

    :raise ConfigError: the file is missing or a key is missing or bad.
    """
    path = Path(path or os.environ.get("LANYARD_CONFIG") or DEFAULT_CONFIG).resolve()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    for dotted, value in (overrides or {}).items():
        *parents, leaf = dotted.split(".")
        table = raw
        for part in parents:
            table = table.setdefault(part, {})
        table[leaf] = value
    root = path.parent
    known = {"app", "database", "event", "registration_types", "health", "mail", "printers", "kiosk", "staff", "desk",
             "areas", "door"}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{sorted(unknown)[0]}: unknown table")
    app_table = _table(raw, "app", required=False)
    db_table = _table(raw, "database", required=False)
    url = os.environ.get("LANYARD_DATABASE_URL") or _get(db_table, "url", "database", str)
    sqlite_synchronous = _database_synchronous(db_table)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        url = f"sqlite:///{root / url.removeprefix('sqlite:///')}"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    event = _event(raw)
    areas = _areas(raw, event)
    event = replace(event, areas=tuple(areas))  # [areas.*] tables, when present, are the source
    languages = tuple(_get(app_table, "languages", "app", list, ["en", "es"]))
    printers = _printers(raw, root)
    trusted_proxies = _get(app_table, "trusted_proxies", "app", int, 0)
    if trusted_proxies < 0:
        raise ConfigError("app.trusted_proxies: must not be negative")
    for lang in languages:
        if lang not in ("en", "es"):
            raise ConfigError(f"app.languages: {lang!r} has no translation")
    return Settings(
        path=path,
        database_url=url,
        secret_key=_secret_key(app_table, root),
        base_url=_get(app_table, "base_url", "app", str).rstrip("/"),
        event=event,
        registration_types=_registration_types(raw, event.areas),
        health=_health(raw),
        mail=_mail(raw, root),
        printers=printers,
        kiosk=_kiosk(raw),
        staff=_staff(raw),
        desk=_desk(raw, printers),
        areas=areas,
        door=_door(raw),
        trusted_proxies=trusted_proxies,
        languages=languages,
        max_guests=_get(app_table, "max_guests", "app", int, 4),
        session_cookie_secure=_get(app_table, "session_cookie_secure", "app", bool, False),
        sqlite_synchronous=sqlite_synchronous,
        registrations_per_client=_positive(app_table, "registrations_per_client", 30),
        registration_window_minutes=_positive(app_table, "registration_window_minutes", 60),
    )


def _positive(app_table: dict, key: str, default: int) -> int:
    value = _get(app_table, key, "app", int, default)
    if value < 1:
        raise ConfigError(f"app.{key}: must be at least 1")
    return value
