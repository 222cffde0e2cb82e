"""The JSON API's one response shape and one error shape (the blueprints with routes live in each area's api.py)."""

from __future__ import annotations

from flask import jsonify
from sqlalchemy.exc import IntegrityError

from .errors import LanyardError
from .extensions import db

#: How often a request that lost a race on a unique key (two retries with one nonce) is run again.
ATTEMPTS = 3

#: HTTP status for each refusal code; anything not listed is 422 (understood, refused).
STATUS = {
    "code_malformed": 400,
    "invalid_field": 400,
    "unknown_area": 400,
    "nonce_invalid": 400,
    "nonce_reused": 409,
    "enrolment_invalid": 404,
    "not_found": 404,
    "kiosk_disabled": 403,
    "kiosk_unknown": 401,
    "rate_limited": 429,
    "already_checked_in": 409,
    "duplicate_email": 409,
    "kiosk_exists": 409,
    "staff_exists": 409,
    "badge_in_queue": 409,
    "case_closed": 409,
    "registration_cancelled": 409,
    "not_checked_in": 409,
    "storage_unavailable": 503,
}


def error_response(code: str, message: str, status: int):
    """The one JSON error shape: ``{"error": {"code": ..., "message": ...}}``."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def refusal(error: LanyardError):
    """Turn a service refusal into the JSON error shape with its HTTP status."""
    return error_response(error.code, error.detail, STATUS.get(error.code, 422))


def ok(payload: dict, status: int = 200):
    """The one JSON success shape: the payload object itself, never cached."""
    response = jsonify(payload)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def answer(run):
    """Run an API view's work, ``run() -> (response, after_commit or None)``: commit once and then call
    ``after_commit`` (mail, never inside the transaction); a refusal rolls back and answers its code.

    A request that lost a race on a unique key (the same nonce sent twice at once) runs again: the service then
    finds the winner's stored answer and replays it. After :data:`ATTEMPTS` lost races the answer is 409 ``conflict``.
    """
    for attempt in range(ATTEMPTS):
        try:
            response, after_commit = run()
            db.session.commit()
        except LanyardError as error:
            db.session.rollback()
            return refusal(error)
        except IntegrityError:
            db.session.rollback()
            if attempt == ATTEMPTS - 1:
                return error_response("conflict", "A concurrent change won; try again.", 409)
            continue
        if after_commit is not None:
            after_commit()
        return response
