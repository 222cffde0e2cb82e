"""The desk's pages: search as you type, the attendee card and its actions, walk-ups, the case queue, the
printers, and (admins) the staff list.

Each action is one form posted to its own route: parse, load (404), call one service, commit, then
mail; then back to the card with a message (post/redirect/get, so a reload never repeats it). Forms
that print carry a nonce, so a double click prints once. Every page is ``no-store``.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import format_datetime, get_locale, gettext as _, lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from ..errors import LanyardError
from ..extensions import db
from ..mail import deliver_confirmations
from ..models import Registration, utcnow
from ..printing.models import PrintJob
from ..services import PersonInput, current_event
from ..settings import current_settings
from ..staff import ROLES, add_staff, list_staff, new_staff_token, set_staff_active, set_staff_password
from . import forms, services
from .cases import read_resolution
from .models import DeskCase

bp = Blueprint("desk", __name__, url_prefix="/desk")
admin_bp = Blueprint("desk_admin", __name__, url_prefix="/desk/admin")

#: What the desk says for each refusal a person at the counter can run into (others show the service's detail).
MESSAGES = {
    "badge_in_queue": _l("The current badge has not printed yet. Wait for it, or cancel or reroute its print job "
                         "below, then reprint."),
    "not_checked_in": _l("This person has not collected a badge yet: use “Check in and print”."),
    "registration_cancelled": _l("This registration is cancelled."),
    "already_checked_in": _l("Already checked in."),
    "printer_unknown": _l("Choose a configured printer."),
    "reason_required": _l("Please give a reason."),
    "not_guest": _l("Only a guest pass can be upgraded."),
    "duplicate_email": _l("This email is already registered for the event."),
    "host_required": _l("A guest needs the full registrant they come with: enter the host's email."),
    "host_invalid": _l("The host must be a confirmed full registrant of this event."),
    "case_closed": _l("This case was already resolved."),
    "job_not_retryable": _l("This print job cannot be changed any more (it printed, is printing, or was cancelled)."),
    "code_malformed": _l("That is not a registration or badge code."),
    "code_unknown": _l("No registration or badge has this code."),
    "wrong_event": _l("This code belongs to another event."),
    "wrong_code_kind": _l("That code opens no attendee card."),
    "nonce_invalid": _l("The form expired. Please try again."),
}
REASON_TEXT = {
    "health_missing": _l("No health record"),
    "health_unverified": _l("Health proof not verified yet"),
    "health_expired": _l("Negative test expired"),
    "health_rejected": _l("Health proof rejected"),
    "health_purged": _l("Health data purged after the event"),
    "health_not_cleared": _l("Not cleared"),
    "registration_cancelled": _l("Registration cancelled"),
    "print_failed": _l("Printer failure: nothing printed"),
    "print_unconfirmed": _l("Printer did not confirm the badge"),
    "no_match": _l("No match at the kiosk"),
}



@bp.app_template_filter("event_time")
def event_time(value: datetime | None, style: str = "medium") -> str:
    """A time shown in the event's time zone (the desk and the venue share it).

    Flask-Babel converts to its default zone, which the app factory sets to the event's: converting here too
    would be undone (it reads the instant, not the zone) and the page would show UTC.
    """
    if value is None:
        return "—"
    return format_datetime(value, "d MMM HH:mm" if style == "short" else "d MMM y, HH:mm")


@bp.app_template_filter("waited")
def waited(value: datetime) -> str:
    """How long ago, as a person reads it at the counter ("4 min", "1 h 05")."""
    seconds = max(0, int((utcnow() - value).total_seconds()))
    if seconds < 60:
        return _("%(n)d s", n=seconds)
    if seconds < 3600:
        return _("%(n)d min", n=seconds // 60)
    return _("%(h)d h %(m)02d", h=seconds // 3600, m=seconds % 3600 // 60)


#: What a person reads for each action the audit log records (every ``record(actor, "…")`` in the code; a test
#: keeps this list complete).
ACTION_LABELS = {
    "badge.issue": _l("Badge issued"),
    "badge.reprint": _l("Badge reprinted"),
    "checkin.undo": _l("Check-in undone"),
    "desk_case.open": _l("Desk case opened"),
    "desk_case.resolve": _l("Desk case resolved"),
    "door.conflict": _l("Door conflict"),
    "health.purge": _l("Health data purged"),
    "health.reject": _l("Health proof rejected"),
    "health.verify": _l("Health verified"),
    "health.view": _l("Health details viewed"),
    "kiosk.add": _l("Kiosk added"),
    "kiosk.disable": _l("Kiosk disabled"),
    "kiosk.enable": _l("Kiosk enabled"),
    "kiosk.enrol": _l("Kiosk enrolled"),
    "kiosk.lookup": _l("Looked up at a kiosk"),
    "kiosk.rotate": _l("Kiosk code renewed"),
    "print_job.cancel": _l("Print job cancelled"),
    "print_job.failed": _l("Print job failed"),
    "print_job.mark_printed": _l("Print job marked as printed"),
    "print_job.moved": _l("Print job moved to another printer"),
    "print_job.needs_decision": _l("Print job needs a decision"),
    "print_job.retry": _l("Print job sent again"),
    "registration.badge_name": _l("Name on badge changed"),
    "registration.cancel": _l("Registration cancelled"),
    "registration.create": _l("Registered"),
    "registration.export": _l("Registrations exported"),
    "registration.import": _l("Registrations imported"),
    "registration.manage_link": _l("Management link sent"),
    "registration.resend_confirmation": _l("Confirmation sent again"),
    "registration.rotate_codes": _l("New codes issued"),
    "registration.update": _l("Badge details corrected"),
    "registration.upgrade": _l("Upgraded to a full pass"),
    "staff.add": _l("Staff user added"),
    "staff.disable": _l("Staff user disabled"),
    "staff.enable": _l("Staff user enabled"),
    "staff.login": _l("Signed in"),
    "staff.login_failed": _l("Sign-in failed"),
    "staff.logout": _l("Signed out"),
    "staff.password": _l("Password set"),
    "staff.token": _l("API token renewed"),
}
#: The detail fields a person at the desk cares about, with their labels; every other detail (ids, flags) stays
#: in the audit log.
FIELD_LABELS = {
    "badge_name": _l("Name on badge"),
    "title": _l("Title"),
    "organization": _l("City or organisation"),
    "type": _l("Pass"),
    "serial": _l("Badge"),
    "printer": _l("Printer"),
    "reason": _l("Reason"),
    "resolution": _l("Solved by"),
    "to": _l("Sent to"),
    "old": _l("Before"),
    "new": _l("After"),
}
#: How a desk case was closed by an operation (codes of :data:`cases.AUTOMATIC_RESOLUTIONS`).
RESOLUTION_TEXT = {
    "health_verified": _l("health verified (%(method)s)"),
    "badge_reissued": _l("new badge #%(serial)s issued (%(reason)s)"),
    "badge_replaced": _l("replaced by a new badge (%(reason)s)"),
    "registration_cancelled": _l("registration cancelled"),
    "registration_cancelled_because": _l("registration cancelled: %(reason)s"),
    "checkin_undone": _l("check-in undone"),
    "job_sent_again": _l("print job sent again"),
    "job_rerouted": _l("print job sent again to %(printer)s"),
    "job_cancelled": _l("print job cancelled: %(reason)s"),
    "seen_printed": _l("staff saw the badge print"),
    "printed": _l("the badge printed"),
}


def resolution_text(text: str) -> str:
    """How a case was solved, in the page's language (what staff typed is shown as typed)."""
    found = read_resolution(text)
    if found is None:
        return text
    code, params = found
    if "method" in params:
        params["method"] = str(forms.METHOD_LABELS.get(params["method"], params["method"]))
    if "reason" in params and code in ("badge_reissued", "badge_replaced"):
        params["reason"] = str(forms.BADGE_REASON_LABELS.get(params["reason"], params["reason"]))
    return str(RESOLUTION_TEXT[code]) % params if params else str(RESOLUTION_TEXT[code])


def action_label(action: str) -> str:
    """An audit action as a person reads it (``badge.reprint`` → "Badge reprinted")."""
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def actor_text(event) -> str:
    """Who did an audited action, as a person reads it (the installation's own workers are "automatic")."""
    if event.actor_type == "system":
        return _("Lanyard (automatic)")
    return event.actor_label or event.actor_type


def _detail_value(key: str, value, action: str) -> str:
    """One detail's value in the page's language."""
    if value is None or value == "":
        return "—"
    if key == "type":
        return pass_label(str(value))
    if key == "serial" and isinstance(value, int):
        return f"#{value:06d}"
    if key == "reason":
        if action.startswith("desk_case."):
            return str(REASON_TEXT.get(value, value))
        if action in ("badge.reprint", "badge.issue"):
            return str(forms.BADGE_REASON_LABELS.get(value, value))
    if key == "resolution":
        return resolution_text(str(value))
    return str(value)


@bp.app_template_filter("audit_details")
def audit_details(event) -> str:
    """An audit event's details as a line a person reads: ``Reason: Lost; Badge: #000001 → #000002``.

    Only :data:`FIELD_LABELS` fields are shown: ids, flags and the event's internals stay in the audit log.
    """
    details = event.details or {}
    before, after = details.get("before") or {}, details.get("after") or {}
    parts = [f"{FIELD_LABELS[key]}: {_detail_value(key, value, event.action)}" for key, value in details.items()
             if key in FIELD_LABELS]
    if isinstance(before, dict) and isinstance(after, dict):
        for key in dict.fromkeys([*before, *after]):
            if key in FIELD_LABELS and before.get(key) != after.get(key):
                parts.append(f"{FIELD_LABELS[key]}: {_detail_value(key, before.get(key), event.action)} → "
                             f"{_detail_value(key, after.get(key), event.action)}")
    if details.get("automatic"):
        parts.append(_("automatically"))
    return "; ".join(parts)


@bp.app_context_processor
def _desk_globals():
    return {"reason_text": lambda code: REASON_TEXT.get(code, code), "method_labels": forms.METHOD_LABELS,
            "stated_labels": forms.STATED_LABELS,
            "action_label": action_label, "resolution_text": resolution_text, "actor_text": actor_text,
            "reprint_labels": forms.REPRINT_LABELS, "role_labels": forms.ROLE_LABELS, "pass_label": pass_label,
            "job_state": lambda state: forms.JOB_STATE_LABELS.get(state, state),
            "health_state": lambda state: forms.HEALTH_STATE_LABELS.get(state, state),
            "badge_reason": lambda reason: forms.BADGE_REASON_LABELS.get(reason, reason),
            "void_reason": void_reason,
            "printer_state": lambda state: forms.PRINTER_STATE_LABELS.get(state, state)}


def void_reason(text: str) -> str:
    """Why a badge is void, in the page's language (stored as ``replaced: lost``, ``registration cancelled``…)."""
    if text.startswith("replaced: "):
        return _("replaced (%(reason)s)", reason=forms.BADGE_REASON_LABELS.get(text[10:], text[10:]))
    return {"registration cancelled": _("registration cancelled"),
            "check-in undone": _("check-in undone")}.get(text, text)


def pass_label(type_name: str) -> str:
    """A pass's name in the page's language (``label_es`` in Spanish, when the configuration has one)."""
    rtype = current_settings().registration_types.get(type_name)
    if rtype is None:
        return type_name
    return rtype.label_es if str(get_locale()) == "es" and rtype.label_es else rtype.label


@bp.after_request
@admin_bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _refuse(error: LanyardError) -> None:
    message = MESSAGES.get(error.code)
    flash(str(message) if message else error.detail, "error")


def _registration(registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.event_id != current_event(current_settings()).id:
        abort(404)
    return registration


def _printer_choices(form, *, default: str | None = None, optional: bool = False) -> None:
    settings = current_settings()
    names = sorted(settings.printers)
    form.printer.choices = ([SelectChoice("", _("— its own printer"))] if optional else []) + [
        SelectChoice(n, n) for n in names]
    if not form.is_submitted():
        form.printer.data = "" if optional else (default or settings.desk.printer or (names[0] if names else ""))


def _form_errors(form) -> None:
    for field in form:
        for error in field.errors:
            flash(f"{field.label.text}: {error}", "error")


def _parse_event_time(text: str | None) -> datetime | None:
    """A ``datetime-local`` value typed at the desk, in the event's time zone.

    :raise LanyardError: ``invalid_field``.
    """
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise LanyardError("invalid_field", _("Test time: use the date and time picker."),
                           field="test_taken_at") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=current_settings().event.tz)
    return parsed.astimezone(timezone.utc)


def _back(registration_id: int):
    return redirect(url_for("desk.card", registration_id=registration_id))


def _run(registration_id: int, work, success) -> object:
    """Run one card action: commit on success and say so; roll back and say why otherwise."""
    try:
        result = work()
        db.session.commit()
    except LanyardError as error:
        db.session.rollback()
        _refuse(error)
        return _back(registration_id)
    except IntegrityError:  # the same form sent twice at once: the other request did it
        db.session.rollback()
        flash(_("That was just done from another request; here is the current state."), "info")
        return _back(registration_id)
    message = success(result) if callable(success) else success
    if message:
        flash(message, "success")
    return _back(registration_id)


def _submit(form, registration_id: int, work, success) -> object:
    """A card action's form: refuse it (saying why, field by field) or run it (:func:`_run`)."""
    if not form.validate_on_submit():
        _form_errors(form)
        return _back(registration_id)
    return _run(registration_id, work, success)


def _checkin_message(response: dict) -> str:
    if response["result"] == "checked_in":
        return _("Checked in: the badge is printing on %(printer)s.", printer=response["print_job"]["printer"])
    if response["result"] == "already_checked_in":
        return _("Already checked in; nothing printed. Use “Reprint” for a new badge.")
    if response["result"] == "needs_desk":
        return _("Not checked in: %(reason)s.", reason=REASON_TEXT.get(response["reason"], response["reason"]))
    return _("Not checked in: %(reason)s.", reason=response["reason"])


# --- search -----------------------------------------------------------------------------------------------


@bp.route("/")
def index():
    """Search as you type; a scanned registration or badge code opens that person's card."""
    event = current_event(current_settings())
    open_cases = len(services.list_cases(event))
    return render_template("desk/index.html", open_cases=open_cases, query="", results=None)


@bp.post("/search")
def search():
    """The results list for what is typed (htmx swaps it in; POST keeps names and codes out of access logs)."""
    query = request.form.get("q", "")
    results = services.search_registrations(current_event(current_settings()), query, settings=current_settings())
    return render_template("desk/_results.html", results=results, query=query)


@bp.post("/find")
def find():
    """Enter in the search box: a code opens its card; anything else shows the results (works without script)."""
    query = request.form.get("q", "")
    event = current_event(current_settings())
    try:
        hit = services.registration_by_scan(event, query.strip())
    except LanyardError as error:
        if error.code not in ("code_malformed",):
            _refuse(error)
            return redirect(url_for("desk.index"))
    else:
        if hit.note == "superseded":
            flash(_("This code was replaced by a newer one: it no longer checks anyone in."), "info")
        elif hit.note == "void":
            flash(_("This badge is VOID: it no longer opens doors."), "error")
        return _back(hit.registration.id)
    results = services.search_registrations(event, query, settings=current_settings())
    g.page_url = url_for("desk.index")  # where the language links go from this answer to a form
    if len(results) == 1:
        return _back(results[0].id)
    return render_template("desk/index.html", open_cases=len(services.list_cases(event)), query=query,
                           results=results)


# --- the card ---------------------------------------------------------------------------------------------


def _card_forms(registration: Registration, card: services.Card) -> dict:
    details = forms.DetailsForm(prefix="details", formdata=None, obj=registration)
    health = forms.HealthForm(prefix="health", formdata=None)
    _printer_choices(health)
    checkin = forms.CheckInForm(prefix="checkin", formdata=None)
    _printer_choices(checkin, default=current_settings().desk.printer)
    reprint = forms.ReprintForm(prefix="reprint", formdata=None)
    _printer_choices(reprint)
    upgrade = forms.UpgradeForm(prefix="upgrade", formdata=None)
    _printer_choices(upgrade)
    jobs = {}
    for job in card.problem_jobs:
        retry = forms.RetryForm(prefix=f"job{job.id}", formdata=None)
        _printer_choices(retry, optional=True)
        jobs[job.id] = {"retry": retry, "cancel": forms.ReasonForm(prefix=f"jobcancel{job.id}", formdata=None),
                        "printed": forms.ConfirmForm(prefix=f"jobprinted{job.id}", formdata=None)}
    return {"details_form": details, "health_form": health, "checkin_form": checkin, "reprint_form": reprint,
            "upgrade_form": upgrade, "cancel_form": forms.ReasonForm(prefix="cancel", formdata=None),
            "undo_form": forms.ReasonForm(prefix="undo", formdata=None),
            "resend_form": forms.ConfirmForm(prefix="resend", formdata=None),
            "resolve_forms": {case.id: forms.ResolveForm(prefix=f"case{case.id}", formdata=None)
                              for case in card.open_cases},
            "job_forms": jobs}


@bp.route("/r/<int:registration_id>")
def card(registration_id: int):
    """The attendee card: who, pass, health verdict, check-in, badges, cases, history, and every action."""
    registration = _registration(registration_id)
    card_ = services.load_card(registration, settings=current_settings())
    details = None
    if session.pop("health_shown", None) == registration_id:  # just asked for (and audited) by health_details
        details = registration.health or False
    return render_template("desk/card.html", card=card_, r=registration, health_details=details,
                           verifier=services.staff_name(details.verified_by_id) if details else "",
                           **_card_forms(registration, card_))


@bp.post("/r/<int:registration_id>/health-details")
def health_details(registration_id: int):
    """Show how the person is cleared (method, test time, who verified): an explicit, audited read.

    The card shows the details once, on the page this redirects to; a reload hides them again.
    """
    registration = _registration(registration_id)
    if not forms.ConfirmForm(prefix="showhealth").validate_on_submit():
        abort(400)
    services.view_health_details(registration, actor=g.actor)
    db.session.commit()
    session["health_shown"] = registration_id
    return _back(registration_id)


@bp.route("/r/<int:registration_id>/badges")
def badges(registration_id: int):
    """The card's badge list, for its self-update while a badge is on its way to the printer."""
    registration = _registration(registration_id)
    return render_template("desk/_badges.html", card=services.load_card(registration, settings=current_settings()),
                           r=registration)


@bp.post("/r/<int:registration_id>/details")
def update_details(registration_id: int):
    """Correct the badge name, title and organisation."""
    registration = _registration(registration_id)
    form = forms.DetailsForm(prefix="details")

    def work():
        return services.update_registration(registration, {"badge_name": form.badge_name.data,
                                                           "title": form.title.data or "",
                                                           "organization": form.organization.data or ""},
                                            actor=g.actor)
    return _submit(form, registration_id, work, lambda changed: _("Saved.") if changed else _("Nothing changed."))


@bp.post("/r/<int:registration_id>/health")
def verify_health(registration_id: int):
    """Record the health verdict; with “Verify and print”, also check in and print here."""
    registration = _registration(registration_id)
    form = forms.HealthForm(prefix="health")
    _printer_choices(form)
    settings = current_settings()

    def work():
        verification = services.HealthVerification(
            method=form.method.data, state=form.state.data, test_taken_at=_parse_event_time(form.test_taken_at.data),
            result=form.result.data or None, reason=form.reason.data or "")
        if form.save_and_print.data:
            return services.verify_and_print(current_event(settings), registration, verification, actor=g.actor,
                                             settings=settings, nonce=form.nonce.data, printer_name=form.printer.data)
        return services.verify_health(registration, verification, actor=g.actor, settings=settings), None

    def success(result):
        clearance, outcome = result
        if not clearance.cleared:
            return _("Saved. Not cleared: %(reason)s.", reason=REASON_TEXT.get(clearance.reason, clearance.reason))
        if outcome is not None:
            return _("Cleared. ") + _checkin_message(outcome.response)
        return _("Saved. Cleared.")
    return _submit(form, registration_id, work, success)


@bp.post("/r/<int:registration_id>/checkin")
def check_in(registration_id: int):
    """Check in and print at a chosen printer (for someone a kiosk could not serve)."""
    registration = _registration(registration_id)
    form = forms.CheckInForm(prefix="checkin")
    _printer_choices(form)
    return _submit(form, registration_id, lambda: services.check_in_at_desk(
        current_event(current_settings()), registration, actor=g.actor, settings=current_settings(), nonce=form.nonce.data,
        printer_name=form.printer.data), lambda outcome: _checkin_message(outcome.response))


@bp.post("/r/<int:registration_id>/reprint")
def reprint(registration_id: int):
    """Reprint with a reason; the previous badge is void at once."""
    registration = _registration(registration_id)
    form = forms.ReprintForm(prefix="reprint")
    _printer_choices(form)
    return _submit(form, registration_id, lambda: services.reprint_badge(
        registration, reason=form.reason.data, actor=g.actor, settings=current_settings(), nonce=form.nonce.data,
        printer_name=form.printer.data),
        lambda result: _("New badge #%(serial)06d is printing on %(printer)s; the previous badge is void.",
                         serial=result.serial, printer=result.print_job["printer"]))


@bp.post("/r/<int:registration_id>/upgrade")
def upgrade(registration_id: int):
    """Upgrade a guest to a full pass (a new badge prints if they had one)."""
    registration = _registration(registration_id)
    form = forms.UpgradeForm(prefix="upgrade")
    _printer_choices(form)
    return _submit(form, registration_id, lambda: services.upgrade_registration(
        current_event(current_settings()), registration, actor=g.actor, settings=current_settings(), email=form.email.data or "",
        printer_name=form.printer.data),
        lambda result: _("Upgraded to a full pass.") + (" " + _("New badge #%(serial)06d is printing; the guest "
                                                                "badge is void.", serial=result.serial)
                                                         if result else ""))


@bp.post("/r/<int:registration_id>/cancel")
def cancel(registration_id: int):
    """Cancel the registration: every badge void."""
    registration = _registration(registration_id)
    form = forms.ReasonForm(prefix="cancel")
    return _submit(form, registration_id, lambda: services.cancel_at_desk(registration, actor=g.actor,
                                                                 reason=form.reason.data),
                _("Registration cancelled; every badge of it is void."))


@bp.post("/r/<int:registration_id>/undo-checkin")
def undo_checkin(registration_id: int):
    """Undo the check-in (admins): badges void; the person can check in again."""
    registration = _registration(registration_id)
    form = forms.ReasonForm(prefix="undo")
    return _submit(form, registration_id, lambda: services.undo_check_in(registration, actor=g.actor,
                                                                reason=form.reason.data),
                _("Check-in undone; the badge is void."))


@bp.post("/r/<int:registration_id>/resend")
def resend(registration_id: int):
    """Email the confirmation again with a new code; the old one stops working."""
    registration = _registration(registration_id)
    if not forms.ConfirmForm(prefix="resend").validate_on_submit():
        abort(400)
    try:
        issued = services.resend_confirmation(registration, actor=g.actor)
        db.session.commit()
    except LanyardError as error:
        db.session.rollback()
        _refuse(error)
        return _back(registration_id)
    failures = deliver_confirmations([issued], current_settings())
    if failures:
        flash(_("New code issued, but the email could not be sent: %(why)s", why=failures[0][1]), "error")
    else:
        flash(_("Confirmation sent to %(email)s with a new code; the old code no longer works.",
                email=registration.email), "success")
    return _back(registration_id)


# --- print jobs -------------------------------------------------------------------------------------------


def _job(job_id: int) -> PrintJob:
    job = db.session.get(PrintJob, job_id)
    if job is None or job.event_id != current_event(current_settings()).id:
        abort(404)
    return job


def _after_job(job: PrintJob):
    target = request.form.get("back")
    if target == "printers":
        return redirect(url_for("desk.printers"))
    return _back(job.badge.registration_id)


def _job_action(job_id: int, form, work, success: str):
    job = _job(job_id)
    if not form.validate_on_submit():
        _form_errors(form)
        return _after_job(job)
    try:
        work(job)
        db.session.commit()
        flash(success, "success")
    except LanyardError as error:
        db.session.rollback()
        _refuse(error)
    return _after_job(job)


@bp.post("/jobs/<int:job_id>/retry")
def retry_job(job_id: int):
    """Print a held, failed or unconfirmed job again, on its printer or another one (reroute)."""
    form = forms.RetryForm(prefix=f"job{job_id}")
    _printer_choices(form, optional=True)
    return _job_action(job_id, form, lambda job: services.retry_print_job(
        job, actor=g.actor, settings=current_settings(), printer_name=form.printer.data or None),
        _("The badge is queued again."))


@bp.post("/jobs/<int:job_id>/cancel")
def cancel_job(job_id: int):
    """Withdraw a job that has not printed."""
    form = forms.ReasonForm(prefix=f"jobcancel{job_id}")
    return _job_action(job_id, form, lambda job: services.cancel_print_job(job, actor=g.actor,
                                                                            reason=form.reason.data),
                       _("Print job cancelled."))


@bp.post("/jobs/<int:job_id>/printed")
def job_printed(job_id: int):
    """Staff saw the badge of an unconfirmed job come out."""
    form = forms.ConfirmForm(prefix=f"jobprinted{job_id}")
    return _job_action(job_id, form, lambda job: services.mark_print_job_printed(job, actor=g.actor),
                       _("Marked as printed."))


# --- walk-ups ---------------------------------------------------------------------------------------------


@bp.route("/walk-up", methods=["GET", "POST"])
def walk_up():
    """Register someone who arrives unregistered: verify, check in and print in one step."""
    settings = current_settings()
    form = forms.WalkUpForm(prefix="walkup")
    form.registration_type.choices = [SelectChoice(t.name, pass_label(t.name))
                                      for t in settings.registration_types.values()]
    _printer_choices(form)
    if not form.validate_on_submit():
        if form.is_submitted():
            _form_errors(form)
        return render_template("desk/walk_up.html", form=form), 400 if form.is_submitted() else 200
    event = current_event(settings)
    try:
        host = None
        if form.host_email.data:
            host = services.registration_for_email(event, form.host_email.data)
        health = None
        if form.method.data:
            health = services.HealthVerification(method=form.method.data, state="verified",
                                                 test_taken_at=_parse_event_time(form.test_taken_at.data),
                                                 result=form.result.data or None)
        walk = services.register_walk_up(
            event, PersonInput(first_name=form.first_name.data, last_name=form.last_name.data,
                               badge_name=form.badge_name.data or "", email=form.email.data or "",
                               title=form.title.data or "", organization=form.organization.data or "",
                               type_name=form.registration_type.data),
            actor=g.actor, settings=settings, host=host, health=health, print_badge=form.print_badge.data,
            printer_name=form.printer.data, nonce=form.nonce.data, language=str(get_locale() or "en"))
        db.session.commit()
    except LanyardError as error:
        db.session.rollback()
        if error.code in services.HEALTH_REASONS and error.extra.get("field") in form:
            # nobody was registered: say which field to change, at the field
            message = _("Not cleared to check in: %(reason)s. Enter the health proof you saw, or untick “Check in "
                        "and print the badge now”.", reason=REASON_TEXT[error.code])
            form[error.extra["field"]].errors = [*form[error.extra["field"]].errors, message]
            flash(message, "error")
        else:
            _refuse(error)
        return render_template("desk/walk_up.html", form=form), 422
    except IntegrityError:
        db.session.rollback()
        flash(MESSAGES["duplicate_email"], "error")
        return render_template("desk/walk_up.html", form=form), 409
    registration = walk.issued.registration
    failures = deliver_confirmations([walk.issued], settings)
    flash(_("%(name)s is registered.", name=registration.legal_name), "success")
    if walk.checkin is not None:
        flash(_checkin_message(walk.checkin.response), "success" if walk.checkin.result == "checked_in" else "error")
    if failures:
        flash(_("The confirmation email could not be sent: %(why)s", why=failures[0][1]), "error")
    return _back(registration.id)


# --- the case queue ---------------------------------------------------------------------------------------


@bp.route("/cases")
def cases():
    """Open cases, oldest first, with the waiting time; the list updates by itself."""
    event = current_event(current_settings())
    open_cases = services.list_cases(event)
    return render_template("desk/cases.html", cases=open_cases, recent=services.list_cases(event, state="resolved",
                                                                                           limit=20),
                           resolve_forms={c.id: forms.ResolveForm(prefix=f"case{c.id}", formdata=None)
                                          for c in open_cases})


@bp.route("/cases/list")
def cases_list():
    """The open cases as a fragment, for the page's self-update."""
    open_cases = services.list_cases(current_event(current_settings()))
    return render_template("desk/_cases.html", cases=open_cases,
                           resolve_forms={c.id: forms.ResolveForm(prefix=f"case{c.id}", formdata=None)
                                          for c in open_cases})


@bp.post("/cases/<int:case_id>/resolve")
def resolve_case(case_id: int):
    """Close a case, saying how it was solved."""
    case = db.session.get(DeskCase, case_id)
    if case is None or case.event_id != current_event(current_settings()).id:
        abort(404)
    form = forms.ResolveForm(prefix=f"case{case_id}")
    if not form.validate_on_submit():
        _form_errors(form)
    else:
        try:
            services.resolve_case(case, actor=g.actor, resolution=form.resolution.data)
            db.session.commit()
            flash(_("Case %(id)d resolved.", id=case_id), "success")
        except LanyardError as error:
            db.session.rollback()
            _refuse(error)
    if request.form.get("back") == "card" and case.registration_id:
        return _back(case.registration_id)
    return redirect(url_for("desk.cases"))


# --- door conflicts ---------------------------------------------------------------------------------------


@bp.route("/conflicts")
def conflicts():
    """What doors decided offline that the server would not have, newest first."""
    from ..door.services import list_conflicts

    return render_template("desk/conflicts.html", conflicts=list_conflicts(current_event(current_settings())))


# --- printers and kiosks ----------------------------------------------------------------------------------


@bp.route("/printers")
def printers():
    """Every kiosk and printer, and the print jobs waiting for staff."""
    kiosks, snapshots, problems = services.floor(current_settings())
    job_forms = {}
    for job in problems:
        retry = forms.RetryForm(prefix=f"job{job.id}", formdata=None)
        _printer_choices(retry, optional=True)
        job_forms[job.id] = {"retry": retry, "cancel": forms.ReasonForm(prefix=f"jobcancel{job.id}", formdata=None),
                             "printed": forms.ConfirmForm(prefix=f"jobprinted{job.id}", formdata=None)}
    return render_template("desk/printers.html", kiosks=kiosks, printers=snapshots, problems=problems,
                           job_forms=job_forms, printer_dict=services.printer_dict)


# --- staff (admins) ---------------------------------------------------------------------------------------


@admin_bp.route("/staff", methods=["GET", "POST"])
def staff():
    """Every staff user; add one."""
    form = forms.StaffForm(prefix="staff")
    new_token = None
    if form.validate_on_submit():
        try:
            user, new_token = add_staff(form.email.data, role=form.role.data, actor=g.actor, name=form.name.data or "",
                                        password=form.password.data, with_token=form.token.data)
            db.session.commit()
            flash(_("Added %(role)s %(email)s.", role=forms.ROLE_LABELS[user.role], email=user.email), "success")
            form = forms.StaffForm(prefix="staff", formdata=None)
        except LanyardError as error:
            db.session.rollback()
            _refuse_staff(error)
    elif form.is_submitted():
        _form_errors(form)
    return _staff_page(form, new_token=new_token)


def _staff_page(form, *, new_token: str | None = None, token_for: str = ""):
    users = list_staff()
    return render_template("desk/staff.html", form=form, users=users, roles=ROLES, new_token=new_token,
                           token_for=token_for,
                           action_forms={u.id: {"toggle": forms.ConfirmForm(prefix=f"toggle{u.id}", formdata=None),
                                                "password": forms.PasswordForm(prefix=f"pw{u.id}", formdata=None),
                                                "token": forms.ConfirmForm(prefix=f"token{u.id}", formdata=None)}
                                         for u in users})


def _refuse_staff(error: LanyardError) -> None:
    if error.code == "invalid_field" and error.extra.get("field") == "password":
        flash(_("The password needs at least 12 characters."), "error")
    elif error.code == "staff_exists":
        flash(_("A staff user with this email already exists."), "error")
    else:
        _refuse(error)


def _staff_user(user_id: int):
    from ..models import StaffUser

    user = db.session.get(StaffUser, user_id)
    if user is None:
        abort(404)
    return user


@admin_bp.post("/staff/<int:user_id>/toggle")
def toggle_staff(user_id: int):
    """Disable (signs them out everywhere, stops their token) or enable a staff user."""
    user = _staff_user(user_id)
    if forms.ConfirmForm(prefix=f"toggle{user_id}").validate_on_submit():
        try:
            set_staff_active(user, not user.active, actor=g.actor)
            db.session.commit()
            flash(_("%(email)s is enabled.", email=user.email) if user.active else
                  _("%(email)s is disabled and signed out everywhere.", email=user.email), "success")
        except LanyardError as error:
            db.session.rollback()
            flash(error.detail, "error")
    return redirect(url_for("desk_admin.staff"))


@admin_bp.post("/staff/<int:user_id>/password")
def staff_password(user_id: int):
    """Set a new password; their other sessions end."""
    user = _staff_user(user_id)
    form = forms.PasswordForm(prefix=f"pw{user_id}")
    if form.validate_on_submit():
        try:
            set_staff_password(user, form.password.data, actor=g.actor)
            db.session.commit()
            flash(_("New password set for %(email)s; their sessions were signed out.", email=user.email), "success")
        except LanyardError as error:
            db.session.rollback()
            _refuse_staff(error)
    else:
        _form_errors(form)
    return redirect(url_for("desk_admin.staff"))


@admin_bp.post("/staff/<int:user_id>/token")
def staff_token(user_id: int):
    """A new API token (shown once); the old one stops at once."""
    user = _staff_user(user_id)
    if not forms.ConfirmForm(prefix=f"token{user_id}").validate_on_submit():
        abort(400)
    token = new_staff_token(user, actor=g.actor)
    db.session.commit()
    return _staff_page(forms.StaffForm(prefix="staff", formdata=None), new_token=token, token_for=user.email)

