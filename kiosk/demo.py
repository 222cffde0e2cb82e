"""`lanyard demo`: one command from a fresh clone to a working kiosk.

Creates the database and the demo event, registers a few hundred realistic attendees and guests,
enrols two preview kiosks, starts the print worker in a thread and serves the site. Printed badges land
as PNG files in the preview printers' folders.

A restart keeps everything: the attendees, the kiosks and the browsers enrolled in them, the sample
codes and the desk passwords it printed. Codes and passwords exist in clear only in what the demo printed,
so it keeps them in a private file beside the configuration (``var/demo.json``, 0600) and prints them
again; whatever no longer works (a code rotated at the desk, a password changed) is replaced and named.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import socket
import threading
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

from registration.audit import Actor
from registration.checkin.models import CheckIn, Kiosk
from registration.codes import hash_code, parse_code
from registration.errors import LanyardError
from registration.extensions import db
from registration.health import assess_clearance
from registration.models import Registration, StaffUser, utcnow
from registration.seed import seed_demo
from registration.services import current_event, init_database, rotate_codes
from registration.settings import Settings
from registration.staff import add_staff, set_staff_password, verify_staff_password

from .services import add_kiosk, enrolment_url, rotate_kiosk_token

DEMO_KIOSKS = (("kiosk-1", "kiosk-1", "Lobby A"), ("kiosk-2", "kiosk-2", "Lobby B"))
DEMO_STAFF = (("registrar@demo.example.org", "registrar"), ("admin@demo.example.org", "admin"),
              ("door@demo.example.org", "door"))
SAMPLES = ("cleared full", "cleared full", "cleared full", "cleared full", "cleared guest", "not cleared")  # as printed
ACTOR = Actor.system("demo")


@dataclasses.dataclass
class DemoState:
    """What the demo printed in clear last time, for the database it was printed for."""

    database_url: str
    samples: list[dict] = dataclasses.field(default_factory=list)  # {"label", "id", "code"}
    enrolments: dict[str, str] = dataclasses.field(default_factory=dict)  # kiosk name -> pending enrolment code
    passwords: dict[str, str] = dataclasses.field(default_factory=dict)  # staff email -> password


def state_path(settings: Settings) -> Path:
    """Where the demo keeps what it printed: ``var/demo.json`` beside the configuration file."""
    return settings.path.parent / "var" / "demo.json"


def load_state(settings: Settings) -> DemoState:
    """The last run's state, or an empty one when there is none or it was for another database."""
    try:
        raw = json.loads(state_path(settings).read_text(encoding="utf-8"))
        state = DemoState(**raw)
    except (OSError, ValueError, TypeError):
        return DemoState(settings.database_url)
    return state if state.database_url == settings.database_url else DemoState(settings.database_url)


def save_state(settings: Settings, state: DemoState) -> None:
    """Write the state whole, readable by its owner only (it holds codes and passwords in clear)."""
    path = state_path(settings)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as fh:
        json.dump(dataclasses.asdict(state), fh, indent=2)
    os.replace(partial, path)


def demo_base_url(host: str, port: int) -> str:
    """The address people and emails should use for a server listening on ``host:port``."""
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()  # listening everywhere: other devices reach it by the machine's name
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _keep_kiosks(event, settings: Settings, state: DemoState, changes: list[str]) -> list[tuple[Kiosk, str | None]]:
    """Each demo kiosk with the enrolment code to print (None when a browser is enrolled and keeps working)."""
    now = utcnow()
    kiosks = []
    for name, printer, location in DEMO_KIOSKS:
        if printer not in settings.printers:
            raise click.ClickException(f"printers.{printer}: the demo needs this printer in the configuration")
        kiosk = db.session.execute(sa.select(Kiosk).filter_by(name=name)).scalar_one_or_none()
        if kiosk is None:
            kiosk, _token, enrol_code = add_kiosk(event, name=name, printer_name=printer, settings=settings,
                                                  actor=ACTOR, location=location)
        elif kiosk.enrol_hash is None:
            enrol_code = None  # a browser used the last enrolment URL: it stays enrolled
        else:
            enrol_code = state.enrolments.get(name)
            pending = kiosk.enrol_expires_at is not None and kiosk.enrol_expires_at > now
            if not (pending and enrol_code and hash_code(enrol_code) == kiosk.enrol_hash):
                # Nobody enrolled since the last URL was issued, so a new one un-enrols no browser.
                _token, enrol_code = rotate_kiosk_token(kiosk, actor=ACTOR)
                changes.append(f"{name}: new enrolment URL (the last one expired or was not kept)")
        if enrol_code:
            state.enrolments[name] = enrol_code
        else:
            state.enrolments.pop(name, None)
        kiosks.append((kiosk, enrol_code))
    return kiosks


def _keep_samples(event, settings: Settings, state: DemoState, changes: list[str]) -> list[tuple[str, Registration, str]]:
    """The sample people with their codes: last run's while they still work, new ones for the rest."""
    now = utcnow()
    kept, missing = [], list(SAMPLES)
    for sample in state.samples:
        label = sample.get("label")
        registration = db.session.get(Registration, sample.get("id")) if label in missing else None
        if registration is None or registration.event_id != event.id or not _code_works(registration, sample["code"]):
            changes.append(f"new sample code for a {label} person (the last one no longer works)")
        elif _label(registration, settings, now) != label:
            changes.append(f"new sample code for a {label} person (the last one is now "
                           f"{_label(registration, settings, now)})")
        else:
            missing.remove(label)
            kept.append((label, registration, sample["code"]))
    taken = {registration.id for _label, registration, _code in kept}
    for label, registration in _pick_people(event, settings, missing, exclude=taken):
        kept.append((label, registration, rotate_codes(registration, actor=ACTOR).code))
    kept.sort(key=lambda item: SAMPLES.index(item[0]))
    state.samples = [{"label": label, "id": r.id, "code": code} for label, r, code in kept]
    return kept


def _code_works(registration: Registration, code: str) -> bool:
    """Whether ``code`` is still this registration's current, usable code."""
    try:
        return not registration.is_cancelled and parse_code(code).digest == registration.code_hash
    except LanyardError:
        return False


def _label(registration: Registration, settings: Settings, now) -> str:
    """What kind of sample a person is now: cleared full, cleared guest or not cleared."""
    if not assess_clearance(registration.health, settings.health, now).cleared:
        return "not cleared"
    return "cleared guest" if settings.registration_types[registration.type_name].is_guest else "cleared full"


def _pick_people(event, settings: Settings, labels: list[str], *, exclude: set[int]) -> list[tuple[str, Registration]]:
    """People not yet checked in, one per label: cleared full, cleared guest or not cleared."""
    if not labels:
        return []
    now = utcnow()
    wanted = list(labels)
    checked = set(db.session.execute(sa.select(CheckIn.registration_id)).scalars())
    candidates = db.session.execute(
        sa.select(Registration).where(Registration.event_id == event.id, Registration.status == "confirmed")
        .order_by(Registration.id).limit(400)
    ).scalars()
    picked = []
    for registration in candidates:
        if registration.id in checked or registration.id in exclude:
            continue
        label = _label(registration, settings, now)
        if label in wanted:
            wanted.remove(label)
            picked.append((label, registration))
            if not wanted:
                break
    return picked


def _keep_staff(state: DemoState, changes: list[str]) -> list[tuple[str, str, str]]:
    """The demo's desk and door accounts with last run's passwords while they still work (sessions survive)."""
    accounts = []
    for email, role in DEMO_STAFF:
        user = db.session.execute(sa.select(StaffUser).filter_by(email=email)).scalar_one_or_none()
        password = state.passwords.get(email)
        if user is None:
            password = secrets.token_urlsafe(12)
            add_staff(email, role=role, actor=ACTOR, name=f"Demo {role}", password=password)
        elif not (password and verify_staff_password(user, password)):
            if password:
                changes.append(f"{email}: new password (the last one no longer works)")
            password = secrets.token_urlsafe(12)
            set_staff_password(user, password, actor=ACTOR)
        state.passwords[email] = password
        accounts.append((email, role, password))
    return accounts


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--attendees", default=300, show_default=True, type=int, help="People to register on first run.")
@with_appcontext
def demo_command(host, port, attendees):
    """Create (or keep) the demo event, attendees and two preview kiosks; start the print worker; serve."""
    from registration.printing.worker import start_worker_thread

    app = current_app._get_current_object()
    # Links in emails and enrolment URLs point where this server listens; the app reads its settings here.
    settings = dataclasses.replace(app.extensions["lanyard"], base_url=demo_base_url(host, port))
    app.extensions["lanyard"] = settings
    init_database(settings)
    db.session.commit()
    event = current_event(settings)
    registered = db.session.execute(
        sa.select(sa.func.count(Registration.id)).where(Registration.event_id == event.id)
    ).scalar()
    if registered == 0:
        with click.progressbar(length=1, label=f"Registering {attendees} demo attendees") as bar:
            seed_demo(event, settings=settings, count=attendees)
            bar.update(1)
        db.session.commit()
    else:
        click.echo(f"Keeping the {registered} registrations, kiosks and sample codes of the last run.")
    state, changes = load_state(settings), []
    kiosks = _keep_kiosks(event, settings, state, changes)
    people = _keep_samples(event, settings, state, changes)
    staff = _keep_staff(state, changes)
    db.session.commit()
    save_state(settings, state)

    base = settings.base_url
    click.echo("")
    click.secho(f"Lanyard demo — {settings.event.name}", bold=True)
    click.echo(f"  Register online:   {base}/register")
    for kiosk, enrol_code in kiosks:
        if enrol_code:
            click.echo(f"  {kiosk.name} ({kiosk.location}): open {enrolment_url(settings, enrol_code)} in a browser")
        else:
            click.echo(f"  {kiosk.name} ({kiosk.location}): enrolled browsers keep working; "
                       f"`lanyard kiosk rotate {kiosk.name}` prints a new enrolment URL and un-enrols them")
    click.echo(f"  Help desk:         {base}/login  (door staff land on the door page, {base}/door/)")
    for email, role, password in staff:
        click.echo(f"    {role:<9} {email}  password {password}")
    click.echo("  Codes to scan or type at a kiosk:")
    checked = set(db.session.execute(sa.select(CheckIn.registration_id)).scalars())
    for label, registration, code in people:
        note = " (already checked in: a second scan prints nothing)" if registration.id in checked else ""
        click.echo(f"    {code}  {registration.badge_name} — {label}{note}")
    for name in (p for _k, p, _l in DEMO_KIOSKS):
        directory = settings.printers[name].get("directory")
        if directory:
            click.echo(f"  Badges printed by {name} appear in {directory}/")
    click.echo(f"  Confirmation emails are written to {settings.mail.outbox or settings.mail.host}")
    click.echo("  At the door page, hold a badge (or its PNG on another screen) to the camera, or scan its QR code with a "
               "handheld scanner")
    if changes:
        click.echo("  Changed since the last run:")
        for change in changes:
            click.echo(f"    {change}")
    click.echo("")

    stop = threading.Event()
    start_worker_thread(app, stop=stop)
    try:
        # Not app.run(): Flask ignores it inside a `flask`/`lanyard` CLI command.
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        stop.set()
