"""Kiosk pages."""

from flask import Blueprint, render_template

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")


@bp.route("/not-enrolled")
def unenrolled():
    """Shown to a browser that is not bound to a kiosk."""
    return render_template("kiosk/unenrolled.html"), 403
