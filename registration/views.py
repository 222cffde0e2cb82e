"""Public registration pages: register with guests, confirmation, and the private manage link.

The manage link's code is a credential in a URL path, which access logs record: its first use
exchanges it for a session and redirects to ``/manage``, which works from the session alone.
"""

from __future__ import annotations

import math
import time

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale, gettext as _
from sqlalchemy.exc import IntegrityError

from . import ratelimit
from .audit import Actor
from .auth import _client_address as client_address
from .errors import LanyardError
from .extensions import db
from .forms import BadgeNameForm, RegistrationForm, ResendForm
from .mail import deliver_confirmations, deliver_reminders
from .models import Registration, utcnow
from .services import (
    NAME_MAX,
    HealthInput,
    PersonInput,
    change_badge_name,
    check_registration,
    current_event,
    manage_link_expired,
    register_online,
    registration_for_code,
    rotate_codes,
)
from .settings import current_settings

bp = Blueprint("registration", __name__)

#: Every accepted registration form is answered after at least this long. Registering new people
#: takes longer than mailing a registered one their link (measured 14 against 8 ms median on the
#: 2-core test machine): without a floor, the time would tell what the page does not.
ANSWER_FLOOR_SECONDS = 0.08

#: Messages for the refusal codes a person can cause on these pages.
FIELD_MESSAGES = {
    # Only ever about two people on the same form: whether an email is registered is never told.
    "duplicate_email": lambda: _("This email is used twice in this form: each person needs their own, or none."),
    "host_required": lambda: _("Guests register through a full registrant."),
    "unknown_type": lambda: _("Choose a registration type."),
}
PROBLEM_MESSAGES = {
    "required": lambda: _("This field is required."),
    "too_long": lambda: _("This is too long."),
    "control_character": lambda: _("Remove invisible or control characters (for example pasted formatting)."),
    "emoji_or_symbol": lambda: _("Names can contain letters of any script, but not emoji or symbols."),
    "formula": lambda: _("This cannot start with =, +, - or @."),
    "email": lambda: _("Enter a valid email address."),
    "badge_name_needed": lambda: _("First and last name together are too long for the badge: enter the name "
                                   "to print on the badge (at most %(max)d characters).", max=NAME_MAX),
}



def _field(form, dotted: str):
    """The form field for a service error's field name (``guests-0-email`` → guests[0].email)."""
    parts = dotted.split("-")
    if parts[0] == "guests" and len(parts) == 3 and parts[1].isdigit():
        index = int(parts[1])
        if index < len(form.guests.entries):
            return getattr(form.guests.entries[index].form, parts[2], None)
        return None
    return getattr(form, dotted, None)


def _show_refusal(form, error: LanyardError) -> None:
    """Put a service refusal next to the field it concerns."""
    message = (FIELD_MESSAGES.get(error.code) or PROBLEM_MESSAGES.get(error.extra.get("problem"))
               or (lambda: _("Please check this field.")))()
    field = _field(form, error.extra.get("field", ""))
    if field is not None and field.errors:
        return  # the form's own check already said what is wrong with this field
    if field is not None:
        field.errors = list(field.errors) + [message]
    else:
        flash(message, "error")


def _person(form, type_name: str) -> PersonInput:
    return PersonInput(
        first_name=form.first_name.data or "",
        last_name=form.last_name.data or "",
        badge_name=form.badge_name.data or "",
        email=form.email.data or "",
        title=getattr(form, "title", None) and form.title.data or "",
        organization=getattr(form, "organization", None) and form.organization.data or "",
        type_name=type_name,
    )


@bp.route("/")
def index():
    """The event's front page."""
    return redirect(url_for("registration.register_page"))


@bp.route("/register", methods=["GET", "POST"])
def register_page():
    """Register a full registrant and their guests; the answer never tells whether an email was registered."""
    settings = current_settings()
    form = RegistrationForm()
    full_type, guest_type = settings.full_types[0], (settings.guest_types or [None])[0]
    if request.method == "POST":
        removed = next((k for k in request.form if k.startswith("remove_guest-")), None)
        if form.add_guest.data:
            if guest_type and len(form.guests.entries) < settings.max_guests:
                form.guests.append_entry()
            return _form_page(form)
        if removed is not None:
            index = removed.removeprefix("remove_guest-")
            if index.isdigit() and int(index) < len(form.guests.entries):
                kept = [e.data for i, e in enumerate(form.guests.entries) if i != int(index)]
                while form.guests.entries:
                    form.guests.pop_entry()
                for data in kept:
                    form.guests.append_entry(data)
            return _form_page(form)
    if not form.is_submitted():
        return _form_page(form)
    if len(form.guests.entries) > settings.max_guests:
        flash(_("At most %(n)d guests.", n=settings.max_guests), "error")
        return _form_page(form, 400, invalid=True)
    # Every problem at once: the form's own checks and the service's, for every person on the form.
    valid = form.validate()
    guests = [(_person(entry.form, guest_type), HealthInput(entry.form.health_method.data))
              for entry in form.guests.entries]
    problems = check_registration(_person(form, full_type), settings=settings,
                                  health=HealthInput(form.health_method.data), guests=guests)
    for problem in problems:
        _show_refusal(form, problem)
    if not valid or problems:
        return _form_page(form, 422 if valid else 400, invalid=True)
    wait = _count_registration_attempt(settings)
    if wait:
        flash(_("Too many registrations from your network. Please try again in %(minutes)d minutes.",
                minutes=math.ceil(wait / 60)), "error")
        response = current_app.make_response(_form_page(form, 429))
        response.headers["Retry-After"] = str(wait)
        return response
    started = time.monotonic()
    event = current_event(settings)
    for attempt in (1, 2):
        try:
            outcome = register_online(
                event,
                _person(form, full_type),
                settings=settings,
                actor=Actor(type="attendee", label=(form.email.data or "")[:254]),
                health=HealthInput(form.health_method.data),
                guests=guests,
                language=str(get_locale() or "en"),
            )
            db.session.commit()
            break
        except LanyardError as error:
            db.session.rollback()
            _show_refusal(form, error)
            return _form_page(form, 422, invalid=True)
        except IntegrityError:
            # The same email was registered between our lookup and our insert: once more, and the
            # lookup finds it (a second collision is no race but a fault).
            db.session.rollback()
            if attempt == 2:
                raise
    failures = deliver_confirmations(outcome.issued, settings) + deliver_reminders(outcome.reminders, settings)
    # What the confirmation page shows is what was typed (cleaned), the same whether the people were
    # registered now or already: it holds no code, and the codes go only to the registered addresses.
    session["registered"] = {
        "people": [{"name": person.badge_name, "type": person.type_name} for person in outcome.people],
        "email": outcome.people[0].email,
        "mail_failed": bool(failures),
    }
    time.sleep(max(0.0, ANSWER_FLOOR_SECONDS - (time.monotonic() - started)))
    return redirect(url_for("registration.registered"), 303)


def _count_registration_attempt(settings) -> int:
    """Count one registration from this client; seconds to wait when it is over the limit (0: go ahead).

    The count is committed on its own: a refused or failed registration counts as much as a good one.
    """
    now, window = utcnow(), settings.registration_window_minutes * 60
    key = f"register:client:{client_address()}"
    if ratelimit.current_count(key, window_seconds=window, now=now) >= settings.registrations_per_client:
        db.session.rollback()
        return ratelimit.seconds_left(window, now)
    ratelimit.count(key, window_seconds=window, now=now)
    db.session.commit()
    return 0


@bp.get("/register/done")
def registered():
    """The confirmation page after a registration (a GET: refreshing it posts nothing again)."""
    done = session.get("registered")
    if not done:
        return redirect(url_for("registration.register_page"))
    types = current_settings().registration_types
    language = str(get_locale() or "en")
    people = [{"name": p["name"], "pass_label": types[p["type"]].label_for(language) if p["type"] in types else ""}
              for p in done["people"]]
    response = current_app.make_response(render_template(
        "registration/confirmation.html", people=people, email=done["email"], mail_failed=done["mail_failed"]))
    response.headers["Cache-Control"] = "no-store"
    return response


def _form_page(form, status: int = 200, *, invalid: bool = False):
    """The registration form; ``invalid`` shows the banner over the fields marked with their errors."""
    settings = current_settings()
    return render_template("registration/register.html", form=form, max_guests=settings.max_guests, invalid=invalid,
                           can_add_guest=bool(settings.guest_types) and len(form.guests.entries) < settings.max_guests), status


def _closed_page(reason: str, status: int):
    """The page for a manage session that ended or a link that does not work: ``unknown`` (mistyped or replaced),
    ``replaced`` (a session whose link a resend replaced), ``resent`` or ``resend_failed`` (this browser asked for
    the new link), ``expired``, ``no_session``."""
    session.pop("manage", None)
    response = current_app.make_response((render_template("registration/manage_closed.html", reason=reason), status))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/r/<manage_code>")
def manage_link(manage_code: str):
    """The private link from the email: exchange its code for a session, then redirect to ``/manage`` without it."""
    event = current_event(current_settings())
    if manage_link_expired(event, utcnow()):
        return _closed_page("expired", 410)
    try:
        registration = registration_for_code(event, manage_code, kind="manage")
    except LanyardError:
        return _closed_page("unknown", 404)
    session["manage"] = {"id": registration.id, "hash": registration.manage_hash}
    # The page speaks the registrant's language (that of their email), whatever this browser chose
    # before; a ?lang= on the link itself is a choice made now, and wins (the app stored it already).
    if "lang" not in request.args and registration.language in current_settings().languages:
        session["lang"] = registration.language
    response = redirect(url_for("registration.manage"), 303)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _managed_registration():
    """The registration this browser's session manages, or the page that says why there is none."""
    held = session.get("manage")
    if not isinstance(held, dict):
        return None, _closed_page("no_session", 403)
    event = current_event(current_settings())
    if manage_link_expired(event, utcnow()):
        return None, _closed_page("expired", 410)
    registration = db.session.get(Registration, held.get("id")) if isinstance(held.get("id"), int) else None
    if registration is None or registration.event_id != event.id:
        return None, _closed_page("unknown", 403)
    # A new link (resend, or a reminder) replaces the old one: sessions opened with the old one end too.
    if registration.manage_hash != held.get("hash"):
        return None, _closed_page("replaced", 403)
    return registration, None


@bp.route("/manage", methods=["GET", "POST"])
def manage():
    """View one's registration and correct the badge name (the session from the private link says whose)."""
    registration, refusal = _managed_registration()
    if refusal is not None:
        return refusal
    form = BadgeNameForm(prefix="name")
    resend_form = ResendForm(prefix="resend")
    if request.method == "GET":
        form.badge_name.data = registration.badge_name
    elif form.save.data and form.validate_on_submit():
        try:
            change_badge_name(registration, form.badge_name.data, actor=Actor.for_attendee(registration))
            db.session.commit()
        except LanyardError as error:
            db.session.rollback()
            problem = PROBLEM_MESSAGES.get(error.extra.get("problem"))
            form.badge_name.errors = [problem() if problem else error.detail]
            return _manage_page(registration, form, resend_form, 422)
        flash(_("Saved. Your badge will say “%(name)s”.", name=registration.badge_name), "success")
        return redirect(url_for("registration.manage"), 303)
    elif request.method == "POST":
        return _manage_page(registration, form, resend_form, 400)
    return _manage_page(registration, form, resend_form)


@bp.post("/manage/resend")
def resend():
    """Email the confirmation again; the old QR code and link stop working, and so does this browser's session
    (the page said so: whoever asks for a new link goes on with it, from the email)."""
    registration, refusal = _managed_registration()
    if refusal is not None:
        return refusal
    form = ResendForm(prefix="resend")
    if not form.validate_on_submit():
        abort(400)
    try:
        issued = rotate_codes(registration, actor=Actor.for_attendee(registration))
        db.session.commit()
    except LanyardError:
        db.session.rollback()
        abort(409)
    failures = deliver_confirmations([issued], current_settings())
    return _closed_page("resend_failed" if failures else "resent", 200)


def _manage_page(registration, form, resend_form, status: int = 200):
    rtype = current_settings().registration_types.get(registration.type_name)
    response = current_app.make_response(
        (render_template("registration/manage.html", registration=registration, form=form, resend_form=resend_form,
                         pass_label=rtype.label_for(str(get_locale() or "en")) if rtype else registration.type_name),
         status)
    )
    response.headers["Cache-Control"] = "no-store"
    return response
