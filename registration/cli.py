"""The `lanyard` command: a Flask CLI group. Each command owns its transaction."""

from __future__ import annotations

import csv
import io
import sys

import click
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from .audit import Actor, record
from .errors import LanyardError
from .extensions import db
from .settings import current_settings



def _create_app():
    from .app import create_app
    from .settings import ConfigError

    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False, load_dotenv=False)
def main():
    """Lanyard: conference registration and self-service badge check-in."""


@click.command("init-db")
@with_appcontext
def init_db_command():
    """Create the schema (through the migrations) and the configured event."""
    from .services import init_database

    event = init_database(current_settings())
    db.session.commit()
    click.echo(f"Database ready; event {event.slug!r} ({event.name}).")


@click.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig", errors="strict"))
@click.option("--dry-run", is_flag=True, help="Check every row and report the bad ones; change nothing.")
@click.option("--send-confirmations", is_flag=True, help="Email each imported person their QR code afterwards.")
@with_appcontext
def import_command(file, dry_run, send_confirmations):
    """Import registrations from a CSV export of the association database."""
    from .importing import count_of, import_registrations, issued_for
    from .mail import deliver_confirmations as deliver
    from .services import current_event

    settings = current_settings()
    try:
        text = file.read()
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file.name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    rows = max(text.count("\n") - 1, 0)
    event = current_event(settings)
    try:
        with click.progressbar(length=rows, label="Importing", file=sys.stderr) as bar:
            report = import_registrations(io.StringIO(text, newline=""), event, settings=settings,
                                          actor=Actor.system("import"), dry_run=dry_run, progress=bar.update)
    except LanyardError as error:
        db.session.rollback()
        report = error.extra.get("report")
        if report is None:
            raise click.ClickException(error.detail) from None
        for row_error in report.errors:
            click.echo(str(row_error))
        click.echo(report.refused(), err=True)
        sys.exit(1)
    except SQLAlchemyError as exc:  # a row that passed every check refused by the database itself
        db.session.rollback()
        why = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise click.ClickException(f"the database refused the import ({why}); nothing was imported") from None
    if dry_run:
        db.session.rollback()
        click.echo(report.checked())
        return
    db.session.commit()
    click.echo(report.summary())
    if send_confirmations:
        with click.progressbar(length=len(report.codes), label="Sending confirmations", file=sys.stderr) as bar:
            failures = deliver(issued_for(report), settings, progress=bar.update)
        click.echo(f"Sent {count_of(len(report.codes) - len(failures), 'confirmation')}.")
        if failures:
            for issued, why in failures[:20]:
                click.echo(f"not sent to registration {issued.registration.id}: {why}", err=True)
            click.echo(f"{count_of(len(failures), 'confirmation')} not sent; resend them from the desk.", err=True)
            sys.exit(1)


@click.command("export")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8", lazy=True), default="-",
              help="File to write (default: standard output).")
@with_appcontext
def export_command(output):
    """Export registrations with their check-in state as CSV."""
    from .importing import export_rows
    from .services import current_event

    event = current_event(current_settings())
    writer = csv.writer(output)
    count = -1
    for row in export_rows(event):
        writer.writerow(row)
        count += 1
    record(Actor.system("export"), "registration.export", event_id=event.id, rows=count)
    db.session.commit()
    if output.name not in ("-", "<stdout>"):
        click.echo(f"Exported {count} registrations to {output.name}.", err=True)


@click.group("staff")
def staff_group():
    """Manage staff users."""


@staff_group.command("add")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["registrar", "door", "admin"]))
@click.option("--name", default="")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Prompted for when not given (use the LANYARD_STAFF_PASSWORD variable in scripts).",
              envvar="LANYARD_STAFF_PASSWORD")
@click.option("--token", is_flag=True, help="Also print an API token (for door scanners).")
@with_appcontext
def staff_add_command(email, role, name, password, token):
    """Add a staff user (registrar, door or admin)."""
    from .staff import add_staff

    try:
        user, api_token = add_staff(email, role=role, name=name, password=password, with_token=token,
                                    actor=Actor.system("cli"))
        db.session.commit()
    except LanyardError as error:
        db.session.rollback()
        raise click.ClickException(error.detail) from None
    click.echo(f"Added {user.role} {user.email}.")
    if api_token:
        click.echo(f"API token: {api_token}")


def _staff_user(email):
    from .staff import staff_by_email

    try:
        return staff_by_email(email)
    except LanyardError as error:
        raise click.ClickException(error.detail) from None


@staff_group.command("list")
@with_appcontext
def staff_list_command():
    """List staff users: email, role, state, API token, last sign-in."""
    from .staff import list_staff

    users = list_staff()
    if not users:
        click.echo("No staff users yet: lanyard staff add EMAIL --role registrar|door|admin")
        return
    for user in users:
        last = user.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if user.last_login_at else "never signed in"
        click.echo(f"{user.email}\t{user.role}\t{'active' if user.active else 'disabled'}\t"
                   f"{'token' if user.api_token_hash else 'no token'}\t{last}")


def _set_active(email: str, active: bool) -> None:
    from .staff import set_staff_active

    user = _staff_user(email)
    set_staff_active(user, active, actor=Actor.system("cli"))
    db.session.commit()
    click.echo(f"Enabled {user.email}." if active else f"Disabled {user.email}; signed out everywhere.")


@staff_group.command("disable")
@click.argument("email")
@with_appcontext
def staff_disable_command(email):
    """Disable a staff user: every session and their API token stop at once."""
    _set_active(email, False)


@staff_group.command("enable")
@click.argument("email")
@with_appcontext
def staff_enable_command(email):
    """Enable a disabled staff user again."""
    _set_active(email, True)


@staff_group.command("passwd")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Prompted for when not given (use the LANYARD_STAFF_PASSWORD variable in scripts).",
              envvar="LANYARD_STAFF_PASSWORD")
@with_appcontext
def staff_passwd_command(email, password):
    """Set a staff user's password (at least 12 characters); their sessions end."""
    from .staff import set_staff_password

    user = _staff_user(email)
    try:
        set_staff_password(user, password, actor=Actor.system("cli"))
        db.session.commit()
    except LanyardError as error:
        db.session.rollback()
        raise click.ClickException(error.detail) from None
    click.echo(f"Password changed for {user.email}; their sessions were signed out.")


@staff_group.command("token")
@click.argument("email")
@with_appcontext
def staff_token_command(email):
    """Issue a new API token for a staff user (printed once); the old token stops at once."""
    from .staff import new_staff_token

    user = _staff_user(email)
    token = new_staff_token(user, actor=Actor.system("cli"))
    db.session.commit()
    click.echo(f"API token for {user.email}: {token}")


@click.command("purge-health")
@click.option("--force", is_flag=True, help="Purge even before the configured number of days has passed.")
@with_appcontext
def purge_health_command(force):
    """Delete the event's health records once the configured days after the event have passed."""
    from .staff import purge_health
    from .services import current_event

    settings = current_settings()
    try:
        count = purge_health(current_event(settings), settings=settings, actor=Actor.system("cli"), force=force)
        db.session.commit()
    except LanyardError as error:
        db.session.rollback()
        raise click.ClickException(error.detail) from None
    click.echo(f"Deleted {count} health records.")


def init_app(app) -> None:
    """Register the commands with the app's CLI group."""
    from .printing.cli import print_worker_command, printer_emulator_command

    for command in (init_db_command, import_command, export_command, staff_group, purge_health_command,
                    print_worker_command, printer_emulator_command):
        app.cli.add_command(command)
