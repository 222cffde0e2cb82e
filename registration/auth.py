"""Who is asking, and may they: staff login, bearer tokens, and the one access policy table."""

from __future__ import annotations

import time
from datetime import datetime
from functools import cache
from urllib.parse import urlsplit

import sqlalchemy as sa

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from .api import error_response
from .audit import Actor, record
from .codes import parse_code
from .errors import LanyardError
from .forms import PageForm
from .extensions import csrf, db, login_manager
from . import ratelimit
from .models import StaffUser, utcnow
from .settings import current_settings
from .staff import verify_staff_password

bp = Blueprint("auth", __name__)

PUBLIC = "public"
KIOSK = "kiosk"
STAFF = frozenset({"registrar", "door", "admin"})
DESK = frozenset({"registrar", "admin"})
DOOR = frozenset({"door", "registrar", "admin"})
ADMIN = frozenset({"admin"})

#: The one place roles are checked. Keys are endpoints or blueprints (endpoint wins);
#: an endpoint that matches nothing is refused, so a new page is private until listed here.
#: Registrars work the desk; door staff only scan (the door page, the scan API and the offline snapshot);
#: admins also manage staff, undo check-ins,
#: read the audit log, export and purge.
POLICY: dict[str, object] = {
    "static": PUBLIC,
    "favicon": PUBLIC,
    "registration": PUBLIC,
    "auth": PUBLIC,
    "probes": PUBLIC,
    "kiosk": KIOSK,
    "kiosk.enrol": PUBLIC,
    "kiosk.static": PUBLIC,
    "kiosk.unenrolled": PUBLIC,
    "kiosk_api": KIOSK,
    "door": DOOR,
    "door.service_worker": PUBLIC,  # the service worker script holds nothing personal; a signed-out browser updates it
    "door_api": DOOR,
    "door_api.conflicts": DESK,
    "desk": DESK,
    "desk.undo_checkin": ADMIN,
    "desk_api": DESK,
    "desk_api.undo_checkin": ADMIN,
    "desk_admin": ADMIN,
}


def requirement_for(endpoint: str | None) -> object | None:
    """The access rule for an endpoint, or None when nothing lists it."""
    if not endpoint:
        return PUBLIC  # 404s and the like: nothing to protect
    if endpoint in POLICY:
        return POLICY[endpoint]
    return POLICY.get(endpoint.rsplit(".", 1)[0]) if "." in endpoint else POLICY.get(endpoint)


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


@cache
def _kiosk_by_token():
    """The kiosk columns a bearer-token request needs, as a plain row (built once; no ORM object)."""
    from .checkin.models import Kiosk

    kiosks = Kiosk.__table__
    return sa.select(kiosks.c.id, kiosks.c.event_id, kiosks.c.name, kiosks.c.printer_name, kiosks.c.location,
                     kiosks.c.language, kiosks.c.generation, kiosks.c.enabled, kiosks.c.last_seen_at).where(
        kiosks.c.token_hash == sa.bindparam("digest"))


_STAFF_BY_TOKEN = sa.select(StaffUser).where(StaffUser.api_token_hash == sa.bindparam("digest"))


def _load_principals() -> None:
    """Set ``g.kiosk``, ``g.staff`` and ``g.actor`` from a bearer token, the kiosk cookie or the login.

    A kiosk named by its bearer token is a read-only row with the kiosk's attributes (the kiosk API
    only reads them); the kiosk pages' cookie path loads the model object.
    """
    from .checkin.models import Kiosk

    g.kiosk = g.staff = g.actor = None
    token = _bearer_token()
    if token is not None:
        try:
            parsed = parse_code(token)
        except LanyardError:
            return
        if parsed.kind == "kiosk":
            g.kiosk = db.session.connection().execute(_kiosk_by_token(), {"digest": parsed.digest}).first()
        elif parsed.kind == "staff_token":
            staff = db.session.execute(_STAFF_BY_TOKEN, {"digest": parsed.digest}).scalar_one_or_none()
            g.staff = staff if staff is not None and staff.active else None
    else:
        bound = session.get("kiosk")
        if isinstance(bound, dict):
            kiosk = db.session.get(Kiosk, bound.get("id"))
            if kiosk is not None and kiosk.generation == bound.get("generation"):
                g.kiosk = kiosk
        if current_user.is_authenticated and not _session_expired():
            g.staff = current_user._get_current_object()
    if g.staff is not None:
        g.actor = Actor.for_staff(g.staff)
    elif g.kiosk is not None:
        g.actor = Actor.for_kiosk(g.kiosk)


def authorize():
    """Before every request: check CSRF, then refuse anything the policy does not allow."""
    # Bearer-token clients send no cookies, so cross-site forgery does not apply to them;
    # everything else that changes state (forms and the kiosk page's fetch calls) needs the token.
    if request.method not in ("GET", "HEAD", "OPTIONS") and _bearer_token() is None:
        # Exemptions apply (the probes), and so does routing: no view runs for an address or method that
        # matched nothing, which answers 404 or 405 rather than a CSRF 400.
        csrf.protect(apply_exemptions=True)
    rule = requirement_for(request.endpoint)
    if rule == PUBLIC:
        if request.blueprint == "kiosk" or request.endpoint in ("auth.login", "auth.logout"):
            _load_principals()
        return None
    _load_principals()
    is_api = request.path.startswith("/api/")
    if rule == KIOSK:
        if g.kiosk is None:
            if is_api:
                return error_response("kiosk_unknown", "A valid kiosk token is required.", 401)
            return redirect(url_for("kiosk.unenrolled"))
        if not g.kiosk.enabled and is_api:
            return error_response("kiosk_disabled", "This kiosk is disabled.", 403)
        return None
    if isinstance(rule, frozenset):
        if g.staff is not None and g.staff.role in rule:
            return None
        if is_api:
            if g.staff is None:
                return error_response("unauthorized", "A valid staff token is required.", 401)
            return error_response("forbidden", "Your role does not allow this.", 403)
        if g.staff is None:
            if g.get("session_expired"):
                flash(_("Your session expired. Please sign in again."), "error")
            return redirect(url_for("auth.login", next=_this_page()))
        abort(403)
    abort(404) if is_api else abort(403)


def _session_expired() -> bool:
    """End a staff session idle for ``idle_minutes`` or older than ``session_hours``; refresh it otherwise."""
    staff = current_settings().staff
    now = int(time.time())
    started, seen = session.get("staff_since"), session.get("staff_seen")
    idle = int(current_app.config.get("STAFF_IDLE_SECONDS", staff.idle_minutes * 60))
    longest = int(current_app.config.get("STAFF_SESSION_SECONDS", staff.session_hours * 3600))
    if not isinstance(started, int) or not isinstance(seen, int) or now - seen > idle or now - started > longest:
        logout_user()
        session.pop("staff_since", None)
        session.pop("staff_seen", None)
        g.session_expired = True
        return True
    if now - seen >= 15:  # a new cookie at most every 15 s, not on every search keystroke
        session["staff_seen"] = now
    return False


@login_manager.user_loader
def _load_user(user_id: str):
    """The user a session names, if it is still active and was signed in under the current generation."""
    ident, _, generation = user_id.partition(".")
    user = db.session.get(StaffUser, int(ident)) if ident.isdigit() else None
    if user is None or not user.active or str(user.session_generation) != generation:
        return None
    return user


class LoginForm(PageForm):
    """Staff sign-in."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


def _this_page() -> str:
    """This request's path and query, to come back to after signing in (``request.full_path`` ends in a bare "?"
    when there is no query)."""
    query = request.query_string.decode("latin-1")
    return f"{request.path}?{query}" if query else request.path


#: Where each role starts after signing in when no page asked for the sign-in: door staff may not open the desk.
HOME = {"door": "door.index", "registrar": "desk.index", "admin": "desk.index"}


def _safe_next(target: str | None, role: str) -> str:
    """The page to go to after signing in: the one that asked (same site only), else the role's home page."""
    parts = urlsplit(target or "")
    if target and not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for(HOME[role])


def _client_address() -> str:
    """The client's address as the last trusted proxy saw it (``[app] trusted_proxies`` configures ProxyFix)."""
    return request.remote_addr or "unknown"


def _sign_in_wait(email: str, now: datetime) -> int:
    """Seconds to wait before another sign-in for this account or from this client is tried (0: go ahead)."""
    staff = current_settings().staff
    window = staff.sign_in_window_minutes * 60
    over = (ratelimit.current_count(f"sign-in:account:{email}", window_seconds=window, now=now)
            >= staff.sign_in_attempts_per_account
            or ratelimit.current_count(f"sign-in:client:{_client_address()}", window_seconds=window, now=now)
            >= staff.sign_in_attempts_per_client)
    return ratelimit.seconds_left(window, now) if over else 0


def _count_failure(email: str, now: datetime) -> None:
    window = current_settings().staff.sign_in_window_minutes * 60
    ratelimit.count(f"sign-in:account:{email}", window_seconds=window, now=now)
    ratelimit.count(f"sign-in:client:{_client_address()}", window_seconds=window, now=now)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign a staff user in (rate-limited per account and per client; one message whether or not the email exists)."""
    form = LoginForm()
    if not form.validate_on_submit():
        return _login_page(form, 400 if form.is_submitted() else 200)
    now = utcnow()
    typed = form.email.data.strip().lower()
    email = typed if typed.isprintable() else "".join(c if c.isprintable() else "?" for c in typed)
    wait = _sign_in_wait(email, now)
    if wait:
        flash(_("Too many sign-in attempts. Please wait %(seconds)d seconds and try again.", seconds=wait), "error")
        response = _login_page(form, 429)
        response.headers["Retry-After"] = str(wait)
        return response
    # No staff email has control characters (PostgreSQL text cannot even hold a NUL): refuse such input
    # exactly as a wrong password, without looking it up.
    user = (db.session.execute(db.select(StaffUser).filter_by(email=email)).scalar_one_or_none()
            if typed.isprintable() else None)
    if not verify_staff_password(user, form.password.data):
        _count_failure(email, now)
        record(Actor(type="anonymous", label=_client_address()), "staff.login_failed", user, email=email[:254])
        db.session.commit()
        flash(_("Email or password is wrong."), "error")
        return _login_page(form, 401)
    language = session.get("lang")
    session.clear()  # a new session: nothing of an earlier visitor (or a kiosk binding) carries over
    if language:
        session["lang"] = language  # but the language they chose on the sign-in page does
    login_user(user)
    session["staff_since"] = session["staff_seen"] = int(time.time())
    user.last_login_at = now
    record(Actor.for_staff(user), "staff.login", user)
    db.session.commit()
    return redirect(_safe_next(request.args.get("next"), user.role))


def _login_page(form, status: int):
    response = current_app.make_response((render_template("auth/login.html", form=form), status))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out."""
    if g.get("staff") is not None:
        # The session is the browser's signed cookie: only a new generation stops a copy of it made
        # before signing out (this also signs the user out of their other browsers).
        g.staff.session_generation += 1
        record(Actor.for_staff(g.staff), "staff.logout", g.staff)
        db.session.commit()
    logout_user()
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    flash(_("You are signed out."), "success")
    return redirect(url_for("auth.login"))


def init_app(app) -> None:
    """Install the policy check before every request."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # authorize() decides, in one place
    app.before_request(authorize)
    login_manager.login_view = "auth.login"
