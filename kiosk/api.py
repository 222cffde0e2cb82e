"""The kiosk JSON API: check-ins, print-job state, badge preview, find-me-by-name and kiosk status.

Authentication (the kiosk's bearer token, or the kiosk-bound browser session plus ``X-CSRFToken``)
and the kiosk-only policy are enforced for the whole blueprint in ``registration.auth``; a request
that reaches a view here has ``g.kiosk``, enabled. Every view parses, calls one service, commits
and answers with the one response shape or the one error shape of ``registration.api``.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, request

from registration.api import answer, error_response, ok, refusal
from registration.checkin.services import check_in, find_for_kiosk
from registration.errors import LanyardError
from registration.extensions import db
from registration.services import EventRef, current_event_ref
from registration.settings import current_settings

from . import services

bp = Blueprint("kiosk_api", __name__, url_prefix="/api/v1")




def _event() -> EventRef:
    """The configured event's identity, kept by the app between requests."""
    return current_event_ref(current_settings(), current_app.extensions.setdefault("lanyard.event_refs", {}))


def _json_object(*fields: str) -> dict | None:
    """The request's JSON object when it is one and its ``fields`` (when present) are strings."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return None
    if any(name in body and not isinstance(body[name], str) for name in fields):
        return None
    return body


@bp.before_request
def _seen():
    """Remember when the kiosk last called (written at most once a minute, in its own small transaction)."""
    if services.touch_kiosk(g.kiosk):
        db.session.commit()


@bp.post("/checkins")
def create_checkin():
    """Check the person with a scanned code or a find-me selection in, and queue their badge."""
    body = _json_object("code", "selection")  # the nonce is checked by the service: nonce_invalid
    if body is None or ("code" in body) == ("selection" in body):
        return error_response("bad_request", 'Send a JSON object with "nonce" and either "code" or "selection".',
                              400)
    settings = current_settings()

    def run():
        outcome = check_in(_event(), code=body.get("code"), selection=body.get("selection"), kiosk=g.kiosk,
                           nonce=body.get("nonce"), settings=settings)
        return ok(outcome.response), None

    return answer(run)


@bp.get("/print-jobs/<int:job_id>")
def print_job(job_id: int):
    """A print job this kiosk created: its state, whether the printer needs attention, and where else to go."""
    try:
        job = services.job_for_kiosk(g.kiosk, job_id)
    except LanyardError as error:
        return refusal(error)
    return ok({"print_job": services.print_job_status(g.kiosk, job)})


@bp.get("/print-jobs/<int:job_id>/preview.png")
def print_job_preview(job_id: int):
    """The badge of a print job as a PNG for the screen (a placeholder where the QR code goes)."""
    try:
        job = services.job_for_kiosk(g.kiosk, job_id)
    except LanyardError as error:
        return refusal(error)
    response = current_app.response_class(services.badge_preview_png(job, current_settings()), mimetype="image/png")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/kiosk/lookup")
def lookup():
    """Find people by last name and the first letters of their email: at most three masked matches."""
    body = _json_object("last_name", "second_factor")
    if body is None:
        return error_response("bad_request", 'Send a JSON object with "last_name" and "second_factor".', 400)
    settings = current_settings()
    try:
        matches = find_for_kiosk(_event(), kiosk=g.kiosk, last_name=body.get("last_name", ""),
                                 second_factor=body.get("second_factor", ""), settings=settings)
    except LanyardError as error:
        db.session.commit()  # the lookup still counts against the limit
        return refusal(error)
    db.session.commit()
    return ok({"matches": [match.as_dict() for match in matches]})


@bp.get("/kiosk/status")
def status():
    """This kiosk and its printer."""
    return ok(services.kiosk_status(g.kiosk))
