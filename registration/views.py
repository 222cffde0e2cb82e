"""Public registration pages: register with guests, confirmation, and the private manage link."""

from __future__ import annotations

import base64

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext as _
from sqlalchemy.exc import IntegrityError

from .audit import Actor
from .errors import LanyardError
from .extensions import db
from .forms import BadgeNameForm, RegistrationForm, ResendForm
from .mail import deliver_confirmations, qr_png
from .codes import format_for_humans
from .services import (
    HealthInput,
    PersonInput,
    change_badge_name,
    current_event,
    register,
    registration_for_code,
    rotate_codes,
)

bp = Blueprint("registration", __name__)

#: Messages for the refusal codes a person can cause on these pages.
FIELD_MESSAGES = {
    "duplicate_email": lambda: _("This email is already registered for the event. Use the link in your "
                                 "confirmation email, or ask the registration desk."),
    "host_required": lambda: _("Guests register through a full registrant."),
    "unknown_type": lambda: _("Choose a registration type."),
}
PROBLEM_MESSAGES = {
    "required": lambda: _("This field is required."),
    "too_long": lambda: _("This is too long."),
    "control_character": lambda: _("Remove invisible or control characters (for example pasted formatting)."),
    "emoji_or_symbol": lambda: _("Names can contain letters of any script, but not emoji or symbols."),
    "email": lambda: _("Enter a valid email address."),
}


def _settings():
    return current_app.extensions["lanyard"]


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
    """Register a full registrant and their guests."""
    settings = _settings()
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
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return _form_page(form, status)
    if len(form.guests.entries) > settings.max_guests:
        flash(_("At most %(n)d guests.", n=settings.max_guests), "error")
        return _form_page(form, 400)
    event = current_event(settings)
    guests = [(_person(entry.form, guest_type), HealthInput(entry.form.health_method.data))
              for entry in form.guests.entries]
    try:
        issued = register(
            event,
            _person(form, full_type),
            settings=settings,
            actor=Actor(type="attendee", label=(form.email.data or "")[:254]),
            health=HealthInput(form.health_method.data),
            guests=guests,
            language=str(get_locale() or "en"),
        )
        db.session.commit()
    except LanyardError as error:
        db.session.rollback()
        _show_refusal(form, error)
        return _form_page(form, 422)
    except IntegrityError:
        # Someone registered the same email between our check and our insert.
        db.session.rollback()
        _show_refusal(form, LanyardError("duplicate_email", field="email"))
        return _form_page(form, 409)
    failures = deliver_confirmations(issued, settings)
    people = [
        {
            "registration": item.registration,
            "code": format_for_humans(item.code),
            "qr": "data:image/png;base64," + base64.b64encode(qr_png(item.code, box_size=6)).decode("ascii"),
            "manage_url": url_for("registration.manage", manage_code=item.manage_code),
        }
        for item in issued
    ]
    response = current_app.make_response(
        render_template("registration/confirmation.html", people=people, mail_failed=bool(failures))
    )
    response.headers["Cache-Control"] = "no-store"  # the page shows codes
    return response


def _form_page(form, status: int = 200):
    settings = _settings()
    return render_template("registration/register.html", form=form, max_guests=settings.max_guests,
                           can_add_guest=bool(settings.guest_types) and len(form.guests.entries) < settings.max_guests), status


def _registration_for_manage_code(manage_code: str):
    try:
        return registration_for_code(current_event(_settings()), manage_code, kind="manage")
    except LanyardError:
        abort(404)


@bp.route("/r/<manage_code>", methods=["GET", "POST"])
def manage(manage_code: str):
    """The private page from the confirmation email: view the registration, correct the badge name."""
    registration = _registration_for_manage_code(manage_code)
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
        return redirect(url_for("registration.manage", manage_code=manage_code))
    elif request.method == "POST":
        return _manage_page(registration, form, resend_form, 400)
    return _manage_page(registration, form, resend_form)


@bp.route("/r/<manage_code>/resend", methods=["POST"])
def resend(manage_code: str):
    """Email the confirmation again; the old QR code and this link stop working."""
    registration = _registration_for_manage_code(manage_code)
    form = ResendForm(prefix="resend")
    if not form.validate_on_submit():
        abort(400)
    try:
        issued = rotate_codes(registration, actor=Actor.for_attendee(registration))
        db.session.commit()
    except LanyardError:
        db.session.rollback()
        abort(409)
    failures = deliver_confirmations([issued], _settings())
    return render_template("registration/resent.html", registration=registration, mail_failed=bool(failures))


def _manage_page(registration, form, resend_form, status: int = 200):
    response = current_app.make_response(
        (render_template("registration/manage.html", registration=registration, form=form,
                         resend_form=resend_form, rtype=_settings().registration_types.get(registration.type_name)),
         status)
    )
    response.headers["Cache-Control"] = "no-store"
    return response
