"""The door page: door staff choose an area and scan badges; the page decides offline from its own copy.

The page is static HTML plus the ES modules in ``registration/static/door/``; the CSP forbids inline scripts,
so everything they need (API addresses, the ``[door]`` timings, the areas, every message) is rendered into
data attributes and JSON data blocks here. The service worker that keeps the page usable without a network
is served from ``/door/sw.js`` so that its scope is ``/door/``.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import Blueprint, current_app, g, render_template, url_for
from flask_babel import get_locale, gettext as _

bp = Blueprint("door", __name__, url_prefix="/door")

STATIC = Path(__file__).resolve().parent.parent / "static"

#: What the service worker keeps for a reload without a network, besides the page itself (under /static/).
SHELL_FILES = ("door/door.css", "door/main.js", "door/api.js", "door/i18n.js", "door/scanner.js",
               "door/screens.js", "door/feedback.js", "door/store.js", "door/offline.js", "door/sync.js",
               "door/state.js", "vendor/jsQR-1.4.0.js")


def _messages() -> dict[str, str]:
    """Every string the modules show, in the current locale; ``{name}``-style fields are filled by the script."""
    return {
        "admit": _("ADMIT"),
        "deny": _("DENY"),
        "ready": _("Ready — scan a badge"),
        "checking": _("Checking…"),
        "exit_recorded": _("Exit recorded"),
        "direction_in": _("Entering"),
        "direction_out": _("Leaving"),
        "occupancy": _("{occupancy} of {capacity} inside"),
        "occupancy_open": _("{occupancy} inside"),
        "offline_since": _("Offline since {time} — deciding from this device's copy"),
        "offline_queue": _("Scans waiting to upload: {count}"),
        "online": _("Online"),
        "copy_age": _("Copy of the badge list from {time}"),
        "no_copy": _("No copy of the badge list yet: offline scans cannot be decided."),
        "insecure": _("This page is not on HTTPS: offline mode and the camera are off. Scans work only while the "
                      "server answers."),
        "no_answer": _("The server did not answer. Try again."),
        "signed_out": _("You were signed out. Sign in again to keep scanning."),
        "camera_failed": _("The camera is not available. Use the scanner or type the code."),
        "camera_on": _("Stop the camera"),
        "camera_off": _("Use the camera"),
        "pass": _("Pass: {pass}"),
        "replaced_by": _("The current badge is #{serial}."),
        "unknown_admitted": _("Not in this device's copy (printed after the last update): admitted by policy"),
        # Reasons, in plain words; the codes are the closed list of the door API.
        "code_malformed": _("This is not a badge code."),
        "code_unknown": _("Unknown badge: send the person to the registration desk."),
        "wrong_code_kind": _("This is a registration code: collect your badge at a kiosk first."),
        "wrong_event": _("This badge is for a different event."),
        "badge_void": _("This badge is no longer valid (it was reprinted or cancelled)."),
        "registration_cancelled": _("This registration was cancelled: send the person to the registration desk."),
        "area_denied": _("This pass does not open this area."),
        "area_closed": _("This area is closed now."),
        "area_full": _("This area is full."),
        "health_not_cleared": _("Health check needed: see the health desk."),
        "already_inside": _("Already inside: no re-entry at this area."),
        "other": _("Not admitted: send the person to the registration desk."),
    }


@cache
def _shell_version(files: tuple[str, ...]) -> str:
    """A short hash of the shell files: a new release gets a new cache, and a service worker that installs it."""
    digest = hashlib.sha256()
    for name in files:
        digest.update((STATIC / name).read_bytes())
    return digest.hexdigest()[:16]


def _areas() -> list[dict]:
    """The configured areas a door can check, in the page's language."""
    language = str(get_locale())
    return [{"name": name, "label": area.label_for(language)} for name, area in g.settings.areas.items()]


def _pass_labels() -> dict[str, str]:
    """Each pass's label in the page's language, by pass name (the API and the copy give the English one)."""
    spanish = str(get_locale()) == "es"
    return {name: (rtype.label_es or rtype.label) if spanish else rtype.label
            for name, rtype in g.settings.registration_types.items()}


@bp.route("/")
def index():
    """The door page: choose the area and the door, then scan."""
    return render_template("door/index.html", messages=_messages(), areas=_areas(), pass_labels=_pass_labels(),
                           door=g.settings.door)


@bp.route("/sw.js")
def service_worker():
    """The service worker, from a path whose scope is ``/door/``; it holds no personal data, so it is public."""
    shell = [url_for("door.index")] + [url_for("static", filename=name) for name in SHELL_FILES]
    script = render_template("door/sw.js", shell=shell, version=_shell_version(SHELL_FILES))
    response = current_app.response_class(script, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"  # the browser checks for a new version on every visit
    return response
