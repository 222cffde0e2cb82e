"""The staff JSON API: search, the attendee card, corrections, health, check-in, reprints, walk-ups and cases.

A staff bearer token (``lanyard staff add … --token``, or ``lanyard staff token EMAIL``) or a signed-in
desk session (plus ``X-CSRFToken``); roles as ``registration.auth.POLICY`` says (registrars and
admins; undoing a check-in is for admins). The one response shape and the one error shape of
``registration.api``. Every view parses, loads what it acts on (404 ``not_found``), calls one
service, commits, and only then sends mail.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, g, request

from ..api import answer, error_response, ok, refusal
from ..errors import LanyardError
from ..extensions import db
from ..mail import deliver_confirmations
from ..models import Registration
from ..printing.models import PrintJob
from ..services import PersonInput, current_event
from ..settings import current_settings
from . import services
from .models import DeskCase

bp = Blueprint("desk_api", __name__, url_prefix="/api/v1")

#: Fields of a walk-up registration (strings).
PERSON_FIELDS = ("first_name", "last_name", "badge_name", "email", "title", "organization", "registration_type")



def _body(*strings: str) -> dict:
    """The request's JSON object.

    :raise LanyardError: ``invalid_field`` when it is not an object or a field that must be text is not.
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise LanyardError("invalid_field", "send a JSON object", field="body")
    for name in strings:
        if name in body and body[name] is not None and not isinstance(body[name], str):
            raise LanyardError("invalid_field", f"{name}: expected text", field=name)
    return body


def _registration(registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.event_id != current_event(current_settings()).id:
        raise LanyardError("not_found", f"no registration {registration_id}")
    return registration


def _time(value: object, field: str) -> datetime | None:
    """An ISO 8601 time with an offset (``Z`` or ``+02:00``), or None.

    :raise LanyardError: ``invalid_field``.
    """
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise LanyardError("invalid_field", f"{field}: ISO 8601 with a time zone", field=field)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise LanyardError("invalid_field", f"{field}: ISO 8601 with a time zone", field=field) from None
    if parsed.tzinfo is None:
        raise LanyardError("invalid_field", f"{field}: needs a time zone", field=field)
    return parsed


def _verification(body: object) -> services.HealthVerification:
    """A health verification from a JSON object.

    :raise LanyardError: ``invalid_field``.
    """
    if not isinstance(body, dict):
        raise LanyardError("invalid_field", "health: expected an object", field="health")
    for name in ("method", "state", "result", "reason"):
        if name in body and body[name] is not None and not isinstance(body[name], str):
            raise LanyardError("invalid_field", f"{name}: expected text", field=name)
    return services.HealthVerification(method=body.get("method") or "", state=body.get("state") or "verified",
                                       test_taken_at=_time(body.get("test_taken_at"), "test_taken_at"),
                                       result=body.get("result"), reason=body.get("reason") or "")


def _clearance_dict(clearance) -> dict:
    return {"cleared": clearance.cleared, "reason": clearance.reason,
            "expires_at": services._iso(clearance.expires_at)}


@bp.get("/registrations")
def search():
    """Search as you type: ``?q=TEXT&limit=N`` (N ≤ 50) → ``{"results": [...]}``."""
    limit = request.args.get("limit", "50")
    if not (limit.isascii() and limit.isdigit() and len(limit) <= 3) or not 1 <= int(limit) <= 50:
        return error_response("invalid_field", "limit: 1 to 50", 400)
    results = services.search_registrations(current_event(current_settings()), request.args.get("q", ""),
                                            settings=current_settings(), limit=int(limit))
    return ok({"results": [result.as_dict() for result in results]})


@bp.get("/registrations/<int:registration_id>")
def card(registration_id: int):
    """The attendee card; its health verdict is an audited read."""
    def run():
        registration = _registration(registration_id)
        services.view_health_details(registration, actor=g.actor, channel="api")
        card_ = services.load_card(registration, settings=current_settings())
        return ok(services.card_dict(card_, settings=current_settings())), None
    return answer(run)


@bp.patch("/registrations/<int:registration_id>")
def update(registration_id: int):
    """Correct ``badge_name``, ``title`` or ``organization``; answers the changes and the card."""
    def run():
        body = _body(*services.EDITABLE)
        registration = _registration(registration_id)
        changed = services.update_registration(registration, body, actor=g.actor)
        card_ = services.load_card(registration, settings=current_settings())
        return ok({"changed": changed, "registration": services.card_dict(card_, settings=current_settings())}), None
    return answer(run)


@bp.post("/registrations/<int:registration_id>/health")
def health(registration_id: int):
    """Verify or reject health proof; with ``"print": {"printer": NAME}`` and a ``nonce``, verify and print."""
    def run():
        body = _body("nonce")
        registration = _registration(registration_id)
        verification = _verification(body)
        printing = body.get("print")
        if printing is not None:
            if not isinstance(printing, dict):
                raise LanyardError("invalid_field", "print: expected an object", field="print")
            clearance, outcome = services.verify_and_print(
                current_event(current_settings()), registration, verification, actor=g.actor, settings=current_settings(),
                nonce=body.get("nonce"), printer_name=printing.get("printer"))
            return ok({"health": _clearance_dict(clearance), "checkin": outcome.response if outcome else None}), None
        clearance = services.verify_health(registration, verification, actor=g.actor, settings=current_settings())
        return ok({"health": _clearance_dict(clearance)}), None
    return answer(run)


@bp.post("/registrations/<int:registration_id>/checkin")
def checkin(registration_id: int):
    """Check in and print at ``printer`` (default: the desk printer); the kiosk API's answer shape."""
    def run():
        body = _body("printer", "nonce")
        registration = _registration(registration_id)
        outcome = services.check_in_at_desk(current_event(current_settings()), registration, actor=g.actor,
                                            settings=current_settings(), nonce=body.get("nonce"),
                                            printer_name=body.get("printer"))
        return ok(outcome.response), None
    return answer(run)


@bp.delete("/registrations/<int:registration_id>/checkin")
def undo_checkin(registration_id: int):
    """Undo a check-in (admins), with ``{"reason": ...}``: every badge void; the person can check in again."""
    def run():
        body = _body("reason")
        services.undo_check_in(_registration(registration_id), actor=g.actor, reason=body.get("reason"))
        return ok({"undone": True}), None
    return answer(run)


@bp.post("/registrations/<int:registration_id>/badges")
def reprint(registration_id: int):
    """Reprint with ``{"reason", "printer", "nonce"}``: a new badge code and serial; the previous badge is void."""
    def run():
        body = _body("reason", "printer", "nonce")
        result = services.reprint_badge(_registration(registration_id), reason=body.get("reason"), actor=g.actor,
                                        settings=current_settings(), nonce=body.get("nonce"),
                                        printer_name=body.get("printer"))
        return ok(result.as_dict(), 201), None
    return answer(run)


@bp.post("/registrations/<int:registration_id>/upgrade")
def upgrade(registration_id: int):
    """Upgrade a guest to a full pass (``registration_type``, ``email``, ``printer`` optional)."""
    def run():
        body = _body("registration_type", "email", "printer")
        result = services.upgrade_registration(current_event(current_settings()), _registration(registration_id),
                                               actor=g.actor, settings=current_settings(),
                                               type_name=body.get("registration_type"),
                                               email=body.get("email") or "", printer_name=body.get("printer"))
        return ok({"upgraded": True, "badge": result.as_dict() if result else None}), None
    return answer(run)


@bp.post("/registrations/<int:registration_id>/cancel")
def cancel(registration_id: int):
    """Cancel a registration with ``{"reason": ...}``: every badge void."""
    def run():
        body = _body("reason")
        registration = services.cancel_at_desk(_registration(registration_id), actor=g.actor,
                                               reason=body.get("reason"))
        return ok({"status": registration.status}), None
    return answer(run)


@bp.post("/registrations/<int:registration_id>/confirmation")
def resend(registration_id: int):
    """Send the confirmation email again with a new code (the old code is superseded at once)."""
    settings = current_settings()
    try:
        issued = services.resend_confirmation(_registration(registration_id), actor=g.actor)
        db.session.commit()
    except LanyardError as error:
        db.session.rollback()
        return refusal(error)
    failures = deliver_confirmations([issued], settings)
    return ok({"sent": not failures, "to": issued.registration.email})


@bp.post("/registrations")
def walk_up():
    """Register a walk-up: the person's fields, ``registration_type``, ``host_id`` for a guest, optional
    ``health`` (as for the health endpoint) and ``"print": {"printer": NAME}`` with a ``nonce``."""
    settings = current_settings()

    def run():
        body = _body(*PERSON_FIELDS, "nonce")
        host = None
        if body.get("host_id") is not None:
            if type(body["host_id"]) is not int:
                raise LanyardError("invalid_field", "host_id: expected an integer", field="host_id")
            host = db.session.get(Registration, body["host_id"])
            if host is None:
                raise LanyardError("host_invalid", "host_id: no such registration", field="host_id")
        printing = body.get("print")
        if printing is not None and not isinstance(printing, dict):
            raise LanyardError("invalid_field", "print: expected an object", field="print")
        person = PersonInput(**{name: body.get(name) or "" for name in PERSON_FIELDS if name != "registration_type"},
                             type_name=body.get("registration_type") or "")
        walk = services.register_walk_up(
            current_event(settings), person, actor=g.actor, settings=settings, host=host,
            health=_verification(body["health"]) if body.get("health") is not None else None,
            print_badge=printing is not None, printer_name=(printing or {}).get("printer"), nonce=body.get("nonce"))

        def mail():
            deliver_confirmations([walk.issued], settings)
        registration = walk.issued.registration
        return ok({"id": registration.id, "status": registration.status,
                   "health": _clearance_dict(walk.clearance) if walk.clearance else None,
                   "checkin": walk.checkin.response if walk.checkin else None}, 201), mail
    return answer(run)


@bp.get("/desk-cases")
def cases():
    """The case queue: ``?state=open`` (default, oldest first) or ``resolved``."""
    try:
        found = services.list_cases(current_event(current_settings()), state=request.args.get("state", "open"))
    except LanyardError as error:
        return refusal(error)
    return ok({"desk_cases": [services.case_dict(case) for case in found]})


@bp.post("/desk-cases/<int:case_id>/resolve")
def resolve(case_id: int):
    """Resolve a case with ``{"resolution": TEXT}``."""
    def run():
        body = _body("resolution")
        case = db.session.get(DeskCase, case_id)
        if case is None or case.event_id != current_event(current_settings()).id:
            raise LanyardError("not_found", f"no desk case {case_id}")
        return ok({"desk_case": services.case_dict(services.resolve_case(case, actor=g.actor,
                                                                          resolution=body.get("resolution")))}), None
    return answer(run)


def _job(job_id: int) -> PrintJob:
    job = db.session.get(PrintJob, job_id)
    if job is None or job.event_id != current_event(current_settings()).id:
        raise LanyardError("not_found", f"no print job {job_id}")
    return job


@bp.post("/print-jobs/<int:job_id>/retry")
def retry_job(job_id: int):
    """Send a held, failed or unconfirmed job again, optionally to another ``printer`` (reroute)."""
    def run():
        body = _body("printer")
        job = services.retry_print_job(_job(job_id), actor=g.actor, settings=current_settings(),
                                       printer_name=body.get("printer"))
        return ok({"print_job": services.print_job_dict(job)}), None
    return answer(run)


@bp.post("/print-jobs/<int:job_id>/cancel")
def cancel_job(job_id: int):
    """Withdraw a job that has not printed, with ``{"reason": ...}``."""
    def run():
        body = _body("reason")
        job = services.cancel_print_job(_job(job_id), actor=g.actor, reason=body.get("reason"))
        return ok({"print_job": services.print_job_dict(job)}), None
    return answer(run)


@bp.post("/print-jobs/<int:job_id>/printed")
def job_printed(job_id: int):
    """Staff saw the badge of an unconfirmed job come out: close it as printed."""
    def run():
        job = services.mark_print_job_printed(_job(job_id), actor=g.actor)
        return ok({"print_job": services.print_job_dict(job)}), None
    return answer(run)


@bp.get("/printers")
def printers():
    """Every configured printer's last known state and queue counts."""
    _kiosks, snapshots, _problems = services.floor(current_settings())
    return ok({"printers": [services.printer_dict(s) for s in snapshots]})
