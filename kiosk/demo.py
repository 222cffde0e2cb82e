"""`lanyard demo`: one command from a fresh clone to a working kiosk.

Creates the SQLite database and the demo event, registers a few hundred realistic
attendees and guests, enrols two preview kiosks, starts the print worker in a thread
and serves the site. Printed badges land as PNG files in the preview printers' folders.
"""

from __future__ import annotations

import secrets
import threading

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

from registration.audit import Actor
from registration.checkin.models import Kiosk
from registration.cli import init_database
from registration.extensions import db
from registration.health import assess_clearance
from registration.models import Registration, utcnow
from registration.seed import seed_demo
from registration.services import rotate_codes

from .services import add_kiosk, rotate_kiosk_token

DEMO_KIOSKS = (("kiosk-1", "kiosk-1", "Lobby A"), ("kiosk-2", "kiosk-2", "Lobby B"))
DEMO_STAFF = (("registrar@demo.example.org", "registrar"), ("admin@demo.example.org", "admin"))


def _demo_staff() -> list[tuple[str, str, str]]:
    """The demo's desk accounts, each with a new random password every run (printed, never stored in clear)."""
    from registration.models import StaffUser
    from registration.staff import add_staff, set_staff_password

    accounts = []
    for email, role in DEMO_STAFF:
        password = secrets.token_urlsafe(12)
        user = db.session.execute(sa.select(StaffUser).filter_by(email=email)).scalar_one_or_none()
        if user is None:
            add_staff(email, role=role, actor=Actor.system("demo"), name=f"Demo {role}", password=password)
        else:
            set_staff_password(user, password, actor=Actor.system("demo"))
        accounts.append((email, role, password))
    return accounts


def _sample_people(event, settings, count: int = 6):
    """A few attendees worth trying at a kiosk: cleared full, cleared guest, and not cleared."""
    now = utcnow()
    wanted = {"cleared full": None, "cleared guest": None, "not cleared": None}
    candidates = db.session.execute(
        sa.select(Registration).where(Registration.event_id == event.id, Registration.status == "confirmed")
        .order_by(Registration.id).limit(400)
    ).scalars()
    from registration.checkin.models import CheckIn

    checked = set(db.session.execute(sa.select(CheckIn.registration_id)).scalars())
    extra = []
    for registration in candidates:
        if registration.id in checked:
            continue
        cleared = assess_clearance(registration.health, settings.health, now).cleared
        guest = settings.registration_types[registration.type_name].is_guest
        key = "not cleared" if not cleared else "cleared guest" if guest else "cleared full"
        if wanted[key] is None:
            wanted[key] = registration
        elif cleared and not guest and len(extra) < count - 3:
            extra.append(("cleared full", registration))
    people = [(k, r) for k, r in wanted.items() if r is not None] + extra
    return [(label, rotate_codes(r, actor=Actor.system("demo"))) for label, r in people]


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--attendees", default=300, show_default=True, type=int, help="People to register on first run.")
@with_appcontext
def demo_command(host, port, attendees):
    """Create the demo event, attendees and two preview kiosks; start the print worker; serve."""
    from registration.printing.worker import start_worker_thread
    from registration.services import current_event

    settings = current_app.extensions["lanyard"]
    event = init_database()
    registered = db.session.execute(
        sa.select(sa.func.count(Registration.id)).where(Registration.event_id == event.id)
    ).scalar()
    if registered == 0:
        with click.progressbar(length=1, label=f"Registering {attendees} demo attendees") as bar:
            seed_demo(event, settings=settings, count=attendees)
            bar.update(1)
        db.session.commit()
    event = current_event(settings)
    enrolments = []
    for name, printer, location in DEMO_KIOSKS:
        if printer not in settings.printers:
            raise click.ClickException(f"printers.{printer}: the demo needs this printer in the configuration")
        kiosk = db.session.execute(sa.select(Kiosk).filter_by(name=name)).scalar_one_or_none()
        if kiosk is None:
            kiosk, _token, enrol_code = add_kiosk(event, name=name, printer_name=printer, settings=settings,
                                                  actor=Actor.system("demo"), location=location)
        else:
            _token, enrol_code = rotate_kiosk_token(kiosk, actor=Actor.system("demo"))
        enrolments.append((kiosk, enrol_code))
    people = _sample_people(event, settings)
    staff = _demo_staff()
    db.session.commit()

    base = f"http://{host}:{port}"
    click.echo("")
    click.secho(f"Lanyard demo — {settings.event.name}", bold=True)
    click.echo(f"  Register online:   {base}/register")
    for kiosk, enrol_code in enrolments:
        click.echo(f"  {kiosk.name} ({kiosk.location}): open {base}/kiosk/enrol/{enrol_code} in a browser")
    click.echo(f"  Help desk:         {base}/login")
    for email, role, password in staff:
        click.echo(f"    {role:<9} {email}  password {password}")
    click.echo("  Codes to scan or type at a kiosk:")
    for label, issued in people:
        r = issued.registration
        click.echo(f"    {issued.code}  {r.badge_name} — {label}")
    for name in (p for _k, p, _l in DEMO_KIOSKS):
        directory = settings.printers[name].get("directory")
        if directory:
            click.echo(f"  Badges printed by {name} appear in {directory}/")
    click.echo(f"  Confirmation emails are written to {settings.mail.outbox or settings.mail.host}")
    click.echo("")

    stop = threading.Event()
    start_worker_thread(current_app._get_current_object(), stop=stop)
    try:
        # Not app.run(): Flask ignores it inside a `flask`/`lanyard` CLI command.
        run_simple(host, port, current_app._get_current_object(), threaded=True, use_reloader=False)
    finally:
        stop.set()
