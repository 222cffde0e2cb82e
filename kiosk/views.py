"""Kiosk pages: the touch-screen check-in page, device enrolment and the out-of-service page.

The page itself is static HTML plus ``kiosk/static/kiosk.js``; the CSP forbids inline scripts, so
everything the script needs (API addresses, the ``[kiosk]`` timings of the settings, every message
in every language) is rendered into data attributes and a JSON data block here.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from babel.lists import format_list
from flask_babel import force_locale, gettext as _
from flask_login import logout_user

from registration.errors import LanyardError
from registration.extensions import db

from .services import enrol_kiosk, pending_enrolment

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk", static_folder="static")

#: The on-screen keyboard for typing a code: Crockford base32 as in the email (I, L, O and U are not in
#: codes; the server reads I and L as 1 and O as 0, so those keys are left out rather than mistyped).
CODE_KEYBOARD = ("1234567890", "ABCDEFGHJK", "MNPQRSTVWX", "YZ")

#: The on-screen keyboards for a last name: Latin (with Ñ), Greek and Cyrillic. Accents need no
#: keys: the search ignores them (Muñoz = MUNOZ, Ά = Α, Й = И).
NAME_KEYBOARDS = (
    {"name": "latin", "lang": "en", "label": "ABC",
     "rows": ("1234567890", "QWERTYUIOP", "ASDFGHJKLÑ", "ZXCVBNM-'.")},
    {"name": "greek", "lang": "el", "label": "ΑΒΓ",
     "rows": ("ΑΒΓΔΕΖΗΘΙΚ", "ΛΜΝΞΟΠΡΣΤΥ", "ΦΧΨΩ-'.")},
    {"name": "cyrillic", "lang": "ru", "label": "АБВ",
     "rows": ("ЙЦУКЕНГШЩЗХ", "ФЫВАПРОЛДЖЭ", "ЯЧСМИТЬЪБЮЁ", "ІЇЄҐЎ-'.")},
)


def N_(text: str) -> str:  # noqa: N802 -- the name pybabel looks for
    """Mark ``text`` for translation without translating it (there is no locale at import time)."""
    return text


#: What each configured ``[event] areas`` name is called on the kiosk ("Your pass opens the Expo and the
#: receptions"): the one table of area labels. The settings give areas no labels; an area missing here is
#: shown by its name, underscores as spaces.
AREA_LABELS = {
    "general_sessions": N_("the general sessions"),
    "breakouts": N_("the breakout sessions"),
    "caucus": N_("the caucus"),
    "expo": N_("the Expo"),
    "receptions": N_("the receptions"),
}


def area_label(area: str) -> str:
    """What ``area`` is called to attendees, in the current locale."""
    label = AREA_LABELS.get(area)
    return _(label) if label is not None else area.replace("_", " ")


def _messages() -> dict[str, str]:
    """Every string the script shows, in the current locale; ``{name}``-style fields are filled by the script."""
    return {
        # start
        "title": _("Welcome"),
        "scan_prompt": _("Scan the QR code from your confirmation email"),
        "scan_hint": _("Hold your phone or printout under the scanner."),
        "find_by_name": _("Find me by name"),
        "type_code": _("Type my code"),
        "use_camera": _("Use the camera"),
        "camera_prompt": _("Hold the QR code up to the camera"),
        "camera_failed": _("The camera is not available. Please use the scanner or find yourself by name."),
        "language": _("Language"),
        "working": _("One moment…"),
        # check-in
        "welcome_name": _("Welcome, {name}"),
        "pass": _("Your pass"),
        "preview_alt": _("Preview of your badge"),
        "printing": _("Your badge is printing at this kiosk"),
        "printing_at": _("Your badge is printing at {location}"),
        "state_queued": _("Waiting for the printer…"),
        "state_sending": _("Printing…"),
        "state_printed": _("Printed"),
        "state_held": _("Waiting — the printer is not ready"),
        "printed": _("Printed — take your badge"),
        "printed_hint": _("Enjoy the conference!"),
        "printed_pass": _("Your pass opens {areas}."),
        "printed_elsewhere": _("Your badge was printed at {location}, not at this kiosk. Please collect it "
                               "there, or ask at the registration desk."),
        "printed_elsewhere_unknown": _("Your badge was printed at another printer, not at this kiosk. "
                                       "Please ask at the registration desk."),
        "attention": _("This kiosk's printer needs attention — please use the kiosk at {location} or the "
                       "registration desk."),
        "attention_other": _("This kiosk's printer needs attention — please use another kiosk or the "
                             "registration desk."),
        "attention_desk": _("This kiosk's printer needs attention — please go to the registration desk."),
        "print_failed": _("Your badge could not be printed here. The registration desk will print it for you."),
        "print_unsure": _("We are not sure your badge printed. Please go to the registration desk; "
                          "they will check and give you your badge."),
        "desk_case": _("The desk already knows: your case number is {id}."),
        # needs desk
        "go_health_desk": _("Please go to the health verification desk"),
        "go_registration_desk": _("Please go to the registration desk"),
        # One message for every health reason: a kiosk stands in a lobby, and the design lets it say
        # only "cleared" or "see the desk" (the desk case carries the exact reason for staff).
        "health_not_cleared": _("We can't print your badge until your vaccination or test result has been checked. "
                                "The health verification desk will help, and on-site testing is available there."),
        "registration_cancelled": _("This registration was cancelled. The registration desk can help."),
        "no_badge": _("No badge was printed."),
        # invalid
        "invalid_title": _("We could not use this code"),
        "code_malformed": _("This is not a check-in code. Please scan the QR code from your confirmation email."),
        "code_unknown": _("We could not find this code. Please scan the QR code from your confirmation email, "
                          "or find yourself by name."),
        "code_superseded": _("This code was replaced by a newer one. Please use your most recent confirmation "
                             "email, or find yourself by name."),
        "wrong_code_kind": _("This is a badge code. Please scan the QR code from your confirmation email instead."),
        "wrong_event": _("This code is for a different event. The registration desk can help."),
        "selection_invalid": _("That choice has expired. Please search for your name again."),
        "invalid_other": _("Something is wrong with this code. The registration desk can help."),
        # already checked in
        "already_title": _("You already have your badge"),
        "already_when": _("Your badge was printed at {where} on {when}."),
        "already_reprint": _("Lost it? The registration desk can print a new one."),
        "elsewhere": _("the registration desk"),
        # Where a badge was printed, when the kiosk that printed it has no location: never its internal name.
        "this_kiosk": _("this kiosk"),
        "another_kiosk": _("another kiosk"),
        # type the code
        "code_title": _("Type the code from your email"),
        "code_label": _("Check-in code"),
        "code_hint": _("It starts with R1, for example R1-AB12-…; dashes and spaces do not matter."),
        "code_needed": _("Please type the whole code from your confirmation email."),
        "check_in": _("Check in"),
        # find me by name
        "lookup_title": _("Find me by name"),
        "last_name": _("Last name"),
        "second_factor": _("First 3 letters of your email"),
        "second_factor_hint": _("Guests without their own email: use your host's email."),
        "search": _("Search"),
        "back": _("Back"),
        "start_over": _("Start over"),
        "done": _("Done"),
        "keyboard": _("On-screen keyboard"),
        "key_space": _("Space"),
        "key_backspace": _("Delete"),
        "key_clear": _("Clear"),
        "lookup_need_both": _("Please enter your last name and the first 3 letters of your email address."),
        "results_title": _("Is this you?"),
        "results_hint": _("Choose your name to check in."),
        "no_match": _("We could not find you. Check the spelling and the first letters of your email, "
                      "or go to the registration desk."),
        "rate_limited": _("Too many attempts. Please wait a moment and try again."),
        "not_me": _("None of these — search again"),
        "no_match_title": _("No match found"),
        "search_again": _("Search again"),
        # idle, errors, service
        "idle_title": _("Still there?"),
        "idle_countdown": _("The screen clears in {seconds} seconds."),
        "still_here": _("I'm still here"),
        "error": _("Something went wrong. Please try again, or go to the registration desk."),
        "unavailable": _("Temporarily unavailable — please use the desk"),
        "unavailable_hint": _("Check-in cannot be saved right now. The registration desk will help you."),
        "out_of_service": _("Out of service"),
        "out_of_service_hint": _("This kiosk is closed. Please use another kiosk or the registration desk."),
    }


def _all_messages() -> dict[str, dict[str, str]]:
    """The script's strings in every configured language, so the language toggle needs no reload."""
    messages = {}
    for language in g.settings.languages:
        with force_locale(language):
            messages[language] = _messages()
    return messages


def _pass_access() -> dict[str, dict[str, str]]:
    """For each pass that opens only some of the event's areas: those areas in words, per language."""
    settings = g.settings
    access = {}
    for rtype in settings.registration_types.values():
        if not rtype.access_areas or set(rtype.access_areas) >= set(settings.event.areas):
            continue  # opens everything: "Enjoy the conference!" says it
        access[rtype.name] = {}
        for language in settings.languages:
            with force_locale(language):
                access[rtype.name][language] = format_list([area_label(area) for area in rtype.access_areas],
                                                           locale=language)
    return access


def _printer_locations() -> dict[str, dict[str, str]]:
    """Where each printer with a configured ``location`` stands, per language: what attendees are told."""
    return {name: {"en": options["location"], "es": options.get("location_es", options["location"])}
            for name, options in g.settings.printers.items() if "location" in options}


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/")
def index():
    """The check-in page of the kiosk this browser is bound to (the policy sends others to ``unenrolled``)."""
    kiosk = g.kiosk
    if not kiosk.enabled:
        with force_locale(kiosk.language):
            page = render_template("kiosk/out_of_service.html", kiosk=kiosk, language=kiosk.language)
        return _no_store(current_app.make_response((page, 503)))
    settings = g.settings
    pass_labels = {rtype.label: {"en": rtype.label, "es": rtype.label_es or rtype.label}
                   for rtype in settings.registration_types.values()}
    with force_locale(kiosk.language):
        page = render_template(
            "kiosk/index.html", kiosk=kiosk, timings=settings.kiosk, messages=_all_messages(),
            pass_labels=pass_labels, pass_access=_pass_access(), printer_locations=_printer_locations(),
            language=kiosk.language,
            code_keyboard=CODE_KEYBOARD, name_keyboards=NAME_KEYBOARDS,
        )
    return _no_store(current_app.make_response(page))


def _enrol_invalid():
    return _no_store(current_app.make_response((render_template("kiosk/enrol_invalid.html"), 404)))


#: The session key that holds an enrolment code between the link and the confirmation.
PENDING_ENROLMENT = "kiosk_enrolment"


# One endpoint for the three steps, so the access policy lists enrolment once as public.
@bp.route("/enrol/<code>")
@bp.route("/enrol", methods=["GET", "POST"])
def enrol(code: str | None = None):
    """Enrol this browser as a kiosk, in three steps; only the last one, a POST with CSRF, spends the code.

    1. ``GET /enrol/CODE`` (the emailed link) keeps the code in this browser's session and redirects
       to ``/enrol``, so the code is in one access-log line, not in every reload after it.
    2. ``GET /enrol`` asks "Make this browser kiosk NAME?". A link previewer or a mail scanner that
       fetches the link gets this far and binds nothing.
    3. ``POST /enrol`` binds the browser and opens the kiosk page.
    """
    if code is not None:
        try:
            pending_enrolment(code)
        except LanyardError:
            return _enrol_invalid()
        session[PENDING_ENROLMENT] = code
        return _no_store(redirect(url_for("kiosk.enrol")))
    code = session.get(PENDING_ENROLMENT)
    if request.method != "POST":
        try:
            kiosk = pending_enrolment(code)
        except LanyardError:
            return _enrol_invalid()
        return _no_store(current_app.make_response(render_template("kiosk/enrol_confirm.html", kiosk=kiosk)))
    session.pop(PENDING_ENROLMENT, None)
    try:
        kiosk = enrol_kiosk(code)
        db.session.commit()
    except LanyardError:
        db.session.rollback()
        return _enrol_invalid()
    logout_user()  # a browser is either a kiosk or a staff desk, not both
    session["kiosk"] = {"id": kiosk.id, "generation": kiosk.generation}
    session.permanent = True
    return _no_store(redirect(url_for("kiosk.index")))


@bp.route("/not-enrolled")
def unenrolled():
    """Shown to a browser that is not bound to a kiosk."""
    return render_template("kiosk/unenrolled.html"), 403
