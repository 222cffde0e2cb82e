"""The kiosk JSON API (bearer token of the kiosk): check-ins and print-job state."""

from flask import Blueprint

bp = Blueprint("kiosk_api", __name__, url_prefix="/api/v1")
