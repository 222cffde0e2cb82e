"""`lanyard kiosk ...`: add, list, disable, enable and rotate kiosks. Each command owns its transaction."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from registration.audit import Actor
from registration.checkin.models import Kiosk
from registration.errors import LanyardError
from registration.extensions import db
from registration.settings import current_settings

from . import services
from .demo import demo_command


def _fail(error: LanyardError):
    db.session.rollback()
    raise click.ClickException(f"{error.code}: {error.detail}")


def _show_secrets(settings, token: str, enrol_code: str) -> None:
    click.echo(f"API token (shown once; the kiosk sends it as 'Authorization: Bearer ...'): {token}")
    click.echo(f"Enrolment URL (one-time, valid {int(services.ENROLMENT_VALID.total_seconds() // 3600)} h; "
               f"open it in the kiosk's browser): {services.enrolment_url(settings, enrol_code)}")


@click.group("kiosk")
def kiosk_group():
    """Manage check-in kiosks."""


@kiosk_group.command("add")
@click.argument("name")
@click.option("--printer", "printer_name", required=True, help="A printer from [printers.NAME] in the configuration.")
@click.option("--location", default="", help='Where it stands, e.g. "Lobby A".')
@click.option("--language", default="en", show_default=True, help="The kiosk's first-screen language.")
@with_appcontext
def add_command(name, printer_name, location, language):
    """Add a kiosk; prints its API token and a one-time enrolment URL."""
    from registration.services import current_event

    settings = current_settings()
    try:
        kiosk, token, enrol_code = services.add_kiosk(
            current_event(settings), name=name, printer_name=printer_name, settings=settings,
            actor=Actor.system("cli"), location=location, language=language)
        db.session.commit()
    except LanyardError as error:
        _fail(error)
    click.echo(f"Added kiosk {kiosk.name} (printer {kiosk.printer_name}"
               f"{', ' + kiosk.location if kiosk.location else ''}).")
    _show_secrets(settings, token, enrol_code)


@kiosk_group.command("list")
@with_appcontext
def list_command():
    """List the kiosks with their printer, location, state and when each was last seen."""
    kiosks = db.session.execute(sa.select(Kiosk).order_by(Kiosk.name)).scalars().all()
    if not kiosks:
        click.echo("No kiosks yet: add one with `lanyard kiosk add NAME --printer P`.")
        return
    for kiosk in kiosks:
        seen = kiosk.last_seen_at.strftime("%Y-%m-%d %H:%M UTC") if kiosk.last_seen_at else "never"
        click.echo(f"{kiosk.name}\t{'enabled' if kiosk.enabled else 'DISABLED'}\tprinter {kiosk.printer_name}\t"
                   f"{kiosk.location or '-'}\t{kiosk.language}\tlast seen {seen}")


def _change(name: str, operation) -> Kiosk:
    try:
        kiosk = services.kiosk_by_name(name)
        result = operation(kiosk)
        db.session.commit()
    except LanyardError as error:
        _fail(error)
    return result


@kiosk_group.command("disable")
@click.argument("name")
@with_appcontext
def disable_command(name):
    """Take a kiosk out of service at once."""
    kiosk = _change(name, lambda k: services.disable_kiosk(k, actor=Actor.system("cli")))
    click.echo(f"Kiosk {kiosk.name} is disabled.")


@kiosk_group.command("enable")
@click.argument("name")
@with_appcontext
def enable_command(name):
    """Put a disabled kiosk back in service."""
    kiosk = _change(name, lambda k: services.enable_kiosk(k, actor=Actor.system("cli")))
    click.echo(f"Kiosk {kiosk.name} is enabled.")


@kiosk_group.command("rotate")
@click.argument("name")
@with_appcontext
def rotate_command(name):
    """Replace a kiosk's token; the old token and enrolled browsers stop at once."""
    token, enrol_code = _change(name, lambda k: services.rotate_kiosk_token(k, actor=Actor.system("cli")))
    click.echo(f"Kiosk {name}: new token issued; the old token and enrolled browsers no longer work.")
    _show_secrets(current_settings(), token, enrol_code)


def init_app(app) -> None:
    """Register the kiosk package's commands: ``lanyard kiosk ...`` and ``lanyard demo``."""
    app.cli.add_command(kiosk_group)
    app.cli.add_command(demo_command)
