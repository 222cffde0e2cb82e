"""Who is asking, and may they: staff login, bearer tokens, and the one access policy table."""

from __future__ import annotations

from functools import cache
from urllib.parse import urlsplit

import sqlalchemy as sa

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from .api import error_response
from .audit import Actor, record
from .codes import parse_code
from .errors import LanyardError
from .extensions import csrf, db, login_manager
from .models import StaffUser

bp = Blueprint("auth", __name__)

PUBLIC = "public"
KIOSK = "kiosk"
STAFF = frozenset({"registrar", "door", "admin"})
DESK = frozenset({"registrar", "admin"})
DOOR = frozenset({"door", "registrar", "admin"})
ADMIN = frozenset({"admin"})

#: The one place roles are checked. Keys are endpoints or blueprints (endpoint wins);
#: an endpoint that matches nothing is refused, so a new page is private until listed here.
POLICY: dict[str, object] = {
    "static": PUBLIC,
    "registration": PUBLIC,
    "auth": PUBLIC,
    "kiosk": KIOSK,
    "kiosk.enrol": PUBLIC,
    "kiosk.static": PUBLIC,
    "kiosk.unenrolled": PUBLIC,
    "kiosk_api": KIOSK,
    "api.create_scan": DOOR,
    "desk": DESK,
    "desk.door": DOOR,
    "desk.admin": ADMIN,
    "desk.purge_health": ADMIN,
    "desk.staff": ADMIN,
    "desk.export": ADMIN,
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
        if current_user.is_authenticated:
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
        csrf.protect()
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
            return redirect(url_for("auth.login", next=request.full_path))
        abort(403)
    abort(404) if is_api else abort(403)


@login_manager.user_loader
def _load_user(user_id: str):
    user = db.session.get(StaffUser, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


class LoginForm(FlaskForm):
    """Staff sign-in."""

    email = EmailField(validators=[DataRequired(), Length(max=254)])
    password = PasswordField(validators=[DataRequired(), Length(max=200)])


def _safe_next(target: str | None) -> str:
    parts = urlsplit(target or "")
    if target and not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("desk.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign a staff user in."""
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.execute(db.select(StaffUser).filter_by(email=email)).scalar_one_or_none()
        if user is not None and user.active and user.password_hash and check_password_hash(
            user.password_hash, form.password.data
        ):
            login_user(user)
            session.pop("kiosk", None)  # a browser is either a kiosk or a staff desk, not both
            record(Actor.for_staff(user), "staff.login", user)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
        flash(_("Email or password is wrong."), "error")
    return render_template("auth/login.html", form=form), 401 if form.is_submitted() else 200


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out."""
    if g.get("staff") is not None:
        record(Actor.for_staff(g.staff), "staff.logout", g.staff)
        db.session.commit()
    logout_user()
    return redirect(url_for("auth.login"))


def init_app(app) -> None:
    """Install the policy check before every request."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # authorize() decides, in one place
    app.before_request(authorize)
    login_manager.login_view = "auth.login"
