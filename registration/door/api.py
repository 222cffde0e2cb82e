"""The door JSON API: scans, the door page's offline snapshot, and the conflicts offline scans left.

A staff bearer token (``lanyard staff add … --role door --token``) or a signed-in door user's session plus
``X-CSRFToken`` (the door page); roles as ``registration.auth.POLICY`` says (door, registrar and admin scan
and read the snapshot; registrars and admins read the conflicts). Every view parses, calls one service,
commits, and answers with the one response shape or the one error shape of ``registration.api``.
"""

from __future__ import annotations

import gzip
from datetime import datetime

from flask import Blueprint, current_app, g, request

from ..api import answer, ok, refusal
from ..errors import LanyardError
from ..services import EventRef, current_event_ref
from ..settings import current_settings
from . import services

bp = Blueprint("door_api", __name__, url_prefix="/api/v1")

#: Fields of a scan that must be text when present.
TEXT_FIELDS = ("code", "area", "nonce", "direction", "door", "scanned_at", "offline_result")
#: A snapshot larger than this is sent gzip-compressed to clients that accept it (every browser does).
COMPRESS_OVER = 16 * 1024


def _event() -> EventRef:
    """The configured event's identity, kept by the app between requests."""
    return current_event_ref(current_settings(), current_app.extensions.setdefault("lanyard.event_refs", {}))


def _scan_body() -> dict:
    """The scan's JSON object.

    :raise LanyardError: ``invalid_field`` when it is not an object, misses a field, or a field has the wrong type.
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise LanyardError("invalid_field", 'send a JSON object with "code", "area", "nonce" and "door"', field="body")
    for name in ("code", "area", "door"):
        if name not in body:
            raise LanyardError("invalid_field", f"{name}: missing", field=name)
    for name in TEXT_FIELDS:
        if name in body and not isinstance(body[name], str):
            raise LanyardError("invalid_field", f"{name}: expected text", field=name)
    if "offline" in body and not isinstance(body["offline"], bool):
        raise LanyardError("invalid_field", "offline: true or false", field="offline")
    return body


def _time(value: str | None) -> datetime | None:
    """An ISO 8601 time with a zone (``Z`` or ``+02:00``), or None.

    :raise LanyardError: ``invalid_field``.
    """
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00")) if len(value) <= 40 else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise LanyardError("invalid_field", "scanned_at: ISO 8601 with a time zone", field="scanned_at")
    return parsed


@bp.post("/scans")
def create_scan():
    """Decide one door scan (or store one a door decided offline) and answer admit or deny with the reason."""
    settings = current_settings()

    def run():
        body = _scan_body()
        outcome = services.record_scan(
            _event(), actor=g.actor, code=body["code"], area=body["area"], nonce=body.get("nonce"),
            door=body["door"], direction=body.get("direction", "in"), scanned_at=_time(body.get("scanned_at")),
            offline=body.get("offline", False), offline_result=body.get("offline_result"), settings=settings)
        return ok(outcome.response), None

    return answer(run)


@bp.get("/door/snapshot")
def snapshot():
    """The door page's offline copy of an area: every valid badge's digest and pass, or the changes since a cursor."""
    try:
        payload = services.build_snapshot(_event(), area=request.args.get("area"), since=request.args.get("since"),
                                          settings=current_settings())
    except LanyardError as error:
        return refusal(error)
    response = ok(payload)
    # 50,000 badges are ~11 MB of JSON but ~3 MB gzip-compressed (the digests do not compress; the rest does).
    if len(response.get_data()) > COMPRESS_OVER and "gzip" in request.headers.get("Accept-Encoding", ""):
        response.set_data(gzip.compress(response.get_data(), compresslevel=1))
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    return response


@bp.get("/door/conflicts")
def conflicts():
    """The door conflicts offline scans revealed, newest first (staff of the desk)."""
    return ok({"conflicts": [c.as_dict() for c in services.list_conflicts(_event())]})

